"""Which implementation runs: Triton on CUDA tensors, the torch reference elsewhere.

Triton is imported only when a Triton path is chosen, so ``import vtedge.kernels`` works on
a machine without it and the references still run.
"""

from __future__ import annotations

import importlib
import os

BACKENDS = ("auto", "triton", "torch")


def interpreting() -> bool:
    """Whether Triton runs its interpreter (kernels on CPU tensors, tests without a GPU)."""
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def use_triton(backend: str, device) -> bool:
    """Resolve ``backend`` for tensors on ``device``; errors say how to get a working path."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "torch":
        return False
    on_cuda = getattr(device, "type", str(device)) == "cuda"
    if backend == "auto":
        return on_cuda and triton_available()
    # Checked before importing triton: triton's own jit'd helpers are fixed at import as
    # compiled or interpreted, so the environment must be right when it is first imported.
    if not on_cuda and not interpreting():
        raise ValueError(
            "backend='triton' on CPU tensors needs TRITON_INTERPRET=1 in the environment "
            "before triton is imported; use backend='torch' or move the tensors to CUDA"
        )
    if not triton_available():
        raise ValueError("backend='triton' needs the triton package; install vtedge[train]")
    return True


def triton_available() -> bool:
    try:
        importlib.import_module("triton")
    except ImportError:
        return False
    return True


def triton_module(name: str):
    """Import one of the Triton kernel modules of this package (``triton_frames``, ...)."""
    return importlib.import_module(f"vtedge.kernels.{name}")
