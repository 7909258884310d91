"""``load_clip`` over codecs, containers, bit depths, rotation, variable frame rate, seeking,
damaged tails and every kind of bad input, on files the tests make."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import videos

from vtedge import BudgetError, MissingPathError, VideoDecodeError
from vtedge.decode import VideoReader
from vtedge.spec import PRESETS
from vtedge.video import Clip, TruncatedVideoWarning, load_clip

SPEC = PRESETS["tiny"].replace(nframes=6)


def assert_numbered(clip: Clip) -> None:
    """The decoded frames are the numbered source frames the sampled indices name."""
    assert [videos.frame_number(frame) for frame in clip.frames] == list(clip.indices)


def assert_same_frames(a: Clip, b: Clip) -> None:
    assert a.timestamps == b.timestamps
    assert a.indices == b.indices
    np.testing.assert_array_equal(a.frames, b.frames)


@pytest.mark.parametrize("name", [name for name in videos.CODECS if name != "av1"])
def test_codecs_and_containers_decode_the_sampled_frames(tmp_path, name):
    path = videos.make_codec_clip(tmp_path, name)
    seek = load_clip(path, SPEC, strategy="seek")
    linear = load_clip(path, SPEC, strategy="linear")
    assert seek.frames.dtype == np.uint8
    assert seek.frames.shape == (6, seek.height, seek.width, 3)
    assert (seek.height, seek.width) == SPEC.frame_size(64, 96, 6)
    assert seek.total_frames == 24 and seek.fps == 12
    assert seek.indices == (0, 5, 9, 14, 18, 23)
    assert seek.timestamps == pytest.approx([i / 12 for i in seek.indices], abs=1e-3)
    assert_numbered(seek)
    assert_same_frames(seek, linear)
    assert seek.warnings == ()


def test_av1_decodes(tmp_path):
    videos.require_encoder("libsvtav1")
    # SVT-AV1 switches its calling thread to real-time scheduling; keep it out of this process.
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import videos; from pathlib import Path;"
            "videos.make_codec_clip(Path(sys.argv[2]), 'av1')")
    subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent), str(tmp_path)],
                   check=True, capture_output=True, timeout=60)
    clip = load_clip(tmp_path / "av1.mkv", SPEC)
    assert_numbered(clip)
    assert_same_frames(clip, load_clip(tmp_path / "av1.mkv", SPEC, strategy="seek"))


def test_clip_numbers_follow_the_spec(tmp_path):
    path = videos.make_codec_clip(tmp_path, "h264", count=30)
    spec = dataclasses.replace(PRESETS["tiny"], nframes=None, fps=4.0, min_frames=2)
    clip = load_clip(path, spec)
    n = spec.num_frames(30, 12.0)
    assert len(clip.frames) == n == 10
    assert clip.sample_fps == pytest.approx(n / 30 * 12)
    assert clip.second_per_grid_t == pytest.approx(2 / clip.sample_fps)
    assert clip.grid_thw == spec.grid_thw(n, clip.height, clip.width)
    assert clip.video_tokens == spec.video_tokens(clip.grid_thw)
    assert clip.duration == pytest.approx(2.5)
    assert (clip.source_height, clip.source_width) == (64, 96)


def test_frame_count_is_estimated_without_an_index_and_checked(tmp_path):
    path = videos.make_codec_clip(tmp_path, "vp9", count=24)
    with VideoReader(path) as reader:
        assert not reader.info.frames_exact
        assert reader.info.total_frames == 24
    clip = load_clip(path, SPEC, strategy="linear")
    assert clip.total_frames == 24 and clip.warnings == ()


@pytest.mark.parametrize(("degrees", "corner"), [(90, (1, 0)), (-90, (0, 1)), (180, (1, 1))])
def test_rotation_metadata_turns_frames_upright(tmp_path, degrees, corner):
    path = videos.write_video(tmp_path / "rotated.mp4", videos.marker_frames(4), 12,
                              options={"preset": "ultrafast"}, rotation=degrees)
    spec = PRESETS["tiny"].replace(nframes=2, min_pixels=784, max_pixels=112 * 112)
    clip = load_clip(path, spec)
    # Counterclockwise by the display matrix angle, as PyAV's ``frame.rotation`` defines it.
    assert clip.rotation == degrees % 360
    expected = np.rot90(videos.marker_frames(1)[0], degrees // 90)
    assert (clip.source_height, clip.source_width) == expected.shape[:2]
    assert (clip.height, clip.width) == spec.frame_size(*expected.shape[:2], 2)
    frame = clip.frames[0]
    red = (frame[..., 0] > 150) & (frame[..., 1] < 100)
    rows, cols = np.nonzero(red)
    assert (rows.mean() > frame.shape[0] / 2, cols.mean() > frame.shape[1] / 2) == corner


def test_variable_frame_rate_takes_the_frame_nearest_each_uniform_time(tmp_path):
    path, times = videos.make_vfr_clip(tmp_path / "vfr.mp4")
    spec = PRESETS["tiny"].replace(nframes=8)
    clip = load_clip(path, spec, strategy="linear")
    assert clip.total_frames == len(times) == 32
    # The documented rule, worked by hand: 32 frames over 5.375 s is 5.95 fps on a uniform
    # timeline; indices 0, 4, 9, 13, 18, 22, 27, 31 fall at 0, 0.67, 1.51, 2.18, 3.02, 3.70,
    # 4.54, 5.21 s, nearest the 4 fps frames 0, 3, 6, 9 and 22, 25, 28, 31 (none of the
    # 24 fps burst in 2.5-2.96 s).
    assert clip.duration == pytest.approx(5.375) and clip.indices == (0, 4, 9, 13, 18, 22, 27, 31)
    expected = [0, 3, 6, 9, 22, 25, 28, 31]
    assert [videos.frame_number(frame) for frame in clip.frames] == expected
    assert clip.timestamps == pytest.approx(np.asarray(times)[expected], abs=1e-3)
    assert_same_frames(clip, load_clip(path, spec, strategy="seek"))


def test_variable_frame_rate_without_an_index_corrects_the_count(tmp_path):
    _, times = videos.make_vfr_clip(tmp_path / "vfr.mp4")
    path = videos.write_video(tmp_path / "vfr.mkv", videos.numbered_frames(len(times)), 8,
                              options={"preset": "ultrafast", "g": "8"}, times=times)
    spec = PRESETS["tiny"].replace(nframes=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        linear = load_clip(path, spec, strategy="linear")
        seek = load_clip(path, spec, strategy="seek")
    assert linear.total_frames == len(times)  # the 8 fps estimate said 43
    assert linear.fps == pytest.approx(len(times) / linear.duration)
    assert linear.timestamps == seek.timestamps
    assert linear.timestamps[-1] == pytest.approx(times[-1], abs=1e-3)


def test_seeking_decodes_fewer_frames_and_the_same_pixels(tmp_path):
    path = videos.make_long_clip(tmp_path / "long.mp4")
    spec = PRESETS["tiny"].replace(nframes=8)
    auto = load_clip(path, spec)
    linear = load_clip(path, spec, strategy="linear")
    assert auto.strategy == "seek" and linear.strategy == "linear"
    assert linear.frames_decoded == 200
    assert auto.frames_decoded < 100
    assert_same_frames(auto, linear)
    assert [videos.frame_number(f) for f in auto.frames] == [i % 25 for i in auto.indices]


def test_a_whole_pass_reports_progress(tmp_path):
    path = videos.make_long_clip(tmp_path / "long.mp4")
    calls = []
    load_clip(path, SPEC, strategy="linear", progress=lambda done, total: calls.append(
        (done, total)))
    assert calls == [(64, 200), (128, 200), (192, 200)]


def test_large_input_is_resized_within_budget(tmp_path):
    frames = videos.numbered_frames(2, height=2160, width=3840)
    path = videos.write_video(tmp_path / "uhd.mp4", frames, 4, options={"preset": "ultrafast"})
    spec = PRESETS["video-thinker"].replace(nframes=2)
    clip = load_clip(path, spec)
    assert (clip.height, clip.width) == spec.frame_size(2160, 3840, 2)
    assert clip.height * clip.width <= 128 * 28 * 28
    assert_numbered(clip)


@pytest.mark.parametrize("source", ["faststart.mp4", "plain.mkv", "plain.webm"])
def test_corrupt_tail_yields_the_readable_span_with_a_warning(tmp_path, source):
    options = {"preset": "ultrafast", "g": "5"}
    codec = "libx264"
    if source.endswith("webm"):
        codec, options = "libvpx-vp9", {"deadline": "realtime", "cpu-used": "8", "g": "5"}
    container = {"movflags": "faststart"} if source.startswith("faststart") else None
    whole = videos.write_video(tmp_path / source, videos.numbered_frames(30), 12, codec,
                               options=options, container_options=container)
    path = videos.make_truncated(tmp_path / f"cut-{source}", whole, 0.6)
    for strategy in ("seek", "linear"):
        with pytest.warns(TruncatedVideoWarning, match="cut-"):
            clip = load_clip(path, SPEC, strategy=strategy)
        assert clip.warnings and str(path) in clip.warnings[0]
        assert 6 <= clip.total_frames < 30
        assert clip.indices[-1] == clip.total_frames - 1
        assert clip.duration == pytest.approx(clip.total_frames / 12, abs=0.01)
        assert_numbered(clip)


def _bad_inputs(tmp: Path) -> dict[str, tuple[Path, type]]:
    plain = videos.write_video(tmp / "plain.mp4", videos.numbered_frames(12), 12,
                               options={"preset": "ultrafast"})
    (tmp / "empty.mp4").write_bytes(b"")
    (tmp / "random.mp4").write_bytes(np.random.default_rng(0).bytes(20000))
    (tmp / "notes.mp4").write_text("this is a text file, not a video\n" * 40)
    (tmp / "folder.mp4").mkdir()
    return {
        "missing": (tmp / "missing.mp4", MissingPathError),
        "directory": (tmp / "folder.mp4", MissingPathError),
        "empty": (tmp / "empty.mp4", VideoDecodeError),
        "random": (tmp / "random.mp4", VideoDecodeError),
        "text": (tmp / "notes.mp4", VideoDecodeError),
        "audio-only": (videos.make_audio_only(tmp / "audio.m4a"), VideoDecodeError),
        "no-index": (videos.make_without_index(tmp / "no-moov.mp4", plain), VideoDecodeError),
        "damaged-index": (videos.make_truncated(tmp / "cut-moov.mp4", plain, 0.8),
                          VideoDecodeError),
        "header-only": (videos.make_truncated(tmp / "header.mp4", plain, 0.01),
                        VideoDecodeError),
        "aspect": (videos.write_video(tmp / "thin.mkv", [np.zeros((2, 420, 3), np.uint8)] * 8,
                                      4, "ffv1"), BudgetError),
        "over-budget": (videos.make_raw_clip(tmp / "huge.nut", 8200, 8200), BudgetError),
    }


BAD = ["missing", "directory", "empty", "random", "text", "audio-only", "no-index",
       "damaged-index", "header-only", "aspect", "over-budget"]


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    return _bad_inputs(tmp_path_factory.mktemp("bad"))


@pytest.mark.parametrize("kind", BAD)
def test_bad_input_raises_a_typed_one_line_error(bad_inputs, kind):
    path, error_type = bad_inputs[kind]
    with pytest.raises(error_type) as raised:
        load_clip(path, SPEC)
    message = str(raised.value)
    assert str(path) in message and "\n" not in message
