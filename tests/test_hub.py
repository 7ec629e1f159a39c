"""The download path, with the real huggingface_hub client against a loopback Hub server."""

import hashlib
import json
import os
import re

import numpy as np
import pytest

from conftest import make_style
from gpdface.errors import ChecksumError, OfflineError, WeightsError
from gpdface.hub import cached_file, fetch_entry, sha256_of
from gpdface.manifest import load_manifest
from gpdface.style import load_style, resolve_style
from hubserver import HubServer

REPO_ID, REVISION = "gpdface-test/demo-style", "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def published(tmp_path, monkeypatch):
    """A style served by a loopback Hub, and a manifest that pins it."""
    style = make_style(tmp_path / "src", "demo", seed=3)
    files = {p.name: p.read_bytes() for p in style.iterdir()}
    manifest = {
        "schema": 1,
        "styles": {
            "demo": {
                "description": "published demo",
                "files": {n: {"sha256": hashlib.sha256(b).hexdigest(), "size": len(b)} for n, b in files.items()},
                "source": {"repo_id": REPO_ID, "revision": REVISION},
            }
        },
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("GPDFACE_MANIFEST", str(tmp_path / "manifest.json"))
    with HubServer(REPO_ID, REVISION, files) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        yield server, style


def test_download_then_load(published):
    server, original = published
    path = resolve_style("demo")
    assert any(r.startswith("GET") for r in server.requests)
    for name in ("config.json", "model.safetensors", "style.json"):
        assert (path / name).read_bytes() == (original / name).read_bytes()
    assert REVISION in str(path)  # pinned revision, in the Hugging Face cache layout


def test_checksum_mismatch_is_reported_and_file_not_used(published):
    server, _ = published
    server.mode = "corrupt"
    with pytest.raises(ChecksumError) as info:
        load_style("demo")
    assert "expected sha256" in str(info.value) and info.value.expected != info.value.actual
    assert info.value.path.endswith((".json", ".safetensors"))


@pytest.mark.parametrize("mode", ["corrupt", "corrupt_same_etag"])
def test_a_bad_forced_download_never_replaces_the_good_cached_copy(published, monkeypatch, mode):
    server, original = published
    entry = load_manifest().styles["demo"]
    good = fetch_entry(entry)
    server.mode = mode
    with pytest.raises(ChecksumError):
        fetch_entry(entry, force=True)
    for name, path in good.items():  # the cache still holds the good bytes, online and offline
        assert path.read_bytes() == (original / name).read_bytes()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert load_style("demo").name == "demo"


def test_a_bad_first_download_leaves_nothing_in_the_cache(published):
    server, _ = published
    server.mode = "corrupt"
    entry = load_manifest().styles["demo"]
    with pytest.raises(ChecksumError):
        fetch_entry(entry)
    server.mode = "ok"
    assert all(cached_file(entry, f) is None for f in entry.files)  # nothing corrupt was kept
    assert fetch_entry(entry)  # and a good download then works


def test_truncated_transfer_is_an_error(published):
    server, _ = published
    server.mode = "truncate"
    with pytest.raises(WeightsError):
        load_style("demo")


def test_server_down_with_warm_cache(published):
    server, _ = published
    first = load_style("demo")
    server.stop()
    server.requests.clear()
    again = load_style("demo")
    assert again.path == first.path and server.requests == []
    for a, b in zip(first.model.state_dict().values(), again.model.state_dict().values(), strict=True):
        assert np.array_equal(a.numpy(), b.numpy())


def test_offline_mode_uses_cache(published, monkeypatch):
    server, _ = published
    load_style("demo")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    server.requests.clear()
    assert load_style("demo").name == "demo"
    assert server.requests == []


def test_offline_mode_without_cache_says_how_to_fix(published, monkeypatch):
    server, _ = published
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match="gpdface download demo"):
        load_style("demo")
    assert server.requests == []


def test_weights_path_folder_is_used_and_checked(tmp_path, monkeypatch, detector_dir):
    entry = load_manifest().detectors["retinaface_mobile0.25"]
    monkeypatch.setenv("GPDFACE_WEIGHTS_PATH", str(detector_dir))
    paths = fetch_entry(entry)
    assert sha256_of(paths[entry.files[0].name]) == entry.files[0].sha256
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / entry.files[0].name).write_bytes(b"not the weights")
    monkeypatch.setenv("GPDFACE_WEIGHTS_PATH", str(fake))
    with pytest.raises(ChecksumError, match="a file of 15 bytes, not"):  # the pinned size fails it first
        fetch_entry(entry)
    same_size = bytearray(paths[entry.files[0].name].read_bytes())
    same_size[100] ^= 0xFF
    (fake / entry.files[0].name).write_bytes(bytes(same_size))
    with pytest.raises(ChecksumError, match="expected sha256"):  # the right size, the wrong bytes
        fetch_entry(entry)


