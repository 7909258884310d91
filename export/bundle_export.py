"""``export_bundle``: a checkpoint to a verified bundle (fp32 or INT8), gated on parity.

Steps: load the checkpoint; fix the bucket (the frame size the vision encoder is traced
for, from ``--bucket`` or the first calibration clip, and the frame counts it serves);
export the three fp32 graphs; measure fp32 parity; quantize (``cpu``: dynamic,
``tensorrt``: static QDQ calibrated on the calibration clips' prefill and decoding
inputs); measure INT8 parity; write the manifest with every file's sha256. Work happens
in a hidden folder of its own beside OUT and is renamed into place only when the gate
passes (or ``force``), so a failed export leaves nothing and a replaced bundle is never
lost half-way.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vtedge.errors import BudgetError, DatasetError, ModelError
from vtedge.spec import parse_size

CALIBRATION_CLIPS = 2
GENERIC_QUESTION = "What happens in the video?"


@dataclass
class CalibrationItem:
    video: Path
    question: str
    options: list[str] | None


@contextlib.contextmanager
def staging_folder(out: Path):
    """A new folder beside ``out`` to build the bundle in, removed if the export fails;
    its name is its own, so nothing of the user's is ever taken for it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def replace_folder(staging: Path, out: Path) -> None:
    """Move ``staging`` to ``out``. A bundle already there is set aside first and removed
    last, so an interrupt leaves a whole bundle at ``out`` or beside it, never none."""
    aside = None
    if out.exists():
        aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        out.rename(aside / out.name)
    staging.rename(out)
    if aside is not None:
        shutil.rmtree(aside)


def calibration_items(calib: str | Path | None, workdir: Path, limit: int, seed: int = 0):
    """Calibration questions: a dataset file, a folder of videos, or synthetic val clips."""
    if calib is None:
        from vtedge.synth.generate import make_record

        records = [make_record(workdir, index, seed, "val") for index in range(limit)]
        return [CalibrationItem(workdir / r["path"], r["problem"], list(r["options"]))
                for r in records]
    calib = Path(calib)
    if calib.is_dir():
        videos = sorted(p for p in calib.iterdir()
                        if p.suffix.lower() in {".mp4", ".mkv", ".webm", ".mov", ".avi"})
        if not videos:
            raise ModelError(f"{calib}: no video files to calibrate on")
        return [CalibrationItem(v, GENERIC_QUESTION, None) for v in videos[:limit]]
    from vtedge.datasets import load_records

    records = load_records(calib)
    if not records:
        raise DatasetError(f"{calib}: no records to calibrate on")
    return [CalibrationItem(r.video_path, r.problem, list(r.options) or None)
            for r in list(records)[:limit]]


def bucket_size(text: str | None, spec, first_clip: Path) -> tuple[int, int]:
    """The frame size a bundle takes: ``--bucket HxW``, or the size ``spec`` gives the first
    calibration clip."""
    from vtedge.video import load_clip

    if text is None:
        clip = load_clip(first_clip, spec)
        return clip.height, clip.width
    size = parse_size(text, "--bucket")
    if any(side <= 0 or side % spec.factor for side in size):
        raise BudgetError(f"--bucket sides must be positive multiples of {spec.factor}, got "
                          f"{text} (e.g. {spec.factor * 4}x{spec.factor * 4})")
    return size


def bucket_for(spec, size: tuple[int, int], prompts) -> dict:
    """The frame size, frame counts and sequence lengths a bundle serves.

    A fixed-count spec serves its ``nframes``; an fps spec any count up to its
    ``max_frames``, the most it ever samples. The lengths size TensorRT's shape profiles.
    """
    longest = spec.most_frames
    grid = spec.grid_thw(longest, *size)
    video_tokens = spec.video_tokens(grid)
    text_tokens = max(len(p.input_ids) - spec.video_tokens(p.clip.grid_thw) for p in prompts)
    return {"nframes": spec.nframes, "max_frames": longest, "height": size[0],
            "width": size[1], "grid_thw": list(grid), "video_tokens": video_tokens,
            "prompt_tokens": int(max(len(p.input_ids) for p in prompts)),
            "max_sequence_length": int(text_tokens + video_tokens) + 1024}


