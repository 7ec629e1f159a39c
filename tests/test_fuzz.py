"""A few damaged inputs of every kind through the doors users use (tools/fuzz.py runs thousands): none may
crash (only gpdface's one-line errors), hang, or change an input file."""

import sys

import pytest

from conftest import REPO


@pytest.mark.slow
def test_damaged_images_videos_styles_and_uploads_are_refused_cleanly(with_detector):
    pytest.importorskip("av", reason="the video cases need PyAV (the video extra)")
    sys.path.insert(0, str(REPO / "tools"))
    from fuzz import fuzz

    report = fuzz(images=40, videos=2, styles=12, uploads=6, seed=1, hang=600.0)
    for kind, tally in report["kinds"].items():
        assert tally["cases"] > 0, kind
        assert tally["crashes"] == tally["hangs"] == tally["modified"] == 0, (kind, tally["examples"])
    assert report["kinds"]["images"]["errors"] > 0  # the damage reached the readers: some were refused
