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
