"""The process's place in a run: accelerate's ``Accelerator`` plus what both trainers need
from it (device, precision, rank, collective sums, main-process-only saving).

One process or many under ``accelerate launch`` (DDP, FSDP, DeepSpeed): the trainers write
the same code for all of them. bf16 autocast on CUDA (without cuDNN attention); fp32 on CPU.
"""

from __future__ import annotations

import contextlib
import os


class Session:
    def __init__(self, seed: int, cpu: bool = False):
        import torch
        from accelerate import Accelerator
        from accelerate.utils import set_seed

        use_cpu = cpu or not torch.cuda.is_available()
        # Under `accelerate launch` the launcher's config decides precision and backend;
        # alone, bf16 on CUDA and fp32 on CPU.
        launched = "ACCELERATE_MIXED_PRECISION" in os.environ
        precision = None if launched else ("no" if use_cpu else "bf16")
        self.accelerator = Accelerator(cpu=use_cpu, mixed_precision=precision)
        if self.accelerator.device.type == "cuda":
            # cuDNN's bf16 attention backward can return NaN gradients on Hopper (PyTorch
            # issue 196678); on an H200 it did in the second GRPO step of vt-tiny, and flash
            # or memory-efficient attention, which take over, did not.
            torch.backends.cuda.enable_cudnn_sdp(False)
        self.seed = seed
        set_seed(seed)
        torch.manual_seed(seed)

    @property
    def device(self):
        return self.accelerator.device

    @property
    def rank(self) -> int:
        return self.accelerator.process_index

    @property
    def world(self) -> int:
        return self.accelerator.num_processes

    @property
    def is_main(self) -> bool:
        return self.accelerator.is_main_process

    @property
    def pixel_dtype(self):
        import torch

        return torch.bfloat16 if self.accelerator.mixed_precision == "bf16" else torch.float32

    def autocast(self):
        return self.accelerator.autocast()

    def end(self) -> None:
        """Destroy the process group at the end of a run, as accelerate asks: left alive, its
        threads can abort the process as it exits (seen in the two-process SFT test)."""
        self.accelerator.end_training()

    def no_sync(self, model, skip: bool):
        """Skip the gradient all-reduce on all but the last micro-batch of a step."""
        if skip and self.world > 1:
            return self.accelerator.no_sync(model)
        return contextlib.nullcontext()

    def sum(self, values: list[float]) -> list[float]:
        """Elementwise sum of ``values`` over all processes."""
        import torch

        if self.world == 1:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        return self.accelerator.reduce(tensor, reduction="sum").tolist()

    def gather_floats(self, values: list[float]) -> list[float]:
        """Every process's ``values`` concatenated in rank order (equal lengths)."""
        import torch

        if self.world == 1:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        return self.accelerator.gather(tensor).tolist()

    def any(self, flag: bool) -> bool:
        """True on every process if it is true on one (a stop request must be shared)."""
        return self.sum([1.0 if flag else 0.0])[0] > 0

    def barrier(self) -> None:
        self.accelerator.wait_for_everyone()

    def unwrap(self, model):
        return self.accelerator.unwrap_model(model)

    def runs_unwrapped(self, model) -> bool:
        """True when no DDP, FSDP or DeepSpeed wrapper must see the forward, so the
        trainers may call the model's parts themselves (``shared_prompt``). FSDP2 shards
        the model in place, so an unwrapped model alone does not prove it."""
        from accelerate.utils import DistributedType

        return (self.accelerator.distributed_type == DistributedType.NO
                and self.unwrap(model) is model)

    def parameter_checksum(self, model) -> float:
        """A number that differs when the weights differ: ranks compare it to prove sync."""
        import torch

        total = torch.zeros((), dtype=torch.float64)
        for index, param in enumerate(self.unwrap(model).parameters()):
            total += param.detach().double().cpu().sum() * (1 + index % 7)
        return float(total)
