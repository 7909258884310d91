"""Triton kernels with torch references; dispatch picks Triton on CUDA, the reference elsewhere.

``backend="auto"`` runs Triton on CUDA tensors and the torch reference otherwise;
``"triton"`` forces the kernels (on CPU tensors only under ``TRITON_INTERPRET=1``);
``"torch"`` forces the reference. Triton is imported only when a kernel runs.
"""

from vtedge.kernels.frame_tokenize import frame_tokenize, frame_tokenize_packed
from vtedge.kernels.fused_linear_grpo import fused_linear_grpo_loss
from vtedge.kernels.grpo_loss import grpo_loss
from vtedge.kernels.reference import (
    frame_tokenize_reference,
    group_advantages,
    grpo_loss_reference,
    token_logps_reference,
)
from vtedge.kernels.token_logps import token_logps

__all__ = [
    "frame_tokenize",
    "frame_tokenize_packed",
    "frame_tokenize_reference",
    "fused_linear_grpo_loss",
    "group_advantages",
    "grpo_loss",
    "grpo_loss_reference",
    "token_logps",
    "token_logps_reference",
]
