"""The motion model: constant-velocity prediction of the foot point, and boxes fitted into masks.

A track's speed is that of its foot point (the middle of the bottom side, or
at an edge the side that is not cut off), smoothed over sightings; a lost
track coasts ever more slowly. Where one blob holds several people, or one
person and more, person-sized boxes are placed into its pixels near the
predictions.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import cv2
import numpy as np

from onlook.perception.people.thresholds import THRESHOLDS, PeopleThresholds

if TYPE_CHECKING:
    from onlook.perception.people.state import Blob, Track

__all__ = ["anchor", "fit_box", "follow_mates", "paste", "predict", "share", "tight", "update_velocity"]


def predict(tr: Track, dt: float, th: PeopleThresholds = THRESHOLDS) -> np.ndarray:
    """Where a track's box should be ``dt`` seconds after its last update."""
    # Lost tracks drift ever more slowly: people who vanish usually stopped or turned.
    damp = th.coast_damping ** min(tr.misses, th.coast_max_misses)
    d = tr.vel * dt * damp
    return tr.box + np.array([d[0], d[1], d[0], d[1]])


def anchor(box: np.ndarray, edge: str | None) -> np.ndarray:
    """Foot point of a box; at an edge, the side that is not cut off by it."""
    x = (box[0] + box[2]) / 2
    y = box[3]
    if edge == "right":
        x = box[0]
    elif edge == "left":
        x = box[2]
    elif edge == "bottom":
        y = box[1]
    return np.array([x, y], np.float64)


def update_velocity(tr: Track, box: np.ndarray, edge: str | None, t: float, dt: float,
                    th: PeopleThresholds = THRESHOLDS) -> None:
    """Set ``tr.vel`` from its move to ``box``, its foot points taken as seen from ``edge``."""
    new_f = anchor(box, edge)
    old_f = anchor(tr.box, edge)
    v = (new_f - old_f) / max(t - tr.last_seen, dt)
    w = th.vel_smoothing
    tr.vel = v if tr.hits == 1 else w * v + (1 - w) * tr.vel


