"""The core never loads torch: import it, decode a clip, patchify it and run ``vtedge frames``
in a fresh interpreter (other tests in this process may have imported torch already)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path

    import numpy as np
    from click.testing import CliRunner

    import vtedge
    from vtedge import load_clip, patchify
    from vtedge.cli import cli
    from vtedge.encode import encode_video

    out = Path(sys.argv[1])
    frames = [np.full((64, 96, 3), 10 * i, dtype=np.uint8) for i in range(12)]
    video = encode_video(out / "clip.mp4", frames, fps=6)
    spec = vtedge.get_spec("tiny")
    clip = load_clip(video, spec)
    pixel_values, grid_thw = patchify(clip.frames, spec)
    assert pixel_values.shape[1] == 1176 and grid_thw == clip.grid_thw
    result = CliRunner().invoke(cli, ["frames", str(video), "--spec", "tiny", "--json",
                                      "--out", str(out / "png")])
    assert result.exit_code == 0, result.output
    heavy = sorted(m for m in ("torch", "transformers", "triton", "onnx") if m in sys.modules)
    print("heavy:", heavy)
""")


def test_core_and_frames_command_stay_torch_free(tmp_path):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "heavy: []"
