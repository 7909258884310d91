"""The no-video answer prior that `benchmarks.reproduce` reports next to chance."""

import json

import pytest

from benchmarks.recipe import Recipe
from benchmarks.reproduce import answer_prior


def _write(recipe, split, rows):
    path = recipe.data(split)
    path.parent.mkdir(parents=True)
    lines = [json.dumps({"problem_id": f"{split}-{i}", "problem": "Which?",
                         "problem_type": "multiple choice",
                         "options": ["A. red", "B. green", "C. blue", "D. yellow"],
                         "solution": f"<answer>{letter}</answer>", "process": "So.",
                         "data_type": "video", "path": f"./videos/{i}.mp4", "family": family})
             for i, (family, letter) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_prior_answers_each_familys_most_common_training_letter(tmp_path):
    recipe = Recipe(tmp_path)
    _write(recipe, "train", [("state", "D"), ("state", "D"), ("state", "A"),
                             ("count", "B"), ("count", "B"), ("count", "B"), ("count", "C")])
    # state guesses D, count B, and who-state (never trained) the overall favourite, B.
    _write(recipe, "val", [("state", "D"), ("state", "A"), ("count", "B"), ("count", "C"),
                           ("who-state", "B")])
    assert answer_prior(recipe, "val") == pytest.approx(0.6)


def test_a_recipe_aligns_on_its_spec_and_logs_it(tmp_path):
    recipe = Recipe(tmp_path, spec="tiny-2fps")
    # Both alignment outputs exist, so the stage is logged, not run.
    (tmp_path / "tokenizer").mkdir()
    (tmp_path / "tokenizer" / "tokenizer.json").write_text("{}")
    (tmp_path / "runs" / "align" / "last").mkdir(parents=True)
    (tmp_path / "runs" / "align" / "last" / "vtedge.json").write_text('{"step": 600}')
    recipe.align()
    assert "--spec tiny-2fps" in recipe.commands[-1]
    plain = Recipe(tmp_path)
    plain.align()
    assert "--spec" not in plain.commands[-1]
    assert plain.commands[-1].startswith("vtedge train sft --task caption --model vt-tiny --lr")
    larger = Recipe(tmp_path, model="vt-small")
    larger.align()
    assert "--model vt-small" in larger.commands[-1]


def test_the_evaluation_splits_take_the_recipes_size(tmp_path):
    recipe = Recipe(tmp_path, eval_records=300)
    for name in ("train", "val", "ood", "captions", "captions-val"):
        recipe.data(name).parent.mkdir(parents=True)
        recipe.data(name).write_text("")  # every split exists, so each is logged, not run
    recipe.synthesize()
    sizes = {command.split("--out ")[1].split()[0].split("/")[-1]:
             command.split("--n ")[1].split()[0] for command in recipe.commands}
    assert sizes == {"train": "2000", "val": "300", "ood": "300", "captions": "2000",
                     "captions-val": "64"}
