"""``benchmarks.int8_saturation``: counting and emulating the int16 pair sums of
onnxruntime's u8 x s8 kernels on x86 CPUs without VNNI."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from benchmarks.int8_saturation import emulate_pair_saturation, saturated_outputs

WEIGHTS = np.array([[127, 64], [127, 63], [127, 1], [-128, 1]], dtype=np.int8)


def matmul_integer() -> onnx.ModelProto:
    node = helper.make_node("MatMulInteger", ["a", "w", "a_zero"], ["y"])
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [None, 4]),
         helper.make_tensor_value_info("a_zero", TensorProto.UINT8, [])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [None, 2])],
        [numpy_helper.from_array(WEIGHTS, "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def run(model: onnx.ModelProto, a: np.ndarray, zero: int) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    return session.run(None, {"a": a, "a_zero": np.array(zero, dtype=np.uint8)})[0]


def test_a_pair_past_int16_is_counted():
    activations = np.array([[255, 255, 1, 1]], dtype=np.uint8)
    # Column 0: 255*127 + 255*127 = 64770 leaves int16; column 1 (32385) does not.
    assert saturated_outputs(activations, WEIGHTS) == (1, 64770)


def test_the_emulated_graph_saturates_pairs_and_is_exact_otherwise():
    # The quiet inputs never leave int16, so any CPU computes them exactly.
    model = matmul_integer()
    emulated = matmul_integer()
    assert emulate_pair_saturation(emulated) == 1
    quiet = np.array([[3, 200, 17, 90], [0, 1, 2, 255]], dtype=np.uint8)
    np.testing.assert_array_equal(run(emulated, quiet, 7), run(model, quiet, 7))
    loud = np.array([[255, 255, 255, 255]], dtype=np.uint8)
    a, w = loud.astype(np.int64), WEIGHTS.astype(np.int64)
    pairs = np.clip(a[:, 0::2, None] * w[0::2] + a[:, 1::2, None] * w[1::2], -32768, 32767)
    expected = pairs.sum(1) - 9 * w.sum(0)
    np.testing.assert_array_equal(run(emulated, loud, 9), expected)
    assert not np.array_equal(expected, (a - 9) @ w)  # exact int32 math would differ
