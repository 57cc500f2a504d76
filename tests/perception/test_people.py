"""People tracker: synthetic walkers for the semantics, vtest.avi for the figures."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from onlook.errors import ConfigError
from onlook.footage import find_clip
from onlook.perception.people import PeopleResult, PeopleTracker

W, H, FPS = 320, 240, 2.0


@dataclass
class Walker:
    """A dark person-shaped figure: feet at ``(x(t), foot)``, ``h`` pixels tall."""

    x: Callable[[float], float | None]  # None: not in the scene at t
    foot: float
    h: float = 36.0
    color: tuple[int, int, int] = (35, 30, 40)

    def draw(self, img: np.ndarray, t: float) -> None:
        cx = self.x(t)
        if cx is None:
            return
        h, c = self.h, self.color
        w = 0.34 * h
        cv2.ellipse(img, (int(cx), int(self.foot - 0.55 * h)), (int(w / 2), int(0.25 * h)), 0, 0, 360, c, -1)
        cv2.circle(img, (int(cx), int(self.foot - 0.88 * h)), int(0.11 * h), c, -1)
        swing = 0.12 * h * np.sin(4 * t)  # legs apart, then together
        for s in (-1, 1):
            x0 = int(cx + s * swing - 0.07 * h)
            cv2.rectangle(img, (x0, int(self.foot - 0.35 * h)), (x0 + int(0.14 * h), int(self.foot)), c, -1)


def walk(t_in: float, x_in: float, speed: float, *, stop: tuple[float, float] | None = None,
         until: float = 1e9) -> Callable[[float], float | None]:
    """x(t) of someone at ``x_in`` at ``t_in`` moving ``speed`` px/s (pausing during ``stop``)."""

    def x(t: float) -> float | None:
        if t < t_in or t > until:
            return None
        moving = t - t_in
        if stop is not None and t > stop[0]:
            moving -= min(t, stop[1]) - stop[0]
        return x_in + speed * moving

    return x


def background(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(70, 200, (H // 10, W // 10, 3), dtype=np.uint8)
    return cv2.resize(coarse, (W, H), interpolation=cv2.INTER_CUBIC)


def frames(walkers: list[Walker], seconds: float, *, seed: int = 0, bg: np.ndarray | None = None,
           fps: float = FPS, drift: float = 0.0, pan: float = 0.0):
    """Yield ``(t, image)``: walkers over a static textured scene with sensor noise."""
    rng = np.random.default_rng(seed + 1)
    base = background(seed) if bg is None else bg
    for k in range(int(seconds * fps) + 1):
        t = k / fps
        img = np.roll(base, int(pan * k), axis=1) if pan else base.copy()
        for p in walkers:
            p.draw(img, t)
        noisy = img.astype(np.float32) * (1.0 + drift * t) + rng.normal(0, 2.0, img.shape)
        yield t, np.clip(noisy, 0, 255).astype(np.uint8)


def run(clip, tracker: PeopleTracker | None = None, **update_kw) -> list[tuple[float, PeopleResult]]:
    tracker = tracker or PeopleTracker(fps=FPS)
    return [(t, tracker.update(img, t, **update_kw)) for t, img in clip]


def events(results, kind: str) -> list:
    return [e for _, r in results for e in r.events if e.kind == kind]


def count_at(results, t: float) -> int:
    return next(r.count for tt, r in results if abs(tt - t) < 1e-6)


def test_one_walker_enters_once_and_leaves():
    results = run(frames([Walker(walk(2.0, W + 8, -28.0), foot=150)], 16))
    enters, exits = events(results, "enter"), events(results, "exit")
    assert len(enters) == 1
    assert enters[0].attrs["edge"] == "right" and enters[0].label == "person"
    assert 2.0 <= enters[0].t <= 4.0
    assert len(exits) == 1 and exits[0].attrs["edge"] == "left"
    assert exits[0].track_id == enters[0].track_id
    assert count_at(results, 8.0) == 1
    assert results[-1][1].count == 0
    people = results[16][1].people  # t = 8 s
    assert len(people) == 1 and people[0].kind == "person" and people[0].track_id == enters[0].track_id
    x0, y0, x1, y1 = people[0].box
    assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1
    assert abs(y1 - 150 / H) < 0.05  # feet where they are


def test_two_walkers_from_both_sides():
    walkers = [Walker(walk(2.0, W + 8, -26.0), foot=110, h=30),
               Walker(walk(4.0, -8, 24.0), foot=200, h=44)]
    results = run(frames(walkers, 18))
    enters = events(results, "enter")
    assert sorted(e.attrs["edge"] for e in enters) == ["left", "right"]
    assert len({e.track_id for e in enters}) == 2
    assert count_at(results, 8.0) == 2
    exits = events(results, "exit")
    assert sorted(e.attrs["edge"] for e in exits) == ["left", "right"]
    assert results[-1][1].count == 0


def test_someone_coming_out_of_a_doorway_enters_inside():
    results = run(frames([Walker(walk(4.0, 160, -20.0), foot=150)], 12))
    enters = events(results, "enter")
    assert [e.attrs["edge"] for e in enters] == ["inside"]
    assert 4.0 <= enters[0].t <= 6.0
    assert results[-1][1].count == 1


def test_someone_coming_up_from_the_bottom_edge():
    walker = Walker(walk(2.0, 150, 0.0), foot=0.0, h=70)
    draw = walker.draw

    def rising(img: np.ndarray, t: float) -> None:  # walking towards the top of the picture
        walker.foot = 280 - 25 * (t - 2.0)
        draw(img, t)

    walker.draw = rising  # type: ignore[method-assign]  # a walker that rises mid-clip
    enters = events(run(frames([walker], 8)), "enter")
    assert [e.attrs["edge"] for e in enters] == ["bottom"]


class Pillar:
    """Something standing between the camera and the path."""

    def draw(self, img: np.ndarray, t: float) -> None:
        img[60:200, 140:190] = (200, 200, 210)


def test_someone_passing_behind_a_pillar_is_the_same_person():
    results = run(frames([Walker(walk(2.0, W + 8, -28.0), foot=150), Pillar()], 16))  # type: ignore[list-item]  # any drawable goes in a scene
    enters, exits = events(results, "enter"), events(results, "exit")
    assert len(enters) == 1 and len(exits) == 1
    assert exits[0].track_id == enters[0].track_id and exits[0].attrs["edge"] == "left"
    assert all(count_at(results, t) == 1 for t in (6.0, 7.0, 7.5, 8.0, 8.5, 9.0))  # hidden ~7.2-8.5 s


def test_people_already_there_fire_no_enter():
    walkers = [Walker(walk(0.0, 120, -14.0), foot=140), Walker(walk(0.0, 200, 12.0), foot=190, h=42)]
    results = run(frames(walkers, 10))
    assert events(results, "enter") == []
    assert count_at(results, 4.0) == 2


def test_person_who_stops_is_still_counted_and_not_reentered():
    walker = Walker(walk(2.0, W + 8, -30.0, stop=(7.0, 25.0)), foot=160)
    results = run(frames([walker], 34))
    enters = events(results, "enter")
    assert len(enters) == 1
    # Standing still far longer than the background takes to absorb them.
    assert all(count_at(results, t) == 1 for t in (10.0, 16.0, 22.0, 24.5))
    exits = events(results, "exit")
    assert [e.attrs["edge"] for e in exits] == ["left"]
    assert exits[0].track_id == enters[0].track_id


def test_scene_cut_resets_without_an_enter_storm():
    first = list(frames([Walker(walk(2.0, W + 8, -30.0), foot=150)], 8))
    second = list(frames([Walker(walk(0.0, 100, 20.0), foot=170), Walker(walk(0.0, 250, -18.0), foot=120)],
                         8, seed=7))
    tracker = PeopleTracker(fps=FPS)
    results = run(first, tracker)
    assert len(events(results, "enter")) == 1
    cut_t = first[-1][0] + 0.5
    after = [(cut_t, tracker.update(second[0][1], cut_t, scene_cut=True))]
    assert after[0][1].count == 0 and after[0][1].events == []
    after += [(cut_t + t, tracker.update(img, cut_t + t)) for t, img in second[1:]]
    assert events(after, "enter") == []
    assert events(after, "exit") == []  # nobody walked out: the view changed
    assert after[-1][1].count == 2


@pytest.mark.parametrize("kw", [{"drift": 0.01}, {"pan": 9.0}], ids=["light-drift", "moving-camera"])
def test_no_people_invented(kw):
    results = run(frames([], 12, **kw))
    assert events(results, "enter") == []
    assert max(r.count for _, r in results) == 0


class Flicker:
    """A patch that keeps changing in place, like leaves in the wind."""

    def draw(self, img: np.ndarray, t: float) -> None:
        if int(t * 2) % 2:
            img[40:100, 30:80] = img[40:100, 30:80][:, ::-1]


def test_swaying_leaves_are_not_people():
    results = run(frames([Flicker(), Walker(walk(2.0, W + 8, -28.0), foot=150)], 16))  # type: ignore[list-item]  # any drawable goes in a scene
    assert len(events(results, "enter")) == 1
    assert max(r.count for _, r in results) == 1


def test_moving_camera_with_a_walker_makes_no_storm():
    results = run(frames([Walker(walk(1.0, W + 8, -30.0), foot=150)], 12, pan=9.0))
    assert len(events(results, "enter")) <= 1


def test_hog_runs_only_where_things_changed():
    clip = list(frames([Walker(walk(0.0, 120, 25.0), foot=200, h=80)], 6))
    free = PeopleTracker(fps=FPS)
    assert max(free.update(img, t) and free.work_fraction for t, img in clip) > 0
    gated = PeopleTracker(fps=FPS)
    nothing = np.zeros((15, 20), bool)
    fractions = [gated.update(img, t, changed=nothing) and gated.work_fraction for t, img in clip]
    assert max(fractions) == 0.0


def test_reset_forgets_everything():
    tracker = PeopleTracker(fps=FPS)
    run(frames([Walker(walk(2.0, W + 8, -28.0), foot=150)], 6), tracker)
    tracker.reset()
    res = tracker.update(background(), 0.0)
    # Nobody, and the tracker says it cannot know yet (no background learnt): it is blind on this frame.
    assert res == PeopleResult(blind=True) and tracker.work_fraction == 0.0


@pytest.mark.parametrize(
    ("image", "error"),
    [(np.zeros((10, 10), np.uint8), ValueError), (np.zeros((10, 10, 3), np.float32), ValueError),
     ("frame", ValueError)],
)
def test_bad_images_are_refused(image, error):
    with pytest.raises(error):
        PeopleTracker().update(image, 0.0)


@pytest.mark.parametrize("kw", [{"fps": 0}, {"work_width": 10}, {"absorb_s": 0}, {"lost_s": -1}])
def test_bad_settings_are_refused(kw):
    with pytest.raises(ConfigError):
        PeopleTracker(**kw)


# ------------------------------------------------------------------ real footage

def _score(pred: list[float], gts: list[float]) -> int:
    left, hits = sorted(gts), 0
    for p in sorted(pred):
        for g in left:
            if g - 0.5 <= p <= g + 2.0:
                left.remove(g)
                hits += 1
                break
    return hits


@pytest.mark.footage
def test_vtest_enter_alerts(eval_dir):
    path = find_clip("vtest.avi")
    if path is None:
        pytest.skip("vtest.avi not found ($ONLOOK_FOOTAGE, ../shared/footage, opencv-doc)")
    av = pytest.importorskip("av")
    alerts = json.loads((eval_dir / "alerts.json").read_text())
    gts = next(a["gt_times"] for a in alerts
               if a["video"] == "vtest.avi" and a["query"] == "a person enters the view")
    tracker, enters, nxt = PeopleTracker(fps=2.0), [], 0.0
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        for frame in c.decode(stream):
            t = float(frame.pts * stream.time_base)
            if t + 1e-6 < nxt:
                continue
            nxt += 0.5
            img = cv2.resize(frame.to_ndarray(format="bgr24"), (640, 480), interpolation=cv2.INTER_AREA)
            enters += [e.t for e in tracker.update(img, t).events if e.kind == "enter"]
    hits = _score(enters, gts)
    precision, recall = hits / max(len(enters), 1), hits / len(gts)
    f1 = 2 * precision * recall / max(precision + recall, 1e-9)
    assert f1 >= 0.85, f"P {precision:.2f} R {recall:.2f} F1 {f1:.2f}"


# ---------------------------------------------------------------- groups and close-ups


def _state(shape: tuple[int, int] = (H, W)) -> PeopleTracker:
    """A tracker past its warm-up on an empty view of ``shape`` (work pixels)."""
    tracker = PeopleTracker(fps=FPS)
    for t in (0.0, 0.5):
        tracker.update(np.full((*shape, 3), 120, np.uint8), t)
    return tracker


def _track(tracker: PeopleTracker, box, *, t: float = 10.0, misses: int = 0, size=(36.0, 13.0)):
    from onlook.perception.people.state import Track as _Track

    b = np.asarray(box, np.float64)
    tr = _Track(tracker._next_id, b.copy(), 0.0, "initial", "inside", b.copy(), last_seen=t - 0.5 * misses,
                hits=10, misses=misses, confirmed=True, size=size, seen_whole=True, disp=40.0)
    tracker._next_id += 1
    tracker._tracks.append(tr)
    return tr


def _blob(box):
    from onlook.perception.people.state import Blob as _Blob

    b = np.asarray(box, np.float64)
    return _Blob(b, np.ones((int(b[3] - b[1]), int(b[2] - b[0])), bool))


def test_someone_lost_in_a_wide_group_blob_rejoins_it():
    # Two people standing together show as one blob; the one who lost the assignment
    # (its speed pointed elsewhere) is still there and still counted.
    tracker = _state()
    a = _track(tracker, (150, 100, 163, 136))
    b = _track(tracker, (155, 100, 167, 136), misses=1)
    b.vel = np.array([-80.0, 0.0])  # a stale speed that predicts it off the blob
    a.vel = np.zeros(2)
    # Wider than one person, but what a's box leaves over is too thin to be someone.
    tracker._track([_blob((150, 100, 168, 136))], 10.0, 0.5)
    assert a.seen_now and b.seen_now and b.misses == 0
    assert tracker._result(10.0, []).count == 2


def test_a_blob_of_one_person_takes_no_lost_companion():
    tracker = _state()
    a = _track(tracker, (150, 100, 163, 136))
    b = _track(tracker, (152, 100, 164, 136), misses=1)
    b.vel = np.array([-80.0, 0.0])
    tracker._track([_blob((150, 100, 164, 136))], 10.0, 0.5)  # one person wide: no room
    assert a.seen_now and not b.seen_now


def test_a_piece_inside_a_much_bigger_person_is_not_counted():
    tracker = _state()
    _track(tracker, (100, 40, 160, 200), size=None)  # someone close to the camera
    _track(tracker, (120, 90, 135, 130), size=None)  # a hand / a patch inside their box
    _track(tracker, (250, 150, 262, 186))  # someone else, away from them
    assert tracker._result(10.0, []).count == 2


def test_small_things_beside_a_close_up_are_not_people():
    # A head-and-shoulders close-up (cut off by the bottom edge) is wider than its
    # tracked box; a moving patch next to it (a car window) is not a second person.
    tracker = _state()
    _track(tracker, (110, 20, 200, H), size=None)
    _track(tracker, (215, 110, 245, 170), size=None)
    assert tracker._result(10.0, []).count == 1
    # A person of similar size beside them is counted.
    _track(tracker, (220, 30, 300, H), size=None)
    assert tracker._result(10.0, []).count == 2
