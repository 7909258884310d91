"""``vtedge frames``: the plan in text and JSON, PNG output, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import videos
from click.testing import CliRunner

from vtedge.cli import cli
from vtedge.errors import MissingPathError, VideoDecodeError

KEYS = {"path", "duration", "fps", "sample_fps", "timestamps", "height", "width", "grid_thw",
        "video_tokens", "second_per_grid_t"}


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory):
    return videos.make_codec_clip(tmp_path_factory.mktemp("cli"), "h264", count=24)


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_json_has_the_frame_plan(clip_path):
    result = run("frames", str(clip_path), "--spec", "tiny", "--nframes", "6", "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert KEYS <= set(plan)
    assert plan["path"] == str(clip_path)
    assert plan["fps"] == 12 and plan["duration"] == pytest.approx(2.0)
    assert plan["timestamps"] == pytest.approx([0, 5 / 12, 9 / 12, 14 / 12, 18 / 12, 23 / 12],
                                               abs=1e-4)
    assert plan["sample_fps"] == pytest.approx(6 / 24 * 12)
    assert plan["second_per_grid_t"] == pytest.approx(2 / plan["sample_fps"])
    t, h, w = plan["grid_thw"]
    assert (t, h * 14, w * 14) == (3, plan["height"], plan["width"])
    assert plan["video_tokens"] == t * h * w // 4


def test_spec_options_change_the_plan(clip_path):
    result = run("frames", str(clip_path), "--spec", "tiny", "--fps", "2", "--min-frames", "2",
                 "--max-pixels", str(56 * 56), "--min-pixels", str(28 * 28), "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert len(plan["timestamps"]) == 4  # 2 s at 2 fps
    assert plan["height"] * plan["width"] <= 56 * 56


def test_resize_fixes_the_frame_size(clip_path):
    result = run("frames", str(clip_path), "--spec", "tiny", "--resize", "56x84", "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert (plan["height"], plan["width"]) == (56, 84)
    assert plan["grid_thw"][1:] == [4, 6]


def test_text_output_names_the_plan(clip_path):
    result = run("frames", str(clip_path), "--spec", "tiny", "--nframes", "4")
    assert result.exit_code == 0, result.output
    assert "grid_thw 2x" in result.stdout and "video tokens" in result.stdout
    assert "00:01.92" in result.stdout  # the last sampled frame, 23 / 12 s


def test_out_writes_the_sampled_frames_as_png(clip_path, tmp_path):
    import av

    out = tmp_path / "frames"
    result = run("frames", str(clip_path), "--spec", "tiny", "--nframes", "4", "--out",
                 str(out), "--json")
    assert result.exit_code == 0, result.output
    files = sorted(out.glob("*.png"))
    assert [str(f) for f in files] == json.loads(result.stdout)["files"]
    with av.open(str(files[-1])) as container:
        image = next(container.decode(video=0)).to_ndarray(format="rgb24")
    plan = json.loads(result.stdout)
    assert image.shape == (plan["height"], plan["width"], 3)
    assert videos.frame_number(image) == 23


def test_corrupt_tail_warns_on_stderr(tmp_path):
    path = videos.make_cut_mkv(tmp_path)
    result = run("frames", str(path), "--spec", "tiny", "--nframes", "4", "--json")
    assert result.exit_code == 0
    assert result.stderr.startswith(f"vtedge: warning: {path}: only ")
    assert json.loads(result.stdout)["warnings"]


@pytest.mark.parametrize(("make", "error"), [
    (lambda tmp: tmp / "missing.mp4", MissingPathError),
    (lambda tmp: tmp, MissingPathError),
    (lambda tmp: (tmp / "random.mp4").write_bytes(np.random.default_rng(1).bytes(4096))
     and tmp / "random.mp4", VideoDecodeError),
])
def test_bad_input_is_one_line_with_the_error_code(tmp_path, make, error):
    path = make(tmp_path)
    result = CliRunner().invoke(cli, ["frames", str(path)])
    assert result.exit_code == error.exit_code
    assert result.stderr.count("\n") == 1 and str(path) in result.stderr
    assert result.stderr.startswith("vtedge: error: ")


def test_a_real_process_prints_one_line_and_exits_nonzero(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("not a video\n" * 20)
    done = subprocess.run([sys.executable, "-m", "vtedge.cli", "frames", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == VideoDecodeError.exit_code
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"vtedge: error: {path}: ")


def test_help_has_an_example():
    result = run("frames", "--help")
    assert result.exit_code == 0
    assert "vtedge frames clip.mp4" in result.stdout and "--nframes" in result.stdout