def model_config(model) -> dict:
    text, vision = model.config.text_config, model.config.vision_config
    return {
        "model_type": model.config.model_type,
        "hidden_size": text.hidden_size,
        "num_hidden_layers": text.num_hidden_layers,
        "num_attention_heads": text.num_attention_heads,
        "num_key_value_heads": text.num_key_value_heads,
        "head_dim": text.hidden_size // text.num_attention_heads,
        "vocab_size": text.vocab_size,
        "merge_size": vision.spatial_merge_size,
        "tokens_per_second": vision.tokens_per_second,
        "vision_hidden_size": vision.hidden_size,
        "vision_depth": vision.depth,
        "parameters": int(sum(p.numel() for p in model.parameters())),
    }


def calibration_feeds(runtime, prompts, stop_ids: set[int], steps: int) -> dict[str, list]:
    """Real inputs of each graph: prompts' pixels and ids, prefill and a few decode steps."""
    from vtedge.mrope import decode_position_ids

    engine, ids = runtime.engine, runtime.bundle.token_ids
    feeds = {"vision_encoder": [], "embed_tokens": [], "decoder_model_merged": []}
    for prompt in prompts:
        feeds["vision_encoder"].append({"pixel_values": prompt.pixel_values})
        feeds["embed_tokens"].append({"input_ids": prompt.input_ids[None]})
        embeds = engine.embed(prompt.input_ids)
        embeds[0, prompt.input_ids == ids["video_token_id"]] = \
            engine.encode_video(prompt.pixel_values)
        empty = np.zeros((1, engine.kv_shape[0], 0, engine.kv_shape[1]), dtype=np.float32)
        past = [empty] * (2 * engine.layers)
        mask = np.ones((1, embeds.shape[1]), dtype=np.int64)
        step_embeds, positions = embeds, prompt.position_ids
        for _ in range(steps + 1):
            feed = {"inputs_embeds": step_embeds, "attention_mask": mask,
                    "position_ids": positions}
            for i in range(engine.layers):
                feed[f"past_key_values.{i}.key"] = past[2 * i]
                feed[f"past_key_values.{i}.value"] = past[2 * i + 1]
            feeds["decoder_model_merged"].append(feed)
            out = engine.sessions["decoder_model_merged"].run(None, feed)
            token = int(out[0][0, -1].argmax())
            if token in stop_ids:
                break
            past = out[1:]
            mask = np.ones((1, mask.shape[1] + 1), dtype=np.int64)
            positions = decode_position_ids(mask, prompt.rope_deltas)
            step_embeds = engine.embed(np.array([token]))
    return feeds


