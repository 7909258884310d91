"""Backend choice, import without triton, and a clear ValueError before any kernel runs."""

import subprocess
import sys

import pytest
import torch

import vtedge.kernels.dispatch as dispatch
from vtedge.kernels import (
    frame_tokenize,
    frame_tokenize_packed,
    fused_linear_grpo_loss,
    grpo_loss,
    token_logps,
)
from vtedge.spec import get_spec

SPEC = get_spec("tiny")


def grpo_args(batch=4, seq_len=3, vocab=37):
    g = torch.Generator().manual_seed(0)
    return dict(
        logits=torch.randn(batch, seq_len, vocab, generator=g),
        completion_ids=torch.randint(0, vocab, (batch, seq_len), generator=g),
        completion_mask=torch.ones(batch, seq_len),
        rewards=torch.arange(batch, dtype=torch.float32),
        group_size=2,
        beta=0.0,
    )


def bad(**changes):
    args = grpo_args()
    args.update(changes)
    return args


NAN_LOGITS = torch.zeros(4, 3, 37).index_fill_(2, torch.tensor([5]), float("nan"))
INF_LOGITS = torch.zeros(4, 3, 37).index_fill_(2, torch.tensor([0]), float("inf"))

GRPO_ERRORS = [
    (bad(logits=torch.zeros(4, 3, 37, dtype=torch.int64)), "logits must be float32"),
    (bad(logits=torch.zeros(4, 37)), r"logits must be a \(B, L, V\)"),
    (bad(completion_ids=torch.zeros(4, 3)), "completion_ids must be an int64"),
    (bad(completion_ids=torch.zeros(4, 2, dtype=torch.long)), "does not match logits"),
    (bad(completion_ids=torch.full((4, 3), 37)), r"must lie in \[0, 37\)"),
    (bad(completion_mask=torch.ones(4, 2)), "completion_mask has shape"),
    (bad(rewards=torch.zeros(3, dtype=torch.float32)), "rewards has shape"),
    (bad(group_size=3), "not divisible by group_size 3"),
    (bad(group_size=1), "group_size must be an int >= 2"),
    (bad(group_size=None), "rewards need group_size"),
    (bad(advantages=torch.zeros(4)), "exactly one of rewards"),
    (bad(rewards=None), "exactly one of rewards"),
    (bad(beta=0.04), "needs ref_logps"),
    (bad(old_logps=torch.zeros(4, 3, dtype=torch.long)), "old_logps has dtype"),
    (bad(ref_logps=torch.zeros(2, 3)), "ref_logps has shape"),
    (bad(loss_type="ppo"), "loss_type must be one of"),
    (bad(scale_rewards="std"), "scale_rewards must be one of"),
    (bad(temperature=0.0), "temperature must be positive"),
    (bad(logits=NAN_LOGITS), "NaN or infinite"),
    (bad(logits=INF_LOGITS), "NaN or infinite"),
]


@pytest.mark.parametrize("args,message", GRPO_ERRORS)
@pytest.mark.parametrize("backend", ["triton", "torch"])
def test_grpo_bad_input_is_a_value_error_before_launch(no_kernel_launch, args, message, backend):
    args = dict(args)
    logits = args.pop("logits")
    ids = args.pop("completion_ids")
    mask = args.pop("completion_mask")
    with pytest.raises(ValueError, match=message):
        grpo_loss(logits, ids, mask, backend=backend, **args)


def test_finite_check_can_be_turned_off():
    args = bad(logits=NAN_LOGITS)
    loss, _ = grpo_loss(args.pop("logits"), args.pop("completion_ids"),
                        args.pop("completion_mask"), check_finite=False, backend="torch", **args)
    assert torch.isnan(loss)


