"""ONNX export of the student and the ONNX Runtime backend (the onnx extra)."""

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import make_style
from gpdface.cli import app

pytest.importorskip("onnxruntime", reason="ONNX Runtime is the onnx extra (pip install 'gpdface[onnx]')")
pytest.importorskip("onnxscript", reason="the exporter needs onnxscript (the onnx extra)")

from gpdface.onnx_export import check_onnx_student, export_student_onnx, ort_session


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx")
    style = make_style(folder, "tiny", crop_size=64)
    return style, export_student_onnx(style, folder / "tiny.onnx")


def test_the_export_equals_pytorch_for_any_batch_and_size(exported):
    from gpdface.style import load_style

    style, path = exported
    model = load_style(style).model
    session = ort_session(path, "cpu")
    for shape in [(1, 3, 64, 64), (3, 3, 128, 96)]:  # dynamic batch, height and width
        x = torch.rand(shape) * 2 - 1
        with torch.inference_mode():
            expected = model(x).numpy()
        assert np.abs(session.run(None, {"image": x.numpy()})[0] - expected).max() < 1e-3
    assert check_onnx_student(model, path, 64) < 1e-3


def test_the_check_fails_for_a_graph_of_other_weights(exported):
    from gpdface.errors import WeightsError
    from gpdface.style import load_style

    style, path = exported
    other = load_style(style).model
    with torch.no_grad():
        next(other.parameters()).add_(0.5)
    with pytest.raises(WeightsError, match="differs from PyTorch"):
        check_onnx_student(other, path, 64)


def test_onnxruntime_backend_draws_what_torch_draws(with_detector, astronaut, tmp_path):
    from gpdface import Translator

    style = make_style(tmp_path, "tiny")
    torch_result = Translator(style, device="cpu")(astronaut)
    ort_result = Translator(style, device="cpu", backend="onnxruntime")(astronaut)
    difference = np.abs(torch_result.faces[0].crop.astype(int) - ort_result.faces[0].crop.astype(int))
    assert difference.max() <= 1  # the same drawing, up to rounding to uint8


def test_export_command_and_backend_flag(tmp_path, with_detector):
    runner = CliRunner()
    target = tmp_path / "sketch.onnx"
    result = runner.invoke(app, ["export", "onnx", "--style", "sketch", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert target.is_file() and "multiples of 8" in result.stdout
    again = runner.invoke(app, ["export", "onnx", "--style", "sketch", "-o", str(target)])
    assert again.exit_code == 2 and "--overwrite" in again.stderr
    bad = runner.invoke(app, ["translate", str(target), "--backend", "tensorrt"])
    assert bad.exit_code == 2 and "--backend must be one of torch, onnxruntime" in bad.stderr


@pytest.mark.slow
def test_the_exported_detector_finds_what_the_pytorch_one_finds(tmp_path, with_detector, astronaut, grace_hopper):
    """The command's file, run in ONNX Runtime and decoded with gpdface's anchors, gives the same faces."""
    import cv2

    from gpdface.face.detect import _BGR_MEAN, RetinaFaceDetector, _anchors, _decode, _frozen

    target = tmp_path / "retinaface.onnx"
    result = CliRunner().invoke(app, ["export", "onnx", "--detector", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert "'boxes', 'scores', 'landmarks'" in result.stdout
    detector = RetinaFaceDetector()
    session = ort_session(target, "cpu")
    cfg = detector.model.cfg
    for photo in (astronaut, cv2.resize(grace_hopper, (217, 301))):  # the graph's height and width are dynamic
        height, width = photo.shape[:2]
        x = torch.from_numpy(cv2.cvtColor(photo, cv2.COLOR_RGB2BGR)) - _BGR_MEAN
        boxes, scores, landmarks = session.run(None, {"image": x.permute(2, 0, 1)[None].contiguous().numpy()})
        anchors = _anchors(height, width, _frozen(cfg["min_sizes"]), tuple(cfg["steps"]))
        rows = _decode(
            torch.from_numpy(boxes[0]), torch.from_numpy(scores[0, :, 1]), torch.from_numpy(landmarks[0]),
            anchors, cfg["variance"], (width, height), detector.threshold,
        )  # fmt: skip
        expected = detector._run_network(photo)
        assert rows.shape == expected.shape and len(rows) >= 1
        assert np.abs(rows - expected).max() < 1e-2
