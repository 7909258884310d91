"""``vtedge export``: checkpoint to a verified ONNX (INT8) bundle."""

from __future__ import annotations

import click

from vtedge.cli.ranges import POSITIVE


@click.command("export")
@click.option("--model", required=True, type=click.Path(), help="Checkpoint directory to export.")
@click.option("--out", required=True, type=click.Path(), help="Bundle directory to write.")
@click.option("--int8", is_flag=True, help="Quantize the weights to INT8.")
@click.option("--target", default="cpu", show_default=True, type=click.Choice(["cpu", "tensorrt"]),
              help="cpu: dynamic INT8 for onnxruntime's CPU kernels; tensorrt: static QDQ.")
@click.option("--calib", type=click.Path(),
              help="Calibration clips: a dataset file or a folder of videos "
                   "(default: synthetic clips).")
@click.option("--calib-clips", default=2, show_default=True, type=POSITIVE,
              help="How many calibration clips to use.")
@click.option("--bucket", metavar="HxW",
              help="Frame size the vision encoder is exported for, sides multiples of 28 "
                   "(default: the size the spec gives the first calibration clip); "
                   "calibration clips are resized to it, as the runtime resizes every clip.")
@click.option("--parity-tokens", default=1024, show_default=True, type=POSITIVE,
              help="Longest greedy answer compared by the parity gate (ask and eval "
                   "answer up to 1024 tokens).")
@click.option("--force", is_flag=True, help="Keep the bundle even if the parity gate fails.")
@click.option("--distill-to", metavar="PRESET|CKPT",
              help="Distill into this student before exporting (needs --data and --steps).")
@click.option("--data", type=click.Path(), help="Dataset for distillation.")
@click.option("--steps", type=POSITIVE, help="Distillation steps.")
@click.option("--distill-loss", default="kl", show_default=True, type=click.Choice(["kl", "jsd"]),
              help="Forward KL, or generalized Jensen-Shannon (beta 0.5).")
@click.option("--quiet", is_flag=True, help="No progress output.")
def command(model: str, out: str, int8: bool, target: str, calib: str | None, calib_clips: int,
            bucket: str | None, parity_tokens: int, force: bool, distill_to: str | None,
            data: str | None, steps: int | None, distill_loss: str, quiet: bool) -> None:
    """Export a trained checkpoint to an ONNX bundle for the edge runtime.

    The bundle holds vision_encoder.onnx (one frame size; the spec's frame count, or any
    count up to its max_frames for a spec that samples by fps), embed_tokens.onnx,
    decoder_model_merged.onnx (KV cache), tokenizer.json and a manifest with every file's
    sha256 and the parity results. The export fails when the bundle does not match the
    torch model (parity gate) unless --force.

    \b
    Example:
      vtedge export --model runs/grpo --out bundles/tiny --int8
    """
    from vtedge.bundle import bundle_destination
    from vtedge.errors import ModelError

    def log(message: str) -> None:
        if not quiet:
            click.echo(f"vtedge export: {message}", err=True)

    bundle_destination(out)  # checked before a distillation's minutes, too
    if distill_to is not None:
        if data is None or steps is None:
            raise click.UsageError("--distill-to needs --data and --steps")
        from vtedge.export.distill import distill

        model = str(distill(model, distill_to, data, steps, out_dir=f"{out}.student",
                            loss=distill_loss, log=log))
    elif data is not None or steps is not None:
        raise click.UsageError("--data and --steps go with --distill-to")
    try:
        from vtedge.export.bundle_export import export_bundle
    except ModuleNotFoundError as error:
        raise ModelError(f"exporting needs the export extra (pip install 'vtedge[export]'): "
                         f"{error}") from None
    manifest = export_bundle(model, out, int8=int8, target=target, calib=calib,
                             bucket=bucket, calib_clips=calib_clips,
                             parity_tokens=parity_tokens, force=force, log=log)
    size = sum(entry["bytes"] for entry in manifest["files"].values())
    click.echo(f"{out}: {manifest['quantization']['precision']} bundle, {size / 1e6:.2f} MB, "
               f"parity {'forced' if manifest['parity']['forced'] else 'passed'}")
