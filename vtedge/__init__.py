"""vtedge: train video-language models to think with videos, and run them on small devices.

The core (this package) is torch-free: video decoding, the vision spec, frame
tokenization, the reasoning format, rewards, datasets, and the ONNX edge runtime.
"""

__version__ = "0.1.0"

from vtedge.errors import (  # noqa: E402
    BudgetError,
    BundleError,
    DatasetError,
    MissingPathError,
    ModelError,
    NotBuiltError,
    VideoDecodeError,
    VtedgeError,
)
from vtedge.patchify import patchify  # noqa: E402
from vtedge.reasoning import Reasoning, Segment, parse, render_chat  # noqa: E402
from vtedge.spec import PRESETS, VisionSpec, get_spec, smart_resize  # noqa: E402
from vtedge.video import Clip, load_clip  # noqa: E402

__all__ = [
    "PRESETS",
    "Reasoning",
    "Segment",
    "BudgetError",
    "BundleError",
    "Clip",
    "DatasetError",
    "MissingPathError",
    "ModelError",
    "NotBuiltError",
    "VideoDecodeError",
    "VisionSpec",
    "VtedgeError",
    "get_spec",
    "load_clip",
    "parse",
    "patchify",
    "render_chat",
    "smart_resize",
]
