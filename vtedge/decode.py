"""Decode the sampled frames of a video with PyAV, resized and upright as they are decoded.

Each wanted frame is converted to RGB at its final size by swscale the moment it is
decoded, so a 4K or 8K video never holds more than two full-size frames at once. When few
frames of a long video are wanted the reader seeks to the keyframe before each target and
decodes forward to it; otherwise (dense targets, or a seek that lands wrong) it decodes
the whole stream once. Both pick exactly the same frames (see ``vtedge.sampling``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vtedge.errors import BudgetError, MissingPathError, VideoDecodeError
from vtedge.sampling import is_nearer_previous

# Decoded pixels per frame (the source size, before resizing) a video may have: 8192x8192,
# room for 8K UHD and DCI 8K. A larger frame would need hundreds of MB per decoded picture
# (and a decoder keeps several), so it is refused before decoding starts.
MAX_SOURCE_PIXELS = 8192 * 8192

# A target up to this many frame steps past the last decoded frame takes the last frame:
# a frame count estimated from duration x rate can be off by one or two.
END_TOLERANCE_FRAMES = 2

# A linear pass reports progress this often (frames).
PROGRESS_EVERY = 64

# Without a container index, assume libx264's default keyframe interval (frames).
DEFAULT_KEYFRAME_INTERVAL = 250

INTERPOLATION = {
    "bicubic": "BICUBIC",
    "bilinear": "BILINEAR",
    "lanczos": "LANCZOS",
    "area": "AREA",
    "nearest": "POINT",
}

STRATEGIES = ("auto", "seek", "linear")


@dataclass(frozen=True)
class StreamInfo:
    """What the container says about its video stream, with the first frame's facts."""

    codec: str
    height: int  # upright: after applying the rotation
    width: int
    rotation: int  # degrees counterclockwise that make a decoded frame upright
    fps: float
    start: float  # pts of the first frame, seconds
    duration: float
    total_frames: int
    frames_exact: bool  # False: estimated from duration x rate
    keyframe_interval: float  # frames between keyframes (estimated)


@dataclass
class Decoded:
    """Frames picked for the targets, and how they were found."""

    frames: list[np.ndarray] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    strategy: str = "linear"
    complete: bool = False  # every target got a frame
    scanned_times: list[float] | None = None  # pts of every readable frame, after a full pass
    error: str | None = None  # why decoding stopped before the end of the file


class _SeekFailed(Exception):
    """A seek could not reach a target; the caller decodes linearly instead."""


def _reason(error: Exception) -> str:
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return text[0].lower() + text[1:] if text else text


def check_video_path(path: Path) -> None:
    """The typed errors for a path that cannot be a video, before PyAV sees it."""
    if not path.exists():
        raise MissingPathError(f"{path}: no such file")
    if path.is_dir():
        raise MissingPathError(f"{path}: is a directory, not a video file")
    if not path.is_file():
        raise MissingPathError(f"{path}: is not a regular file")
    if path.stat().st_size == 0:
        raise VideoDecodeError(f"{path}: file is empty")


