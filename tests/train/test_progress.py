"""The training jobs' shared progress helpers."""

from gpdface.train.progress import due


def test_periodic_actions_fall_every_n_steps_and_on_the_last():
    assert [step for step in range(1, 251) if due(step, 100, 250)] == [100, 200, 250]
    assert [step for step in range(1, 4) if due(step, 0, 3)] == [3]  # 0: only at the end
