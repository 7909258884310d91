"""Write frames to a video file with PyAV: the synthetic suite, examples and tests use it."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np


def encode_video(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: float = 8.0,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
) -> Path:
    """Encode ``(H, W, 3)`` uint8 RGB frames (or ``(H, W)`` gray) into ``path``.

    The container follows the file suffix. H.264 defaults to a fast preset so that
    thousands of clips can be made on a laptop. Each frame gets its timestamp here: left
    to PyAV, the same frames now and then decoded to other pixels.
    """
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if options is None:
        options = {"preset": "veryfast", "crf": "23"} if codec == "libx264" else {}
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), mode="w") as container:
        stream = None
        for index, frame in enumerate(frames):
            frame = np.asarray(frame)
            if stream is None:
                stream = container.add_stream(codec, rate=rate, options=options)
                stream.height, stream.width = frame.shape[:2]
                stream.pix_fmt = pix_fmt
            source = "gray" if frame.ndim == 2 else "rgb24"
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format=source)
            video_frame.pts, video_frame.time_base = index, 1 / rate
            for packet in stream.encode(video_frame):
                container.mux(packet)
        if stream is None:
            raise ValueError("encode_video needs at least one frame")
        for packet in stream.encode():
            container.mux(packet)
    return path
