"""vtedge: train video-language models to think with videos, and run them on small devices.

The core (this package) is torch-free: video decoding, the vision spec, frame
tokenization, the reasoning format, rewards, datasets, and the ONNX edge runtime.
Public names load on first use, so `vtedge --help` does not pay for numpy or PyAV.
"""

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "BudgetError": "vtedge.errors",
    "BundleError": "vtedge.errors",
    "DatasetError": "vtedge.errors",
    "MissingPathError": "vtedge.errors",
    "ModelError": "vtedge.errors",
    "ProviderError": "vtedge.errors",
    "VideoDecodeError": "vtedge.errors",
    "VtedgeError": "vtedge.errors",
    "PRESETS": "vtedge.spec",
    "VisionSpec": "vtedge.spec",
    "get_spec": "vtedge.spec",
    "smart_resize": "vtedge.spec",
    "patchify": "vtedge.patchify",
    "Clip": "vtedge.video",
    "load_clip": "vtedge.video",
    "Reasoning": "vtedge.reasoning",
    "Segment": "vtedge.reasoning",
    "parse": "vtedge.reasoning",
    "render_chat": "vtedge.reasoning",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'vtedge' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