def test_fused_linear_bad_input(no_kernel_launch):
    hidden, weight = torch.randn(4, 3, 8), torch.randn(37, 8)
    ids, mask = torch.zeros(4, 3, dtype=torch.long), torch.ones(4, 3)
    common = dict(rewards=torch.zeros(4), group_size=2, beta=0.0, backend="triton")
    cases = [
        ((hidden.double(), weight, ids, mask), {}, "share one float dtype"),
        ((hidden, torch.randn(37, 9), ids, mask), {}, r"weight must be \(V, D\)"),
        ((hidden, weight, ids, mask), {"bias": torch.zeros(36)}, "bias must be"),
        ((hidden, weight, ids[:, :2], mask), {}, "does not match hidden"),
        ((hidden, weight, ids, mask), {"chunk_size": 0}, "chunk_size must be"),
        ((hidden, weight, ids, mask), {"vocab_chunk_size": 0}, "vocab_chunk_size must be"),
        ((hidden, weight, ids, mask), {"group_size": 3}, "not divisible"),
        ((hidden.index_fill(2, torch.tensor([1]), float("inf")), weight, ids, mask), {},
         "hidden contains NaN"),
    ]
    for positional, extra, message in cases:
        with pytest.raises(ValueError, match=message):
            fused_linear_grpo_loss(*positional, **{**common, **extra})


def test_frame_bad_input(no_kernel_launch):
    good = torch.zeros(2, 28, 28, 3, dtype=torch.uint8)
    cases = [
        (good.float(), {}, "must be uint8"),
        (good[..., :2], {}, r"\(T, H, W, 3\)"),
        (torch.zeros(2, 30, 28, 3, dtype=torch.uint8), {}, "multiples of 28"),
        (good[:0], {}, "need T >= 1"),
        (good, {"dtype": torch.int32}, "dtype must be one of"),
        (good.numpy(), {}, "must be a torch.Tensor"),
    ]
    for frames, extra, message in cases:
        with pytest.raises(ValueError, match=message):
            frame_tokenize(frames, SPEC, backend="triton", **extra)
    with pytest.raises(ValueError, match="non-empty list"):
        frame_tokenize_packed([], SPEC, backend="triton")
    with pytest.raises(ValueError, match=r"clips\[1\]"):
        frame_tokenize_packed([good, good.float()], SPEC, backend="triton")


def test_backend_names_and_interpreter_requirement(monkeypatch):
    with pytest.raises(ValueError, match="backend must be one of"):
        token_logps(torch.zeros(1, 1, 4), torch.zeros(1, 1, dtype=torch.long), backend="cuda")
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(ValueError, match="TRITON_INTERPRET=1"):
        token_logps(torch.zeros(1, 1, 4), torch.zeros(1, 1, dtype=torch.long), backend="triton")
    assert dispatch.use_triton("auto", torch.device("cpu")) is False
    assert dispatch.use_triton("torch", torch.device("cuda")) is False
    assert dispatch.triton_available()  # installed: these tests interpret its kernels
    assert dispatch.use_triton("auto", torch.device("cuda")) is True


def test_auto_on_cpu_runs_the_reference(no_kernel_launch):
    args = grpo_args()
    loss, metrics = grpo_loss(args.pop("logits"), args.pop("completion_ids"),
                              args.pop("completion_mask"), **args)
    assert torch.isfinite(loss) and metrics["logps"].shape == (4, 3)


def test_import_without_triton_gives_the_references():
    code = (
        "import sys; sys.modules['triton'] = None\n"
        "import torch\n"
        "from vtedge.kernels import grpo_loss, frame_tokenize\n"
        "from vtedge.spec import get_spec\n"
        "loss, m = grpo_loss(torch.randn(2, 3, 11), torch.zeros(2, 3, dtype=torch.long),\n"
        "                    torch.ones(2, 3), rewards=torch.tensor([0., 1.]), group_size=2,\n"
        "                    beta=0.0)\n"
        "v, g = frame_tokenize(torch.zeros(2, 28, 28, 3, dtype=torch.uint8), get_spec('tiny'))\n"
        "print(g, tuple(v.shape), bool(torch.isfinite(loss)))\n"
        "try:\n"
        "    grpo_loss(torch.randn(2, 3, 11), torch.zeros(2, 3, dtype=torch.long),\n"
        "              torch.ones(2, 3), rewards=torch.tensor([0., 1.]), group_size=2,\n"
        "              beta=0.0, backend='triton')\n"
        "except ValueError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    lines = result.stdout.splitlines()
    assert lines[0] == "(1, 2, 2) (4, 1176) True"
    assert "needs the triton package" in lines[1]
