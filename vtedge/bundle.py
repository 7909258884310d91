"""The bundle: one folder holding everything the edge runtime needs, described by a manifest.

``manifest.json`` records the format version, model config, vision spec, prompt version,
special-token ids, every file with its size and sha256, the quantization, the opset, the
parity results of the export and the bucket the vision graph serves (one frame size; one
frame count, or any up to a maximum for a spec that samples by fps). ``verify_bundle``
refuses anything altered, truncated, incomplete, newer than this runtime, or asking for a
spec it cannot honour, before a single graph is loaded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from vtedge.errors import BudgetError, BundleError, MissingPathError, ModelError
from vtedge.reasoning.prompts import PROMPT_VERSION
from vtedge.spec import VisionSpec

MANIFEST = "manifest.json"
FORMAT = "vtedge-bundle"
FORMAT_VERSION = 1
GRAPHS = ("vision_encoder", "embed_tokens", "decoder_model_merged")
TOKENIZER = "tokenizer.json"
REQUIRED_TOKEN_IDS = ("eos_token_id", "pad_token_id", "video_token_id", "vision_start_token_id",
                      "vision_end_token_id")
# What the runtime reads from ``model_config`` and ``bucket`` (beyond the spec's checks).
MODEL_CONFIG_KEYS = ("hidden_size", "num_hidden_layers", "num_key_value_heads", "head_dim",
                     "merge_size", "tokens_per_second")
BUCKET_KEYS = ("height", "width", "grid_thw", "prompt_tokens", "max_sequence_length")
# The input each graph is called with: a manifest naming one graph for another is refused.
GRAPH_INPUTS = {"vision_encoder": "pixel_values", "embed_tokens": "input_ids",
                "decoder_model_merged": "inputs_embeds"}


@dataclass(frozen=True)
class Bundle:
    """A verified bundle: where it is, what its manifest says, and the spec it serves."""

    path: Path
    manifest: dict
    spec: VisionSpec

    def file(self, name: str) -> Path:
        return self.path / name

    def graph(self, name: str) -> Path:
        return self.path / self.manifest["graphs"][name]

    @property
    def token_ids(self) -> dict[str, int]:
        return self.manifest["token_ids"]

    @property
    def bucket(self) -> dict:
        return self.manifest["bucket"]

    @property
    def quantization(self) -> dict:
        return self.manifest["quantization"]


def is_bundle(path: str | Path) -> bool:
    """A folder with a manifest: to be treated (and verified) as a bundle."""
    return (Path(path) / MANIFEST).is_file()


def bundle_destination(out: str | Path) -> Path:
    """Where an export may write its bundle, checked before any work: a new folder or a
    bundle to replace, never another folder (a run, say), which replacing would delete."""
    out = Path(out).resolve()  # a symlink is followed; "." gets a name
    if out.exists() and not is_bundle(out):
        raise ModelError(f"{out}: exists and is not a bundle; name a new folder, or a "
                         "bundle to replace")
    return out


def file_digest(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_files(folder: str | Path, names: list[str]) -> dict[str, dict]:
    """``{name: {"bytes": n, "sha256": hex}}`` for the manifest's ``files``."""
    folder = Path(folder)
    return {name: {"bytes": (folder / name).stat().st_size,
                   "sha256": file_digest(folder / name)} for name in sorted(names)}


def write_manifest(folder: str | Path, manifest: dict) -> Path:
    """Write ``manifest.json``, filling ``files`` from what the folder holds now."""
    folder = Path(folder)
    names = [p.name for p in folder.iterdir() if p.is_file() and p.name != MANIFEST]
    record = {"format": FORMAT, "format_version": FORMAT_VERSION, **manifest,
              "files": describe_files(folder, names)}
    path = folder / MANIFEST
    path.write_text(json.dumps(record, indent=2, sort_keys=False) + "\n")
    return path


def check_bucket(spec: VisionSpec, bucket: dict) -> None:
    """The runtime can honour the spec only if its clips fit the bucket's vision encoder.

    A fixed-count bucket takes exactly its ``nframes``; an fps bucket (``nframes`` null)
    takes any count up to its ``max_frames``. Either way the frame size is fixed, so a
    spec that resizes to a size must resize to the bucket's.
    """
    size = (bucket["height"], bucket["width"])
    resized = spec.frame_size(*size, 2) if spec.resized_height is not None else size
    if resized != size:
        raise BudgetError(
            f"the bundle's vision encoder takes {size[0]}x{size[1]} frames; the spec resizes "
            f"them to {resized[0]}x{resized[1]} (export a bundle for that size: vtedge "
            f"export --bucket {resized[0]}x{resized[1]})"
        )
    nframes = bucket.get("nframes")
    if nframes is None:
        if spec.most_frames > bucket["max_frames"]:
            raise BudgetError(
                f"the bundle's vision encoder takes at most {bucket['max_frames']} frames; "
                f"the spec samples up to {spec.most_frames}"
            )
    elif spec.nframes is None or spec.nframes != nframes:
        raise BudgetError(
            f"the bundle's vision encoder takes exactly {nframes} frames; the spec samples "
            f"{'by fps' if spec.nframes is None else f'{spec.nframes} frames'}"
        )
    grid = tuple(spec.grid_thw(nframes or bucket["max_frames"], bucket["height"],
                               bucket["width"]))
    if grid != tuple(bucket["grid_thw"]):
        raise BudgetError(
            f"the spec gives grid {grid} for the bundle's {bucket['height']}x{bucket['width']} "
            f"frames, but its vision encoder was exported for {tuple(bucket['grid_thw'])}"
        )


