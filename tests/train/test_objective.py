"""The shared student objective: every term acts (no silent no-op), the discriminator learns, the pair
augmentation keeps photo and stylization together."""

import pytest
import torch

from gpdface.errors import InputError, ShapeError
from gpdface.train.student.augment_ops import AugmentDraw, diff_augment
from gpdface.train.student.distill import DistillConfig
from gpdface.train.student.objective import TERMS, MultiScalePatchDiscriminator, ObjectiveConfig, StudentObjective

OFF = dict.fromkeys(TERMS, 0.0)


def batch(seed: int = 0, size: int = 64):
    g = torch.Generator().manual_seed(seed)
    source = torch.rand(2, 3, size, size, generator=g) * 2 - 1
    target = torch.rand(2, 3, size, size, generator=g) * 2 - 1
    output = (torch.rand(2, 3, size, size, generator=g) * 2 - 1).requires_grad_(True)
    return source, target, output


def loss_of(weights: dict[str, float], seed: int = 0) -> tuple[torch.Tensor, dict, torch.Tensor]:
    torch.manual_seed(0)  # the discriminator's initialisation
    objective = StudentObjective(ObjectiveConfig(**weights), torch.device("cpu"), seed=seed)
    source, target, output = batch()
    loss, values = objective(source, target, output)
    loss.backward()
    return loss, values, output.grad


@pytest.mark.parametrize("term", TERMS)
def test_each_term_changes_the_loss_and_its_gradient(term):
    """Switching one term on, alone, gives a non-zero loss and gradient; doubling its weight doubles both."""
    loss, values, grad = loss_of({**OFF, term: 1.0})
    assert set(values) - {"disc"} == {term}
    assert loss.abs() > 1e-6 and grad.abs().sum() > 0
    loss2, _, grad2 = loss_of({**OFF, term: 2.0})
    torch.testing.assert_close(loss2, 2 * loss, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(grad2, 2 * grad, rtol=1e-4, atol=1e-7)


def test_all_terms_off_is_zero_and_has_no_discriminator():
    objective = StudentObjective(ObjectiveConfig(**OFF), torch.device("cpu"))
    assert objective.disc is None
    loss, values = objective(*batch())
    assert float(loss) == 0 and values == {}


def test_lowpass_term_ignores_detail_finer_than_its_filter():
    """The tone term does not see a checkerboard of the filter's period: strokes are left to the discriminator."""
    objective = StudentObjective(ObjectiveConfig(**{**OFF, "lowpass_l1": 1.0}), torch.device("cpu"))
    source, target, _ = batch()
    checker = (torch.arange(64)[:, None] + torch.arange(64)[None, :]) % 2 * 0.4 - 0.2
    loss, _ = objective(source, target, target + checker)
    assert float(loss) < 1e-6
    shifted, _ = objective(source, target, target + 0.2)
    assert float(shifted) == pytest.approx(0.2, abs=1e-5)


def test_discriminator_learns_to_tell_real_from_generated():
    torch.manual_seed(0)
    config = ObjectiveConfig(**{**OFF, "adversarial": 1.0}, augment=False)
    objective = StudentObjective(config, torch.device("cpu"))
    source, target, _ = batch(size=32)
    fake = torch.zeros_like(target)  # a constant grey "drawing"
    first = None
    for _ in range(30):
        _, values = objective(source, target, fake)
        first = first if first is not None else values["disc"]
    assert values["disc"] < first - 0.3


def test_state_round_trip_continues_identically():
    def run(resume_at: int | None):
        torch.manual_seed(0)
        objective = StudentObjective(ObjectiveConfig(), torch.device("cpu"), seed=3)
        values = []
        for step in range(4):
            if step == resume_at:
                state = objective.state_dict()
                torch.manual_seed(1)  # a fresh process would initialise differently
                objective = StudentObjective(ObjectiveConfig(), torch.device("cpu"), seed=3)
                objective.load_state_dict(state)
            values.append(objective(*batch(step))[1])
        return values

    assert run(None) == run(2)


def test_shapes_are_checked():
    objective = StudentObjective(ObjectiveConfig(), torch.device("cpu"))
    source, target, output = batch()
    with pytest.raises(ShapeError, match="target"):
        objective(source, target[:, :, :32], output)


def test_multiscale_discriminator_skips_scales_too_small():
    disc = MultiScalePatchDiscriminator(6, width=8, layers=3, scales=3)
    assert len(disc(torch.zeros(1, 6, 128, 128))) == 3
    assert len(disc(torch.zeros(1, 6, 40, 40))) == 1  # 40 → 20 is below the smallest useful input


def test_pair_augmentation_moves_photo_and_drawing_together():
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    pair = torch.cat([x, x], dim=1)
    draw = AugmentDraw.sample(3, 32, 32, torch.Generator().manual_seed(5))
    out = diff_augment(pair, draw=draw)
    torch.testing.assert_close(out[:, :3], out[:, 3:])  # same geometry, same colour change
    torch.testing.assert_close(out[:, :3], diff_augment(x, draw=draw))
    assert not torch.equal(out[:, :3], x)
    with pytest.raises(ValueError, match="3 channels"):
        diff_augment(torch.zeros(1, 4, 8, 8))


def test_distill_config_sets_weights_by_name_and_lists_the_known_ones():
    config = DistillConfig().with_weights({"adversarial": 0, "teacher": 0.5})
    assert config.objective.adversarial == 0 and config.teacher_weight == 0.5
    assert config.term_weights(with_teacher=False).keys() == set(TERMS) | {"landmarks", "structure"}
    faithful = DistillConfig().with_weights({"landmarks": 2, "structure": 0.5}).faithful
    assert faithful.landmarks == 2 and faithful.structure == 0.5 and faithful.active
    with pytest.raises(InputError, match="unknown loss term perceptual; known: lowpass_l1, ssim"):
        DistillConfig().with_weights({"perceptual": 1})
    with pytest.raises(InputError, match="≥ 0"):
        DistillConfig().with_weights({"ssim": -1})


def test_a_conditional_discriminator_judges_extra_fakes_beside_their_photos():
    """The face bank's drawings go to a conditional discriminator beside their photos (there is no artist's
    drawing of them), and the discriminator's step and the generator's terms both see them."""
    torch.manual_seed(0)
    objective = StudentObjective(ObjectiveConfig(lowpass_l1=0.0), torch.device("cpu"), seed=0)
    source, target, output = batch()
    extra = (torch.rand(3, 3, 64, 64) * 2 - 1).requires_grad_(True)
    with pytest.raises(ValueError, match="beside their photos"):
        objective(source, target, output, extra_fakes=extra)
    loss, _ = objective(source, target, output, extra_fakes=extra, extra_sources=torch.rand(3, 3, 64, 64))
    loss.backward()
    assert extra.grad is not None and float(extra.grad.abs().sum()) > 0
