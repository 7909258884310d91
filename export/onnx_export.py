"""Write the three graphs of a model as ONNX files and check them with ``onnx.checker``.

Uses torch's TorchScript-based exporter (``dynamo=False``): in torch 2.13 it is deprecated
but present, needs no extra dependency, and traces our cache-free graphs reliably; the
dynamo exporter would add ``onnxscript`` for no gain here. Opset 17 (<= 21): LayerNorm-free
graphs, per-channel QDQ supported, parsed by TensorRT 8.6+.
"""

from __future__ import annotations

import warnings
from pathlib import Path

OPSET = 17
VISION_FILE = "vision_encoder.onnx"
EMBED_FILE = "embed_tokens.onnx"
DECODER_FILE = "decoder_model_merged.onnx"


def kv_names(layers: int) -> tuple[list[str], list[str]]:
    """Input and output names of the KV cache, onnx-community layout."""
    past = [f"past_key_values.{i}.{kind}" for i in range(layers) for kind in ("key", "value")]
    present = [f"present.{i}.{kind}" for i in range(layers) for kind in ("key", "value")]
    return past, present


def _export(module, args, path: Path, input_names, output_names, dynamic_axes) -> Path:
    import onnx
    import torch

    with warnings.catch_warnings():
        # The legacy exporter warns it is deprecated and the tracer warns about the
        # Python-side grid arithmetic it bakes in; both are expected here.
        warnings.simplefilter("ignore")
        with torch.no_grad():
            torch.onnx.export(module, args, str(path), input_names=input_names,
                              output_names=output_names, dynamic_axes=dynamic_axes,
                              opset_version=OPSET, dynamo=False, do_constant_folding=True)
    model = gemm_to_matmul(onnx.load(str(path)))
    onnx.save(model, str(path))
    onnx.checker.check_model(str(path))
    return path


def gemm_to_matmul(model):
    """Rewrite ``Gemm(x, W, b, transB=1)`` with a stored ``W`` as ``MatMul(x, Wᵀ) + b``.

    The exporter emits Gemm for linear layers on 2-D inputs (the vision tower); dynamic
    INT8 quantizes MatMul but not Gemm, and the result is the same arithmetic.
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    weights = {init.name: init for init in graph.initializer}
    nodes = []
    for node in graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        plain = attrs.get("alpha", 1.0) == 1.0 and attrs.get("beta", 1.0) == 1.0 \
            and attrs.get("transA", 0) == 0
        if node.op_type != "Gemm" or not plain or node.input[1] not in weights:
            nodes.append(node)
            continue
        weight = numpy_helper.to_array(weights[node.input[1]])
        if attrs.get("transB", 0):
            weight = weight.T
        name = node.input[1] + ".matmul"
        graph.initializer.append(numpy_helper.from_array(weight.copy(), name))
        product = node.output[0] + ".matmul" if len(node.input) > 2 else node.output[0]
        nodes.append(helper.make_node("MatMul", [node.input[0], name], [product],
                                      name=node.name + "/MatMul"))
        if len(node.input) > 2:
            nodes.append(helper.make_node("Add", [product, node.input[2]], [node.output[0]],
                                          name=node.name + "/Add"))
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for node in graph.node for name in node.input}
    keep = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    return model


def export_graphs(model, out: str | Path, grid_hw: tuple[int, int]) -> dict[str, Path]:
    """Export vision encoder (frames of an ``grid_hw`` patch grid, any number of them),
    embeddings and decoder into ``out``."""
    import torch

    from vtedge.export.graphs import DecoderGraph, EmbedGraph, VisionGraph

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = model.float().eval()
    config = model.config
    vision = model.config.vision_config
    patch_dim = 3 * vision.temporal_patch_size * vision.patch_size**2
    # Two temporal patches, so the trace cannot mistake the frame axis for a constant 1.
    patches = 2 * grid_hw[0] * grid_hw[1]
    paths = {}
    with VisionGraph(model, grid_hw) as vision_graph:
        paths["vision_encoder"] = _export(
            vision_graph, (torch.zeros(patches, patch_dim),), out / VISION_FILE,
            ["pixel_values"], ["image_features"],
            {"pixel_values": {0: "patches"}, "image_features": {0: "video_tokens"}})
    paths["embed_tokens"] = _export(
        EmbedGraph(model), (torch.zeros(1, 3, dtype=torch.long),), out / EMBED_FILE,
        ["input_ids"], ["inputs_embeds"],
        {"input_ids": {0: "batch_size", 1: "sequence_length"},
         "inputs_embeds": {0: "batch_size", 1: "sequence_length"}})
    text = config.text_config
    decoder = DecoderGraph(model)
    layers = len(decoder.layers)
    past_names, present_names = kv_names(layers)
    batch, length, past_length = 1, 3, 2
    past = [torch.zeros(batch, decoder.kv_heads, past_length, decoder.head_dim)
            for _ in past_names]
    args = (torch.zeros(batch, length, text.hidden_size),
            torch.ones(batch, past_length + length, dtype=torch.long),
            torch.zeros(3, batch, length, dtype=torch.long), *past)
    axes = {"inputs_embeds": {0: "batch_size", 1: "sequence_length"},
            "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
            "position_ids": {1: "batch_size", 2: "sequence_length"},
            "logits": {0: "batch_size", 1: "sequence_length"}}
    axes.update({name: {0: "batch_size", 2: "past_sequence_length"} for name in past_names})
    axes.update({name: {0: "batch_size", 2: "total_sequence_length"} for name in present_names})
    paths["decoder_model_merged"] = _export(
        decoder, args, out / DECODER_FILE,
        ["inputs_embeds", "attention_mask", "position_ids", *past_names],
        ["logits", *present_names], axes)
    return paths
