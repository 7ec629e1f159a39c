"""The student (and the face detector) as ONNX: exported, checked against PyTorch, run by ONNX Runtime.

``gpdface export onnx --style NAME -o student.onnx`` writes the file; ``Translator(..., backend=
"onnxruntime")`` exports into ``$GPDFACE_HOME/onnx/`` on first use (named by the weights' sha256, so a
retrained style gets a new file) and runs it there. The graph has a dynamic batch, height and width
(multiples of the student's 2ⁿ), float32 in and out, in [-1, 1] like the PyTorch student.

``gpdface export onnx --detector -o retinaface.onnx`` writes RetinaFace's network (batch norm folded) with a
dynamic height and width: input ``image`` (1×3×H×W, BGR, float32, the channel means 104, 117, 123
subtracted), outputs ``boxes`` (1×A×4), ``scores`` (1×A×2, softmax: background, face) and ``landmarks``
(1×A×10), offsets against RetinaFace's A anchors; ``gpdface.face.detect`` documents the anchors and the
decoding (``_anchors``, ``_decode``) for those who run it elsewhere.

Every export is checked: ONNX Runtime's outputs on random inputs of two shapes must equal PyTorch's to 1e-3.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
from pathlib import Path

import numpy as np
import torch

from .errors import InputError, WeightsError
from .hub import gpdface_home, sha256_of
from .imageio import replaced_on_success
from .style import Style, load_style

TOLERANCE = 1e-3
OPSET = 18


def export_student_onnx(style: str | Path | Style, path: str | os.PathLike) -> Path:
    """Write ``style``'s student to ``path`` as ONNX (dynamic batch and size) and check it.

    Raises:
        InputError: the ONNX packages are missing (``pip install "gpdface[onnx]"``).
        WeightsError: the exported graph does not reproduce the PyTorch student.
    """
    style = style if isinstance(style, Style) else load_style(style)
    _require("onnx", "onnxscript", "onnxruntime")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # a copy in the default memory format: a translator may have made the style's own model channels-last,
    # whose strides the exporter would otherwise fix into the graph
    model = copy.deepcopy(style.model).float().cpu().to(memory_format=torch.contiguous_format).eval()
    size = style.info.crop_size
    dims = {0: torch.export.Dim("batch"), 2: torch.export.Dim("height"), 3: torch.export.Dim("width")}
    with replaced_on_success(path) as temporary:
        with contextlib.redirect_stdout(io.StringIO()):  # the exporter narrates every pass on stdout
            torch.onnx.export(
                model, (torch.zeros(1, 3, size, size),), str(temporary), input_names=["image"],
                output_names=["drawing"], dynamic_shapes={"x": dims}, opset_version=OPSET, dynamo=True,
                external_data=False,
            )  # fmt: skip
        check_onnx_student(model, temporary, size)
    return path


def check_onnx_student(model: torch.nn.Module, path: Path, size: int) -> float:
    """The largest difference between ONNX Runtime and PyTorch on two random inputs of different shapes.

    Raises:
        WeightsError: it exceeds ``TOLERANCE``.
    """
    generator = torch.Generator().manual_seed(0)
    shapes = ((2, 3, size, size), (1, 3, size * 2, size + size // 2))
    inputs = [torch.rand(shape, generator=generator) * 2 - 1 for shape in shapes]
    return _check_against_torch(model, path, inputs, "the student")


def export_detector_onnx(path: str | os.PathLike, name: str | None = None) -> Path:
    """Write the face detector's network to ``path`` as ONNX (dynamic height and width) and check it.

    Raises:
        InputError: the ONNX packages are missing.
        WeightsError: the detector's weights cannot be found, or the export does not reproduce PyTorch.
    """
    from .face.detect import DEFAULT_DETECTOR, RetinaFaceDetector

    _require("onnx", "onnxscript", "onnxruntime")
    path = Path(path)
    network = RetinaFaceDetector(name or DEFAULT_DETECTOR).model  # batch norm folded at load
    model = copy.deepcopy(network).cpu().to(memory_format=torch.contiguous_format).eval()
    dims = {2: torch.export.Dim("height", min=32, max=8192), 3: torch.export.Dim("width", min=32, max=8192)}
    with replaced_on_success(path) as temporary:
        with contextlib.redirect_stdout(io.StringIO()):
            torch.onnx.export(
                model, (torch.zeros(1, 3, 640, 480),), str(temporary), input_names=["image"],
                output_names=["boxes", "scores", "landmarks"], dynamic_shapes={"inputs": dims},
                opset_version=OPSET, dynamo=True, external_data=False,
            )  # fmt: skip
        generator = torch.Generator().manual_seed(0)
        inputs = [torch.rand(shape, generator=generator) * 255 - 115 for shape in ((1, 3, 320, 240), (1, 3, 333, 517))]
        _check_against_torch(model, temporary, inputs, "the detector")
    return path


def _check_against_torch(model: torch.nn.Module, path: Path, inputs: list[torch.Tensor], what: str) -> float:
    """The largest difference between ONNX Runtime's outputs and PyTorch's on ``inputs``.

    Raises:
        WeightsError: it exceeds ``TOLERANCE``.
    """
    session = ort_session(path, "cpu")
    worst = 0.0
    for x in inputs:
        with torch.inference_mode():
            expected = model(x)
        expected = [expected] if isinstance(expected, torch.Tensor) else list(expected)
        actual = session.run(None, {"image": x.numpy()})
        for mine, theirs in zip(actual, expected, strict=True):
            worst = max(worst, float(np.abs(mine - theirs.numpy()).max()))
    if worst > TOLERANCE:
        raise WeightsError(f"the ONNX export of {what} differs from PyTorch by {worst:.2e} (> {TOLERANCE})")
    return worst


def cached_onnx_student(style: Style) -> Path:
    """The style's ONNX student in gpdface's cache, exported on first use."""
    digest = sha256_of(style.path / "model.safetensors")[:16]
    path = gpdface_home() / "onnx" / f"{style.name}-{digest}.onnx"
    if not path.is_file():
        export_student_onnx(style, path)
    return path


def ort_session(path: str | os.PathLike, device: str):
    """An ONNX Runtime session on the CPU, or on CUDA when asked for and available."""
    _require("onnxruntime")
    import onnxruntime as ort

    providers = ["CPUExecutionProvider"]
    if device == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    options = ort.SessionOptions()
    options.log_severity_level = 3  # warnings about unused initialisers are not the user's business
    return ort.InferenceSession(str(path), sess_options=options, providers=providers)


def _require(*modules: str) -> None:
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise InputError(f'ONNX needs {", ".join(missing)}: pip install "gpdface[onnx]"')
