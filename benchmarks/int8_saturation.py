"""Would a bundle's INT8 products overflow on an x86 CPU without VNNI?

onnxruntime's u8 x s8 integer GEMM on AVX2 / AVX512BW (no VNNI) multiplies with
``vpmaddubsw``, which adds each two adjacent products into an int16 and saturates; VNNI
(``vpdpbusd``) and u8 x u8 kernels accumulate exactly in int32. A bundle whose pair sums
leave the int16 range on real inputs therefore answers differently on such CPUs. This runs
the bundle's graphs on real prompts (prefill and decoding steps), reads every
``MatMulInteger``'s quantized activations, and counts the outputs that would take a
saturated pair. ``--emulate OUT`` also writes a copy of the bundle whose u8 x s8 products
compute as that kernel does, so ``vtedge eval --model OUT`` gives such a CPU's answers on
any CPU.

    python -m benchmarks.int8_saturation [--model BUNDLE...] [--data RECORDS] [--clips 4]
        [--emulate OUT]
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
             if n.op_type == "MatMulInteger" and n.input[1] in weights
             and weights[n.input[1]].dtype == np.int8]
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


def _saturating_matmul(node, prefix: str) -> list:
    """Float nodes for ``node`` (u8 x s8 ``MatMulInteger``) that read the constants
    ``prefix + even/odd/colsum/…`` and saturate each adjacent product pair to int16."""
    from onnx import TensorProto, helper

    def n(*names: str) -> list[str]:
        return [prefix + name for name in names]

    a, zero_point = node.input[0], node.input[2] if len(node.input) > 2 else ""
    nodes = [
        helper.make_node("Cast", [a], n("a"), to=TensorProto.FLOAT),
        helper.make_node("Slice", n("a", "zero", "k", "last", "two"), n("a_even")),
        helper.make_node("Slice", n("a", "one", "k", "last", "two"), n("a_odd")),
        helper.make_node("Unsqueeze", n("a_even", "last"), n("a_even_col")),
        helper.make_node("Unsqueeze", n("a_odd", "last"), n("a_odd_col")),
        helper.make_node("Mul", n("a_even_col", "even"), n("p_even")),
        helper.make_node("Mul", n("a_odd_col", "odd"), n("p_odd")),
        helper.make_node("Add", n("p_even", "p_odd"), n("pair")),
        helper.make_node("Clip", n("pair", "low", "high"), n("pair_int16")),
        helper.make_node("ReduceSum", n("pair_int16", "pairs"), n("sum"), keepdims=0),
    ]
    result = "sum"
    if zero_point:  # the activations' zero point, times each weight column's sum
        nodes += [helper.make_node("Cast", [zero_point], n("zero_point"), to=TensorProto.FLOAT),
                  helper.make_node("Mul", n("zero_point", "colsum"), n("offset")),
                  helper.make_node("Sub", n("sum", "offset"), n("shifted"))]
        result = "shifted"
    return nodes + [helper.make_node("Cast", n(result), [node.output[0]], to=TensorProto.INT32)]


def emulate_pair_saturation(model) -> int:
    """Rewrite every u8 x s8 ``MatMulInteger`` of ``model`` (an ``onnx.ModelProto``) as
    float ops that saturate each adjacent product pair to int16 before summing (exact: the
    sums stay far below 2**24); returns how many nodes it rewrote."""
    from onnx import numpy_helper

    graph = model.graph
    weights = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    nodes, constants, rewritten = [], [], 0
    for node in graph.node:
        weight = weights.get(node.input[1]) if node.op_type == "MatMulInteger" else None
        if weight is None or weight.dtype != np.int8 or weight.shape[0] % 2:
            nodes.append(node)
            continue
        rewritten += 1
        prefix = f"emulated_{rewritten}_"
        w = weight.astype(np.float32)
        for name, value in (("even", w[0::2]), ("odd", w[1::2]), ("colsum", w.sum(0)),
                            ("zero", [0]), ("one", [1]), ("k", [len(w)]), ("last", [-1]),
                            ("two", [2]), ("pairs", [-2]), ("low", np.float32(INT16[0])),
                            ("high", np.float32(INT16[1]))):
            constants.append(numpy_helper.from_array(np.asarray(value), prefix + name))
        nodes += _saturating_matmul(node, prefix)
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(constants)
    return rewritten


def write_emulated_bundle(bundle: Path, out: Path) -> int:
    """``bundle`` with its u8 x s8 products computed as a non-VNNI x86 CPU does."""
    import json
    import shutil

    import onnx

    from vtedge.bundle import MANIFEST, TOKENIZER, verify_bundle, write_manifest

    manifest = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    rewritten = 0
    for name in manifest["graphs"].values():
        model = onnx.load(str(bundle / name))
        rewritten += emulate_pair_saturation(model)
        onnx.save(model, str(out / name))
    shutil.copyfile(bundle / TOKENIZER, out / TOKENIZER)
    manifest["quantization"] = {**manifest["quantization"],
                                "emulated": "u8 x s8 pair sums saturated to int16 (no VNNI)"}
    write_manifest(out, {k: v for k, v in manifest.items()
                         if k not in ("format", "format_version", "files")})
    verify_bundle(out)
    return rewritten


def bundle_rows(bundle: Path, data: Path, clips: int, steps: int) -> list[list]:
    """One row per graph of ``bundle`` and one for the whole bundle."""
    from vtedge.datasets import load_records
    from vtedge.export.bundle_export import calibration_feeds
    from vtedge.runtime import BundleRuntime, stop_token_ids

    runtime = BundleRuntime(bundle, "cpu")
    manifest = runtime.bundle.manifest
    prompts = [runtime.prompt(r.video_path, r.problem, list(r.options) or None, runtime.spec)
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
    parser.add_argument("--emulate", type=Path, metavar="OUT",
                        help="Also write the (single) bundle with a non-VNNI CPU's products")
    args = parser.parse_args()

    bundles = args.model or [model_path(None)]
    if args.emulate:
        if len(bundles) > 1:
            parser.error("--emulate takes one --model")
        rewritten = write_emulated_bundle(bundles[0], args.emulate)
        print(f"wrote {args.emulate}: {rewritten} u8 x s8 MatMulInteger nodes saturate as on "
              f"a non-VNNI CPU (vtedge eval --model {args.emulate} …)")
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
