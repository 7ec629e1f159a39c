"""The pinned face bank: built reproducibly, resolved like weights, checked, and used by finetune --shots."""

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import REPO
from gpdface.errors import ChecksumError, WeightsError
from gpdface.manifest import load_manifest
from gpdface.train.data.facebank import CROP_SIZE, load_facebank, read_facebank
from hubserver import HubServer

REPO_ID, REVISION = "gpdface-test/facebank", "89abcdef0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory, astronaut, grace_hopper, no_face):
    """Four photos with one face each, and one without a face (left out, with its reason)."""
    folder = tmp_path_factory.mktemp("photos")
    Image.fromarray(astronaut).save(folder / "Eileen_Collins_0001.jpg")
    Image.fromarray(astronaut[:, ::-1]).save(folder / "Eileen_Collins_0002.jpg")
    Image.fromarray(grace_hopper).save(folder / "Grace_Hopper_0001.jpg")
    Image.fromarray(grace_hopper[:, ::-1]).save(folder / "Grace_Hopper_0002.jpg")
    Image.fromarray(no_face).save(folder / "Coffee_0001.jpg")
    return folder


@pytest.fixture(scope="module")
def built(photo_folder, detector_dir, tmp_path_factory):
    """The tool run twice on the same photos: (first folder, second folder, the entry it printed)."""
    outs = [tmp_path_factory.mktemp(f"bank{i}") for i in range(2)]
    printed = []
    for out in outs:
        done = subprocess.run(
            [sys.executable, str(REPO / "tools" / "make_facebank.py"), str(photo_folder), "-o", str(out),
             "--count", "5", "--name", "tiny"],
            capture_output=True, text=True, env={**os.environ, "GPDFACE_WEIGHTS_PATH": str(detector_dir)},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        printed.append(json.loads(done.stdout))
    return outs[0], outs[1], printed[0]


def test_the_tool_writes_the_same_bytes_twice(built):
    first, second, entry = built
    data = (first / "tiny.zip").read_bytes()
    assert data == (second / "tiny.zip").read_bytes()
    pinned = entry["tiny"]["files"]["tiny.zip"]
    assert pinned == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    assert entry["tiny"]["source"]["repo_type"] == "dataset" and "research use" in entry["tiny"]["license"]
    assert (first / "tiny.skipped.tsv").read_text() == "Coffee_0001.jpg\t0 faces with score >= 0.9\n"


def test_the_archive_holds_aligned_faces_and_their_landmarks(built, photo_folder):
    bank = read_facebank(built[0] / "tiny.zip")
    assert bank.images.shape == (4, CROP_SIZE, CROP_SIZE, 3) and bank.images.dtype == np.uint8
    assert bank.sources == ("Eileen_Collins_0001.jpg", "Eileen_Collins_0002.jpg", "Grace_Hopper_0001.jpg",
                            "Grace_Hopper_0002.jpg")  # fmt: skip
    width = Image.open(photo_folder / "Eileen_Collins_0001.jpg").width
    left_eye, right_eye = bank.landmarks[0][0], bank.landmarks[0][1]
    mirrored = bank.landmarks[1]  # the flipped photo: its eyes are where the original's are, mirrored
    assert np.allclose(width - 1 - mirrored[1][0], left_eye[0], atol=3) and left_eye[0] < right_eye[0]
    half = read_facebank(built[0] / "tiny.zip", crop_size=128)
    assert half.images.shape == (4, 128, 128, 3)


def test_a_foreign_archive_is_refused_in_one_line(tmp_path):
    import zipfile

    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as archive:
        archive.writestr("index.json", json.dumps({"format": 1, "crop_size": 256, "faces": [{"file": "../x.jpg"}]}))
    with pytest.raises(WeightsError, match="faces/NNNNN.jpg"):
        read_facebank(tmp_path / "bad.zip")
    (tmp_path / "junk.zip").write_bytes(b"PK not a zip")
    with pytest.raises(WeightsError, match="not a readable face bank"):
        read_facebank(tmp_path / "junk.zip")


@pytest.fixture
def served(built, tmp_path, monkeypatch):
    """The tiny bank published on a loopback Hub (a dataset repository) and pinned in a test manifest."""
    data = (built[0] / "tiny.zip").read_bytes()
    manifest = json.loads((REPO / "gpdface" / "weights_manifest.json").read_text())
    entry = built[2]["tiny"]
    entry["source"] = {"repo_id": REPO_ID, "repo_type": "dataset", "revision": REVISION}
    manifest["facebanks"] = {"tiny": entry}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("GPDFACE_MANIFEST", str(tmp_path / "manifest.json"))
    with HubServer(f"datasets/{REPO_ID}", REVISION, {"tiny.zip": data}) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        yield server, data


def test_downloaded_from_the_hub_and_checked(served):
    server, _ = served
    assert len(load_facebank("tiny")) == 4
    assert any(r.startswith("GET /datasets/") for r in server.requests)
    server.requests.clear()
    assert len(load_facebank("tiny")) == 4  # from the cache now
    assert not any(r.startswith("GET") for r in server.requests)


def test_a_tampered_download_is_refused(served):
    server, _ = served
    server.mode = "corrupt"
    with pytest.raises(ChecksumError, match="expected sha256"):
        load_facebank("tiny")


def test_offline_from_the_weights_path_and_a_truncated_copy_refused(served, tmp_path, monkeypatch):
    server, data = served
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "tiny.zip").write_bytes(data)
    monkeypatch.setenv("GPDFACE_WEIGHTS_PATH", str(folder))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert len(load_facebank("tiny")) == 4
    assert not server.requests  # nothing asked of the Hub
    (folder / "tiny.zip").write_bytes(data[: len(data) // 2])
    with pytest.raises(ChecksumError, match="bytes, not"):
        load_facebank("tiny")


def test_the_cli_downloads_it_and_doctor_shows_it(served):
    from typer.testing import CliRunner

    from gpdface.cli import app

    runner = CliRunner()
    assert "not cached (gpdface download tiny)" in runner.invoke(app, ["doctor"]).stdout
    fetched = runner.invoke(app, ["download", "tiny"])
    assert fetched.exit_code == 0 and "facebank tiny: 1 file(s) verified" in fetched.stdout, fetched.output
    assert "facebank tiny" in runner.invoke(app, ["doctor"]).stdout


def test_the_packaged_manifest_pins_the_default_bank():
    from gpdface.train.data.facebank import DEFAULT_FACEBANK

    entry = load_manifest().facebanks[DEFAULT_FACEBANK]
    (file,) = entry.files
    assert file.name == f"{DEFAULT_FACEBANK}.zip" and file.size and len(file.sha256) == 64
    assert "research use" in entry.license


def test_unknown_bank_is_named(served):
    with pytest.raises(WeightsError, match="unknown face bank 'nope'; known: tiny"):
        load_facebank("nope")
