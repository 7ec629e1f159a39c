"""Whole datasets: gpdface.batch for engines, translate-dataset on Ray and in-process — every good image drawn
as `gpdface translate` draws it, bad ones recorded, reruns skip what is done, nothing half-written."""

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from conftest import make_style
from gpdface.cli import app
from gpdface.dataset import RECORDS, DatasetJob, run_dataset
from gpdface.style import user_styles_dir


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory, astronaut, grace_hopper, no_face):
    """24 images: varied crops of two faces, one corrupt file, one faceless photo, and two files of the same
    name in different subfolders."""
    folder = tmp_path_factory.mktemp("dataset") / "in"
    rng = np.random.default_rng(0)
    for index in range(20):
        photo = astronaut if index % 2 else grace_hopper
        scale = 0.5 + 0.5 * rng.random()
        picture = Image.fromarray(photo).resize((round(photo.shape[1] * scale), round(photo.shape[0] * scale)))
        if index % 3 == 0:
            picture = picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        (folder / f"set{index % 4}").mkdir(parents=True, exist_ok=True)
        picture.save(folder / f"set{index % 4}" / f"p{index:02d}{'.png' if index % 5 == 0 else '.jpg'}")
    for sub in ("a", "b"):
        (folder / sub).mkdir()
    Image.fromarray(astronaut).save(folder / "a" / "same.jpg")
    Image.fromarray(grace_hopper).save(folder / "b" / "same.jpg")
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    Image.fromarray(no_face).save(folder / "coffee.jpg")
    return folder


@pytest.fixture
def style():
    return str(make_style(user_styles_dir(), "teststyle", seed=4))


def translate_one(source, target, style) -> bytes:
    """What `gpdface translate` writes for one image, with torch on one thread (as each Ray worker runs)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = CliRunner().invoke(app, ["translate", str(source), "-o", str(target), "--style", style])
    finally:
        torch.set_num_threads(threads)
    return target.read_bytes() if result.exit_code == 0 else b""


def records(folder) -> dict:
    import pyarrow.parquet as pq

    return {row["path"]: row for row in pq.read_table(folder / RECORDS).to_pylist()}


def check_outputs(photo_folder, out, style, tmp_path) -> None:
    images = sorted(p for p in photo_folder.rglob("*") if p.is_file())
    table = records(out)
    assert set(table) == {p.relative_to(photo_folder).as_posix() for p in images}
    assert "not an image" in table["corrupt.jpg"]["error"] and "no face found" in table["coffee.jpg"]["error"]
    assert table["a/same.jpg"]["faces"] == table["b/same.jpg"]["faces"] == 1
    assert len(json.loads(table["a/same.jpg"]["boxes"])) == 1 and table["a/same.jpg"]["seconds_stylize"] >= 0
    for image in images:
        relative = image.relative_to(photo_folder).as_posix()
        expected = translate_one(image, tmp_path / f"cli{image.suffix}", style)
        if table[relative]["error"] is None:
            assert (out / relative).read_bytes() == expected, relative
        else:
            assert not (out / relative).exists() and expected == b""
    assert not [p for p in out.rglob("*.tmp")]


def test_a_batch_engine_gets_drawings_and_records_and_never_an_exception(with_detector, style, astronaut):
    from gpdface.batch import RECORD_COLUMNS, TranslateBatch

    buffer = io.BytesIO()
    Image.fromarray(astronaut).save(buffer, "PNG")
    out = TranslateBatch(style)({"bytes": [buffer.getvalue(), b"junk"], "path": ["x/one.png", "two.jpg"]})
    assert set(out) == set(RECORD_COLUMNS) and out["path"] == ["x/one.png", "two.jpg"]
    assert out["error"][0] is None and out["faces"][0] == 1
    assert Image.open(io.BytesIO(out["image"][0])).format == "PNG"
    assert out["image"][1] is None and "two.jpg: not an image" in out["error"][1]


@pytest.mark.slow
def test_in_process_engine_draws_like_translate_and_a_rerun_skips_everything(
    with_detector, style, photo_folder, tmp_path
):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        job = DatasetJob(str(photo_folder), str(tmp_path / "out"), style, engine="local", batch_size=5)
        first = run_dataset(job)
    finally:
        torch.set_num_threads(threads)
    assert (first.found, first.drawn, first.failed, first.skipped) == (24, 22, 2, 0)
    check_outputs(photo_folder, tmp_path / "out", style, tmp_path)
    again = run_dataset(job)
    assert (again.drawn, again.failed, again.skipped) == (0, 0, 24)


@pytest.mark.slow
def test_an_interrupted_run_leaves_no_partial_file_and_resumes(with_detector, style, photo_folder, tmp_path):
    job = DatasetJob(str(photo_folder), str(tmp_path / "out"), style, engine="local", batch_size=4)

    def stop(done, total):
        if done >= 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_dataset(job, on_batch=stop)
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file() and p.suffix in (".jpg", ".png")]
    assert written and all(Image.open(p).size for p in written)  # every file under its name is whole
    assert not [p for p in (tmp_path / "out").rglob("*.tmp")]
    rest = run_dataset(job)
    assert rest.skipped == 8 and rest.drawn + rest.failed == 16


@pytest.mark.slow
def test_ray_draws_every_image_as_translate_does(with_detector, style, photo_folder, tmp_path):
    ray = pytest.importorskip("ray", reason="the Ray engine needs the ray extra (pip install 'gpdface[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        job = DatasetJob(str(photo_folder), str(tmp_path / "out"), style, engine="ray", batch_size=4, concurrency=2)
        report = run_dataset(job)
        assert (report.found, report.drawn, report.failed) == (24, 22, 2)
        check_outputs(photo_folder, tmp_path / "out", style, tmp_path)
        assert run_dataset(job).skipped == 24
    finally:
        ray.shutdown()


def test_bad_jobs_are_one_line(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(app, ["translate-dataset", str(tmp_path / "nothing"), str(tmp_path / "out")])
    assert missing.exit_code == 1 and "no such folder" in missing.stderr
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jpg").write_bytes(b"x")
    same = runner.invoke(app, ["translate-dataset", str(tmp_path / "in"), str(tmp_path / "in"), "--engine", "local"])
    assert same.exit_code == 2 and "the destination is the source" in same.stderr
    engine = runner.invoke(app, ["translate-dataset", str(tmp_path / "in"), str(tmp_path / "o"), "--engine", "dask"])
    assert engine.exit_code == 2 and "--engine must be one of ray, local" in engine.stderr
