"""Named colours: of the whole picture and of a region (e.g. a person's torso).

Pixels are named by simple HSV rules into the eleven basic colour terms that
people actually use in questions ("red", "blue", "white"...). The colour of a
region is the share of its pixels per name; dominant colours are those above
a share threshold, with the chromatic ones favoured because a "red jacket" is
rarely more than a third of its bounding box.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["COLOR_NAMES", "color_shares", "dominant_colors", "torso_colors"]

COLOR_NAMES: tuple[str, ...] = ("black", "white", "gray", "red", "orange", "yellow", "green",
                                "blue", "purple", "pink", "brown")
_CHROMATIC = {"red", "orange", "yellow", "green", "blue", "purple", "pink", "brown"}


def _name_pixels(hsv: np.ndarray) -> np.ndarray:
    """Index into COLOR_NAMES for every pixel of an HSV (OpenCV ranges) image."""
    h = hsv[..., 0].astype(np.int16) * 2  # degrees 0..358
    s = hsv[..., 1].astype(np.int16)
    v = hsv[..., 2].astype(np.int16)
    out = np.full(h.shape, 2, np.uint8)  # gray
    out[(v < 50)] = 0  # black
    low_sat = (s < 45) & (v >= 50)
    out[low_sat & (v > 190)] = 1  # white
    chroma = (s >= 45) & (v >= 50)
    hue_names = np.select(
        [(h < 15) | (h >= 345), h < 40, h < 70, h < 165, h < 255, h < 290, h < 345],
        [3, 4, 5, 6, 7, 8, 9], default=3,
    ).astype(np.uint8)
    out[chroma] = hue_names[chroma]
    # Dark, not very saturated oranges/reds are what people call brown.
    brownish = chroma & ((hue_names == 4) | (hue_names == 3)) & (v < 150) & (s < 200)
    out[brownish] = 10
    return out


def color_shares(image: np.ndarray) -> dict[str, float]:
    """Share of pixels per colour name in a BGR image (names with any pixels)."""
    if image.size == 0:
        return {}
    small = image if image.shape[0] * image.shape[1] <= 64 * 64 else cv2.resize(
        image, (64, max(1, round(64 * image.shape[0] / image.shape[1]))), interpolation=cv2.INTER_AREA)
    names = _name_pixels(cv2.cvtColor(small, cv2.COLOR_BGR2HSV))
    counts = np.bincount(names.ravel(), minlength=len(COLOR_NAMES)).astype(float)
    counts /= counts.sum()
    return {COLOR_NAMES[i]: float(c) for i, c in enumerate(counts) if c > 0}


def dominant_colors(image: np.ndarray, *, min_share: float = 0.12, chromatic_share: float = 0.08,
                    top: int = 3) -> list[tuple[str, float]]:
    """Dominant colour names of a BGR image, most common first.

    Example:
        >>> import numpy as np
        >>> img = np.zeros((8, 8, 3), np.uint8); img[..., 2] = 220
        >>> dominant_colors(img)[0][0]
        'red'
    """
    shares = color_shares(image)
    picked = [(n, s) for n, s in shares.items()
              if s >= (chromatic_share if n in _CHROMATIC else min_share)]
    picked.sort(key=lambda p: -p[1])
    return picked[:top]


def torso_colors(image: np.ndarray, box_px: tuple[int, int, int, int]) -> list[tuple[str, float]]:
    """Colours of the clothing of a person in a pixel box ``(x0, y0, x1, y1)``.

    Looks at the upper-middle part of the box (shoulders to hips, inner
    columns), where a jacket or shirt is, not the background at the sides.
    """
    x0, y0, x1, y1 = box_px
    w, h = x1 - x0, y1 - y0
    if w < 4 or h < 8:
        return []
    crop = image[y0 + int(0.2 * h): y0 + int(0.6 * h), x0 + int(0.25 * w): x1 - int(0.25 * w)]
    return dominant_colors(crop, min_share=0.3, chromatic_share=0.2, top=2)
