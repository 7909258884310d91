"""The exported vision graph's math (``VisionGraph``: one temporal patch traced, window
layers on padded windows) vs. transformers' Qwen2.5-VL vision tower, in torch, on one frame
of a tower as wide as the 7B model's (random weights, fewer blocks).

Both compute the same features (the max difference is printed). The graph batches every
window of a frame into one matmul where the tower's eager attention loops over windows.

    python -m benchmarks.vision_graph [--sides 18 32 48] [--depth 4]
"""

from __future__ import annotations

import argparse
import types

from benchmarks.common import interleaved_best, write_results

REPEAT = 5


def tower(depth: int):
    """A Qwen2.5-VL-7B-width vision tower (hidden 1280, 16 heads, 112-pixel windows) with
    ``depth`` blocks, the last one full attention, eager attention, random weights."""
    from transformers.models.qwen2_5_vl.configuration_qwen2_5_vl import Qwen2_5_VLVisionConfig
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import (
        Qwen2_5_VisionTransformerPretrainedModel,
    )

    config = Qwen2_5_VLVisionConfig(depth=depth, hidden_size=1280, intermediate_size=3420,
                                    num_heads=16, out_hidden_size=2048,
                                    fullatt_block_indexes=[depth - 1], window_size=112)
    config._attn_implementation = "eager"
    return Qwen2_5_VisionTransformerPretrainedModel(config).eval()


def main() -> None:
    import torch

    from vtedge.export.graphs import VisionGraph

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", type=int, nargs="+", default=[18, 32, 48],
                        help="Frame sides in patches of 14 pixels (even)")
    parser.add_argument("--depth", type=int, default=4)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    visual = tower(args.depth).to(device)
    model = types.SimpleNamespace(model=types.SimpleNamespace(visual=visual))
    rows = []
    for side in args.sides:
        pixels = torch.randn(side * side, 1176, device=device)
        grid = torch.tensor([[1, side, side]], device=device)
        with torch.no_grad(), VisionGraph(model, (side, side)) as graph:
            timed = interleaved_best({
                "tower": lambda p=pixels, g=grid: visual(p, grid_thw=g).pooler_output,
                "graph": lambda p=pixels, graph=graph: graph(p),
            }, repeat=REPEAT)
        (tower_s, reference), (graph_s, ours) = timed["tower"], timed["graph"]
        diff = float((ours - reference).abs().max())
        rows.append([f"{side * 14}x{side * 14}", side * side, f"{tower_s * 1e3:.0f}",
                     f"{graph_s * 1e3:.0f}", f"{tower_s / graph_s:.2f}x", f"{diff:.1e}"])
    write_results(
        "vision_graph",
        f"Vision graph vs. transformers' vision tower, one frame, {args.depth} blocks of "
        "hidden 1280",
        ["frame", "patches", "tower ms", "graph ms", "speed-up", "max abs diff"],
        rows,
        notes=[f"Best of {REPEAT} interleaved runs in torch ({device}, fp32).",
               "Window layers attend within 112-pixel windows (64 patches); the last block "
               "attends over the whole frame, as the 7B tower's full-attention blocks do."],
        command="python -m benchmarks.vision_graph " + " ".join(
            ["--sides", *map(str, args.sides), "--depth", str(args.depth)]),
    )


if __name__ == "__main__":
    main()
