"""Live view: the latest analysed frame as JPEG, with perception's boxes drawn on it."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import cv2
import numpy as np

from onlook.types import Frame, Observation, ObservationKind

__all__ = ["BOUNDARY", "render_jpeg", "placeholder_jpeg", "mjpeg_part"]

BOUNDARY = "onlookframe"
"""Multipart boundary of ``live.mjpg`` responses."""

_COLORS: dict[str, tuple[int, int, int]] = {  # BGR
    ObservationKind.PERSON: (60, 200, 60), ObservationKind.FACE: (255, 160, 40), ObservationKind.TEXT: (40, 200, 255),
    ObservationKind.HAND: (200, 60, 200)}
# Objects get a colour per class, from a fixed palette (not green, orange or yellow: those are people, faces and
# text), so that every car is drawn alike across frames and streams.
_OBJECT_PALETTE = ((230, 80, 80), (80, 80, 230), (200, 200, 60), (230, 60, 200), (120, 220, 220), (160, 120, 255),
                   (60, 120, 200), (255, 200, 200))


def _object_color(label: str) -> tuple[int, int, int]:
    # A stable hash (str.__hash__ is salted per process).
    return _OBJECT_PALETTE[sum(label.encode()) % len(_OBJECT_PALETTE)]


def _style(o: Observation) -> tuple[tuple[int, int, int], str] | None:
    """Colour and caption of an observation's box, or None for kinds that are not drawn."""
    if o.kind == ObservationKind.OBJECT:
        return _object_color(o.label), o.label if o.track_id is None else f"{o.label} {o.track_id}"
    color = _COLORS.get(o.kind)
    if color is None:
        return None
    if o.kind == ObservationKind.TEXT:
        return color, o.label[:24]
    if o.kind == ObservationKind.HAND:
        return color, "hand raised" if o.attrs.get("raised") else "hand"
    return color, str(o.kind) if o.track_id is None else f"{o.kind} {o.track_id}"


def render_jpeg(frame: Frame, observations: Sequence[Observation], *, boxes: bool = True, max_width: int = 640,
                quality: int = 75) -> bytes:
    """Encode ``frame`` as JPEG (at most ``max_width`` wide), drawing perception's boxes when ``boxes``.

    Drawn: people, faces, on-screen text, hands and every tracked object class (each class in its own colour,
    captioned with its label and track id).
    """
    img = frame.image
    h, w = img.shape[:2]
    if w > max_width:
        img = cv2.resize(img, (max_width, max(1, round(h * max_width / w))), interpolation=cv2.INTER_AREA)
    elif boxes:
        img = img.copy()  # never draw on the engine's frame
    if boxes:
        hh, ww = img.shape[:2]
        for o in observations:
            style = _style(o) if o.box is not None else None
            if style is None or o.box is None:
                continue
            color, label = style
            x0, y0, x1, y1 = (int(round(v * s)) for v, s in zip(o.box, (ww, hh, ww, hh), strict=True))
            cv2.rectangle(img, (x0, y0), (x1, y1), color, 2)
            cv2.putText(img, label, (x0, max(12, y0 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, color, 1, cv2.LINE_AA)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 BGR image
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


@lru_cache(maxsize=8)
def placeholder_jpeg(text: str, width: int = 480, height: int = 270) -> bytes:
    """A grey picture saying ``text`` (no frame yet, or the stream is not running)."""
    img = np.full((height, width, 3), 48, np.uint8)
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.7, 2)
    cv2.putText(img, text, ((width - tw) // 2, (height + th) // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.7,
                (220, 220, 220), 2, cv2.LINE_AA)
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()


def mjpeg_part(jpeg: bytes, t: float | None = None) -> bytes:
    """One part of a ``multipart/x-mixed-replace`` body."""
    head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n"
    if t is not None:
        head += f"X-Stream-Time: {t:.3f}\r\n"
    return head.encode() + b"\r\n" + jpeg + b"\r\n"
