"""Sampling to a target rate, and the redundancy gate.

Two cheap filters sit between a source and perception:

* :class:`FpsSampler` keeps at most ``fps`` frames per second of stream time;
  :class:`GlanceSampler` adds a second, faster grid of frames that are only
  glanced at (the shot detector's thumbnails), never analysed.
* :class:`RedundancyGate` compares each kept frame, tile by tile, with what
  was last *analysed* in that tile and marks only the tiles that changed.
  Detectors then run on changed regions only; a frame where nothing changed
  is skipped whole. This is the CPU-side analogue of TimeChat-Online's
  differential token drop: on a fixed camera most of the picture is the same
  from one sample to the next, so most perception work can be skipped.

The reference image is updated per tile only when that tile is analysed, so a
slow drift (a shadow creeping) accumulates until it crosses the threshold
instead of hiding below it forever.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np

from onlook.types import Frame

__all__ = ["FpsSampler", "FrameRole", "GlanceSampler", "GateResult", "RedundancyGate", "resize_for_analysis"]


class FpsSampler:
    """Keep frames on a ``1/fps`` grid of stream time.

    A frame is kept when its pts reaches the next grid point; the grid then
    advances past it, so a source with irregular timing (or a reconnect jump)
    never causes a burst of kept frames.

    Args:
        fps: Frames to keep per second of stream time.

    Example:
        >>> s = FpsSampler(2.0)
        >>> [s.keep(t / 10) for t in range(0, 12, 2)]
        [True, False, False, True, False, True]
    """

    def __init__(self, fps: float) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.period = 1.0 / fps
        self._next: float | None = None

    def keep(self, pts: float) -> bool:
        # A small epsilon so 0.1 * 5 == 0.5 still lands on the grid.
        if self._next is None or pts + 1e-6 >= self._next:
            base = pts if self._next is None else self._next
            # Skip whole periods when the source jumped ahead (gap, reconnect).
            steps = max(1, int((pts - base) / self.period) + 1)
            self._next = base + steps * self.period
            return True
        return False

    def __call__(self, frames: Iterable[Frame]) -> Iterator[Frame]:
        for frame in frames:
            if self.keep(frame.pts):
                yield frame


class FrameRole(StrEnum):
    """What a kept frame is for (:meth:`GlanceSampler.classify`)."""

    ANALYSE = "analyse"
    """Analysed: perception, memory, alerts."""
    GLANCE = "glance"
    """Only glanced at: a thumbnail for the shot detector."""


class GlanceSampler:
    """Two grids of stream time: frames to analyse (``fps``) and, between them, frames to glance at.

    A frame on the analysis grid is :attr:`FrameRole.ANALYSE` whether or not it is also on the
    glance grid; the analysis grid decides exactly as a lone :class:`FpsSampler` of ``fps`` would,
    so adding glances never moves which frames are analysed.

    Args:
        fps: Frames to analyse per second of stream time.
        glance_fps: Frames per second on the glance grid (an analysed frame off it comes on
            top); None or not above ``fps``: no glances.

    Example:
        >>> s = GlanceSampler(2.0, 10.0)
        >>> [str(s.classify(t / 10)) for t in range(0, 7)]
        ['analyse', 'glance', 'glance', 'glance', 'glance', 'analyse', 'glance']
    """

    def __init__(self, fps: float, glance_fps: float | None = None,
                 glance_size: tuple[int, int] | None = None) -> None:
        self.analysis = FpsSampler(fps)
        self.glances = FpsSampler(glance_fps) if glance_fps is not None and glance_fps > fps else None
        self.glance_size = glance_size
        self._last: FrameRole | None = None
        self._last_pts = 0.0
        self._full_next = False
        self.whole: Callable[[float], bool] | None = None
        """Asked for each glanced frame whether it must come whole after all (the perceiver reads faces on it)."""
        self.whole_from: float | None = None
        """Stream time from which every frame comes whole (a file's last seconds: a cut the shot detector
        confirms only when the stream ends is reported on the last frame, which must be whole)."""

    def classify(self, pts: float) -> FrameRole | None:
        """The role of the frame at ``pts`` (None: not kept); advances both grids."""
        analyse = self.analysis.keep(pts)
        glance = self.glances.keep(pts) if self.glances is not None else False
        self._last = FrameRole.ANALYSE if analyse else (FrameRole.GLANCE if glance else None)
        self._last_pts = pts
        return self._last

    def keep(self, pts: float) -> bool:
        """Whether the frame at ``pts`` is kept at all (a source-side filter)."""
        return self.classify(pts) is not None

    def thumb(self) -> tuple[int, int] | None:
        """``(width, height)`` to decode the frame just kept at, or None for its full picture.

        A frame that is only glanced at needs no more than ``glance_size`` (the shot detector's thumbnail):
        a source that decodes it straight to that size skips converting and shrinking a whole picture,
        most of the cost of a glance. After :meth:`full_next` the next kept frame comes whole.
        """
        if self._full_next:  # the next kept frame, whatever its role, answers the request
            self._full_next = False
            return None
        if self._last is not FrameRole.GLANCE or self.glance_size is None:
            return None
        if self.whole_from is not None and self._last_pts >= self.whole_from:
            return None
        if self.whole is not None and self.whole(self._last_pts):
            return None
        return self.glance_size

    def full_next(self) -> None:
        """Deliver the next kept frame whole (a glance confirmed a cut: the next frame is analysed)."""
        self._full_next = True


def resize_for_analysis(image: np.ndarray, max_width: int) -> np.ndarray:
    """Downscale (never upscale) an image to at most ``max_width`` pixels wide."""
    h, w = image.shape[:2]
    if w <= max_width:
        return image
    nh = max(1, round(h * max_width / w))
    return cv2.resize(image, (max_width, nh), interpolation=cv2.INTER_AREA)


@dataclass(frozen=True, slots=True)
class GateResult:
    """What the gate decided for one frame.

    Attributes:
        changed: ``rows x cols`` bool grid, True where the tile changed.
        diff: ``rows x cols`` mean absolute grey difference per tile.
        tile: Tile size in pixels of the analysed image.
        changed_fraction: Share of the image area marked as changed.
        first: True for the first frame (everything is new).
    """

    changed: np.ndarray
    diff: np.ndarray
    tile: int
    changed_fraction: float
    first: bool = False

    @property
    def skip(self) -> bool:
        """True when nothing changed and the frame needs no perception."""
        return not self.first and self.changed_fraction == 0.0

    def rois(self, shape: tuple[int, ...], pad_tiles: int = 1) -> list[tuple[int, int, int, int]]:
        """Pixel rectangles ``(x0, y0, x1, y1)`` covering the changed tiles.

        Neighbouring changed tiles are grouped (connected components after a
        ``pad_tiles`` dilation) so detectors get a few whole regions rather than
        many slivers.
        """
        if not self.changed.any():
            return []
        grid = self.changed.astype(np.uint8)
        if pad_tiles > 0:
            k = 2 * pad_tiles + 1
            grid = cv2.dilate(grid, np.ones((k, k), np.uint8))
        n, _, stats, _ = cv2.connectedComponentsWithStats(grid, connectivity=8)
        h, w = shape[:2]
        out = []
        for i in range(1, n):
            x, y, cw, ch, _ = stats[i]
            out.append((int(x * self.tile), int(y * self.tile),
                        int(min(w, (x + cw) * self.tile)), int(min(h, (y + ch) * self.tile))))
        return out


class RedundancyGate:
    """Mark the tiles of a frame that changed since they were last analysed.

    Args:
        tile: Tile edge in pixels (of the image passed in).
        threshold: Mean absolute grey-level change (0..255) above which a
            tile counts as changed. Sensor noise on a still camera is ~2-4.
        min_fraction: Changes smaller than this share of the frame are
            treated as noise and the frame is skipped.

    Example:
        >>> gate = RedundancyGate(tile=8)
        >>> a = np.zeros((32, 32, 3), np.uint8)
        >>> gate.update(a).first, gate.update(a).skip
        (True, True)
    """

    def __init__(self, tile: int = 32, threshold: float = 12.0, min_fraction: float = 0.0) -> None:
        self.tile = tile
        self.threshold = threshold
        self.min_fraction = min_fraction
        self._ref: np.ndarray | None = None  # per-tile mean grey of what was analysed
        self.frames = 0
        self.skipped_frames = 0
        self.area_total = 0.0
        self.area_analysed = 0.0

    def _tile_means(self, image: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        h, w = grey.shape
        rows, cols = -(-h // self.tile), -(-w // self.tile)
        # INTER_AREA to a 4x4-per-tile grid keeps some texture inside a tile
        # (a plain mean would miss a person swapping places with the background).
        small = cv2.resize(grey, (cols * 4, rows * 4), interpolation=cv2.INTER_AREA).astype(np.float32)
        return small

    def reset(self) -> None:
        """Forget the reference (after a scene cut everything is new)."""
        self._ref = None

    def update(self, image: np.ndarray, *, force: bool = False) -> GateResult:
        """Compare ``image`` with the reference and return the changed tiles.

        Args:
            image: BGR (or grey) analysis image; all calls must use one size.
            force: Treat every tile as changed (a periodic full refresh).
        """
        cur = self._tile_means(image)
        rows, cols = cur.shape[0] // 4, cur.shape[1] // 4
        self.frames += 1
        first = self._ref is None or self._ref.shape != cur.shape
        if first or force:
            changed = np.ones((rows, cols), bool)
            diff = np.full((rows, cols), 255.0, np.float32)
            self._ref = cur.copy()
        else:
            d = np.abs(cur - self._ref)
            diff = d.reshape(rows, 4, cols, 4).mean(axis=(1, 3))
            changed = diff > self.threshold
            if changed.mean() < self.min_fraction:
                changed[:] = False
            # Only analysed tiles move their reference forward.
            mask = np.repeat(np.repeat(changed, 4, axis=0), 4, axis=1)
            self._ref[mask] = cur[mask]
        frac = float(changed.mean())
        self.area_total += 1.0
        self.area_analysed += frac
        if frac == 0.0 and not first:
            self.skipped_frames += 1
        return GateResult(changed=changed, diff=diff, tile=self.tile, changed_fraction=frac,
                          first=first)

    @property
    def skipped_area_fraction(self) -> float:
        """Share of sampled image area that perception did not have to look at."""
        return 1.0 - self.area_analysed / self.area_total if self.area_total else 0.0
