"""The GPU path compiles: each kernel lowered to PTX for an H100-class target (sm_90).

No GPU is needed, only Triton's bundled compiler; this catches code the interpreter
accepts but the compiler rejects. It runs in a subprocess because this session imported
triton in interpreter mode.
"""

import os
import subprocess
import sys

import pytest

pytest.importorskip("triton")

COMPILE = """
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from vtedge.kernels import triton_frames, triton_logps

def build(fn, signature, constexprs):
    source = ASTSource(fn=fn, signature=signature, constexprs=constexprs)
    kernel = triton.compile(source, target=GPUTarget("cuda", 90, 32),
                            options={"num_warps": 4})
    assert ".entry" in kernel.asm["ptx"]

build(triton_frames.frame_tokenize_kernel,
      {"clips_ptr": "*i64", "n_clips": "i32", "table_ptr": "*fp32", "out_ptr": "*bf16",
       "PATCH": "constexpr", "TEMPORAL": "constexpr", "MERGE": "constexpr",
       "PARTS": "constexpr", "PIXELS": "constexpr"},
      {"PATCH": 14, "TEMPORAL": 2, "MERGE": 2, "PARTS": 32, "PIXELS": 256})
rows = {"n_rows": "i32", "seq_len": "i32", "vocab": "i32", "stride_b": "i64",
        "stride_l": "i64"}
blocks = {"ROWS": "constexpr", "BLOCK_V": "constexpr"}
build(triton_logps.token_logps_forward_kernel,
      {"logits_ptr": "*bf16", "ids_ptr": "*i64", "logps_ptr": "*fp32", "lse_ptr": "*fp32",
       **rows, "inv_temperature": "fp32", **blocks},
      {"ROWS": 1, "BLOCK_V": 4096})
build(triton_logps.token_logps_backward_kernel,
      {"logits_ptr": "*bf16", "ids_ptr": "*i64", "lse_ptr": "*fp32", "grad_ptr": "*fp32",
       "out_ptr": "*bf16", **rows, "out_stride_b": "i64", "out_stride_l": "i64",
       "inv_temperature": "fp32", **blocks},
      {"ROWS": 1, "BLOCK_V": 4096})
print("compiled")
"""


def test_kernels_compile_for_sm90():
    env = {**os.environ, "TRITON_INTERPRET": "0", "TRITON_DEFAULT_FP_FUSION": "1"}
    result = subprocess.run([sys.executable, "-c", COMPILE], capture_output=True, text=True,
                            env=env, timeout=300)
    if result.returncode and "ptxas" in result.stderr and "not found" in result.stderr:
        pytest.skip("Triton's bundled ptxas is not available here")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "compiled"
