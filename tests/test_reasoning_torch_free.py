"""The reasoning format, rewards, datasets, synthetic suite, metrics and ``vtedge eval`` run
without torch: a fresh interpreter uses all of them and must not have imported it."""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import json, sys, tempfile
    from pathlib import Path
    from click.testing import CliRunner
    from vtedge.cli import cli
    from vtedge.datasets import load_records
    from vtedge.metrics import render_table, score
    from vtedge.reasoning import extract_answer_letter, parse, render_chat, sft_target
    from vtedge.rewards import REWARDS
    from vtedge.synth import generate_split

    out = Path(tempfile.mkdtemp())
    data = generate_split(out / "s", 4, seed=0, split="ood", progress=False, workers=1)
    records = load_records(data)
    gold = [sft_target(r.process, r.solution) for r in records]
    fields = {
        "solution": [r.solution for r in records],
        "problem_type": [r.problem_type for r in records],
        "segments": [[s.__dict__ for s in r.segments] for r in records],
    }
    assert all(v == 1.0 for fn in REWARDS.values() for v in fn(gold, **fields))
    assert all(parse(g).well_formed and extract_answer_letter(g) for g in gold)
    render_chat(records[0].problem, list(records[0].options), 64, gold[0])
    predictions = [{"problem_id": r.problem_id, "output": g} for r, g in zip(records, gold)]
    scores = score(predictions, records)
    assert scores.accuracy == 1.0, render_table(scores)
    pred = out / "pred.jsonl"
    pred.write_text("".join(json.dumps({"problem_id": r.problem_id, "output": g}) + "\\n"
                            for r, g in zip(records, gold)))
    result = CliRunner().invoke(cli, ["eval", "--pred", str(pred), "--data", str(data)])
    assert result.exit_code == 0, result.output
    args = ["data", "synth", "--out", str(out / "c"), "--n", "1", "--quiet"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    heavy = sorted(m for m in ("torch", "transformers", "triton", "onnx") if m in sys.modules)
    print("HEAVY", heavy)
    """
)


def test_core_stays_torch_free():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "HEAVY []" in done.stdout, done.stdout
