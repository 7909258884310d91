"""``make default-model``: train vtedge's embedded default model from nothing (seeded) and
install it: the INT8 bundle into ``vtedge/default_model/``, a few validation clips with
their questions into ``examples/``.

    python -m benchmarks.default_model [--root build/recipe] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from benchmarks.recipe import MODEL, Recipe

SEED = 0
REPO = Path(__file__).resolve().parent.parent
PACKAGE_BUNDLE = REPO / "vtedge" / "default_model"
EXAMPLES = REPO / "examples"
EXAMPLE_FAMILIES = ("state", "after", "describe")


def install_bundle(bundle: Path, target: Path = PACKAGE_BUNDLE) -> None:
    """Replace the package's default bundle with ``bundle`` (verified first)."""
    from vtedge.bundle import verify_bundle

    verify_bundle(bundle)
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(bundle, target)


def write_examples(records_file: Path, target: Path = EXAMPLES) -> Path:
    """The first validation record of each example family, its clip renamed after it."""
    rows = [json.loads(line) for line in records_file.read_text(encoding="utf-8").splitlines()]
    target.mkdir(parents=True, exist_ok=True)
    chosen = []
    for family in EXAMPLE_FAMILIES:
        row = next(r for r in rows if r["family"] == family)
        name = f"{family}.mp4"
        shutil.copyfile(records_file.parent / row["path"], target / name)
        chosen.append({**row, "path": f"./{name}"})
    out = target / "questions.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in chosen), encoding="utf-8")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("build/recipe"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--spec", help="Vision spec preset to align on (default: the model "
                        "preset's, tiny); e.g. tiny-2fps, with its own --root")
    parser.add_argument("--model", default=MODEL,
                        help="Model preset to train from scratch (default: %(default)s)")
    args = parser.parse_args()

    began = time.perf_counter()
    recipe = Recipe(args.root, args.threads, args.spec, model=args.model)
    recipe.synthesize()
    sft = recipe.sft(SEED, recipe.align())
    grpo = recipe.grpo(SEED, sft)
    bundle = recipe.export(grpo, f"grpo-s{SEED}-int8", int8=True)
    install_bundle(bundle)
    questions = write_examples(recipe.data("val"))
    size = sum(f.stat().st_size for f in PACKAGE_BUNDLE.iterdir()) / 1e6
    print(f"installed {bundle} -> {PACKAGE_BUNDLE} ({size:.1f} MB); examples in {questions}")
    print(f"recipe wall time {(time.perf_counter() - began) / 60:.1f} min (stages whose output "
          "existed were reused, not run)")


if __name__ == "__main__":
    main()