def _manifest(path: Path) -> dict:
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BundleError(f"{path}/{MANIFEST}: unreadable manifest ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{path}/{MANIFEST}: not a vtedge bundle manifest")
    version = manifest.get("format_version")
    if not isinstance(version, int):
        raise BundleError(f"{path}: manifest has no integer format_version")
    if version > FORMAT_VERSION:
        raise BundleError(
            f"{path}: bundle format {version} is newer than this runtime reads "
            f"({FORMAT_VERSION}); upgrade vtedge"
        )
    missing = [key for key in ("files", "graphs", "vision_spec", "bucket", "token_ids",
                               "model_config", "quantization") if key not in manifest]
    if missing:
        raise BundleError(f"{path}: manifest lacks {', '.join(missing)}")
    problem = _shape_problem(manifest)
    if problem:
        raise BundleError(f"{path}/{MANIFEST}: {problem}")
    return manifest


def _shape_problem(manifest: dict) -> str | None:
    """What in the manifest's structure the runtime could not read, if anything: the
    manifest itself carries no digest, so an edited one is checked field by field."""
    def ints(value, keys) -> bool:
        return isinstance(value, dict) and all(type(value.get(k)) is int for k in keys)

    files, graphs = manifest["files"], manifest["graphs"]
    if not isinstance(files, dict) or not all(
            isinstance(e, dict) and type(e.get("bytes")) is int and isinstance(e.get("sha256"), str)
            for e in files.values()):
        return "files must map each name to its bytes and sha256"
    if not isinstance(graphs, dict) or not all(isinstance(graphs.get(g), str) for g in GRAPHS):
        return f"graphs must name a file for each of {', '.join(GRAPHS)}"
    if not ints(manifest["token_ids"], REQUIRED_TOKEN_IDS):
        return f"token_ids must give integer {', '.join(REQUIRED_TOKEN_IDS)}"
    if not ints(manifest["model_config"], MODEL_CONFIG_KEYS):
        return f"model_config must give integer {', '.join(MODEL_CONFIG_KEYS)}"
    if not isinstance(manifest["bucket"], dict) or any(
            k not in manifest["bucket"] for k in BUCKET_KEYS):
        return f"bucket must give {', '.join(BUCKET_KEYS)}"
    if not isinstance(manifest["vision_spec"], dict):
        return "vision_spec must be an object"
    if not isinstance(manifest["quantization"], dict):
        return "quantization must be an object"
    return None


def verify_bundle(path: str | Path) -> Bundle:
    """The bundle at ``path``, after checking format, spec and every file's size and sha256."""
    path = Path(path)
    if not path.exists():
        raise MissingPathError(f"{path}: no such bundle")
    if not is_bundle(path):
        raise BundleError(f"{path}: not a bundle (no {MANIFEST})")
    manifest = _manifest(path)
    files = manifest["files"]
    needed = [TOKENIZER, *(manifest["graphs"].get(name, f"<{name}>") for name in GRAPHS)]
    unlisted = [name for name in needed if name not in files]
    if unlisted:
        raise BundleError(f"{path}: manifest does not list {', '.join(unlisted)}")
    for name, entry in files.items():
        file = path / name
        if Path(name).name != name:
            raise BundleError(f"{path}: manifest names a file outside the bundle: {name}")
        if not file.is_file():
            raise BundleError(f"{path}: missing file {name}")
        size = file.stat().st_size
        if size != entry.get("bytes"):
            raise BundleError(
                f"{path}: {name} is {size} bytes, the manifest says {entry.get('bytes')} "
                "(truncated or replaced)"
            )
        if file_digest(file) != entry.get("sha256"):
            raise BundleError(f"{path}: {name} does not match its sha256 (altered)")
    try:
        spec = VisionSpec.from_dict(manifest["vision_spec"])
        check_bucket(spec, manifest["bucket"])
    except (BudgetError, TypeError, KeyError) as error:
        raise BundleError(f"{path}: the runtime cannot honour the bundle's spec: {error}") from None
    if manifest.get("prompt_version", PROMPT_VERSION) != PROMPT_VERSION:
        raise BundleError(f"{path}: the model was exported for prompts "
                          f"{manifest['prompt_version']!r}; this runtime writes "
                          f"{PROMPT_VERSION!r}")
    config = manifest["model_config"]
    for key in ("merge_size", "tokens_per_second"):  # the spec's and the model's must agree
        if config[key] != getattr(spec, key):
            raise BundleError(f"{path}: model_config's {key} {config[key]} is not the vision "
                              f"spec's {getattr(spec, key)}")
    return Bundle(path, manifest, spec)
