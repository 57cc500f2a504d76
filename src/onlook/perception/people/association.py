"""Association: which blob is which track, and what is left over.

A gated Hungarian assignment (:func:`onlook.perception.assign.linear_sum_assignment`)
on foot-point distance, size and overlap matches tracks to blobs one to one.
Tracks left over that sit inside a claimed blob share it (people walking
together), and a person lost a moment ago rejoins a blob wide enough for two.
Each claimed blob is then explained by its claimants' person boxes; what is
left, if person-sized, may be someone new, and loose pieces that fit a
tracked person are absorbed into them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from onlook.perception import boxes
from onlook.perception.assign import linear_sum_assignment
from onlook.perception.people.crossing import Edges
from onlook.perception.people.motion import fit_box, paste, share, tight
from onlook.perception.people.state import Blob, HeightModel, Track, ref_size
from onlook.perception.people.thresholds import THRESHOLDS, PeopleThresholds

__all__ = ["Association", "Associator", "split_wide"]


@dataclass
class Association:
    """What one frame's blobs say about the tracks (keys are track and blob indices).

    Attributes:
        claims: Blob index -> indices of the tracks that claimed it.
        meas: Track index -> its measured box, None when hidden behind its group.
        single: Track index -> it was the only thing in its blob.
        plausible: Track index -> its blob was no bigger than the people it holds.
        group: Track index -> the blob it was found in.
        loose: Blobs and pieces nobody explains: maybe new people.
    """

    claims: dict[int, list[int]] = field(default_factory=dict)
    meas: dict[int, np.ndarray | None] = field(default_factory=dict)
    single: dict[int, bool] = field(default_factory=dict)
    plausible: dict[int, bool] = field(default_factory=dict)
    group: dict[int, int] = field(default_factory=dict)
    loose: list[Blob] = field(default_factory=list)


def split_wide(blob: Blob, person_h: float, th: PeopleThresholds = THRESHOLDS) -> list[Blob]:
    """Cut a blob wider than one person at deep valleys of its column counts."""
    cols = blob.mask.sum(axis=0).astype(np.float64)
    pw = max(2, int(round(th.valley_width * person_h)))
    if len(cols) < 2 * pw:
        return [blob]
    k = max(1, pw // th.valley_smooth)
    sm = np.convolve(cols, np.ones(k) / k, mode="same")
    cuts: list[int] = []
    start = pw
    while start <= len(sm) - pw:
        seg = sm[start:len(sm) - pw + 1]
        if seg.size == 0:
            break
        c = start + int(np.argmin(seg))
        left = sm[(cuts[-1] if cuts else 0):c].max(initial=0)
        right = sm[c:].max(initial=0)
        if sm[c] >= th.valley_depth * min(left, right):
            break
        cuts.append(c)
        start = c + pw
    if not cuts:
        return [blob]
    pieces = []
    x0, y0 = blob.box[0], blob.box[1]
    for c0, c1 in zip([0, *cuts], [*cuts, len(cols)]):
        piece = blob.mask[:, c0:c1]
        if not piece.any():
            continue
        rows = np.flatnonzero(piece.any(axis=1))
        cs = np.flatnonzero(piece.any(axis=0))
        box = np.array([x0 + c0 + cs[0], y0 + rows[0], x0 + c0 + cs[-1] + 1, y0 + rows[-1] + 1])
        pieces.append(Blob(box.astype(np.float64),
                           piece[rows[0]:rows[-1] + 1, cs[0]:cs[-1] + 1], parent=blob.parent))
    return pieces


class Associator:
    """Matches blobs to tracks in one view.

    Args:
        edges: The view's edges.
        heights: What a person's height is at each row.
        lost_s: How long a vanished person is remembered for re-acquisition.
        th: Tuning constants.
    """

    def __init__(self, edges: Edges, heights: HeightModel, lost_s: float, th: PeopleThresholds = THRESHOLDS) -> None:
        self.edges = edges
        self.heights = heights
        self.lost_s = lost_s
        self.th = th

    def associate(self, tracks: list[Track], preds: list[np.ndarray], blobs: list[Blob], t: float) -> Association:
        """Match ``blobs`` to ``tracks`` (predicted at ``preds``) and explain each claimed blob.

        ``preds`` is updated in place where a track is better looked for where it was last seen.
        """
        th = self.th
        res = Association()
        claims = res.claims

        # 1. One-to-one gated assignment.
        if tracks and blobs:
            cost = np.full((len(tracks), len(blobs)), th.cost_blocked)
            for i, (tr, p) in enumerate(zip(tracks, preds)):
                for j, b in enumerate(blobs):
                    c = self.cost(tr, p, b.box, t)
                    if c is not None:
                        cost[i, j] = c
            rows, cols = linear_sum_assignment(cost)
            for i, j in zip(rows, cols):
                if cost[i, j] < th.cost_gated:
                    claims.setdefault(int(j), []).append(int(i))
        claimed = {i for idxs in claims.values() for i in idxs}

        # 2. Tracks left over that sit inside a claimed blob: people walking together.
        for i, (tr, p) in enumerate(zip(tracks, preds)):
            if i in claimed:
                continue
            best, best_ov = -1, th.group_cover
            if tr.misses <= th.group_max_misses:
                for j, b in enumerate(blobs):
                    ov = boxes.covered_share(p, b.box)
                    if ov >= best_ov:
                        best, best_ov = j, ov
            if best < 0 and tr.misses:
                best = self.merged_into(tr, p, blobs, claims, t)
                if best >= 0:
                    preds[i] = tr.box.copy()  # its speed misled it: look where it was last seen
            if best >= 0:
                claims.setdefault(best, []).append(i)
                claimed.add(i)

        # 3. Share each claimed blob among its tracks; what nobody explains may be new people.
        for j, idxs in claims.items():
            parts, rest, held = self.explain(blobs[j], [(tracks[i], preds[i]) for i in idxs])
            for i, part in zip(idxs, parts):
                res.meas[i] = part
                res.group[i] = j
                res.single[i] = len(idxs) == 1 and not rest
                res.plausible[i] = held
            res.loose.extend(rest)

        # 4. Blobs nobody claimed: pieces of a tracked person, or new people.
        for j, b in enumerate(blobs):
            if j not in claims and not self.absorb(b, tracks, preds, res.meas):
                res.loose.append(b)
        return res

    def cost(self, tr: Track, p: np.ndarray, box: np.ndarray, t: float) -> float | None:
        """Matching cost of a track's predicted box ``p`` and a blob box, None if gated out."""
        th = self.th
        touch = self.edges.touch
        lost_for = t - tr.last_seen
        ref_h = max(tr.size[0] if tr.size else tr.h, th.ref_h_min)
        pf = np.array([(p[0] + p[2]) / 2, p[3]])
        bf = np.array([(box[0] + box[2]) / 2, box[3]])
        d = float(np.hypot(*((pf - bf) / ref_h)))
        iou = boxes.iou(p, box)
        gate = th.gate_base + th.gate_growth * min(lost_for, self.lost_s)
        if tr.hits == 1 and touch(tr.box) is not None:
            gate += th.gate_sliver * min(lost_for, th.gate_sliver_s)  # only a sliver seen: where the rest is, is open
        if d > gate and iou <= 0:
            return None
        size = 0.0
        edge = touch(box)
        if tr.misses and edge is not None and edge not in (touch(tr.box), touch(p)):
            return None  # someone vanished inside the view does not come back across an edge
        if edge is None and touch(p) is None:
            r = (box[3] - box[1]) / ref_h
            lo, hi = (th.size_ratio_lost_lo, th.size_ratio_lost_hi) if tr.misses \
                else (th.size_ratio_lo, th.size_ratio_hi)
            if not lo < r < hi:
                return None
            size = th.size_cost * abs(math.log(r))
        return d + size - iou + (th.lost_penalty if tr.misses else 0.0) \
            + (th.tentative_penalty if not tr.confirmed else 0.0)

    def merged_into(self, tr: Track, p: np.ndarray, blobs: list[Blob], claims: dict[int, list[int]],
                    t: float) -> int:
        """Index of a blob someone lost a while ago has merged into, or -1.

        Two people who stand or walk side by side often show as one blob for
        seconds, and the one who lost the assignment would be dropped after
        ``hold_s``, undercounting the group. A confirmed person lost inside
        the view rejoins a blob another track claims when it still sits in
        that blob and the blob is clearly wider than one person, so that
        there is room for them both.
        """
        th = self.th
        if not tr.confirmed or t - tr.last_seen > self.lost_s or self.edges.touch(tr.box) is not None:
            return -1
        for j, b in enumerate(blobs):
            # Where it was last seen counts as much as where it was heading: a
            # person swapped around in a group has an unreliable speed.
            if j not in claims or max(boxes.covered_share(p, b.box),
                                      boxes.covered_share(tr.box, b.box)) < th.merged_cover:
                continue
            ref = ref_size(tr, b.box[3], self.heights, th)
            if ref is None:
                continue
            if b.w >= th.merged_width * ref[1]:
                return j
        return -1

    def join_pieces(self, blobs: list[Blob]) -> list[Blob]:
        """Join new blobs stacked one over the other that fit one person (legs and trunk)."""
        th = self.th
        blobs = sorted(blobs, key=lambda b: -b.area)
        out: list[Blob] = []
        for b in blobs:
            for k, a in enumerate(out):
                if a.parent is not b.parent:
                    continue
                ov = min(a.box[2], b.box[2]) - max(a.box[0], b.box[0])
                if ov < th.join_overlap * min(a.w, b.w):
                    continue
                u = boxes.union(a.box, b.box)
                uh, uw = u[3] - u[1], u[2] - u[0]
                gap = max(a.box[1], b.box[1]) - min(a.box[3], b.box[3])
                eh = self.heights.expected(u[3])
                fits = uh <= th.join_height * eh if eh is not None else uh <= th.join_aspect * uw
                if fits and gap <= th.join_gap * uh:
                    out[k] = Blob(u, paste(a, b, u), parent=a.parent)
                    break
            else:
                out.append(b)
        return out

    def explain(self, blob: Blob, claimants: list[tuple[Track, np.ndarray]]
                ) -> tuple[list[np.ndarray | None], list[Blob], bool]:
        """Fit each claimant's person box into the blob; return their boxes and the rest.

        A box is ``None`` for a track hidden by the others. The rest are pieces
        big enough to be another person (someone walking close by). The flag
        says whether the claimants' boxes hold most of the blob: if not, the
        blob is some bigger moving thing that the tracks are mere parts of.
        """
        th = self.th
        x0, y0 = blob.box[0], blob.box[1]
        off = np.array([x0, y0, x0, y0])
        if len(claimants) == 1:
            tr, p = claimants[0]
            ref = ref_size(tr, blob.box[3], self.heights, th)
            if ref is None:
                # Nothing known of its size yet: only clear gaps between bodies split it
                # (a car or a cart is one wide thing, a group shows gaps between heads).
                pieces = split_wide(blob, blob.h, th) if self.edges.touch(blob.box) is None else [blob]
                if len(pieces) == 1:
                    return [blob.box.copy()], [], True
                pc = (p[0] + p[2]) / 2
                k = int(np.argmin([abs((q.box[0] + q.box[2]) / 2 - pc) for q in pieces]))
                for q in pieces:
                    q.parent = tr
                return [pieces[k].box.copy()], [q for q_i, q in enumerate(pieces) if q_i != k], True
            if blob.h <= th.one_fit_h * ref[0] and blob.w <= th.one_fit_w * ref[1]:
                return [blob.box.copy()], [], True
        M = blob.mask.copy()
        out: list[np.ndarray | None] = [None] * len(claimants)
        refs = [ref_size(tr, p[3], self.heights, th) for tr, p in claimants]
        # People walking together are about as tall as each other.
        known = [r[0] for r in refs if r is not None]
        fallback_h = max(known) if known else blob.h
        sizes = [r or (fallback_h, th.person_width * fallback_h) for r in refs]
        if len(claimants) == 1:
            tr, p = claimants[0]
            fit = fit_box(M, p - off, sizes[0][0], sizes[0][1], th)
            if fit is not None:
                fx0, fy0, fx1, fy1 = fit
                sub = M[fy0:fy1, fx0:fx1]
                if np.count_nonzero(sub) >= th.fit_min_fill * sizes[0][0] * sizes[0][1]:
                    out[0] = tight(sub) + np.array([fx0, fy0, fx0, fy0]) + off
                    sub[:] = False
        else:
            # A track seen once has no speed yet: let it be found farther from where it was.
            slack = [th.share_slack_new if tr.hits <= 1 else th.share_slack for tr, _ in claimants]
            shared, M = share(M, [p - off for _, p in claimants], sizes, slack, th)
            out = [None if b is None else b + off for b in shared]
        held = 1.0 - np.count_nonzero(M) / max(np.count_nonzero(blob.mask), 1)
        if blob.w * blob.h > th.big_thing * sum(h * w for h, w in sizes):
            held = 0.0  # many small tracks on one big moving thing
        rest = []
        if M.any() and known:
            big = max(sizes, key=lambda r: r[0])
            n_cc, lab, st, _ = cv2.connectedComponentsWithStats(M.astype(np.uint8), connectivity=8)
            for c in range(1, n_cc):
                x, y, w, h, a = st[c]
                box = np.array([x, y, x + w, y + h], np.float64) + off
                if not self.person_sized(box, a, big):
                    continue
                # The closest claimant is the one it was walking with.
                near = min(claimants, key=lambda cp: abs((cp[1][0] + cp[1][2]) / 2 - (box[0] + box[2]) / 2))
                rest.append(Blob(box, lab[y:y + h, x:x + w] == c, parent=near[0]))
        return out, rest, held >= th.held_min

    def person_sized(self, box: np.ndarray, area: float, ref: tuple[float, float]) -> bool:
        """Big enough to be a person of its own (a leftover, not an arm or a bag)."""
        th = self.th
        h = box[3] - box[1]
        eh = self.heights.expected(box[3]) or ref[0]
        edge = self.edges.touch(box)
        if edge in ("left", "right"):
            return h >= th.side_min_h * eh and area >= th.side_min_area * eh * eh
        if edge is not None:
            return area >= th.cut_min_area * eh * eh
        return h >= th.rest_min_h * eh and area >= th.rest_min_area * eh * eh

    def absorb(self, b: Blob, tracks: list[Track], preds: list[np.ndarray],
               meas: dict[int, np.ndarray | None]) -> bool:
        """Attach a loose blob to a tracked person it is a piece of (``meas`` grows to hold it)."""
        th = self.th
        for i, tr in enumerate(tracks):
            cur = meas.get(i)
            if cur is None:
                continue
            ref = ref_size(tr, cur[3], self.heights, th) or (max(tr.h, cur[3] - cur[1]),
                                                            max(tr.w, cur[2] - cur[0]))
            u = boxes.union(cur, b.box)
            if (u[3] - u[1]) <= th.absorb_h * ref[0] and (u[2] - u[0]) <= th.absorb_w * ref[1] \
                    and boxes.covered_share(b.box, boxes.grow(preds[i], th.absorb_grow_x, th.absorb_grow_y)) \
                    > th.absorb_cover:
                meas[i] = u
                return True
        # Specks next to someone are noise, not people.
        for tr in tracks:
            if b.area < th.speck_area * max(tr.w * tr.h, 1.0) \
                    and boxes.covered_share(b.box, boxes.grow(tr.box, th.speck_grow_x, th.speck_grow_y)) > 0:
                return True
        return False

    def near_person(self, box: np.ndarray, tracks: list[Track]) -> Track | None:
        """A confirmed person ``box`` is close to (a companion, or something they carry), if any."""
        th = self.th
        for tr in tracks:
            if tr.confirmed and boxes.covered_share(box, boxes.grow(tr.box, th.near_grow_x, th.near_grow_y)) > 0:
                return tr
        return None
