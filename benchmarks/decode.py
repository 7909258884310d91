"""Sampling 16 frames of a 10-minute 720p H.264 video: seeking vs. decoding every frame.

The video is made once (low-entropy content, 2 s keyframe interval) and cached under
``build/bench/``. Both paths run ``load_clip`` with the video-thinker spec and must return
identical frames.

    python -m benchmarks.decode [--quiet] [--minutes 10]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks.common import best_time, write_results
from vtedge.spec import PRESETS
from vtedge.video import load_clip

FPS = 30
KEYFRAME_SECONDS = 2
HEIGHT, WIDTH = 720, 1280


def make_video(path: Path, minutes: int, quiet: bool = False) -> Path:
    """A grey field with a moving block and a slowly changing level: cheap to encode."""
    import av
    from rich.progress import Progress

    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.mp4")
    total = minutes * 60 * FPS
    planes = np.full((HEIGHT * 3 // 2, WIDTH), 128, dtype=np.uint8)  # yuv420p layout
    with av.open(str(partial), mode="w") as container, Progress(disable=quiet) as progress:
        stream = container.add_stream("libx264", rate=FPS, options={
            "preset": "ultrafast", "crf": "30", "g": str(KEYFRAME_SECONDS * FPS),
            "keyint_min": str(KEYFRAME_SECONDS * FPS), "sc_threshold": "0"})
        stream.height, stream.width, stream.pix_fmt = HEIGHT, WIDTH, "yuv420p"
        task = progress.add_task(f"making {path.name}", total=total)
        for i in range(total):
            planes[:HEIGHT] = 60 + (i // FPS) % 120  # luma level changes each second
            x = (i * 8) % (WIDTH - 96)
            planes[300:396, x:x + 96] = 235
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            for packet in stream.encode(frame):
                container.mux(packet)
            if i % FPS == 0:
                progress.update(task, completed=i)
        for packet in stream.encode():
            container.mux(packet)
    partial.rename(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args()
    video = make_video(Path("build/bench") / f"h264-720p-{args.minutes}min.mp4", args.minutes,
                       args.quiet)
    spec = PRESETS["video-thinker"]
    seek_s, seek = best_time(lambda: load_clip(video, spec, strategy="seek"), repeat=3)
    linear_s, linear = best_time(lambda: load_clip(video, spec, strategy="linear"), repeat=1)
    assert seek.strategy == "seek" and linear.strategy == "linear"
    assert seek.indices == linear.indices and np.array_equal(seek.frames, linear.frames), (
        "seek and linear decoding disagree")
    rows = [
        ["seek (load_clip default)", f"{seek_s:.3f}", seek.frames_decoded, "1.0x"],
        ["decode every frame", f"{linear_s:.3f}", linear.frames_decoded,
         f"{linear_s / seek_s:.1f}x slower"],
    ]
    write_results(
        "decode",
        f"Sampling {len(seek.frames)} frames from a {args.minutes}-minute {WIDTH}x{HEIGHT} "
        f"H.264 video",
        ["method", "wall s", "frames decoded", "vs. seek"],
        rows,
        notes=[
            f"{seek.total_frames} frames at {FPS} fps, keyframe every {KEYFRAME_SECONDS} s, "
            f"libx264 ultrafast; frames resized to {seek.width}x{seek.height} "
            f"(video-thinker spec), identical on both paths.",
            "Seek: fastest of 3 runs. Decode every frame: one run (it is the slow one).",
            f"Speed-up: {linear_s / seek_s:.1f}x (target >= 10x).",
        ],
    )


if __name__ == "__main__":
    main()
