"""Make a small example clip: a red square crossing a grey field for four seconds."""

import sys

import numpy as np

from vtedge.encode import encode_video


def frames(width: int = 320, height: int = 240, fps: int = 8, seconds: int = 4):
    for i in range(fps * seconds):
        frame = np.full((height, width, 3), 96, dtype=np.uint8)
        x = int(i / (fps * seconds - 1) * (width - 48))
        frame[96:144, x:x + 48] = (220, 40, 40)
        yield frame


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "example.mp4"
    encode_video(out, frames(), fps=8)
    print(out)