def test_url_source_download_from_loopback(tmp_path, monkeypatch, detector_dir):
    """The detector's URL source: downloaded, sha256-checked, cached under GPDFACE_HOME."""
    from gpdface.hub import gpdface_home

    entry = load_manifest().detectors["retinaface_mobile0.25"]
    data = (detector_dir / entry.files[0].name).read_bytes()
    with HubServer("x", "y", {}) as server:
        # Serve the file at base_url/<name> by reusing the server's resolve route.
        server.repo_id, server.revision = "rel", "v0.1.0"
        server.files = {entry.files[0].name: data}
        manifest = {
            "schema": 1,
            "detectors": {
                "retinaface_mobile0.25": {
                    "files": {entry.files[0].name: {"sha256": entry.files[0].sha256, "size": len(data)}},
                    "source": {"base_url": f"{server.endpoint}/rel/resolve/v0.1.0"},
                }
            },
        }
        (tmp_path / "m.json").write_text(json.dumps(manifest))
        monkeypatch.setenv("GPDFACE_MANIFEST", str(tmp_path / "m.json"))
        got = fetch_entry(load_manifest().detectors["retinaface_mobile0.25"])
        path = got[entry.files[0].name]
        assert path.parent == gpdface_home() / "detectors" / "retinaface_mobile0.25"
        server.mode = "corrupt"
        with pytest.raises(ChecksumError):
            fetch_entry(load_manifest().detectors["retinaface_mobile0.25"], force=True)
        # The corrupt transfer was refused before it replaced the good cached copy.
        assert sha256_of(path) == entry.files[0].sha256
        assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_weights_path_entries_are_resolved_and_missing_ones_named(tmp_path, monkeypatch, published):
    from gpdface.hub import weights_path_dirs

    monkeypatch.chdir(tmp_path)
    (tmp_path / "here").mkdir()
    monkeypatch.setenv("GPDFACE_WEIGHTS_PATH", os.pathsep.join(["here", str(tmp_path / "gone")]))
    assert weights_path_dirs() == [tmp_path / "here", tmp_path / "gone"]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError) as info:
        load_style("demo")
    assert f"{tmp_path / 'here'}, {tmp_path / 'gone'} (does not exist)" in str(info.value)


FAILING_HUB = [
    ("status503", "answered HTTP 503 (a server error, not your network)"),
    ("slow", "did not answer within 0.5 s (GPDFACE_HUB_TIMEOUT)"),
]


@pytest.mark.parametrize(("mode", "message"), FAILING_HUB)
def test_a_failing_or_silent_hub_is_one_line_after_one_request(published, monkeypatch, mode, message):
    """Not five retries with back-off and a log line each: one probe, bounded by GPDFACE_HUB_TIMEOUT."""
    server, _ = published
    server.mode, server.delay = mode, 3.0
    monkeypatch.setenv("GPDFACE_HUB_TIMEOUT", "0.5")
    with pytest.raises(WeightsError, match=re.escape(message)) as info:
        load_style("demo")
    assert len(server.requests) == 1  # the probe only: no retry
    assert "\n" not in str(info.value) and "connect to the network" not in str(info.value)


def test_a_slow_but_working_hub_is_waited_for_one_request_each(published, monkeypatch, caplog):
    """Each answer takes 1 s: inside GPDFACE_HUB_TIMEOUT, the probe, the client's HEAD and its GET are one
    request each — the client's own shorter timeouts and retries (13 log lines over 116 s against a 15 s
    Hub) do not apply."""
    from huggingface_hub import constants

    server, original = published
    server.mode, server.delay = "slow", 1.0
    monkeypatch.setenv("GPDFACE_HUB_TIMEOUT", "5")
    monkeypatch.setattr(constants, "HF_HUB_DOWNLOAD_TIMEOUT", 0.5)  # a client that would give up sooner
    path = resolve_style("demo")
    assert (path / "model.safetensors").read_bytes() == (original / "model.safetensors").read_bytes()
    per_file = [r for r in server.requests if r.endswith("/model.safetensors")]
    assert len(per_file) == 3  # HEAD probe, the client's HEAD, its GET: no retry
    assert constants.HF_HUB_DOWNLOAD_TIMEOUT == 0.5  # put back
    assert not [r for r in caplog.records if r.name.startswith("huggingface_hub") and r.levelname == "WARNING"]


def test_a_missing_repository_is_not_called_a_network_problem(published, monkeypatch, tmp_path):
    """A 404 without the Hub's X-Error-Code header (a mirror, a proxy): the network works; say what failed."""
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["styles"]["demo"]["source"]["repo_id"] = "gpdface-test/elsewhere"
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(WeightsError) as info:
        load_style("demo")
    assert "answered HTTP 404 (not found) for gpdface-test/elsewhere" in str(info.value)
    assert "connect to the network" not in str(info.value)
