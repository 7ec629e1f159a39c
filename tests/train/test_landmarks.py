"""Hand-given landmarks for exemplars the detector cannot find: reading, checking, aligning, the CLI's errors."""

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from gpdface.cli import app
from gpdface.errors import InputError, NoFaceError
from gpdface.face.align import template_for
from gpdface.train.data.landmarks import landmarks_for, read_landmarks
from gpdface.train.data.pairs import align_images

REPO = Path(__file__).resolve().parents[2]
POINTS = [[30, 40], [70, 40], [50, 64], [32, 82], [68, 82]]  # the FFHQ template's shape


def test_json_and_csv_give_the_same_points(tmp_path):
    (tmp_path / "l.json").write_text(json.dumps({"a.png": POINTS}))
    flat = ",".join(str(v) for point in POINTS for v in point)
    (tmp_path / "l.csv").write_text(f"name,lx,ly,rx,ry,nx,ny,mlx,mly,mrx,mry\na.png,{flat}\n")
    from_json, from_csv = read_landmarks(tmp_path / "l.json"), read_landmarks(tmp_path / "l.csv")
    assert from_json.keys() == from_csv.keys() == {"a.png"}
    np.testing.assert_array_equal(from_json["a.png"], np.array(POINTS, float))
    np.testing.assert_array_equal(from_csv["a.png"], from_json["a.png"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"a.png": POINTS[:4]}, "expected 5 [x, y] points"),
        ({"a.png": [[0, "x"]] * 5}, "points of numbers"),
        ({"a.png": [*POINTS[:4], [float("nan"), 1]]}, "finite"),
        ({"a.png": [POINTS[1], POINTS[0], *POINTS[2:]]}, "image's left first"),
        ({"a.png": [POINTS[0], POINTS[0], *POINTS[2:]]}, "same place"),
        ([POINTS], "expected an object"),
        ({}, "no landmarks"),
    ],
)
def test_malformed_entries_are_named(tmp_path, content, message):
    path = tmp_path / "l.json"
    path.write_text(json.dumps(content))
    with pytest.raises(InputError, match=re.escape(message)):
        read_landmarks(path)


def test_a_short_csv_row_is_named(tmp_path):
    (tmp_path / "l.csv").write_text("a.png,1,2,3\n")
    with pytest.raises(InputError, match="row 1: expected name and 10 coordinates"):
        read_landmarks(tmp_path / "l.csv")


def test_entries_match_by_name_or_stem_and_unknown_names_fail():
    images = [Path("shots/a.png"), Path("shots/b.jpg")]
    points = np.array(POINTS, float)
    matched = landmarks_for(images, {"a.png": points, "b": points}, "l.json")
    assert set(matched) == set(images)
    with pytest.raises(InputError, match="not among the exemplars: c.png; the exemplars are a.png, b.jpg"):
        landmarks_for(images, {"c.png": points}, "l.json")


def _drawn_face(tmp_path: Path, name: str) -> Path:
    """A white image with a dark dot at each of the five points."""
    image = np.full((100, 100, 3), 255, np.uint8)
    for x, y in POINTS:
        cv2.circle(image, (x, y), 2, (0, 0, 0), -1)
    path = tmp_path / name
    cv2.imwrite(str(path), image)
    return path


class NoFaces:
    def detect(self, image):
        return []


def test_given_points_align_the_image_onto_the_template(tmp_path):
    path = _drawn_face(tmp_path, "a.png")
    template = template_for(256)
    crop = align_images([path], NoFaces(), 256, template, {path: np.array(POINTS, float)})[0]
    for x, y in template.round().astype(int):
        assert crop[y - 1 : y + 2, x - 1 : x + 2].mean() < 100  # the dot landed on its template point


def test_every_faceless_exemplar_is_named_once(tmp_path):
    paths = [_drawn_face(tmp_path, n) for n in ("a.png", "b.png", "c.png")]
    with pytest.raises(NoFaceError, match=r"2 of 3 exemplars \(b.png, c.png\).*--landmarks FILE"):
        align_images(paths, NoFaces(), 64, template_for(64), {paths[0]: np.array(POINTS, float)})


def test_points_outside_the_image_are_refused(tmp_path):
    path = _drawn_face(tmp_path, "a.png")
    outside = np.array(POINTS, float) * 2
    with pytest.raises(InputError, match="outside its 100×100 pixels"):
        align_images([path], NoFaces(), 64, template_for(64), {path: outside})


def test_cli_refuses_landmarks_without_shots_or_with_aligned(tmp_path):
    runner = CliRunner()
    (tmp_path / "l.json").write_text(json.dumps({"a.png": POINTS}))
    pairs = runner.invoke(app, ["finetune", "--pairs", str(tmp_path), "--landmarks", str(tmp_path / "l.json"),
                                "--name", "x"])  # fmt: skip
    assert pairs.exit_code == 2 and "--landmarks gives points for the --shots exemplars" in pairs.stderr
    both = runner.invoke(app, ["finetune", "--shots", str(tmp_path), "--aligned", "--landmarks",
                               str(tmp_path / "l.json"), "--name", "x"])  # fmt: skip
    assert both.exit_code == 2 and "not both" in both.stderr


def test_cli_names_a_landmark_entry_for_a_missing_exemplar(tmp_path):
    shots = tmp_path / "shots"
    shots.mkdir()
    _drawn_face(shots, "a.png")
    (tmp_path / "l.json").write_text(json.dumps({"typo.png": POINTS}))
    result = CliRunner().invoke(
        app, ["finetune", "--shots", str(shots), "--landmarks", str(tmp_path / "l.json"), "--name", "x"]
    )
    assert result.exit_code == 1 and "typo.png" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("style", ["lorelei", "notionists", "open-peeps"])
def test_shipped_exemplars_have_landmarks_inside_them(style):
    folder = REPO / "examples" / "exemplars" / style
    images = sorted(folder.glob("*.png"))
    given = landmarks_for(images, read_landmarks(folder / "landmarks.json"), folder / "landmarks.json")
    assert set(given) == set(images) and 1 <= len(images) <= 10
    crops = align_images(images, NoFaces(), 256, template_for(256), given)
    assert crops.shape == (len(images), 256, 256, 3)
    # the drawn eyes land where the template wants them: ink (dark or coloured) near each template eye
    for crop in crops:
        for x, y in template_for(256)[:2].round().astype(int):
            assert crop[y - 12 : y + 12, x - 12 : x + 12].min() < 128


def test_cli_names_faceless_exemplars_and_leaves_no_run_folder(tmp_path, with_detector):
    from gpdface.hub import gpdface_home

    shots = tmp_path / "shots"
    shots.mkdir()
    for name in ("a.png", "b.png"):
        _drawn_face(shots, name)  # five dots: no face a detector would find
    photos = tmp_path / "photos"
    photos.mkdir()
    _drawn_face(photos, "p.png")
    result = CliRunner().invoke(app, ["finetune", "--shots", str(shots), "--photos", str(photos), "--name", "dots"])
    assert result.exit_code == 3 and "2 of 2 exemplars (a.png, b.png)" in result.stderr
    assert not (gpdface_home() / "runs" / "dots").exists()


def test_a_csv_field_over_the_csv_limit_is_one_line_naming_the_row(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("a" * 200_000 + ",1,2,3,4,5,6,7,8,9,10\n")
    with pytest.raises(InputError, match=r"row 1: not a CSV row") as caught:
        read_landmarks(path)
    assert len(str(caught.value)) < 400
