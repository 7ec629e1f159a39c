import json

import pytest
import torch

from conftest import make_style
from gpdface.errors import StyleNotFoundError, WeightsError
from gpdface.style import list_styles, load_style, resolve_style, user_styles_dir


def test_round_trip_by_path_and_by_name(tmp_path):
    made = make_style(tmp_path, "mine", seed=1, description="test style")
    by_path = load_style(made)
    user = make_style(user_styles_dir(), "mine", seed=1, description="test style")
    by_name = load_style("mine")
    assert by_name.path == user and by_path.path == made
    assert by_name.info.description == "test style"
    x = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        assert torch.equal(by_path.model(x), by_name.model(x))


def test_user_style_is_listed():
    make_style(user_styles_dir(), "listed", description="shown in the table")
    rows = {row.name: row for row in list_styles()}
    assert rows["listed"].origin == "user" and rows["listed"].available
    assert rows["listed"].description == "shown in the table"


def test_unknown_style_names_close_matches():
    make_style(user_styles_dir(), "watercolour")
    with pytest.raises(StyleNotFoundError, match="did you mean watercolour"):
        resolve_style("watercolor")


def test_folder_missing_files(tmp_path):
    made = make_style(tmp_path, "broken")
    (made / "style.json").unlink()
    with pytest.raises(StyleNotFoundError, match="lacks style.json"):
        resolve_style(made)
    with pytest.raises(StyleNotFoundError, match="no such folder"):
        resolve_style(tmp_path / "absent")


def test_template_and_crop_size_come_from_style_json(tmp_path):
    made = make_style(tmp_path, "small", crop_size=64, default_output="crop")
    style = load_style(made)
    assert style.info.crop_size == 64 and style.info.default_output == "crop"
    assert style.info.template_array().max() < 64


def test_inconsistent_style_json(tmp_path):
    made = make_style(tmp_path, "bad")
    meta = json.loads((made / "style.json").read_text())
    (made / "style.json").write_text(json.dumps({**meta, "crop_size": 128}))
    with pytest.raises(WeightsError, match="crop_size"):
        load_style(made)
    (made / "style.json").write_text(json.dumps({**meta, "default_output": "both"}))
    with pytest.raises(WeightsError, match="default_output"):
        load_style(made)


def _edit_json(path, value) -> None:
    path.write_text(value if isinstance(value, str) else json.dumps(value))


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        ("style.json", [], "expected an object"),
        ("style.json", {"crop_size": "abc"}, "crop_size must be an integer"),
        ("style.json", {"crop_size": 0}, "crop_size must be an integer in 16–"),
        ("style.json", {"crop_size": 2**20}, "crop_size must be an integer in 16–"),
        ("style.json", {"crop_size": 256, "template": 5}, "template must be 5"),
        ("style.json", {"crop_size": 256, "template": [[1e30, 0]] * 5}, "finite and within"),
        ("style.json", {"crop_size": 256, "template": [[100, 100]] * 5}, "eyes are too close"),
        ("style.json", {"crop_size": 256, "provenance": "x"}, "provenance must be an object"),
        ("style.json", "[" * 100000 + "]" * 100000, "cannot read"),
        ("config.json", [], "config.json must hold an object"),
        ("config.json", {"channels": [100000]}, "channels must be"),
        ("config.json", {"resolution": 2**20}, "resolution must be in 16–"),
        ("config.json", {"resolution": "256"}, "resolution must be an integer"),
        ("config.json", {"model": "Other"}, "names model 'Other'; known: StudentNet"),
        ("config.json", {"model": []}, r"names model \[\]; known: StudentNet"),
        ("config.json", {"channels": [16] * 5_000_000}, "channels must be 1–8 values, got 5000000"),
        ("config.json", {"channels": [1024] * 8, "res_blocks": 32}, "does not fit its config.json"),
        ("style.json", {"crop_size": 256, "background": {"mode": "pencil", "blur": float("nan")}}, "finite"),
        ("style.json", {"crop_size": 256, "background": {"mode": "pencil", "shading": float("inf")}}, "finite"),
        ("config.json", "{" * 100000, "cannot read"),
    ],
)
def test_malformed_style_files_are_weights_errors_naming_the_file(tmp_path, file, content, message):
    folder = make_style(tmp_path, "bad")
    if file == "style.json" and isinstance(content, dict):
        content = {**json.loads((folder / file).read_text()), **content}
    _edit_json(folder / file, content)
    with pytest.raises(WeightsError, match=message) as info:
        load_style(folder)
    assert file in str(info.value) and "\n" not in str(info.value) and len(str(info.value)) < 600


