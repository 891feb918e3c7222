"""basenji_tf.plots: the correlations the figures print name what they are computed on."""

from __future__ import annotations

import re

import numpy as np
import pytest

from basenji_tf import plots


def _bins(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Coverage-like bins whose log2(x+1) and raw-value correlations differ clearly."""
    rng = np.random.default_rng(seed)
    targets = rng.gamma(0.3, 20.0, size=2000)
    preds = targets * rng.lognormal(0.0, 0.8, size=2000) + rng.gamma(0.5, 1.0, size=2000)
    return targets, preds


def test_scatter_label_names_both_correlations_and_their_values():
    targets, preds = _bins()
    r_log = np.corrcoef(np.log2(targets + 1), np.log2(preds + 1))[0, 1]
    r_raw = np.corrcoef(targets, preds)[0, 1]
    assert abs(r_log - r_raw) > 0.01  # the example tells the two apart
    label = plots.scatter_correlation_label(targets, preds)
    found = dict(re.findall(r"(log2\(x\+1\)|raw values) (-?[0-9.]+|nan)", label))
    assert float(found["log2(x+1)"]) == pytest.approx(r_log, abs=5e-4)
    assert float(found["raw values"]) == pytest.approx(r_raw, abs=5e-4)
    assert "Pearson r" in label and "acc.txt: raw values" in label
    assert "2,000 bins" in label


def test_pearson_r_is_nan_for_constant_or_too_short_input():
    assert np.isnan(plots.pearson_r(np.ones(5), np.arange(5.0)))
    assert np.isnan(plots.pearson_r(np.array([1.0]), np.array([2.0])))
    assert plots.pearson_r(np.arange(5.0), 2 * np.arange(5.0) + 1) == pytest.approx(1.0)


@pytest.mark.slow
def test_scatter_and_track_figures_are_written(tmp_path):
    targets, preds = _bins(1)
    plots.scatter_log(targets, preds, tmp_path / "scatter", "DNASE_ery")
    tracks = {"DNASE": (targets[:64], preds[:64]), "CAGE": (preds[:64], targets[:64])}
    plots.track_comparison(1000, 128, tracks, tmp_path / "tracks", "chr1", show_r=True)
    for stem in ("scatter", "tracks"):
        for ext in ("png", "pdf"):
            assert (tmp_path / f"{stem}.{ext}").stat().st_size > 1000