def follow_mates(tr: Track, before: np.ndarray, mates: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
    """Move a group member hidden behind the others as its mates moved.

    Its own speed is stale or wrong after people in a group swapped places.

    Args:
        tr: The hidden track.
        before: Its box before this frame.
        mates: For each mate seen in this frame, its box before, its box now and its speed.
    """
    shift = np.mean([now - prev for prev, now, _ in mates], axis=0)
    dx, dy = (shift[0] + shift[2]) / 2, shift[3]
    tr.box = before + np.array([dx, dy, dx, dy])
    tr.vel = np.mean([vel for _, _, vel in mates], axis=0)


def fit_box(mask: np.ndarray, pred: np.ndarray, h: float, w: float, th: PeopleThresholds = THRESHOLDS
            ) -> tuple[int, int, int, int] | None:
    """Place an ``h`` x ``w`` box near ``pred`` (mask coordinates) to cover most of ``mask``.

    Searches centres within 0.6 widths and feet within 0.3 heights of the
    prediction, preferring positions close to it; returns integer
    ``x0, y0, x1, y1`` clipped to the mask, or None if it falls outside.
    """
    H, W = mask.shape
    hi, wi = max(2, int(round(h))), max(2, int(round(w)))
    S = cv2.integral(mask.astype(np.uint8))
    cx0, f0 = (pred[0] + pred[2]) / 2, pred[3]
    xs = np.arange(int(round(cx0 - th.fit_search_x * wi)), int(round(cx0 + th.fit_search_x * wi)) + 1)
    ys = np.arange(int(round(f0 - th.fit_search_y * hi)), int(round(f0 + th.fit_search_y * hi)) + 1)
    X0 = np.clip(xs - wi // 2, 0, W)[None, :]
    X1 = np.clip(xs - wi // 2 + wi, 0, W)[None, :]
    Y0 = np.clip(ys - hi, 0, H)[:, None]
    Y1 = np.clip(ys, 0, H)[:, None]
    count = S[Y1, X1] - S[Y0, X1] - S[Y1, X0] + S[Y0, X0]
    if count.max() <= 0:
        return None
    pen = th.fit_penalty * hi * wi * (np.abs(xs - cx0)[None, :] / wi + np.abs(ys - f0)[:, None] / hi)
    iy, ix = np.unravel_index(int(np.argmax(count - pen)), count.shape)
    return int(X0[0, ix]), int(Y0[iy, 0]), int(X1[0, ix]), int(Y1[iy, 0])


def tight(mask: np.ndarray) -> np.ndarray:
    """Bounding box ``x0, y0, x1, y1`` of a non-empty mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], np.float64)


def share(mask: np.ndarray, preds: list[np.ndarray], sizes: list[tuple[float, float]],
          slack: list[float], th: PeopleThresholds = THRESHOLDS) -> tuple[list[np.ndarray | None], np.ndarray]:
    """Share a blob's pixels among several people walking together.

    Each pixel goes to the person whose box (of its expected size) it is
    deepest inside; each box then moves to the middle of its pixels (a few
    rounds, at most ``slack`` half-widths from the prediction). Returns each person's box (None
    when almost none of them shows: hidden behind the others) and the mask of
    pixels that are in nobody's box.
    """
    ys_all, xs_all = np.nonzero(mask)
    step = max(1, int(math.ceil(len(xs_all) / th.share_samples)))  # a sample places the boxes as well
    ys, xs = ys_all[::step], xs_all[::step]
    k = len(preds)
    cx = np.array([(p[0] + p[2]) / 2 for p in preds])
    cy = np.array([p[3] - s[0] / 2 for p, s in zip(preds, sizes)])
    hw = np.array([max(s[1] / 2, 1.0) for s in sizes])[:, None]
    hh = np.array([max(s[0] / 2, 1.0) for s in sizes])[:, None]
    cx0, cy0 = cx.copy(), cy.copy()

    def depth(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        return np.maximum(np.abs(xs[None, :] - cx[:, None]) / hw, np.abs(ys[None, :] - cy[:, None]) / hh)

    reach = np.maximum(np.asarray(slack) / th.share_reach_norm, 1.0)
    for it in range(th.share_rounds):
        d = depth(xs, ys)
        who = np.argmin(d, axis=0)
        # The first round looks farther for people whose whereabouts are uncertain.
        near = d[who, np.arange(len(xs))] <= (reach[who] if it == 0 else 1.0)
        for i in range(k):
            sel = near & (who == i)
            if sel.any():
                cx[i] = np.clip(xs[sel].mean(), cx0[i] - slack[i] * hw[i, 0], cx0[i] + slack[i] * hw[i, 0])
                cy[i] = np.clip(ys[sel].mean(), cy0[i] - th.share_y_slack * hh[i, 0],
                                cy0[i] + th.share_y_slack * hh[i, 0])
    d = depth(xs_all, ys_all)
    who = np.argmin(d, axis=0)
    dmin = d[who, np.arange(len(xs_all))]
    out: list[np.ndarray | None] = []
    for i in range(k):
        sel = (who == i) & (dmin <= th.share_depth)
        # 4 * hw * hh: the area of the person's box.
        if sel.sum() < th.share_min_fill * 4 * hw[i, 0] * hh[i, 0]:
            out.append(None)
            continue
        out.append(np.array([xs_all[sel].min(), ys_all[sel].min(), xs_all[sel].max() + 1,
                             ys_all[sel].max() + 1], np.float64))
    rest = np.zeros_like(mask)
    far = dmin > th.share_depth
    rest[ys_all[far], xs_all[far]] = True
    return out, rest


def paste(a: Blob, b: Blob, u: np.ndarray) -> np.ndarray:
    """The pixels of two blobs in the frame of their union box ``u``."""
    m = np.zeros((int(u[3] - u[1]), int(u[2] - u[0])), bool)
    for q in (a, b):
        x, y = int(q.box[0] - u[0]), int(q.box[1] - u[1])
        m[y:y + q.mask.shape[0], x:x + q.mask.shape[1]] |= q.mask
    return m
