"""Make small test videos on the fly: every codec, container, bit depth and kind of damage.

Frame ``i`` of a "numbered" clip is a flat grey of level ``BASE + STEP * i``, so a decoded
frame says which source frame it was (:func:`frame_number`) even through a lossy codec.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

BASE, STEP = 16, 7  # 34 frames fit in 0..255 with room for codec error

# name -> (encoder, suffix, pixel format, encoder options)
X265 = {"preset": "ultrafast", "x265-params": "log-level=none:keyint=6"}
CODECS = {
    "h264": ("libx264", "mp4", "yuv420p", {"preset": "ultrafast", "g": "6"}),
    "hevc": ("libx265", "mkv", "yuv420p", X265),
    "vp9": ("libvpx-vp9", "webm", "yuv420p", {"deadline": "realtime", "cpu-used": "8", "g": "6"}),
    "av1": ("libsvtav1", "mkv", "yuv420p", {"preset": "12", "g": "6", "svtav1-params": "lp=1"}),
    "mpeg4": ("mpeg4", "avi", "yuv420p", {"g": "6", "qscale": "2"}),
    "ffv1": ("ffv1", "mkv", "yuv420p", {}),
    "h264-mov": ("libx264", "mov", "yuv420p", {"preset": "ultrafast", "g": "6"}),
    "h264-10bit": ("libx264", "mp4", "yuv420p10le", {"preset": "ultrafast", "g": "6"}),
    "hevc-10bit": ("libx265", "mp4", "yuv420p10le", X265),
    "gray": ("ffv1", "mkv", "gray", {}),
    "gray-10bit": ("ffv1", "mkv", "gray10le", {}),
}


def require_encoder(name: str) -> None:
    """Skip the calling test when this machine's PyAV build cannot write ``name``."""
    import av

    try:
        av.codec.Codec(name, "w")
    except Exception:  # PyAV raises UnknownCodecError or ValueError depending on version
        pytest.skip(f"this PyAV build has no {name} encoder")


def numbered_frames(count: int, height: int = 64, width: int = 96) -> list[np.ndarray]:
    """Flat RGB frames whose grey level encodes their index."""
    return [np.full((height, width, 3), BASE + STEP * i, dtype=np.uint8) for i in range(count)]


def frame_number(rgb: np.ndarray) -> int:
    """Index of the numbered frame this decoded frame came from."""
    return int(round((float(np.mean(rgb)) - BASE) / STEP))


def write_video(
    path: Path,
    frames: list[np.ndarray],
    fps: float = 12,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    options: dict | None = None,
    times: list[float] | None = None,
    rotation: int | None = None,
    container_options: dict | None = None,
) -> Path:
    """Encode RGB frames; ``times`` (seconds) gives each frame's pts for variable rate."""
    import av

    require_encoder(codec)
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), mode="w", options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=rate, options=options or {})
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = pix_fmt
        if times is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            if times is not None:
                frame.pts = round(times[i] * 1000)
                frame.time_base = Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_codec_clip(tmp: Path, name: str, count: int = 24, fps: float = 12) -> Path:
    codec, suffix, pix_fmt, options = CODECS[name]
    return write_video(tmp / f"{name}.{suffix}", numbered_frames(count), fps, codec, pix_fmt,
                       options)


def make_vfr_clip(path: Path) -> tuple[Path, list[float]]:
    """Ten frames at 4 fps, then twelve at 24 fps, then ten at 4 fps (pts in ms)."""
    times = [i * 0.25 for i in range(10)]
    times += [2.5 + i / 24 for i in range(12)]
    times += [3.0 + i * 0.25 for i in range(10)]
    frames = numbered_frames(len(times))
    write_video(path, frames, fps=8, codec="libx264", options={"preset": "ultrafast", "g": "8"},
                times=times)
    return path, times


def marker_frames(count: int, height: int = 48, width: int = 80) -> list[np.ndarray]:
    """Grey frames with a red block in the top-left corner, to tell which way is up."""
    frames = []
    for _ in range(count):
        rgb = np.full((height, width, 3), 100, dtype=np.uint8)
        rgb[:16, :16] = (230, 20, 20)
        frames.append(rgb)
    return frames


def make_long_clip(path: Path, seconds: int = 20, fps: int = 10, keyint: int = 10) -> Path:
    """Enough frames and keyframes for the seek path: frame i has level i mod 25."""
    frames = numbered_frames(25)
    clip = [frames[i % 25] for i in range(seconds * fps)]
    return write_video(path, clip, fps, "libx264", "yuv420p",
                       {"preset": "ultrafast", "g": str(keyint)})


def make_truncated(path: Path, source: Path, keep: float) -> Path:
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def make_cut_mkv(folder: Path) -> Path:
    """An H.264 MKV whose last 40% is cut off: the decoder stops early, with a warning."""
    whole = write_video(folder / "whole.mkv", numbered_frames(30), 12,
                        options={"preset": "ultrafast", "g": "5"})
    return make_truncated(folder / "cut.mkv", whole, 0.6)


def make_without_index(path: Path, source: Path) -> Path:
    """An MP4 cut just before its trailing moov box: media data with no index."""
    data = source.read_bytes()
    path.write_bytes(data[: data.rindex(b"moov") - 4])
    return path


def make_audio_only(path: Path) -> Path:
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("aac", rate=16000)
        samples = np.zeros((1, 16000), dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_raw_clip(path: Path, height: int, width: int, count: int = 1) -> Path:
    """Uncompressed grey frames: cheap to write at any size (the budget tests)."""
    frames = [np.zeros((height, width, 3), dtype=np.uint8)] * count
    return write_video(path, frames, 4, "rawvideo", "gray")
