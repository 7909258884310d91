"""A handful of synthetic clips shared by the training tests, and small run settings."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory):
    """Eight synthetic train records with their clips (vtedge.synth, seeded)."""
    from vtedge.synth.generate import generate_split

    out = tmp_path_factory.mktemp("synth")
    return generate_split(out, 8, seed=3, split="train", progress=False, workers=1)


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """Two shared cores: one torch thread avoids oversubscription and keeps runs exact."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def sft_config(data, out, **changes):
    from vtedge.train.sft import SFTConfig

    settings = dict(data=str(data), out=str(out), model="vt-tiny", batch_size=4,
                    micro_batch=2, max_steps=4, save_every=2, quiet=True, seed=0)
    settings.update(changes)
    return SFTConfig(**settings)
