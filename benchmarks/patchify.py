"""``vtedge.patchify`` vs. transformers' Qwen2-VL image processor on the same 16 frames.

transformers processes frames as images, one temporal pair per frame; ``patchify`` run
frame by frame gives that exact output (checked here), and on the 16 frames as one video
it gives the layout the model takes (8 temporal pairs). The torch-based
``Qwen2VLImageProcessor`` needs torchvision; without it transformers falls back to the PIL
one, so it is reported as not measured.

    python -m benchmarks.patchify
"""

from __future__ import annotations

import argparse
import importlib.util

import numpy as np

from benchmarks.common import interleaved_best, write_results
from vtedge.patchify import patchify
from vtedge.spec import PRESETS, VisionSpec

FRAMES = 16
REPEAT = 7


def sizes(spec: VisionSpec) -> dict[str, tuple[int, int]]:
    return {"448x448": (448, 448),
            "video-thinker (720p source)": spec.frame_size(720, 1280, FRAMES)}


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    from transformers import Qwen2VLImageProcessorPil

    spec = PRESETS["video-thinker"]
    rows = []
    for label, (height, width) in sizes(spec).items():
        frames = np.random.default_rng(0).integers(0, 256, (FRAMES, height, width, 3),
                                                   dtype=np.uint8)
        processor = Qwen2VLImageProcessorPil(min_pixels=height * width,
                                             max_pixels=height * width)
        images = list(frames)
        timed = interleaved_best({
            "hf": lambda p=processor, images=images: p(images=images, return_tensors="np"),
            "per_frame": lambda frames=frames: np.concatenate(
                [patchify(f[None], spec)[0] for f in frames]),
            "video": lambda frames=frames: patchify(frames, spec),
        }, repeat=REPEAT)
        (hf_s, hf), (per_frame_s, per_frame) = timed["hf"], timed["per_frame"]
        video_s, (video, _) = timed["video"]
        diff = float(np.abs(per_frame - hf["pixel_values"]).max())
        assert diff <= 1e-6, f"patchify differs from transformers by {diff}"
        rows += [
            [label, "transformers Qwen2VLImageProcessorPil (16 images)",
             f"{hf_s * 1e3:.1f}", hf["pixel_values"].shape[0], "1.0x"],
            [label, "vtedge.patchify, frame by frame (same output)", f"{per_frame_s * 1e3:.1f}",
             per_frame.shape[0], f"{hf_s / per_frame_s:.1f}x"],
            [label, "vtedge.patchify, one 16-frame video", f"{video_s * 1e3:.1f}",
             video.shape[0], f"{hf_s / video_s:.1f}x"],
        ]
    torchvision = importlib.util.find_spec("torchvision") is not None
    write_results(
        "patchify",
        f"Frame tokenization of {FRAMES} uint8 frames to Qwen2-VL pixel_values",
        ["frame size", "implementation", "ms", "rows", "speed-up"],
        rows,
        notes=[
            f"Best of {REPEAT} interleaved runs; frames already at the model size, so no "
            "resizing is timed. Frame-by-frame output equals transformers' "
            "(max abs diff <= 1e-6, asserted).",
            "A video packs two frames per temporal patch, so it has half the rows of 16 images.",
            "torch-based Qwen2VLImageProcessor: "
            + ("measured separately" if torchvision else
               "not measured (needs torchvision, which is not installed; transformers falls "
               "back to the PIL processor above)."),
        ],
    )


if __name__ == "__main__":
    main()