def export_bundle(checkpoint: str | Path, out: str | Path, *, int8: bool = False,
                  target: str = "cpu", calib: str | Path | None = None,
                  bucket: str | None = None, calib_clips: int = CALIBRATION_CLIPS,
                  parity_tokens: int = 1024, force: bool = False,
                  log=print) -> dict:
    """Write a bundle for ``checkpoint`` at ``out``; returns its manifest."""
    from transformers.utils import logging as transformers_logging

    from vtedge.bundle import bundle_destination, check_bucket, verify_bundle, write_manifest
    from vtedge.export.onnx_export import OPSET, export_graphs
    from vtedge.export.parity import bundle_outputs, compare, torch_reference
    from vtedge.export.quantize import quantize_dynamic_int8, quantize_static_qdq
    from vtedge.reasoning import PROMPT_VERSION
    from vtedge.runtime import BundleRuntime, load_tokenizer, prepare_prompt, stop_token_ids
    from vtedge.train.checkpoint import load_checkpoint
    from vtedge.train.tokenizer import special_token_ids

    transformers_logging.disable_progress_bar()
    if target not in ("cpu", "tensorrt"):
        raise ModelError(f"unknown target {target!r}; choose cpu or tensorrt")
    out = bundle_destination(out)
    checkpoint_path = Path(checkpoint)
    loaded = load_checkpoint(checkpoint_path)
    model, spec = loaded.model.float().eval(), loaded.spec
    token_ids = special_token_ids(loaded.tokenizer)
    tokenizer = load_tokenizer(checkpoint_path)
    stops = stop_token_ids(token_ids)
    config = model_config(model)
    with tempfile.TemporaryDirectory(prefix="vtedge-calib-") as workdir:
        log("calibration clips")
        items = calibration_items(calib, Path(workdir), calib_clips)
        size = bucket_size(bucket, spec, items[0].video)
        # The runtime resizes every clip to the bundle's frame size; calibration does too.
        fitted = spec.replace(resized_height=size[0], resized_width=size[1])
        prompts = [prepare_prompt(i.video, i.question, i.options, fitted, tokenizer,
                                  token_ids["video_token_id"], merge_size=config["merge_size"],
                                  tokens_per_second=config["tokens_per_second"]) for i in items]
    bucket_record = bucket_for(spec, size, prompts)
    check_bucket(spec, bucket_record)
    # Written only now, so a calibration set or bucket the export refuses leaves nothing.
    with staging_folder(out) as staging:
        fp32_dir = staging / "fp32" if int8 else staging
        fp32_dir.mkdir(exist_ok=True)
        manifest = {
            "created_by": "vtedge export",
            "source_checkpoint": checkpoint_path.name,
            "model_config": config,
            "vision_spec": spec.to_dict(),
            "prompt_version": PROMPT_VERSION,
            "token_ids": token_ids,
            "graphs": {"vision_encoder": "vision_encoder.onnx", "embed_tokens": "embed_tokens.onnx",
                       "decoder_model_merged": "decoder_model_merged.onnx"},
            "opset": OPSET,
            "bucket": bucket_record,
            "quantization": {"method": "none", "precision": "fp32", "target": target},
        }
        frames = spec.nframes or f"up to {bucket_record['max_frames']}"
        log(f"exporting graphs for {frames} frames of {size[0]}x{size[1]}")
        export_graphs(model, fp32_dir, tuple(bucket_record["grid_thw"][1:]))
        shutil.copyfile(checkpoint_path / "tokenizer.json", fp32_dir / "tokenizer.json")
        write_manifest(fp32_dir, manifest)
        references = [torch_reference(model, p, token_ids, stops, parity_tokens)
                      for p in prompts]
        log("parity fp32")
        fp32_runtime = BundleRuntime(fp32_dir, "cpu")
        parity = {"fp32": compare("fp32", references, [
            bundle_outputs(fp32_runtime, p, stops, parity_tokens, r)
            for p, r in zip(prompts, references, strict=True)])}
        log(parity["fp32"].summary())
        if int8:
            log(f"quantizing to INT8 for {target}")
            names = list(manifest["graphs"].values())
            if target == "cpu":
                for name in names:
                    quantize_dynamic_int8(fp32_dir / name, staging / name)
                manifest["quantization"] = {
                    "method": "dynamic", "precision": "int8", "target": target,
                    "weights": "uint8 asymmetric per tensor (MatMul/Gemm/Gather weights)",
                    "activations": "quantized at run time (onnxruntime dynamic)"}
            else:
                feeds = calibration_feeds(fp32_runtime, prompts, stops, steps=8)
                for graph, name in manifest["graphs"].items():
                    if graph == "embed_tokens":
                        shutil.copyfile(fp32_dir / name, staging / name)
                    else:
                        quantize_static_qdq(fp32_dir / name, staging / name, feeds[graph])
                manifest["quantization"] = {
                    "method": "static-qdq", "precision": "int8", "target": target,
                    "weights": "int8 symmetric per channel", "activations": "int8 symmetric",
                    "calibration": f"min/max over {len(prompts)} clip(s)",
                    "preset": "optimum AutoQuantizationConfig.tensorrt"}
            del fp32_runtime
            shutil.copyfile(fp32_dir / "tokenizer.json", staging / "tokenizer.json")
            shutil.rmtree(fp32_dir)
            write_manifest(staging, manifest)
            log("parity int8")
            int8_runtime = BundleRuntime(staging, "cpu")
            parity["int8"] = compare("int8", references, [
                bundle_outputs(int8_runtime, p, stops, parity_tokens, r)
                for p, r in zip(prompts, references, strict=True)])
            log(parity["int8"].summary())
            del int8_runtime
        manifest["parity"] = {key: result.to_dict() for key, result in parity.items()}
        failed = [result.summary() for result in parity.values() if not result.passed]
        manifest["parity"]["forced"] = bool(failed and force)
        write_manifest(staging, manifest)
        if failed and not force:
            raise ModelError(f"parity gate failed ({'; '.join(failed)}); re-run with --force to "
                             "keep the bundle anyway")
        replace_folder(staging, out)
    return verify_bundle(out).manifest
