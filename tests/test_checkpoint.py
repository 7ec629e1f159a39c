"""Checkpoints are read with weights_only=True and fail in one line."""

import collections
import pickle

import pytest
import torch

from gpdface.checkpoint import load_checkpoint
from gpdface.errors import WeightsError


class Payload:
    """Anything a pickle could smuggle in: never to be constructed by a load."""

    def __reduce__(self):
        return (print, ("unpickled!",))


@pytest.mark.parametrize(
    "content",
    [
        lambda path: path.write_bytes(pickle.dumps(Payload())),
        lambda path: torch.save({"weights": collections.Counter(a=1), "x": Payload()}, path),
        lambda path: path.write_bytes(b"\x00garbage"),
        lambda path: torch.save([torch.zeros(2)], path),
    ],
    ids=["raw pickle", "torch file with objects", "garbage", "a list"],
)
def test_anything_but_a_dict_of_tensors_is_one_clean_line(tmp_path, capsys, content):
    path = tmp_path / "bad.pt"
    content(path)
    with pytest.raises(WeightsError, match="cannot read the checkpoint") as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "\n" not in message and "\x1b" not in message
    assert "unpickled!" not in capsys.readouterr().out  # nothing was executed


def test_a_dict_of_tensors_is_read(tmp_path):
    torch.save({"w": torch.ones(2), "step": 3}, tmp_path / "ok.pt")
    state = load_checkpoint(tmp_path / "ok.pt")
    assert state["step"] == 3 and torch.equal(state["w"], torch.ones(2))
