"""Files and folders: frames, timing, and every way opening them goes wrong."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from source_helpers import H, W, moving_square, square_is_at, write_clip

from onlook.errors import (
    SourceCorrupt,
    SourceError,
    SourceNotFound,
    UnsupportedSource,
)
from onlook.sources import FileSource, ImageFolderSource, ThreadedSource, open_source
from onlook.types import Frame


def read_all(uri: str | Path, **kw: object) -> list[Frame]:
    with open_source(str(uri), **kw) as src:  # type: ignore[arg-type]  # each test passes valid options
        return list(src)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fixture", ["clip", "clip_ts"])
def test_file_frames_carry_stream_seq_pts_wall(fixture: str, request: pytest.FixtureRequest) -> None:
    path = request.getfixturevalue(fixture)
    with open_source(str(path), stream_id="cam1") as src:
        assert src.info.kind == "file"
        assert (src.info.width, src.info.height) == (W, H)
        assert src.info.fps == pytest.approx(25)
        assert src.info.duration_s == pytest.approx(2.0, abs=0.1)
        frames = list(src)
        assert src.dropped == 0 and src.gaps == []
    assert len(frames) == 50
    assert {f.stream_id for f in frames} == {"cam1"}
    assert [f.seq for f in frames] == list(range(50))
    pts = [f.pts for f in frames]
    assert pts[0] == pytest.approx(0.0, abs=1e-6)  # MPEG-TS starts at 1.4 s; sources start at 0
    assert all(b > a for a, b in pairwise(pts))
    assert pts[-1] == pytest.approx(49 / 25, abs=0.01)
    assert all(a <= b for a, b in pairwise(f.wall for f in frames))
    f = frames[10]
    assert f.image.shape == (H, W, 3) and f.image.dtype == np.uint8
    # The decoded picture is the one encoded, in BGR order: the red square is in place.
    assert square_is_at(f.image, 10) and not square_is_at(f.image, 20)


def test_file_uri_and_file_scheme(clip: Path) -> None:
    assert len(read_all(clip.as_uri())) == 50


def test_open_source_blocks_instead_of_dropping_for_files(clip: Path) -> None:
    src = open_source(str(clip), queue_size=2)
    assert isinstance(src, ThreadedSource) and not src.drop_oldest
    with src:
        frames = list(src)
    assert len(frames) == 50 and src.dropped == 0


def test_unthreaded_source_and_second_iter_continues(clip: Path) -> None:
    with open_source(str(clip), queue_size=0) as src:
        assert isinstance(src, FileSource)
        it = iter(src)
        first = [next(it) for _ in range(5)]
        rest = list(src)
    assert [f.seq for f in first + rest] == list(range(50))


def test_close_mid_file_stops_iteration(clip: Path) -> None:
    src = open_source(str(clip), queue_size=2)
    it = iter(src)
    next(it)
    src.close()
    assert len(list(it)) <= 3  # at most what was already queued
    src.close()  # idempotent


@pytest.fixture
def text_as_mp4(tmp_path: Path) -> Path:
    p = tmp_path / "notes.mp4"
    p.write_text("this is not a video\n" * 20)
    return p


@pytest.fixture
def audio_only(tmp_path: Path) -> Path:
    import av

    p = tmp_path / "tone.wav"
    with av.open(str(p), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return p


@pytest.fixture
def empty_file(tmp_path: Path) -> Path:
    p = tmp_path / "empty.mp4"
    p.write_bytes(b"")
    return p


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [
        (lambda tmp, req: tmp / "missing.mp4", SourceNotFound, "no such file"),
        (lambda tmp, req: tmp / "no-folder" / "x.jpg", SourceNotFound, "no such file"),
        (lambda tmp, req: req.getfixturevalue("text_as_mp4"), UnsupportedSource, "not a video file"),
        (lambda tmp, req: req.getfixturevalue("audio_only"), UnsupportedSource, "no video stream"),
        (lambda tmp, req: req.getfixturevalue("empty_file"), UnsupportedSource, "empty"),
        (lambda tmp, req: "foo://x", UnsupportedSource, "unsupported URL scheme"),
        (lambda tmp, req: "file://otherhost/x.mp4", UnsupportedSource, "local file"),
        (lambda tmp, req: "/dev/video97", SourceNotFound, "no such device"),
    ],
    ids=["missing", "missing-dir", "text-as-mp4", "audio-only", "empty", "foo-scheme",
         "remote-file-url", "missing-webcam"],
)
def test_open_bad_inputs(make, error, words, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    uri = str(make(tmp_path, request))
    with pytest.raises(error) as info:
        open_source(uri)
    message = str(info.value)
    assert words in message
    assert "\n" not in message
    assert message.startswith("cannot open '")
    assert info.value.source == uri


def truncate(src: Path, dst: Path, fraction: float = 0.5) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


@pytest.mark.timeout(60)
def test_truncated_ts_yields_first_half_and_ends_cleanly(clip_ts: Path, tmp_path: Path) -> None:
    half = truncate(clip_ts, tmp_path / "half.ts")
    frames = read_all(half)
    assert 15 <= len(frames) < 50
    assert [f.seq for f in frames] == list(range(len(frames)))


@pytest.mark.timeout(60)
def test_truncated_faststart_mp4_yields_frames_then_raises_corrupt(tmp_path: Path) -> None:
    # Index at the front: it promises packets past the cut, the decoder rejects the cut one.
    clip = write_clip(tmp_path / "fs.mp4", seconds=4, options={"movflags": "+faststart"})
    half = truncate(clip, tmp_path / "half.mp4")
    got: list[Frame] = []
    with pytest.raises(SourceCorrupt, match="truncated or corrupt") as info, \
            open_source(str(half)) as src:
        got.extend(src)
    assert 20 <= len(got) < 100
    assert "half.mp4" in str(info.value)
    # Deterministic: a second read stops at the same frame.
    again: list[Frame] = []
    with pytest.raises(SourceCorrupt), open_source(str(half), queue_size=0) as src:
        again.extend(src)
    assert len(again) == len(got)


def test_truncated_mp4_without_index_fails_to_open_as_corrupt(clip: Path, tmp_path: Path) -> None:
    # FFmpeg writes the index last, so the first half has none.
    half = truncate(clip, tmp_path / "half.mp4")
    with pytest.raises(SourceCorrupt, match="damaged or truncated"):
        open_source(str(half))


def test_garbage_after_valid_header_is_corrupt(clip: Path, tmp_path: Path) -> None:
    data = bytearray(write_clip(tmp_path / "fs.mp4", options={"movflags": "+faststart"}).read_bytes())
    # Keep the index, scramble the media data: every packet is undecodable.
    rng = np.random.default_rng(0)
    start = data.find(b"mdat") + 4
    data[start:] = rng.integers(0, 256, len(data) - start, dtype=np.uint8).tobytes()
    bad = tmp_path / "scrambled.mp4"
    bad.write_bytes(bytes(data))
    with pytest.raises(SourceCorrupt):
        read_all(bad)


def test_errors_are_source_errors_and_builtins(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        open_source(str(tmp_path / "nope.mkv"))
    with pytest.raises(SourceError):
        open_source("gopher://x")
    with pytest.raises(ValueError):
        open_source("gopher://x")


# -- image folders

def write_images(folder: Path, n: int, suffix: str = ".png") -> list[Path]:
    import av

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = folder / f"img{i}{suffix}"  # unpadded: img10 must come after img9
        av.VideoFrame.from_ndarray(moving_square(i * 3), format="bgr24").save(str(p))
        paths.append(p)
    return paths


def test_image_folder_in_name_order_at_fps(tmp_path: Path) -> None:
    write_images(tmp_path / "shots", 12)
    (tmp_path / "shots" / "readme.txt").write_text("ignored")
    with open_source(str(tmp_path / "shots"), image_fps=2, stream_id="stills") as src:
        assert src.info.kind == "images"
        assert src.info.frame_count == 12 and src.info.fps == 2
        assert src.info.duration_s == pytest.approx(6.0)
        frames = list(src)
    assert [f.seq for f in frames] == list(range(12))
    assert [f.pts for f in frames] == [i / 2 for i in range(12)]
    assert {f.stream_id for f in frames} == {"stills"}
    # img10 decodes to the picture written tenth, so natural name order was used.
    assert np.abs(frames[10].image.astype(int) - moving_square(30)).mean() < 3


def test_image_folder_default_one_fps_and_jpeg(tmp_path: Path) -> None:
    write_images(tmp_path / "j", 3, ".jpg")
    frames = read_all(tmp_path / "j")
    assert [f.pts for f in frames] == [0.0, 1.0, 2.0]
    assert frames[0].image.shape == (H, W, 3)


def test_image_folder_skips_a_broken_image_then_raises(tmp_path: Path) -> None:
    write_images(tmp_path / "b", 4)
    (tmp_path / "b" / "img2.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    got: list[Frame] = []
    with pytest.raises(SourceCorrupt, match=r"img2\.png"), ImageFolderSource(tmp_path / "b") as src:
        got.extend(src)
    assert [f.seq for f in got] == [0, 1, 3]


def test_empty_image_folder_is_unsupported(tmp_path: Path) -> None:
    (tmp_path / "none").mkdir()
    with pytest.raises(UnsupportedSource, match=r"no \.jpg"):
        open_source(str(tmp_path / "none"))


# -- real footage (skipped when the clips are not around)


@pytest.mark.footage
@pytest.mark.timeout(60)
def test_real_clip_with_pts_in_decode_order_stays_monotonic(footage) -> None:
    # OpenCV's box.mp4 stores B-frame pts in decode order; the best-effort guess repairs them.
    with open_source(str(footage("box.mp4"))) as src:
        frames = list(src)
        duration = src.info.duration_s
    pts = [f.pts for f in frames]
    assert len(frames) >= 450
    assert all(b > a for a, b in pairwise(pts))
    assert duration is not None and pts[-1] == pytest.approx(duration, abs=0.1)


@pytest.mark.footage
@pytest.mark.timeout(60)
def test_real_avi_cut_in_half_ends_cleanly(footage, tmp_path: Path) -> None:
    half = truncate(footage("vtest.avi"), tmp_path / "half.avi")
    frames = read_all(half)
    assert 350 <= len(frames) < 795
    assert [f.seq for f in frames] == list(range(len(frames)))
