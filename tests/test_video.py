"""Videos: decode → translate → encode, sound kept, steady faces, bad input, nothing partial left behind."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import make_style
from gpdface.cli import app
from gpdface.errors import InputError
from gpdface.face.detect import DetectedFace
from gpdface.style import user_styles_dir
from gpdface.tracking import FaceTracker, OneEuroFilter, SmoothingConfig, is_scene_cut

av = pytest.importorskip("av", reason="PyAV is the video extra (pip install 'gpdface[video]')")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))  # the clips the benchmark uses
from clips import write_clip  # noqa: E402 — needs av and the path above

runner = CliRunner()


def streams(path):
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = [s for s in container.streams if s.type == "audio"]
        frames = sum(1 for _ in container.decode(video=0))
        return frames, video.average_rate, (video.width, video.height), len(audio)


@pytest.fixture
def clip(tmp_path, astronaut):
    path = tmp_path / "clip.mp4"
    write_clip(path, astronaut, frames=12)
    return path


@pytest.fixture
def translator(with_detector, tmp_path):
    from gpdface import Translator

    return Translator(make_style(tmp_path / "styles"), device="cpu")


def test_round_trip_keeps_frames_rate_size_and_sound(translator, clip, tmp_path):
    out = tmp_path / "out.mp4"
    summary = translator.translate_video(clip, out)
    assert streams(out) == streams(clip) == (12, 10, (320, 240), 1)
    assert summary.frames == 12 and summary.audio and summary.codec in ("libx264", "mpeg4")
    assert all(n == 1 for n in summary.faces_per_frame)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "out.mp4", "styles"]  # no temporary left


def test_start_and_duration_cut_a_preview(translator, clip, tmp_path):
    summary = translator.translate_video(clip, tmp_path / "part.mkv", start=0.3, duration=0.5)
    assert summary.frames == 5 and streams(tmp_path / "part.mkv")[0] == 5


def test_a_clip_without_faces_is_copied_through_with_a_warning(translator, no_face, tmp_path):
    write_clip(tmp_path / "coffee.mp4", no_face, frames=4, tone=False)
    summary = translator.translate_video(tmp_path / "coffee.mp4", tmp_path / "out.mp4")
    assert summary.frames == 4 and not any(summary.faces_per_frame)
    assert summary.warnings and "no face in any frame" in summary.warnings[0]


def test_an_interrupted_run_leaves_nothing_under_the_final_name(translator, clip, tmp_path):
    def interrupt(done, expected):
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        translator.translate_video(clip, tmp_path / "out.mp4", on_frame=interrupt)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "styles"]


@pytest.mark.parametrize("kind", ["text", "truncated", "audio only", "unknown codec"])
def test_bad_videos_are_one_line_input_errors(translator, clip, tmp_path, kind, astronaut):
    bad = tmp_path / "bad.mp4"
    if kind == "text":
        bad.write_text("not a video")
    elif kind == "truncated":
        bad.write_bytes(clip.read_bytes()[: clip.stat().st_size // 3])
    elif kind == "unknown codec":  # a Matroska file whose video codec ID names no codec FFmpeg knows
        write_clip(tmp_path / "c.mkv", astronaut, frames=3)
        body = (tmp_path / "c.mkv").read_bytes()
        assert b"V_MPEG4/ISO/" in body  # H.264 (AVC), or MPEG-4 Part 2 where the wheel lacks libx264
        bad.write_bytes(body.replace(b"V_MPEG4/ISO/", b"V_QQQQQ/ISO/"))
    else:
        _audio_only(bad)
    with pytest.raises(InputError) as info:
        translator.translate_video(bad, tmp_path / "out.mp4")
    assert "\n" not in str(info.value) and "bad.mp4" in str(info.value)
    assert not (tmp_path / "out.mp4").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def _audio_only(path) -> None:
    from clips import _write_tone

    with av.open(str(path), mode="w") as container:
        _write_tone(av, container, container.add_stream("aac", rate=44100), 0.5)


def test_between_whole_frame_searches_faces_are_found_near_where_they_were(translator, clip, tmp_path):
    detector = translator.detector
    calls = {"whole": 0, "near": 0}
    whole, near = detector.detect, detector.detect_near

    def count(name, function):
        def counted(*args):
            calls[name] += 1
            return function(*args)

        return counted

    detector.detect, detector.detect_near = count("whole", whole), count("near", near)
    every = translator.translate_video(clip, tmp_path / "every.mp4", detect_every=1)
    assert calls == {"whole": 12, "near": 0}
    calls.update(whole=0, near=0)
    sparse = translator.translate_video(clip, tmp_path / "sparse.mp4", detect_every=5)
    assert calls == {"whole": 3, "near": 9}  # frames 0, 5, 10 whole; the others near the face
    assert sparse.faces_per_frame == every.faces_per_frame == [1] * 12
    for (_, a), (_, b) in zip((t[0] for t in sparse.tracks), (t[0] for t in every.tracks), strict=True):
        assert np.abs(a - b).max() < 3.0  # landmarks as found by whole-frame detection, within 3 px


def test_a_face_lost_near_its_place_sends_the_next_frame_to_a_whole_search(translator, clip, tmp_path):
    detector = translator.detector
    calls = []
    whole = detector.detect
    detector.detect = lambda rgb: calls.append("whole") or whole(rgb)
    detector.detect_near = lambda rgb, face: calls.append("near") or None  # the face is never found near
    summary = translator.translate_video(clip, tmp_path / "lost.mp4", detect_every=5)
    assert calls[:4] == ["whole", "near", "whole", "near"] and summary.faces_per_frame == [1] * 12
    with pytest.raises(InputError, match="detect_every must be a whole number of frames ≥ 1"):
        translator.translate_video(clip, tmp_path / "x.mp4", detect_every=0)


def test_command_line_video_with_json_summary(clip, tmp_path, with_detector, astronaut):
    make_style(user_styles_dir(), "teststyle")
    out = tmp_path / "o.mp4"
    result = runner.invoke(app, ["translate", str(clip), "-o", str(out), "--style", "teststyle", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)["results"][0]
    assert record["frames"] == 12 and record["audio"] and record["outputs"] == [str(out)]
    image_out = runner.invoke(app, ["translate", str(clip), "-o", str(tmp_path / "o.png"), "--style", "teststyle"])
    assert image_out.exit_code == 2 and "write it to a video file" in image_out.stderr
    from PIL import Image

    Image.fromarray(astronaut).save(tmp_path / "x.png")
    stray = runner.invoke(app, ["translate", str(tmp_path / "x.png"), "--start", "1", "--style", "teststyle"])
    assert stray.exit_code == 2 and "--start and --duration cut videos" in stray.stderr
    zero = runner.invoke(app, ["translate", str(clip), "-o", str(out), "--style", "teststyle", "--detect-every", "0"])
    assert zero.exit_code == 2 and "--detect-every must be at least 1" in zero.stderr


def test_the_command_searches_whole_frames_as_often_as_the_api():
    import inspect

    from gpdface.cli.translate_cmd import translate
    from gpdface.video import DETECT_EVERY

    assert inspect.signature(translate).parameters["detect_every"].default == DETECT_EVERY


def test_a_face_keeps_its_identity_and_a_new_face_gets_a_new_one():
    tracker = FaceTracker()
    for frame in range(5):
        faces = [_face(100 + 3 * frame, 100)] + ([_face(300, 120)] if frame >= 3 else [])
        tracks = tracker.update(faces, frame / 10, frame)
    assert sorted(t.identity for t in tracks) == [0, 1]
    assert next(t for t in tracks if t.identity == 0).history == [0, 1, 2, 3, 4]


def test_a_missed_face_is_held_for_a_few_frames_then_dropped():
    tracker = FaceTracker(SmoothingConfig(max_missed=2))
    tracker.update([_face(100, 100)], 0.0)
    assert len(tracker.update([], 0.1)) == 1 and len(tracker.update([], 0.2)) == 1
    assert tracker.update([], 0.3) == []


def test_smoothing_removes_jitter_from_a_steady_face():
    rng = np.random.default_rng(0)
    truth = np.tile(_face(100, 100).landmarks.reshape(-1), (60, 1)).astype(float)
    noisy = truth + rng.normal(0, 1.5, truth.shape)
    smoother = OneEuroFilter(SmoothingConfig())
    smoothed = np.array([smoother(v, t / 25, scale=80.0) for t, v in enumerate(noisy)])
    raw_error = np.sqrt(((noisy[10:] - truth[10:]) ** 2).mean())
    smooth_error = np.sqrt(((smoothed[10:] - truth[10:]) ** 2).mean())
    assert smooth_error < 0.6 * raw_error  # 0.53 at the default settings


def test_scene_cut_is_told_from_motion(astronaut, no_face):
    shifted = np.roll(astronaut, 8, axis=1)
    assert not is_scene_cut(astronaut, shifted)
    assert is_scene_cut(astronaut, no_face[: astronaut.shape[0], : astronaut.shape[1]])


def _face(x: float, y: float, size: float = 80.0) -> DetectedFace:
    shape = np.array([[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 0.8], [0.65, 0.8]])  # eyes, nose, mouth corners
    landmarks = np.array([x, y]) + size * shape
    return DetectedFace((x, y, x + size, y + size), 0.99, landmarks.astype(np.float32))


def _clip_with_times(path, image, times, rotation=0):
    """A clip of ``image`` whose frames carry the given times (seconds), optionally stored turned with a
    display matrix that turns it back (as phones store portrait clips)."""
    from fractions import Fraction

    stored = np.ascontiguousarray(np.rot90(image, -round(rotation / 90))) if rotation else image
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=10)
        stream.width, stream.height = stored.shape[1], stored.shape[0]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            stream.set_display_rotation(rotation)
        for seconds in times:
            frame = av.VideoFrame.from_ndarray(stored, format="rgb24")
            frame.pts, frame.time_base = round(seconds * 1000), Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def _frame_times(path):
    with av.open(str(path)) as container:
        return [float(f.pts * f.time_base) for f in container.decode(video=0)]


def test_a_variable_frame_rate_clip_keeps_each_frames_time(translator, astronaut, tmp_path):
    """Frames at irregular times: the output keeps them (a nominal rate made 3.88 s of video 1.2 s long)."""
    picture = np.ascontiguousarray(astronaut[::2, ::2][:240, :240])
    times = [0.0, 0.1, 0.5, 0.6, 1.5, 1.6, 2.9, 3.0, 3.8]
    _clip_with_times(tmp_path / "vfr.mkv", picture, times)
    translator.translate_video(tmp_path / "vfr.mkv", tmp_path / "out.mp4")
    assert np.allclose(_frame_times(tmp_path / "out.mp4"), times, atol=0.002)


def test_a_clip_stored_on_its_side_is_drawn_upright(translator, astronaut, tmp_path):
    """A portrait clip stored turned, with a display matrix: faces are found upright and the output is
    written upright (its size turned), so it plays as the input does."""
    picture = np.ascontiguousarray(astronaut[::2, ::2][:256, :192])  # upright: 192 wide, 256 high
    _clip_with_times(tmp_path / "side.mp4", picture, [0.0, 0.1, 0.2], rotation=-90)
    summary = translator.translate_video(tmp_path / "side.mp4", tmp_path / "out.mp4")
    assert summary.size == (192, 256) and all(summary.faces_per_frame)
    with av.open(str(tmp_path / "out.mp4")) as container:
        frame = next(container.decode(video=0))
        assert (frame.width, frame.height) == (192, 256) and not frame.rotation


def test_a_matroska_file_cut_short_is_an_error_not_a_short_video(translator, astronaut, tmp_path):
    write_clip(tmp_path / "full.mkv", astronaut, frames=20)
    body = (tmp_path / "full.mkv").read_bytes()
    (tmp_path / "cut.mkv").write_bytes(body[: int(len(body) * 0.6)])
    with pytest.raises(InputError, match="cut short") as caught:
        translator.translate_video(tmp_path / "cut.mkv", tmp_path / "out.mp4")
    assert "\n" not in str(caught.value) and not (tmp_path / "out.mp4").exists()


def test_frames_over_the_pixel_limit_are_refused_before_decoding(with_detector, tmp_path, astronaut):
    from gpdface import Translator

    small = Translator(make_style(tmp_path / "styles"), device="cpu", max_pixels=50_000)
    write_clip(tmp_path / "c.mp4", astronaut, frames=2)  # 320×240 = 76,800 pixels a frame
    with pytest.raises(InputError, match="exceed the limit of 50,000"):
        small.translate_video(tmp_path / "c.mp4", tmp_path / "out.mp4")


def test_a_clip_whose_text_tags_are_not_utf8_is_still_drawn(translator, clip, tmp_path):
    """Found by tools/fuzz.py: PyAV decoded the container's tags strictly, and a damaged tag crashed the read."""
    body = clip.read_bytes()
    tag = body.rfind(b"Lavf")  # the muxer's name, in the file's tags
    assert tag > 0
    damaged = tmp_path / "tags.mp4"
    damaged.write_bytes(body[:tag] + b"\xff\xfe\xfd\xfc" + body[tag + 4 :])
    import av

    with pytest.raises(UnicodeDecodeError):  # the damage is the one the fuzz case had
        av.open(str(damaged)).close()
    summary = translator.translate_video(damaged, tmp_path / "out.mp4")
    assert summary.frames == 12
