import numpy as np
import pytest
import torch

from gpdface.errors import WeightsError
from gpdface.train.loop import (
    Cadence,
    generator_part,
    load_training_state,
    module_part,
    numpy_rng_part,
    run_steps,
    save_training_state,
)


def _record(start, cadence, stop_at=None):
    events = []
    done = run_steps(
        start,
        cadence,
        step=lambda i: events.append(("step", i)) or {"loss": float(i)},
        write_samples=lambda d: events.append(("samples", d)),
        save=lambda d, stopped: events.append(("save", d, stopped)),
        on_step=lambda d, values: events.append(("progress", d, values.get("loss"))),
        should_stop=(lambda d, _: d == stop_at) if stop_at else None,
    )
    return done, events


def test_samples_and_checkpoints_fall_every_n_steps_and_at_the_last():
    done, events = _record(0, Cadence(steps=5, sample_every=2, checkpoint_every=3))
    assert done == 5
    assert [e[1] for e in events if e[0] == "samples"] == [2, 4, 5]
    assert [e[1:] for e in events if e[0] == "save"] == [(3, False), (5, False)]
    assert [e[1:] for e in events if e[0] == "progress"] == [(d, float(d - 1)) for d in range(1, 6)]


def test_a_resumed_run_starts_at_its_step_and_zero_means_only_at_the_end():
    done, events = _record(3, Cadence(steps=5, sample_every=0, checkpoint_every=0))
    assert done == 5
    assert [e for e in events if e[0] == "step"] == [("step", 3), ("step", 4)]
    assert events[0] == ("progress", 3, None)  # the progress starts at the checkpoint, before any step
    assert [e for e in events if e[0] in ("samples", "save")] == [("samples", 5), ("save", 5, False)]


def test_a_stop_ends_the_run_with_samples_and_a_checkpoint_at_that_step():
    done, events = _record(0, Cadence(steps=10, sample_every=100, checkpoint_every=100), stop_at=4)
    assert done == 4
    assert events[-2:] == [("samples", 4), ("save", 4, True)]
    assert max(e[1] for e in events if e[0] == "step") == 3


def _parts(model, optimizer, sampler, rng):
    return {
        "model": module_part(model),
        "optimizer": module_part(optimizer),
        "sampler": generator_part(sampler),
        "rng": numpy_rng_part(rng),
    }


def test_training_state_round_trip_restores_every_part(tmp_path):
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    sampler, rng = torch.Generator().manual_seed(1), np.random.default_rng(2)
    save_training_state(tmp_path / "run.ckpt", 7, _parts(model, optimizer, sampler, rng), note="kept")
    expected = (model.weight.detach().clone(), torch.rand(3, generator=sampler), rng.random(3), torch.rand(2))

    fresh = torch.nn.Linear(3, 2)
    fresh_optimizer = torch.optim.Adam(fresh.parameters(), lr=0.1)
    fresh_sampler, fresh_rng = torch.Generator().manual_seed(99), np.random.default_rng(99)
    fresh_parts = _parts(fresh, fresh_optimizer, fresh_sampler, fresh_rng)
    state = load_training_state(tmp_path / "run.ckpt", "test checkpoint", fresh_parts)
    assert state["step"] == 7 and state["note"] == "kept"
    assert torch.equal(fresh.weight, expected[0])
    assert torch.equal(torch.rand(3, generator=fresh_sampler), expected[1])
    assert np.array_equal(fresh_rng.random(3), expected[2])
    assert torch.equal(torch.rand(2), expected[3])  # torch's global generator too
    assert fresh_optimizer.state_dict()["state"][0]["step"] == 1
    assert list(tmp_path.iterdir()) == [tmp_path / "run.ckpt"]  # no temporary left beside it


def test_a_checkpoint_of_another_kind_of_run_is_refused_by_name(tmp_path):
    model = torch.nn.Linear(2, 2)
    save_training_state(tmp_path / "gan.ckpt", 3, {"models": module_part(model)})
    with pytest.raises(WeightsError, match="has no model, optimizer: it was written by another kind of run"):
        load_training_state(
            tmp_path / "gan.ckpt",
            "student checkpoint",
            {"model": module_part(model), "optimizer": module_part(torch.optim.SGD(model.parameters(), lr=1))},
        )
