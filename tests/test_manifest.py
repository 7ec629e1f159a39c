import copy

import pytest

from gpdface.errors import WeightsError
from gpdface.manifest import HubSource, UrlSource, load_manifest, parse_manifest, validate_relative_path

SHA = "0" * 64
GOOD = {
    "schema": 1,
    "styles": {
        "demo": {
            "description": "demo",
            "files": {"model.safetensors": {"sha256": SHA, "size": 10}, "config.json": {"sha256": SHA}},
            "source": {"repo_id": "org/demo", "revision": "a" * 40},
        }
    },
    "detectors": {"det": {"files": {"d.pth": {"sha256": SHA}}, "source": {"base_url": "https://example.org/r/"}}},
}


def test_packaged_manifest_is_valid():
    manifest = load_manifest()
    det = manifest.detectors["retinaface_mobile0.25"]
    assert det.file("detection_mobilenet0.25_Final.pth").size == 1_789_735
    assert isinstance(det.source, UrlSource)
    for kind in ("styles", "detectors", "teachers"):
        for entry in manifest.section(kind).values():
            assert entry.embedded or entry.source is not None, entry.name


def test_parse_good_manifest():
    manifest = parse_manifest(GOOD)
    demo = manifest.styles["demo"]
    assert demo.source == HubSource("org/demo", "a" * 40)
    assert {f.name for f in demo.files} == {"model.safetensors", "config.json"}
    assert manifest.detectors["det"].source == UrlSource("https://example.org/r")


@pytest.mark.parametrize(
    "name", ["/etc/passwd", "../x", "a/../../x", "a\\b", "C:evil", "", "a//b", "./a", "a/./b", "x\x00y"]
)
def test_unsafe_file_names_are_refused(name):
    with pytest.raises(WeightsError, match="not a plain relative path"):
        validate_relative_path(name)
    bad = copy.deepcopy(GOOD)
    bad["styles"]["demo"]["files"] = {name: {"sha256": SHA}}
    with pytest.raises(WeightsError):
        parse_manifest(bad)


def test_safe_nested_name_is_allowed():
    assert validate_relative_path("sub/model.safetensors") == "sub/model.safetensors"


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("schema",), 2, "schema"),
        (("styles", "demo", "source", "revision"), "main", "40-hex"),
        (("styles", "demo", "files", "config.json", "sha256"), "abc", "sha256"),
        (("detectors", "det", "source"), {"base_url": "file:///etc"}, "http"),
        (("detectors", "det", "source"), {"what": 1}, "source needs"),
        (("styles", "demo", "source", "repo_type"), "../../outside", "repo_type must be one of"),
        (("styles", "demo"), "a string", "the entry must be an object"),
        (("styles", "demo", "source"), 5, "source must be an object"),
        (("styles", "demo", "files", "config.json"), "abc", "must be an object with its sha256"),
        (("styles", "demo", "provenance"), [], "provenance must be an object"),
        (("styles", "demo", "source", "repo_id"), "../../x", "repo_id must be"),
        (("styles", "demo", "source", "repo_id"), "a/b/c", "repo_id must be"),
    ],
)
def test_invalid_manifests(path, value, message):
    bad = copy.deepcopy(GOOD)
    target = bad
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(WeightsError, match=message):
        parse_manifest(bad)


def test_manifest_override_by_environment(tmp_path, monkeypatch):
    import json

    path = tmp_path / "m.json"
    path.write_text(json.dumps(GOOD))
    monkeypatch.setenv("GPDFACE_MANIFEST", str(path))
    assert "demo" in load_manifest().styles


def test_a_document_that_is_not_an_object_is_a_weights_error():
    with pytest.raises(WeightsError, match="expected an object, got list"):
        parse_manifest([])
