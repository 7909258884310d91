"""INT8 weights for a bundle's graphs, one recipe per target.

``cpu``: onnxruntime dynamic quantization — uint8 weights, activations quantized on the fly
by the integer kernels (MatMulInteger / DynamicQuantizeLinear); no calibration. Not int8
weights: onnxruntime's u8 x s8 kernels on x86 CPUs without VNNI add each two products in a
saturating int16, so an int8-weight bundle answers differently there than on a VNNI CPU
(``benchmarks.int8_saturation``); u8 x u8 products are exact on every CPU.
``tensorrt``: static QDQ with optimum's TensorRT preset — int8 symmetric activations and
weights, per-channel weights, no reduced range, a QDQ pair on every weight and a dedicated
pair per consumer — calibrated (min/max) on real inputs; only QuantizeLinear /
DequantizeLinear are added, so TensorRT parses it.

Only MatMul/Gemm/Conv nodes that multiply by a stored weight are quantized (plus the
embedding Gather on ``cpu``): attention's activation-by-activation products stay float32.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from pathlib import Path

WEIGHT_OPS = ("MatMul", "Gemm", "Conv")


def weight_nodes(path: str | Path, ops: Iterable[str] = WEIGHT_OPS) -> list[str]:
    """Names of ``ops`` nodes whose weight input is an initializer (a trained weight): a
    Gather's table is its first input, the others multiply by their second."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    weights = {init.name for init in model.graph.initializer}
    chosen = []
    for node in model.graph.node:
        index = 0 if node.op_type == "Gather" else 1
        if node.op_type in ops and len(node.input) > index and node.input[index] in weights:
            chosen.append(node.name)
    return chosen


@contextlib.contextmanager
def _quiet_root_logger():
    """onnxruntime.quantization logs advice on the root logger; keep it off the terminal."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def quantize_dynamic_int8(source: str | Path, target: str | Path,
                          per_channel: bool = False) -> Path:
    """Dynamic 8-bit (uint8) weights; per-tensor by default (measured closer to fp32 on
    vt-tiny)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    nodes = weight_nodes(source, (*WEIGHT_OPS[:2], "Gather"))
    with _quiet_root_logger():
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QUInt8,
                         per_channel=per_channel, reduce_range=False,
                         op_types_to_quantize=["MatMul", "Gemm", "Gather"],
                         nodes_to_quantize=nodes)
    return Path(target)


class _Feeds:
    """onnxruntime's ``CalibrationDataReader`` over a list of input dicts."""

    def __init__(self, feeds: list[dict]):
        self._feeds = iter(feeds)

    def get_next(self):
        return next(self._feeds, None)

    def rewind(self):  # pragma: no cover - not used by min/max calibration
        pass


def quantize_static_qdq(source: str | Path, target: str | Path, feeds: list[dict]) -> Path:
    """Static symmetric per-channel QDQ (optimum's TensorRT preset), calibrated on ``feeds``."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    reader = type("Reader", (_Feeds, CalibrationDataReader), {})(feeds)
    with _quiet_root_logger():
        quantize_static(
            str(source), str(target), reader,
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=False,
            calibrate_method=CalibrationMethod.MinMax,
            op_types_to_quantize=list(WEIGHT_OPS),
            nodes_to_quantize=weight_nodes(source),
            extra_options={
                "ActivationSymmetric": True,
                "WeightSymmetric": True,
                "AddQDQPairToWeight": True,
                "DedicatedQDQPair": True,
            },
        )
    return Path(target)
