"""StreamEngine end to end on generated clips, with fake detectors where a real one is not the point."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from media import scene_frames

from onlook.config import Settings
from onlook.engine import StreamEngine
from onlook.errors import SourceTimeout, UnsupportedQuery
from onlook.memory import Store
from onlook.perception.faces import FakeFaceDetector
from onlook.perception.pipeline import Perceiver, capabilities_for
from onlook.perception.text import FakeTextDetector
from onlook.sources import FakeSource
from onlook.types import Capability as C

pytestmark = pytest.mark.timeout(120)


def _settings(tmp_path: Path | None = None, **kw) -> Settings:
    base = dict(fps=5.0, detect_faces=False, detect_text=False, detect_people=False)
    base.update(kw)
    if tmp_path is not None:
        base["store"] = tmp_path / "store"
    return Settings(**base)


def _engine(frames, settings: Settings, *, text_script=(), alerts=(), **kw) -> StreamEngine:
    perceiver = Perceiver(settings, text=FakeTextDetector(text_script) if text_script else None)
    return StreamEngine(FakeSource(frames, fps=10), settings=settings, perceiver=perceiver, alerts=list(alerts), **kw)


def test_scene_cut_alert_fires_once_near_the_cut(tmp_path):
    eng = _engine(scene_frames(8, cut_at=4.0), _settings(tmp_path), alerts=["a scene change"])
    msgs = []
    eng.subscribe(msgs.append)
    eng.run()
    alerts = [m for m in msgs if m["type"] == "alert"]
    assert [round(a["t"], 1) for a in alerts] == [4.0]
    assert all("t" in m and "type" in m for m in msgs)
    ans = eng.ask("when was the first scene change?")
    assert not ans.abstained and ans.value == pytest.approx(4.0)
    assert "00:04" in ans.text
    eng.close()


def test_text_alert_and_reading(tmp_path):
    script = [(3.0, 6.0, "TAXI 42", (0.1, 0.1, 0.4, 0.2))]
    # The sign appears with a visible change, so the gate lets OCR look.
    frames = scene_frames(8)
    for i in range(30, 80):
        frames[i][20:60, 30:150] = 255
    eng = _engine(frames, _settings(tmp_path, ocr_interval_s=0.0), text_script=script,
                  alerts=["the word TAXI appears"])
    msgs = []
    eng.subscribe(msgs.append)
    eng.run()
    fired = [m["t"] for m in msgs if m["type"] == "alert"]
    assert len(fired) == 1 and 3.0 <= fired[0] <= 3.5
    assert "TAXI 42" in eng.ask("what does the sign say?").text
    assert eng.ask("what does the sign say?", at=2.0).value is None  # causal: not read yet at 2 s
    eng.close()


def test_unsupported_alert_is_refused_at_registration(tmp_path):
    eng = _engine(scene_frames(1), _settings(tmp_path))
    with pytest.raises(UnsupportedQuery, match="cannot see"):
        eng.add_alert("someone opens the boot of a parked car")
    assert eng.alert_queries == []
    eng.close()


def test_alert_queries_persist_with_the_store(tmp_path):
    s = _settings(tmp_path)
    eng = _engine(scene_frames(1), s, alerts=["a scene change"])
    eng.run()
    eng.close()
    eng2 = _engine(scene_frames(1), s)
    assert eng2.alert_queries == ["a scene change"]
    eng2.close()


def test_source_failure_keeps_what_was_stored(tmp_path):
    s = _settings(tmp_path)
    frames = scene_frames(4, cut_at=2.0)
    src = FakeSource(frames, fps=10, error=SourceTimeout("read from 'tcp://x' timed out after 1 s"))
    eng = StreamEngine(src, settings=s, perceiver=Perceiver(s))
    msgs = []
    eng.subscribe(msgs.append)
    with pytest.raises(SourceTimeout):
        eng.run()
    assert msgs[-1]["state"] == "failed" and any(m["type"] == "error" for m in msgs)
    eng.close()
    with Store(tmp_path / "store", readonly=True) as st:
        assert st.last_time() == pytest.approx(3.8)
        assert [o.kind for o, _ in st.sightings(["scene_cut"])] == ["scene_cut"]


def test_reopening_a_store_continues_stream_time(tmp_path):
    s = _settings(tmp_path)
    eng = _engine(scene_frames(4, cut_at=2.0, seed=1), s)
    eng.run()
    eng.close()
    # The second run's clock restarts at 0 (a restarted camera); memory carries on after 3.8 s.
    eng = _engine(scene_frames(4, cut_at=2.0, seed=2), s)
    eng.run()
    assert eng.store.last_time() == pytest.approx(3.8 + 0.2 + 3.8, abs=0.01)
    gaps = eng.store.gaps()
    assert gaps and gaps[0].reason == "restart"
    cuts = [o.t for o, _ in eng.store.sightings(["scene_cut"])]
    assert len(cuts) == 2 and cuts[0] == pytest.approx(2.0) and cuts[1] > 4.0
    ans = eng.ask("when was the first scene change?")
    assert ans.value == pytest.approx(2.0)
    eng.close()


def test_ask_from_another_thread_while_ingest_runs(tmp_path):
    def endless():
        frames = scene_frames(4)
        i = 0
        while True:
            yield frames[i % len(frames)]
            i += 1
            time.sleep(0.002)

    s = _settings(tmp_path)
    eng = StreamEngine(FakeSource(endless(), fps=10), settings=s, perceiver=Perceiver(s))
    eng.start()
    deadline = time.monotonic() + 20
    answers = []
    while time.monotonic() < deadline and len(answers) < 20:
        if eng.stats["frames_kept"] > 5:
            answers.append(eng.ask("what happened so far?"))
        time.sleep(0.02)
    eng.stop(timeout=10)
    assert not eng.running
    assert len(answers) == 20 and all(a.at >= 0 for a in answers)
    eng.close()


def test_many_streams_in_one_process(tmp_path):
    engines = []
    for i in range(3):
        s = Settings(fps=5.0, detect_faces=False, detect_text=False, detect_people=False,
                     store=tmp_path / f"s{i}")
        eng = StreamEngine(FakeSource(scene_frames(4, cut_at=1.0 + i, seed=i), fps=10, stream_id=f"cam{i}"),
                           settings=s, perceiver=Perceiver(s), stream_id=f"cam{i}", alerts=["a scene change"])
        engines.append(eng)
    for e in engines:
        e.start()
    for e in engines:
        assert e.done.wait(30)
    for i, e in enumerate(engines):
        assert e.ask("when was the first scene change?").value == pytest.approx(1.0 + i)
        e.close()


def test_engine_runs_real_default_perception_on_a_file(make_clip, tmp_path):
    clip = make_clip(seconds=5, cut_at=3.0)
    s = Settings(fps=2.0, store=tmp_path / "st", speech=False)  # speech: tests/test_speech.py
    eng = StreamEngine(str(clip), settings=s, alerts=["a scene change"])
    msgs = []
    eng.subscribe(msgs.append)
    eng.run()
    st = eng.status()
    # 10 frames on the 2 fps grid, plus the glance that confirmed the cut (the shot model sees all 50)
    assert st["frames_kept"] == 11 and st["frames_glanced"] == 40 and 0.0 <= st["skipped_area"] <= 1.0
    # the perceiver the settings built declares what the settings said it would
    assert eng.capabilities == capabilities_for(s) == {C.PEOPLE, C.PERSON_COLOUR, C.FACES, C.OCR, C.SHOTS,
                                                       C.SCENE_COLOUR, C.MOTION, C.OBJECTS, C.FACE_STATE,
                                                       C.HANDS, C.POSE}
    assert st["capabilities"] == sorted(c.value for c in eng.capabilities)
    assert [m["t"] for m in msgs if m["type"] == "alert"] == [3.0]
    eng.close()


def test_encoder_embeddings_drive_search(tmp_path):
    from onlook.perception.encoder import FakeEncoder

    frames = scene_frames(8, cut_at=4.0, walker_from=100)  # two still shots, no walker
    enc = FakeEncoder(dim=256)  # high dim: unrelated vectors are near-orthogonal
    enc.register(frames[-1], "a parked delivery van")  # what the second shot shows
    s = _settings(tmp_path)
    eng = StreamEngine(FakeSource(frames, fps=10), settings=s, perceiver=Perceiver(s, encoder=enc))
    eng.run()
    assert eng.store.index is not None and len(eng.store.index) >= 2
    hits = eng.search("delivery van")
    assert hits and hits[0].start >= 4.0
    # Reopening rebuilds the vector index from SQLite.
    eng.close()
    with Store(tmp_path / "store", readonly=True) as st:
        assert st.index is not None and len(st.index) >= 2


def test_source_gaps_are_recorded_in_memory(tmp_path):
    from onlook.types import Gap

    s = _settings(tmp_path)
    gap = Gap(start=1.0, end=2.5, wall_start=100.0, wall_end=101.5, reason="read timeout")
    src = FakeSource(scene_frames(3), fps=10, gaps=[gap], kind="live")
    eng = StreamEngine(src, settings=s, perceiver=Perceiver(s))
    msgs = []
    eng.subscribe(msgs.append)
    eng.run()
    assert eng.store.gaps() == [gap]
    assert any(m["type"] == "event" and m.get("kind") == "gap" and m["reason"] == "read timeout" for m in msgs)
    eng.close()


ALWAYS = {C.MOTION, C.SHOTS}  # the gate and the scene-cut detector run whatever is switched off


HF = {C.HANDS, C.FACE_STATE}  # the hand detector; face state, read on the faces found
P = {C.PEOPLE, C.PERSON_COLOUR, C.POSE}  # people, their clothing colours and posture


@pytest.mark.parametrize(("switches", "expected"), [
    ({}, ALWAYS | HF | P | {C.FACES, C.OCR, C.SCENE_COLOUR, C.OBJECTS}),
    ({"detect_faces": False}, ALWAYS | P | {C.HANDS, C.OCR, C.SCENE_COLOUR, C.OBJECTS}),
    ({"face_state": False}, ALWAYS | P | {C.HANDS, C.FACES, C.OCR, C.SCENE_COLOUR, C.OBJECTS}),
    ({"detect_hands": False}, ALWAYS | P | {C.FACE_STATE, C.FACES, C.OCR, C.SCENE_COLOUR, C.OBJECTS}),
    ({"detect_pose": False}, ALWAYS | HF | {C.PEOPLE, C.PERSON_COLOUR, C.FACES, C.OCR, C.SCENE_COLOUR, C.OBJECTS}),
    ({"detect_text": False}, ALWAYS | HF | P | {C.FACES, C.SCENE_COLOUR, C.OBJECTS}),
    ({"detect_people": False}, ALWAYS | HF | {C.FACES, C.OCR, C.SCENE_COLOUR, C.OBJECTS}),
    ({"detect_colors": False}, ALWAYS | HF | {C.PEOPLE, C.POSE, C.FACES, C.OCR, C.OBJECTS}),
    ({"detect_objects": False}, ALWAYS | HF | P | {C.FACES, C.OCR, C.SCENE_COLOUR}),
    ({"detect_people": False, "detect_faces": False, "detect_text": False, "detect_colors": False,
      "detect_objects": False, "detect_hands": False}, ALWAYS),
])
def test_capabilities_follow_the_switches(switches, expected):
    eng = StreamEngine(FakeSource([], fps=10), settings=Settings(speech=False, **switches))
    try:
        assert eng.capabilities == expected  # before perception is built: what it will be
        assert C.BEYOND not in eng.capabilities and isinstance(eng.capabilities, frozenset)
        assert eng.status()["capabilities"] == sorted(c.value for c in expected)
    finally:
        eng.close()


def test_capabilities_come_from_the_perceiver_it_holds():
    s = Settings(speech=False)  # all on (speech aside), but this perceiver holds only a face detector
    eng = StreamEngine(FakeSource([], fps=10), settings=s, perceiver=Perceiver(s, faces=FakeFaceDetector()))
    try:
        assert eng.capabilities == ALWAYS | {C.FACES, C.SCENE_COLOUR}
    finally:
        eng.close()

    class Bare:  # a custom perceiver that declares nothing is taken to see nothing
        def analyze(self, frame): ...

    eng = StreamEngine(FakeSource([], fps=10), settings=s, perceiver=Bare())  # type: ignore[arg-type]  # a perceiver without the optional parts, on purpose
    try:
        assert eng.capabilities == frozenset()
    finally:
        eng.close()


class _JumpShots:
    """A shot model that flags a frame when the next one differs a lot (no weights)."""

    window, context, threshold = 16, 4, 0.5

    def predict(self, frames):
        import numpy as np

        d = np.abs(np.diff(frames.astype(int), axis=0)).mean(axis=(1, 2, 3))
        return np.append(d > 40, False).astype(np.float32)


def test_glanced_frames_feed_the_shot_detector_and_stay_out_of_memory(tmp_path):
    from onlook.perception.shots import ShotDetector

    s = _settings(tmp_path, fps=2.0, shot_fps=10.0)
    frames = scene_frames(6, cut_at=3.05, walker_from=100)  # 10 fps; the cut lands between analysed frames
    eng = StreamEngine(FakeSource(frames, fps=10), settings=s,
                       perceiver=Perceiver(s, shots=ShotDetector(_JumpShots())), alerts=["a scene change"])
    msgs = []
    eng.subscribe(msgs.append)
    eng.run()
    st = eng.status()
    # 12 frames on the 2 fps grid are analysed, 48 glanced at; the glance that confirmed the cut is analysed too
    assert st["frames_glanced"] == 48 and st["frames_kept"] == 13
    rows = eng.store.frames(0.0, 10.0)
    assert len(rows) == 13
    alerts = [m["t"] for m in msgs if m["type"] == "alert"]
    assert alerts == [pytest.approx(3.1)]  # the new shot's first frame, not when it was confirmed
    ans = eng.ask("when was the first scene change?")
    assert ans.value == pytest.approx(3.1)
    eng.close()


def test_a_file_s_glances_come_as_thumbnails_and_a_cut_they_confirm_is_reported_on_the_next_whole_frame(tmp_path):
    from media import write_clip

    from onlook.perception.shots import THUMB_SIZE, ShotDetector

    s = _settings(tmp_path, fps=2.0, shot_fps=10.0)
    path = write_clip(tmp_path / "cut.mp4", scene_frames(8, cut_at=3.05, walker_from=100))
    seen: list[tuple[float, bool, tuple[int, ...]]] = []

    class Recording(Perceiver):
        def glance(self, frame):
            seen.append((frame.pts, frame.thumbnail, frame.image.shape))
            return super().glance(frame)

        def analyze(self, frame):
            assert not frame.thumbnail  # a thumbnail is never analysed
            return super().analyze(frame)

    eng = StreamEngine(str(path), settings=s, perceiver=Recording(s, shots=ShotDetector(_JumpShots())),
                       alerts=["a scene change"])
    msgs = []
    eng.subscribe(msgs.append)
    eng.run()
    thumbs = [shape for _, thumb, shape in seen if thumb]
    assert len(thumbs) >= 30 and set(thumbs) == {(THUMB_SIZE[1], THUMB_SIZE[0], 3)}
    # The file's last 2 s come whole: a cut confirmed only at the end is reported on the last frame.
    assert not [pts for pts, thumb, _ in seen if thumb and pts >= 6.0]
    alerts = [m["t"] for m in msgs if m["type"] == "alert"]
    assert len(alerts) == 1 and 3.05 <= alerts[0] <= 3.6  # the first whole frame after the confirming glance
    assert eng.ask("when was the first scene change?").value == pytest.approx(alerts[0])
    eng.close()


def test_shots_off_sees_no_cuts_and_glances_at_nothing(tmp_path):
    s = _settings(tmp_path, shots="off")
    eng = StreamEngine(FakeSource(scene_frames(6, cut_at=3.0), fps=10), settings=s, perceiver=Perceiver(s),
                       alerts=["a scene change"])
    msgs = []
    eng.subscribe(msgs.append)
    eng.run()
    assert eng.status()["frames_glanced"] == 0 and not [m for m in msgs if m["type"] == "alert"]
    assert C.SHOTS not in eng.capabilities and C.SHOTS not in capabilities_for(s)
    assert C.SHOTS in capabilities_for(_settings(shots="histogram"))
    eng.close()