@pytest.mark.parametrize("kind", ["garbage", "pickle", "nan"])
def test_unreadable_or_non_finite_weights_are_refused(tmp_path, kind):
    folder = make_style(tmp_path, "bad")
    weights = folder / "model.safetensors"
    if kind == "garbage":
        weights.write_bytes(b"\x00" * 64)
    elif kind == "pickle":
        torch.save({"x": torch.zeros(3)}, weights)  # a pickle under the safetensors name: never unpickled
    else:
        from safetensors.torch import load_file, save_file

        state = load_file(weights)
        first = next(k for k, v in state.items() if v.is_floating_point())
        state[first] = torch.full_like(state[first], float("nan"))
        save_file(state, weights)
    message = "non-finite weights" if kind == "nan" else "not a readable safetensors file"
    with pytest.raises(WeightsError, match=message):
        load_style(folder)


def test_tone_layer_round_trips_and_the_drawer_applies_it(tmp_path):
    from gpdface.tone_layer import LayeredStudent, ToneLayer, apply_tone_layer

    plain = load_style(make_style(tmp_path, "plain"))
    assert plain.info.tone_layer is None and plain.drawer is plain.model
    layered = load_style(make_style(tmp_path, "layered", tone_layer=ToneLayer(knee=0.7, strength=0.6)))
    assert layered.info.tone_layer == ToneLayer(knee=0.7, strength=0.6)
    assert json.loads((layered.path / "style.json").read_text())["tone_layer"] == {
        "knee": 0.7, "strength": 0.6, "blur": 0.025, "min_reference": 0.0,
    }  # fmt: skip
    assert isinstance(layered.drawer, LayeredStudent)
    x = torch.rand(2, 3, 256, 256) * 0.6 - 1  # dark photos: the layer shades them
    with torch.no_grad():
        expected = apply_tone_layer(x, plain.model(x), layered.info.tone_layer)
        assert torch.allclose(layered.drawer(x), expected) and not torch.allclose(expected, plain.model(x))


def test_a_huge_configuration_is_refused_before_any_of_it_is_built(tmp_path, monkeypatch):
    """config.json asking for a 3 GB network beside small weights: the mismatch is found from the weights'
    header and a network built on the meta device; no real network of that size is ever made."""
    from gpdface.nets import student

    folder = make_style(tmp_path, "huge")
    _edit_json(folder / "config.json", {"model": "StudentNet", "channels": [1024] * 8, "res_blocks": 32})
    built_on, real_init = [], student.StudentNet.__init__

    def spy(self, config):
        built_on.append(torch.empty(0).device.type)
        real_init(self, config)

    monkeypatch.setattr(student.StudentNet, "__init__", spy)
    with pytest.raises(WeightsError, match="does not fit its config.json"):
        load_style(folder)
    assert built_on == ["meta"]


def test_weights_that_overflow_are_refused_like_non_finite_ones(tmp_path):
    """Finite fp16 weights at the format's maximum make every drawing NaN: a black face, before this check."""
    from safetensors.torch import load_file, save_file

    folder = make_style(tmp_path, "overflow")
    state = load_file(folder / "model.safetensors")
    for key, value in state.items():
        if value.is_floating_point() and key.endswith("weight"):
            state[key] = torch.full_like(value, 65504.0)
    save_file(state, folder / "model.safetensors")
    with pytest.raises(WeightsError, match="overflows"):
        load_style(folder)


def test_style_files_with_a_byte_order_mark_are_read(tmp_path):
    folder = make_style(tmp_path, "bom")
    for name in ("style.json", "config.json"):
        (folder / name).write_bytes(b"\xef\xbb\xbf" + (folder / name).read_bytes())
    assert load_style(folder).name == "bom"


def test_an_interrupted_exports_staging_folder_is_not_a_style():
    make_style(user_styles_dir(), ".mine.staging-1234")  # what a killed export leaves beside the styles
    make_style(user_styles_dir(), "mine")
    names = [row.name for row in list_styles() if row.origin == "user"]
    assert names == ["mine"]


def test_a_name_beside_the_exemplar_folder_it_was_named_after_is_the_style(tmp_path, monkeypatch):
    """`finetune --shots ./my_5_images` names the style my_5_images; `--style my_5_images`, run in the same
    folder, means that style, not the folder of drawings beside it."""
    made = make_style(user_styles_dir(), "my_5_images")
    (tmp_path / "my_5_images").mkdir()
    (tmp_path / "my_5_images" / "a.png").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    assert resolve_style("my_5_images") == made
    with pytest.raises(StyleNotFoundError, match="is not a style folder"):
        resolve_style("./my_5_images")  # written as a path, it is the folder
    here = make_style(tmp_path, "here")
    assert resolve_style("here").resolve() == here.resolve()  # a bare word naming a style folder here finds it