def _looks_like_mp4(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(12)[4:8] == b"ftyp"


class VideoReader:
    """One open video stream: probes it on open, then reads frames near target times."""

    def __init__(self, path: str | Path):
        import av

        self._av = av
        self.path = Path(path)
        check_video_path(self.path)
        self._container = None
        self.frames_decoded = 0  # every picture decoded through this reader
        self.on_progress = None  # called as (frames scanned, frames expected) on long passes
        self._error: str | None = None
        try:
            self._open()
            self.info = self._probe()
        except BaseException:
            self.close()
            raise

    # -- opening and probing -------------------------------------------------------------

    def _open(self) -> None:
        av = self._av
        try:
            self._container = av.open(str(self.path))
        except av.error.FFmpegError as error:
            if _looks_like_mp4(self.path):
                raise VideoDecodeError(
                    f"{self.path}: MP4/MOV header found but its index (moov atom) is missing "
                    f"or unreadable ({_reason(error)}); the file is probably truncated"
                ) from None
            raise VideoDecodeError(
                f"{self.path}: not a readable video container ({_reason(error)})"
            ) from None
        if not self._container.streams.video:
            kinds = sorted({s.type for s in self._container.streams}) or ["none"]
            raise VideoDecodeError(
                f"{self.path}: no video stream (streams found: {', '.join(kinds)})"
            )
        self._stream = self._container.streams.video[0]
        if self._stream.codec_context is None:
            raise VideoDecodeError(
                f"{self.path}: the video stream cannot be decoded (no codec parameters: the "
                f"file is damaged or uses a codec this PyAV build lacks)"
            )
        self._stream.thread_type = "AUTO"
        self._first_frame = None

    def _check_budget(self, width: int, height: int) -> None:
        if width * height > MAX_SOURCE_PIXELS:
            raise BudgetError(
                f"{self.path}: {width}x{height} frames exceed the decode budget of "
                f"{MAX_SOURCE_PIXELS:,} pixels per frame (8192x8192)"
            )

    def _probe(self) -> StreamInfo:
        stream = self._stream
        context = stream.codec_context
        self._check_budget(context.width or 0, context.height or 0)
        # Keep the generator: a decoder may already hold the next frames in its output list.
        self._rest = self._frames(self._container.decode(stream))
        first = next(self._rest, None)
        if first is None:
            why = f" ({self._error})" if self._error else ""
            raise VideoDecodeError(
                f"{self.path}: the {stream.codec_context.name} video stream has no decodable "
                f"frame{why}"
            )
        self._check_budget(first.width, first.height)
        self._first_frame = first
        # PyAV >= 14 reads the display matrix; quarter turns only (what phones write).
        rotation = int(round((getattr(first, "rotation", 0) or 0) / 90)) * 90 % 360
        height, width = first.height, first.width
        if rotation in (90, 270):
            height, width = width, height
        fps = self._rate()
        start = self._time(first, 0.0)
        duration, total, exact = self._length(fps)
        return StreamInfo(
            codec=context.name,
            height=height,
            width=width,
            rotation=rotation,
            fps=fps,
            start=start,
            duration=duration,
            total_frames=total,
            frames_exact=exact,
            keyframe_interval=self._keyframe_interval(total),
        )

    def _rate(self) -> float:
        stream = self._stream
        for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
            if rate and float(rate) > 0:
                return float(rate)
        raise VideoDecodeError(f"{self.path}: the video stream has no frame rate")

    def _length(self, fps: float) -> tuple[float, int, bool]:
        """Duration in seconds and frame count; the count is estimated when not indexed."""
        stream, container = self._stream, self._container
        duration = None
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / 1_000_000
        if stream.frames and stream.frames > 0:
            return duration or stream.frames / fps, int(stream.frames), True
        if duration:
            return duration, max(1, round(duration * fps)), False
        # Neither index nor duration (raw elementary streams): count packets once.
        count = sum(1 for packet in container.demux(stream) if packet.size)
        self._restart()
        return count / fps, max(1, count), False

    def _keyframe_interval(self, total: int) -> float:
        entries = self._stream.index_entries
        keyframes = sum(1 for entry in entries if entry.is_keyframe) if entries else 0
        if keyframes:
            return max(1.0, total / keyframes)
        return float(DEFAULT_KEYFRAME_INTERVAL)

    # -- decoding ------------------------------------------------------------------------

    def _time(self, frame, fallback: float) -> float:
        return float(frame.time) if frame.time is not None else fallback

    def _frames(self, source: Iterator) -> Iterator:
        """Frames until the end of the stream or the first decode error (recorded)."""
        try:
            for frame in source:
                self.frames_decoded += 1
                yield frame
        except self._av.error.EOFError:
            return
        except self._av.error.FFmpegError as error:
            self._error = _reason(error)

    def _restart(self) -> None:
        self.close()
        self._open()

    def _from_start(self) -> Iterator:
        if self._first_frame is not None:
            first, self._first_frame = self._first_frame, None
            return itertools.chain([first], self._rest)
        self._restart()
        return self._frames(self._container.decode(self._stream))

    def _converter(self, height: int, width: int, resize_filter: str):
        reformatter = self._av.video.reformatter.VideoReformatter()
        quarter_turns = self.info.rotation // 90
        # swscale resizes the stored picture; it is turned upright afterwards.
        h, w = (width, height) if quarter_turns % 2 else (height, width)
        interpolation = INTERPOLATION[resize_filter]

        def convert(frame) -> np.ndarray:
            rgb = reformatter.reformat(
                frame, width=w, height=h, format="rgb24", interpolation=interpolation
            ).to_ndarray()
            if quarter_turns:
                rgb = np.ascontiguousarray(np.rot90(rgb, quarter_turns))
            return rgb

        return convert

    def read(
        self,
        targets: np.ndarray,
        height: int,
        width: int,
        resize_filter: str = "bicubic",
        strategy: str = "auto",
        scan_to_end: bool = False,
    ) -> Decoded:
        """The frame nearest each target time (sorted seconds), resized to ``height x width``.

        ``scan_to_end`` makes a linear pass read the whole stream so that its frame count
        and readable span are known.
        """
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
        targets = np.asarray(targets, dtype=np.float64)
        convert = self._converter(height, width, resize_filter)
        if strategy == "auto":
            wanted = len(np.unique(targets))
            sparse = wanted * self.info.keyframe_interval < self.info.total_frames
            strategy = "seek" if sparse else "linear"
        self._error = None
        if strategy == "seek":
            try:
                return self._read_seek(targets, convert)
            except _SeekFailed:
                scan_to_end = True
        return self._read_linear(targets, convert, scan_to_end)

    def _read_linear(self, targets, convert, scan_to_end: bool) -> Decoded:
        picker = _Picker(targets, convert)
        scanned: list[float] = []
        step = 1 / self.info.fps
        time = self.info.start - step
        reached_end = True
        for frame in self._from_start():
            time = self._time(frame, time + step)
            scanned.append(time)
            if self.on_progress is not None and len(scanned) % PROGRESS_EVERY == 0:
                self.on_progress(len(scanned), self.info.total_frames)
            picker.offer(frame, time)
            if picker.done and not scan_to_end:
                reached_end = False
                break
        if not picker.done:
            picker.finish_at_end(END_TOLERANCE_FRAMES * step)
        return picker.result(
            strategy="linear",
            scanned_times=scanned if reached_end else None,
            error=self._error,
        )

    def _read_seek(self, targets, convert) -> Decoded:
        picker = _Picker(targets, convert)
        self._first_frame = None  # seeking moves the container; a linear pass reopens it
        step = 1 / self.info.fps
        # Seeking pays off only past the next keyframe, which is about one interval away.
        reach = self.info.keyframe_interval * step
        frames: Iterator | None = None
        position = self.info.start
        sought: float | None = None  # the target of the last seek; never seek twice for one
        while not picker.done:
            if frames is None or (picker.pending != sought and picker.pending - position > reach):
                sought = picker.pending
                frames = self._seek_before(sought)
                picker.forget_previous()
            for frame in frames:
                position = self._time(frame, position + step)
                picker.offer(frame, position)
                if picker.done or (picker.pending != sought and picker.pending - position > reach):
                    break
            else:
                if not picker.finish_at_end(END_TOLERANCE_FRAMES * step):
                    raise _SeekFailed
        return picker.result(strategy="seek", error=None)

    def _seek_before(self, target: float) -> Iterator:
        """Frames from a keyframe at or before ``target``; backs off if the seek lands late."""
        stream = self._stream
        base = float(stream.time_base)
        for back_frames in (0, 8, 64, math.inf):
            when = target - back_frames / self.info.fps
            if when <= self.info.start or math.isinf(back_frames):
                offset = stream.start_time if stream.start_time is not None else 0
            else:
                offset = int(math.floor(when / base))
            try:
                self._container.seek(offset, backward=True, stream=stream)
            except self._av.error.FFmpegError as error:
                raise _SeekFailed from error
            frames = self._frames(self._container.decode(stream))
            first = next(frames, None)
            if first is None:
                raise _SeekFailed
            if first.time is None or first.time <= target:
                return itertools.chain([first], frames)
        raise _SeekFailed

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Picker:
    """Resolves sorted target times against frames arriving in presentation order."""

    def __init__(self, targets: np.ndarray, convert):
        self.targets = targets
        self.convert = convert
        self.next = 0
        self.previous = None  # (frame, time) of the last frame offered
        self.frames: list[np.ndarray] = []
        self.times: list[float] = []
        self._last_taken = None

    @property
    def done(self) -> bool:
        return self.next >= len(self.targets)

    @property
    def pending(self) -> float:
        return float(self.targets[self.next])

    def forget_previous(self) -> None:
        self.previous = None

    def _take(self, frame, time: float) -> None:
        if self._last_taken is not None and self._last_taken[0] is frame:
            rgb = self._last_taken[1]
        else:
            rgb = self.convert(frame)
            self._last_taken = (frame, rgb)
        self.frames.append(rgb)
        self.times.append(time)

    def offer(self, frame, time: float) -> None:
        while not self.done and time >= self.targets[self.next]:
            target = self.targets[self.next]
            if self.previous is not None and is_nearer_previous(target, self.previous[1], time):
                self._take(*self.previous)
            else:
                self._take(frame, time)
            self.next += 1
        self.previous = (frame, time)

    def finish_at_end(self, tolerance: float) -> bool:
        """Targets just past the last frame take it; False if one is further away."""
        while not self.done and self.previous is not None:
            if self.targets[self.next] - self.previous[1] > tolerance:
                return False
            self._take(*self.previous)
            self.next += 1
        return self.done

    def result(self, **fields) -> Decoded:
        return Decoded(frames=self.frames, times=self.times, complete=self.done, **fields)
