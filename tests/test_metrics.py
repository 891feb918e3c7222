"""Pooled per-target metrics and the losses against independent computations."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats as sstats

from basenji_tf import metrics


def _random_pair(seed=0, shape=(6, 20, 5)):
    rng = np.random.default_rng(seed)
    y = rng.gamma(1.5, 2.0, size=shape)
    p = 0.6 * y + rng.gamma(1.0, 1.5, size=shape)
    return y.astype(np.float32), p.astype(np.float32)


def _independent_r_r2(y, p):
    """Per target: pool all sequences and bins, then corrcoef and 1 - SSres/SStot."""
    r, r2 = [], []
    for ti in range(y.shape[-1]):
        yt = y[..., ti].astype(np.float64).ravel()
        pt = p[..., ti].astype(np.float64).ravel()
        r.append(np.corrcoef(yt, pt)[0, 1])
        r2.append(1 - ((yt - pt) ** 2).sum() / ((yt - yt.mean()) ** 2).sum())
    return np.array(r), np.array(r2)


def test_numpy_metrics_equal_independent_computation():
    y, p = _random_pair()
    r_ref, r2_ref = _independent_r_r2(y, p)
    np.testing.assert_allclose(metrics.pearsonr(y, p), r_ref, rtol=1e-10)
    np.testing.assert_allclose(metrics.r2(y, p), r2_ref, rtol=1e-10)
    # Pooling then averaging differs from averaging per-sequence correlations.
    per_seq = np.mean([metrics.pearsonr(y[i], p[i]).mean() for i in range(len(y))])
    assert abs(per_seq - r_ref.mean()) > 1e-4


def test_streaming_batches_equal_whole_array():
    y, p = _random_pair(seed=1)
    acc = metrics.TargetStats(y.shape[-1])
    for start in range(0, len(y), 4):  # a partial last batch of 2
        acc.update(y[start : start + 4], p[start : start + 4])
    r_ref, r2_ref = _independent_r_r2(y, p)
    np.testing.assert_allclose(acc.pearsonr(), r_ref, rtol=1e-10)
    np.testing.assert_allclose(acc.r2(), r2_ref, rtol=1e-10)


def test_tf_batch_sums_and_mask():
    y, p = _random_pair(seed=2)
    pad_y = np.concatenate([y, np.full_like(y[:2], 7.0)])
    pad_p = np.concatenate([p, np.full_like(p[:2], -3.0)])
    mask = np.r_[np.ones(len(y)), np.zeros(2)].astype(np.float32)
    sums = metrics.batch_sums(tf.constant(pad_y), tf.constant(pad_p), tf.constant(mask)).numpy()
    np.testing.assert_allclose(sums, metrics.numpy_sums(y, p), rtol=1e-5)


def test_keras_metrics_accumulate_like_numpy():
    y, p = _random_pair(seed=3)
    m_r = metrics.PearsonR(y.shape[-1], summarize=False)
    m_r2 = metrics.R2(y.shape[-1])
    for start in range(0, len(y), 3):
        m_r.update_state(y[start : start + 3], p[start : start + 3])
        m_r2.update_state(y[start : start + 3], p[start : start + 3])
    r_ref, r2_ref = _independent_r_r2(y, p)
    np.testing.assert_allclose(m_r.result().numpy(), r_ref, rtol=1e-4)
    np.testing.assert_allclose(float(m_r2.result()), r2_ref.mean(), rtol=1e-4)
    m_r.reset_state()
    assert np.all(m_r._sums.numpy() == 0)


def test_constant_prediction_gives_zero_r_and_constant_target_nan():
    y, p = _random_pair(seed=4, shape=(2, 10, 3))
    p[..., 0] = 1.5
    y[..., 1] = 2.0
    r = metrics.pearsonr(y, p)
    assert r[0] == 0.0
    assert np.isnan(r[1])
    assert np.isfinite(r[2])


def test_spearman_pools_bins():
    y, p = _random_pair(seed=5)
    expected = [sstats.spearmanr(y[..., t].ravel(), p[..., t].ravel())[0] for t in range(5)]
    np.testing.assert_allclose(metrics.spearmanr(y, p), expected)


def test_benjamini_hochberg_matches_definition():
    rng = np.random.default_rng(6)
    p = np.concatenate([rng.uniform(0, 1e-4, 20), rng.uniform(0, 1, 200)])
    q = metrics.benjamini_hochberg(p)
    m = len(p)
    rank = np.array([(p <= x).sum() for x in p])  # 1-based ranks (no ties here)
    brute = np.array([min(1.0, np.min(p[p >= x] * m / rank[p >= x])) for x in p])
    np.testing.assert_allclose(q, brute)
    # The original's floor division gives q = 0 for every p*m/rank < 1: more "peaks".
    assert np.sum(q < 0.01) < np.sum(p * m // rank < 0.01)


def test_call_peaks_and_auc():
    rng = np.random.default_rng(7)
    track = rng.poisson(2.0, 4000).astype(float)
    track[::100] = 40.0
    peaks = metrics.call_peaks(track)
    assert peaks[::100].all() and peaks.sum() < 60
    auroc, auprc = metrics.auroc_auprc(peaks, track + rng.normal(0, 0.1, track.shape))
    assert auroc > 0.99 and auprc > 0.9
    assert metrics.auroc_auprc(np.zeros(10, bool), np.arange(10.0)) == (0.5, 0.0)


@pytest.mark.parametrize("n", [1, 3])
def test_r2_perfect_prediction(n):
    y, _ = _random_pair(seed=8, shape=(n, 7, 2))
    np.testing.assert_allclose(metrics.r2(y, y), 1.0)
    np.testing.assert_allclose(metrics.pearsonr(y, y), 1.0)


# -- losses


def test_poisson_loss_equals_keras_poisson():
    rng = np.random.default_rng(0)
    y = rng.poisson(2.0, (3, 10, 4)).astype(np.float32)
    p = rng.gamma(2.0, 1.0, (3, 10, 4)).astype(np.float32)
    ours = float(tf.reduce_mean(metrics.poisson_loss(y, p)))
    np.testing.assert_allclose(ours, float(keras.losses.Poisson()(y, p)), rtol=1e-6)
    by_hand = np.mean(p - y * np.log(p + 1e-7))
    np.testing.assert_allclose(ours, by_hand, rtol=1e-5)


def test_mse_and_bce_equal_keras():
    rng = np.random.default_rng(2)
    y = (rng.random((3, 10, 4)) > 0.7).astype(np.float32)
    p = rng.random((3, 10, 4)).astype(np.float32)
    np.testing.assert_allclose(
        float(tf.reduce_mean(metrics.mse_loss(y, p))),
        float(keras.losses.MeanSquaredError()(y, p)),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        float(tf.reduce_mean(metrics.bce_loss(y, p))),
        float(keras.losses.BinaryCrossentropy()(y, p)),
        rtol=1e-5,
    )


def test_poisson_multinomial_loss_by_hand():
    rng = np.random.default_rng(1)
    y = rng.poisson(2.0, (2, 6, 3)).astype(np.float64)
    p = rng.gamma(2.0, 1.0, (2, 6, 3)).astype(np.float64)
    got = metrics.poisson_multinomial_loss(tf.constant(y), tf.constant(p), 0.5).numpy()
    ye, pe = y + 1e-6, p + 1e-6
    st, sp = ye.sum(1), pe.sum(1)
    poisson = (sp - st * np.log(sp + 1e-7)).mean(-1)
    mn = (-(ye * np.log(pe / sp[:, None])).sum(1)).mean(-1)
    np.testing.assert_allclose(got, (mn + 0.5 * poisson) / 6, rtol=1e-10)
    # The loss is lowest when the shape is right: a flat prediction of a peaked target.
    flat = np.full_like(p, p.mean())
    assert (
        metrics.poisson_multinomial_loss(y, y, 1.0).numpy().mean()
        < metrics.poisson_multinomial_loss(y, flat, 1.0).numpy().mean()
    )
