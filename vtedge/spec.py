"""The vision spec: every number that turns a video file into model input, in one place.

Training, export and the edge runtime all read it from here, and a bundle records it, so
the frames a model was trained on are the frames it is served. The sampling and resizing
rules reproduce qwen-vl-utils (``smart_nframes``, ``smart_resize``, the video pixel budget).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from vtedge.errors import BudgetError

FRAME_FACTOR = 2
MAX_ASPECT_RATIO = 200
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def round_by_factor(number: float, factor: int) -> int:
    return round(number / factor) * factor


def ceil_by_factor(number: float, factor: int) -> int:
    return math.ceil(number / factor) * factor


def floor_by_factor(number: float, factor: int) -> int:
    return math.floor(number / factor) * factor


@dataclass(frozen=True)
class VisionSpec:
    """Frame sampling, pixel budget and patch geometry of a Qwen2.5-VL video input.

    ``nframes`` fixes the frame count; when it is ``None`` frames are sampled at ``fps``
    and clamped to ``[min_frames, max_frames]``. ``resized_height`` and ``resized_width``
    (qwen-vl-utils' keys) fix the frame size instead of the pixel budget. Defaults are
    qwen-vl-utils' defaults.
    """

    nframes: int | None = None
    fps: float = 2.0
    min_frames: int = 4
    max_frames: int = 768
    min_pixels: int = 128 * 28 * 28
    max_pixels: int = 768 * 28 * 28
    total_pixels: int = int(128000 * 28 * 28 * 0.9)
    resize_filter: str = "bicubic"
    patch_size: int = 14
    temporal_patch_size: int = 2
    merge_size: int = 2
    image_mean: tuple[float, float, float] = CLIP_MEAN
    image_std: tuple[float, float, float] = CLIP_STD
    tokens_per_second: int = 2
    resized_height: int | None = None
    resized_width: int | None = None

    def __post_init__(self) -> None:
        for name in ("patch_size", "temporal_patch_size", "merge_size"):
            value = getattr(self, name)
            if type(value) is not int or value <= 0:
                raise BudgetError(f"{name} must be a positive integer, got {value!r}")
        if self.nframes is not None and self.nframes < FRAME_FACTOR:
            raise BudgetError(f"nframes must be at least {FRAME_FACTOR}, got {self.nframes}")
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise BudgetError(f"fps must be a positive number, got {self.fps}")
        if self.total_pixels <= 0:
            raise BudgetError(f"total_pixels must be positive, got {self.total_pixels}")
        if self.min_frames > self.max_frames:
            raise BudgetError(
                f"min_frames ({self.min_frames}) exceeds max_frames ({self.max_frames})"
            )
        if not 0 < self.min_pixels <= self.max_pixels:
            raise BudgetError(
                f"need 0 < min_pixels <= max_pixels, got {self.min_pixels} and {self.max_pixels}"
            )
        if (self.resized_height is None) != (self.resized_width is None):
            raise BudgetError("resized_height and resized_width go together: give both or "
                              "neither")
        if self.resized_height is not None and min(self.resized_height,
                                                   self.resized_width) <= 0:
            raise BudgetError(f"resized size must be positive, got "
                              f"{self.resized_height}x{self.resized_width}")
        if self.resize_filter not in RESIZE_FILTERS:
            raise BudgetError(
                f"resize_filter must be one of {', '.join(RESIZE_FILTERS)}, "
                f"got {self.resize_filter!r}"
            )

    @property
    def factor(self) -> int:
        """Side lengths are multiples of this: one merge window of patches."""
        return self.patch_size * self.merge_size

    @property
    def patch_dim(self) -> int:
        """Length of one row of ``pixel_values``: C x temporal x patch x patch."""
        return 3 * self.temporal_patch_size * self.patch_size * self.patch_size

    def replace(self, **changes) -> VisionSpec:
        """A copy with some fields changed; ``None`` values leave a field as it is."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> VisionSpec:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise BudgetError(f"unknown vision spec fields: {', '.join(unknown)}")
        values = dict(data)
        for key in ("image_mean", "image_std"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)

    def num_frames(self, total_frames: int, video_fps: float) -> int:
        """How many frames to sample (qwen-vl-utils ``smart_nframes``)."""
        if self.nframes is not None:
            n = round_by_factor(self.nframes, FRAME_FACTOR)
        else:
            min_frames = ceil_by_factor(self.min_frames, FRAME_FACTOR)
            max_frames = floor_by_factor(min(self.max_frames, total_frames), FRAME_FACTOR)
            n = total_frames / video_fps * self.fps
            n = min(min(max(n, min_frames), max_frames), total_frames)
            n = floor_by_factor(n, FRAME_FACTOR)
        if total_frames < FRAME_FACTOR:  # an image, or a one-frame clip
            raise BudgetError(f"a video of {total_frames} frame{'s' * (total_frames != 1)} is "
                              f"too short: sampling takes at least {FRAME_FACTOR}")
        if not FRAME_FACTOR <= n <= total_frames:
            raise BudgetError(f"cannot sample {n} frames from a video of {total_frames} frames")
        return n

    @property
    def most_frames(self) -> int:
        """The most frames ``num_frames`` ever samples (both bounds are rounded to even)."""
        if self.nframes is not None:
            return round_by_factor(self.nframes, FRAME_FACTOR)
        return floor_by_factor(self.max_frames, FRAME_FACTOR)

    def frame_pixel_range(self, nframes: int) -> tuple[int, int]:
        """``(min_pixels, max_pixels)`` for one frame when ``nframes`` are sampled.

        The total budget is shared across frames (two frames make one temporal patch),
        and the spec's ``max_pixels`` caps it, as qwen-vl-utils' ``fetch_video`` does.
        """
        budget = max(
            min(768 * self.factor**2, self.total_pixels / nframes * FRAME_FACTOR),
            int(self.min_pixels * 1.05),
        )
        return self.min_pixels, min(self.max_pixels, budget)

    def frame_size(self, height: int, width: int, nframes: int) -> tuple[int, int]:
        """Resized ``(height, width)`` of every sampled frame."""
        if self.resized_height is not None:
            return smart_resize(self.resized_height, self.resized_width, self.factor)
        min_pixels, max_pixels = self.frame_pixel_range(nframes)
        return smart_resize(height, width, self.factor, min_pixels, max_pixels)

    def grid_thw(self, nframes: int, height: int, width: int) -> tuple[int, int, int]:
        """Patch grid of a clip of ``nframes`` frames already resized to ``height x width``."""
        t = nframes + nframes % self.temporal_patch_size
        return (t // self.temporal_patch_size, height // self.patch_size, width // self.patch_size)

    def video_tokens(self, grid_thw: tuple[int, int, int]) -> int:
        """LLM tokens the clip occupies after the 2x2 merge."""
        t, h, w = grid_thw
        return t * h * w // (self.merge_size**2)

    def second_per_grid_t(self, sample_fps: float) -> float:
        """Seconds spanned by one temporal patch, as Qwen2.5-VL's ``second_per_grid_ts``."""
        return self.temporal_patch_size / sample_fps


RESIZE_FILTERS = ("bicubic", "bilinear", "lanczos", "area", "nearest")


def parse_size(text: str, flag: str) -> tuple[int, int]:
    """``"112x112"`` (as the user typed it for ``flag``) -> ``(112, 112)``."""
    try:
        height, width = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise BudgetError(f"{flag} must be HEIGHTxWIDTH, e.g. 112x112, got {text!r}") from None
    if min(height, width) <= 0:
        raise BudgetError(f"{flag} sides must be positive, got {text!r}")
    return height, width


def smart_resize(
    height: int, width: int, factor: int = 28, min_pixels: int = 4 * 28 * 28,
    max_pixels: int = 16384 * 28 * 28,
) -> tuple[int, int]:
    """Sides rounded to multiples of ``factor`` with area in ``[min_pixels, max_pixels]``."""
    if height <= 0 or width <= 0:
        raise BudgetError(f"frame size must be positive, got {height}x{width}")
    ratio = max(height, width) / min(height, width)
    if ratio > MAX_ASPECT_RATIO:
        raise BudgetError(
            f"aspect ratio {ratio:.1f} of a {height}x{width} frame exceeds {MAX_ASPECT_RATIO}"
        )
    h_bar = max(factor, round_by_factor(height, factor))
    w_bar = max(factor, round_by_factor(width, factor))
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = max(factor, floor_by_factor(height / beta, factor))
        w_bar = max(factor, floor_by_factor(width / beta, factor))
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = ceil_by_factor(height * beta, factor)
        w_bar = ceil_by_factor(width * beta, factor)
    return h_bar, w_bar


PRESETS: dict[str, VisionSpec] = {
    # Video-Thinker's published training and evaluation settings.
    "video-thinker": VisionSpec(nframes=16, min_pixels=128 * 28 * 28, max_pixels=128 * 28 * 28),
    # CPU-scale models: 8 frames of at most 112x112, 4x4 patches of 28 pixels per frame.
    "tiny": VisionSpec(nframes=8, min_pixels=56 * 56, max_pixels=112 * 112),
    # The same frames at 2 fps, so one temporal patch is one second of any clip's length.
    "tiny-2fps": VisionSpec(fps=2.0, min_pixels=56 * 56, max_pixels=112 * 112),
    # qwen-vl-utils' defaults: 2 fps, up to 768 tokens per frame pair.
    "qwen-default": VisionSpec(),
}


def get_spec(name: str) -> VisionSpec:
    """A named preset; the error lists the names that exist."""
    try:
        return PRESETS[name]
    except KeyError:
        raise BudgetError(
            f"unknown vision spec {name!r}; choose one of {', '.join(PRESETS)}"
        ) from None
