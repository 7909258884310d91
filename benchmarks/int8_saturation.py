"""Would a bundle's INT8 products overflow on an x86 CPU without VNNI?

onnxruntime's u8 x s8 integer GEMM on AVX2 / AVX512BW (no VNNI) multiplies with
``vpmaddubsw``, which adds each two adjacent products into an int16 and saturates; VNNI
(``vpdpbusd``) and u8 x u8 kernels accumulate exactly in int32. A bundle whose pair sums
leave the int16 range on real inputs therefore answers differently on such CPUs. This runs
the bundle's graphs on real prompts (prefill and decoding steps), reads every
``MatMulInteger``'s quantized activations, and counts the outputs that would take a
saturated pair.

    python -m benchmarks.int8_saturation [--model BUNDLE] [--data RECORDS] [--clips 4]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks.common import write_results

INT16 = (-32768, 32767)
ROWS_PER_CHUNK = 64


def saturated_outputs(activations: np.ndarray, weights: np.ndarray) -> tuple[int, int]:
    """Outputs of ``activations @ weights`` (u8 x s8) with a pair of adjacent products
    outside int16, and the largest pair sum's magnitude."""
    a = activations.reshape(-1, activations.shape[-1]).astype(np.int32)
    w = weights.astype(np.int32)
    even = a.shape[1] - a.shape[1] % 2
    count, peak = 0, 0
    for start in range(0, len(a), ROWS_PER_CHUNK):
        rows = a[start:start + ROWS_PER_CHUNK, :even]
        pairs = (rows[:, 0::2, None] * w[None, 0:even:2]
                 + rows[:, 1::2, None] * w[None, 1:even:2])
        peak = max(peak, int(np.abs(pairs).max(initial=0)))
        count += int(((pairs < INT16[0]) | (pairs > INT16[1])).any(axis=1).sum())
    return count, peak


def graph_saturation(path: Path, feeds: list[dict]) -> dict:
    """Per ``MatMulInteger`` with int8 weights: outputs, saturated outputs, peak pair."""
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    model = onnx.load(str(path))
    weights = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    nodes = [n for n in model.graph.node
             if n.op_type == "MatMulInteger" and weights[n.input[1]].dtype == np.int8]
    for node in nodes:
        model.graph.output.append(onnx.helper.make_tensor_value_info(
            node.input[0], onnx.TensorProto.UINT8, None))
    session = ort.InferenceSession(model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    stats = {node.name: [0, 0, 0] for node in nodes}
    for feed in feeds:
        outputs = dict(zip(names, session.run(None, feed), strict=True))
        for node in nodes:
            activations = outputs[node.input[0]]
            count, peak = saturated_outputs(activations, weights[node.input[1]])
            row = stats[node.name]
            row[0] += activations.size // activations.shape[-1] * weights[node.input[1]].shape[1]
            row[1] += count
            row[2] = max(row[2], peak)
    return stats


def bundle_rows(bundle: Path, data: Path, clips: int, steps: int) -> list[list]:
    """One row per graph of ``bundle`` and one for the whole bundle."""
    from vtedge.datasets import load_records
    from vtedge.export.bundle_export import calibration_feeds
    from vtedge.runtime import BundleRuntime, prepare_prompt, stop_token_ids

    runtime = BundleRuntime(bundle, "cpu")
    manifest, config = runtime.bundle.manifest, runtime.bundle.manifest["model_config"]
    fitted = runtime.spec.replace(resized_height=runtime.bundle.bucket["height"],
                                  resized_width=runtime.bundle.bucket["width"])
    prompts = [prepare_prompt(r.video_path, r.problem, list(r.options) or None, fitted,
                              runtime.tokenizer, runtime.bundle.token_ids["video_token_id"],
                              merge_size=config["merge_size"],
                              tokens_per_second=config["tokens_per_second"])
               for r in list(load_records(data))[:clips]]
    feeds = calibration_feeds(runtime, prompts, stop_token_ids(runtime.bundle.token_ids), steps)
    weights = manifest["quantization"].get("weights", manifest["quantization"]["method"])
    rows, total, saturated = [], 0, 0
    for graph, name in manifest["graphs"].items():
        stats = graph_saturation(bundle / name, feeds[graph])
        outputs = sum(s[0] for s in stats.values())
        hits = sum(s[1] for s in stats.values())
        worst = max(stats.items(), key=lambda item: item[1][1] / max(1, item[1][0]),
                    default=None)
        rows.append([bundle.name, weights, graph, len(stats), outputs, hits,
                     f"{100 * hits / max(1, outputs):.3f}",
                     "-" if worst is None else
                     f"`{worst[0]}` {100 * worst[1][1] / max(1, worst[1][0]):.2f}%",
                     max((s[2] for s in stats.values()), default=0)])
        total, saturated = total + outputs, saturated + hits
    rows.append([bundle.name, weights, "**all**", "", total, saturated,
                 f"**{100 * saturated / max(1, total):.3f}**", "", ""])
    return rows


def main() -> None:
    from vtedge.runtime import model_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, nargs="+",
                        help="INT8 bundles (default: the embedded one)")
    parser.add_argument("--data", type=Path, default=Path("examples/questions.jsonl"),
                        help="Records whose clips and questions feed the graphs")
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--steps", type=int, default=32, help="Decoding steps per clip")
    args = parser.parse_args()

    bundles = args.model or [model_path(None)]
    rows = [row for bundle in bundles
            for row in bundle_rows(bundle, args.data, args.clips, args.steps)]
    command = "python -m benchmarks.int8_saturation"
    if args.model:
        command += " --model " + " ".join(map(str, args.model))
    write_results(
        "int8_saturation", "INT8 pair sums that overflow int16 without VNNI",
        ["bundle", "weights", "graph", "u8 x s8 MatMuls", "outputs", "saturated", "%",
         "worst node", "peak pair"], rows,
        notes=[f"inputs: the clips and questions of `{args.data}` (at most {args.clips} "
               f"records), prefill and up to {args.steps} decoding steps each",
               "an output is saturated when one of its pairs of adjacent products "
               f"(u8 activation x s8 weight) leaves int16 {list(INT16)}; u8 x u8 products "
               "are widened to int16 before they are paired, so they cannot saturate"],
        command=command + f" --data {args.data} --clips {args.clips} --steps {args.steps}")


if __name__ == "__main__":
    main()
