"""``vtedge frames``: what the model will see of a video."""

from __future__ import annotations

import contextlib
import json
import warnings
from pathlib import Path

import click

from vtedge.cli.spec_options import spec_options
from vtedge.spec import get_spec


def clip_summary(clip) -> dict:
    """The frame plan of a clip as plain JSON values."""
    return {
        "path": clip.path,
        "codec": clip.codec,
        "duration": round(clip.duration, 6),
        "fps": round(clip.fps, 6),
        "total_frames": clip.total_frames,
        "nframes": len(clip.timestamps),
        "sample_fps": round(clip.sample_fps, 6),
        "second_per_grid_t": round(clip.second_per_grid_t, 6),
        "timestamps": list(clip.timestamps),
        "indices": list(clip.indices),
        "height": clip.height,
        "width": clip.width,
        "source_height": clip.source_height,
        "source_width": clip.source_width,
        "rotation": clip.rotation,
        "grid_thw": list(clip.grid_thw),
        "video_tokens": clip.video_tokens,
        "strategy": clip.strategy,
        "frames_decoded": clip.frames_decoded,
        "warnings": list(clip.warnings),
    }


def write_pngs(frames, out: Path) -> list[Path]:
    """One PNG per frame, encoded by PyAV (no imaging library needed)."""
    import av

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, rgb in enumerate(frames):
        encoder = av.CodecContext.create("png", "w")
        encoder.height, encoder.width = rgb.shape[:2]
        encoder.pix_fmt = "rgb24"
        packets = encoder.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24"))
        packets += encoder.encode(None)
        path = out / f"frame_{i:03d}.png"
        path.write_bytes(b"".join(bytes(packet) for packet in packets))
        paths.append(path)
    return paths


def _timestamp(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes):02d}:{rest:05.2f}"


def _describe(clip, files: list[Path]) -> str:
    t, h, w = clip.grid_thw
    lines = [
        f"{clip.path}: {clip.codec} {clip.source_width}x{clip.source_height}"
        + (f" (rotated {clip.rotation} deg)" if clip.rotation else "")
        + f", {clip.fps:.3f} fps, {clip.duration:.2f} s, {clip.total_frames} frames",
        f"sampled {len(clip.timestamps)} frames at {clip.sample_fps:.3f} fps "
        f"({clip.strategy} decode, {clip.frames_decoded} pictures decoded)",
        f"resized to {clip.width}x{clip.height} (WxH; --resize takes HxW); grid_thw {t}x{h}x{w}; "
        f"{clip.video_tokens} video tokens; second_per_grid_t {clip.second_per_grid_t:.4f}",
        "frame  index  time",
    ]
    for i, (index, seconds) in enumerate(zip(clip.indices, clip.timestamps, strict=True)):
        lines.append(f"{i:5d}  {index:5d}  {_timestamp(seconds)}")
    if files:
        lines.append(f"wrote {len(files)} PNG files to {files[0].parent}")
    return "\n".join(lines)


@contextlib.contextmanager
def _decode_progress(video: str, quiet: bool):
    """A transient bar on a terminal's stderr, started only once a pass decodes a whole
    stream (seeking is quick), so pipes and short clips see nothing."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    bar, task = None, None

    def update(done: int, total: int) -> None:
        nonlocal bar, task
        if quiet or not console.is_terminal:
            return
        if bar is None:
            bar = Progress(console=console, transient=True)
            bar.start()
            task = bar.add_task(f"decoding {Path(video).name}", total=total)
        bar.update(task, completed=min(done, total))

    try:
        yield update
    finally:
        if bar is not None:
            bar.stop()


@click.command("frames")
@click.argument("video", type=click.Path())
@spec_options(base="video-thinker")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Also write the sampled frames as PNG files into this folder.")
@click.option("--quiet", is_flag=True, help="No progress bar while a long video decodes.")
def command(video: str, spec, as_json: bool, out: Path | None, quiet: bool) -> None:
    """Show the frame plan of VIDEO: sampled timestamps, size, grid and token count.

    The frames are sampled and resized exactly as training and the edge runtime do
    (qwen-vl-utils semantics under the chosen vision spec).

    \b
    Examples:
      vtedge frames clip.mp4
      vtedge frames clip.mp4 --spec tiny --nframes 8 --json
      vtedge frames clip.mp4 --fps 1 --max-frames 32 --out frames/
    """
    from vtedge.video import TruncatedVideoWarning, load_clip

    with warnings.catch_warnings(), _decode_progress(video, quiet) as progress:
        warnings.simplefilter("ignore", TruncatedVideoWarning)
        clip = load_clip(video, spec.resolve(get_spec("video-thinker")),
                         progress=progress)
    for note in clip.warnings:
        click.echo(f"vtedge: warning: {note}", err=True)
    files = write_pngs(clip.frames, out) if out is not None else []
    if as_json:
        summary = clip_summary(clip)
        if out is not None:
            summary["files"] = [str(path) for path in files]
        click.echo(json.dumps(summary))
    else:
        click.echo(_describe(clip, files))
