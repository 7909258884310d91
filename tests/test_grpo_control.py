"""`benchmarks.grpo_control` compares a GRPO run with its lr-0 control step by step."""

import json

import numpy as np

from benchmarks.grpo_control import mean_and_se, paired, train_rows


def _run(folder, rewards):
    folder.mkdir()
    rows = [{"step": i + 1, "split": "train", "reward_mean": r} for i, r in enumerate(rewards)]
    rows.insert(1, {"step": 1, "split": "val", "reward_mean": 9.0})  # not a GRPO step
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return train_rows(folder)


def test_differences_pair_the_same_steps_and_stop_at_the_shorter_run(tmp_path):
    control = _run(tmp_path / "control", [1.0, 1.5, 1.0, 2.0])
    run = _run(tmp_path / "run", [1.0, 1.75, 1.5])
    difference = paired(run, control, "reward_mean")
    assert difference.tolist() == [0.0, 0.25, 0.5]
    mean, se = mean_and_se(difference)
    assert mean == 0.25 and np.isclose(se, 0.25 / np.sqrt(3))
