"""Accuracy metrics (pooled per-target Pearson R and R2, AUROC/AUPRC) and training losses.

Every correlation here is computed per target (the last axis) over ALL bins of ALL
sequences pooled together, and only then averaged over targets (REFERENCE.md 5.4). The
pooled statistics are sums, so they stream: :class:`TargetStats` accumulates them batch by
batch in float64 on the host, :func:`batch_sums` computes one batch's sums as a TensorFlow
op (inside a distributed step, where replica sums are added with a SUM all-reduce), and
:class:`PearsonR` / :class:`R2` wrap the same sums as Keras metrics for ``compile``.

With n bins, sums Sy, Syy, Sp, Spp, Syp and means my = Sy/n, mp = Sp/n:

* r  = (Syp - my*Sp - mp*Sy + n*my*mp) / (sqrt(Syy - n*my^2) * sqrt(Spp - n*mp^2))
* R2 = 1 - (Spp - 2*Syp + Syy) / (Syy - n*my^2)

As in the original, a prediction variance <= 1e-12 makes r exactly 0 (a constant
prediction carries no signal), while a target with zero variance gives NaN.

Differences from the original: sums are accumulated in float64 (the original keeps float32
running sums, which lose digits over a whole test set); Benjamini-Hochberg q-values are
real-valued (the original floors them, see :func:`benjamini_hochberg`).
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf
from scipy import stats as sstats
from sklearn.metrics import average_precision_score, roc_auc_score

from basenji_tf.params import TrainParams

# Row order of the sufficient-statistics arrays [NUM_SUMS, num_targets].
SUM_NAMES = ("n", "y", "yy", "p", "pp", "yp")
NUM_SUMS = len(SUM_NAMES)
_PRED_VAR_FLOOR = 1e-12
_POISSON_EPS = 1e-7  # Keras Poisson's epsilon inside the log
_MN_EPS = 1e-6  # poisson_mn pseudocount, as in the original


def batch_sums(y_true: tf.Tensor, y_pred: tf.Tensor, mask: tf.Tensor | None = None) -> tf.Tensor:
    """Sufficient statistics of one batch, per target, as a TensorFlow op.

    Args:
        y_true: targets [batch, length_bins, num_targets].
        y_pred: predictions, the same shape.
        mask: optional [batch] weights (1 = real sequence, 0 = padding row of a partial
            last batch).

    Returns:
        float32 [6, num_targets]: n, Sy, Syy, Sp, Spp, Syp summed over batch and bins.
    """
    y = tf.cast(y_true, tf.float32)
    p = tf.cast(y_pred, tf.float32)
    w = tf.ones_like(y[..., :1]) if mask is None else tf.cast(mask, tf.float32)[:, None, None]
    w = tf.broadcast_to(w, tf.shape(y))
    return tf.stack(
        [
            tf.reduce_sum(w, axis=[0, 1]),
            tf.reduce_sum(w * y, axis=[0, 1]),
            tf.reduce_sum(w * y * y, axis=[0, 1]),
            tf.reduce_sum(w * p, axis=[0, 1]),
            tf.reduce_sum(w * p * p, axis=[0, 1]),
            tf.reduce_sum(w * y * p, axis=[0, 1]),
        ]
    )


def numpy_sums(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """float64 [6, num_targets] sums of arrays [..., num_targets] (all leading axes pooled)."""
    num_targets = y_true.shape[-1]
    y = np.asarray(y_true, dtype=np.float64).reshape(-1, num_targets)
    p = np.asarray(y_pred, dtype=np.float64).reshape(-1, num_targets)
    return np.stack(
        [
            np.full(num_targets, y.shape[0], dtype=np.float64),
            y.sum(0),
            (y * y).sum(0),
            p.sum(0),
            (p * p).sum(0),
            (y * p).sum(0),
        ]
    )


def pearsonr_from_sums(sums: np.ndarray) -> np.ndarray:
    """Per-target Pearson r [num_targets] from sums [6, num_targets]."""
    n, sy, syy, sp, spp, syp = np.asarray(sums, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        my, mp = sy / n, sp / n
        cov = syp - my * sp - mp * sy + n * my * mp
        var_y = syy - n * my * my
        var_p = spp - n * mp * mp
        var_p = np.where(var_p <= _PRED_VAR_FLOOR, np.inf, var_p)
        return cov / (np.sqrt(var_y) * np.sqrt(var_p))


def r2_from_sums(sums: np.ndarray) -> np.ndarray:
    """Per-target coefficient of determination [num_targets] from sums [6, num_targets]."""
    n, sy, syy, sp, spp, syp = np.asarray(sums, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        my = sy / n
        return 1.0 - (spp - 2.0 * syp + syy) / (syy - n * my * my)


class TargetStats:
    """Streaming per-target Pearson r and R2 over many batches (float64 sums).

    Args:
        num_targets: size of the last axis of every batch.
    """

    def __init__(self, num_targets: int):
        self.sums = np.zeros((NUM_SUMS, num_targets), dtype=np.float64)

    def update(self, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        """Add a batch [..., num_targets] of targets and predictions."""
        self.sums += numpy_sums(y_true, y_pred)

    def add_sums(self, sums: np.ndarray) -> None:
        """Add precomputed sums [6, num_targets] (e.g. from :func:`batch_sums`)."""
        self.sums += np.asarray(sums, dtype=np.float64)

    def pearsonr(self) -> np.ndarray:
        return pearsonr_from_sums(self.sums)

    def r2(self) -> np.ndarray:
        return r2_from_sums(self.sums)


def pearsonr(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Per-target Pearson r of arrays [..., num_targets], all leading axes pooled."""
    return pearsonr_from_sums(numpy_sums(y_true, y_pred))


def r2(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Per-target R2 of arrays [..., num_targets], all leading axes pooled."""
    return r2_from_sums(numpy_sums(y_true, y_pred))


def spearmanr(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Per-target Spearman rank correlation of arrays [..., num_targets], leading axes pooled."""
    num_targets = y_true.shape[-1]
    y = np.asarray(y_true, dtype=np.float64).reshape(-1, num_targets)
    p = np.asarray(y_pred, dtype=np.float64).reshape(-1, num_targets)
    return np.array([sstats.spearmanr(y[:, ti], p[:, ti])[0] for ti in range(num_targets)])


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values (step-up FDR adjustment), same shape as ``p_values``.

    q_(i) = min over j >= i of p_(j) * m / j for p sorted ascending, capped at 1.

    Differences from the original: ``basenji_test.py`` divides with ``//``, flooring every
    q-value to an integer, so its "q < 0.01" test really selects p*m/rank < 1 and its
    peak sets are far larger than an FDR of 1% allows. We compute the real q-values.
    """
    p = np.asarray(p_values, dtype=np.float64).ravel()
    m = p.size
    if m == 0:
        return p.reshape(np.shape(p_values))
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum.accumulate(scaled[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(q_sorted, 1.0)
    return q.reshape(np.shape(p_values))


def call_peaks(target: np.ndarray, q_threshold: float = 0.01) -> np.ndarray:
    """Bins of one track whose coverage is significantly above the track mean.

    Each bin value y is tested against a Poisson with the mean of all given bins as
    rate: p = P(Y >= round(y)) = 1 - cdf(round(y) - 1), then BH-adjusted.

    Args:
        target: coverage of one track, any shape (already subsampled, e.g. every 8th bin).
        q_threshold: FDR level.

    Returns:
        bool array of the same shape, True at peak bins.
    """
    target = np.asarray(target, dtype=np.float64)
    rate = target.mean()
    p_values = sstats.poisson.sf(np.round(target) - 1, rate)
    return benjamini_hochberg(p_values) < q_threshold


def auroc_auprc(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """Area under the ROC and precision-recall curves; (0.5, 0.0) when there are no positives.

    Args:
        labels: bool array.
        scores: float array of the same shape.
    """
    labels = np.asarray(labels, dtype=bool).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if not labels.any():
        return 0.5, 0.0
    if labels.all():
        return 0.5, 1.0
    return float(roc_auc_score(labels, scores)), float(average_precision_score(labels, scores))


class _PooledSumsMetric(keras.metrics.Metric):
    """Keras metric keeping the six pooled per-target sums; subclasses define ``_value``."""

    def __init__(self, num_targets: int, summarize: bool = True, name: str | None = None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_targets = num_targets
        self.summarize = summarize
        self._sums = self.add_variable(
            shape=(NUM_SUMS, num_targets), initializer="zeros", name="sums", dtype="float32"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        self._sums.assign_add(batch_sums(y_true, y_pred, sample_weight))

    def reset_state(self):
        self._sums.assign(tf.zeros_like(self._sums))

    def result(self):
        value = self._value(tf.cast(self._sums, tf.float32))
        return tf.reduce_mean(value) if self.summarize else value

    def get_config(self):
        return {
            **super().get_config(),
            "num_targets": self.num_targets,
            "summarize": self.summarize,
        }


@keras.saving.register_keras_serializable(package="basenji_tf")
class PearsonR(_PooledSumsMetric):
    """Per-target Pearson r pooled over batches and bins; the mean over targets if ``summarize``."""

    def __init__(self, num_targets: int, summarize: bool = True, name: str = "pearsonr", **kwargs):
        super().__init__(num_targets, summarize=summarize, name=name, **kwargs)

    def _value(self, sums):
        n, sy, syy, sp, spp, syp = tf.unstack(sums)
        my, mp = sy / n, sp / n
        cov = syp - my * sp - mp * sy + n * my * mp
        var_p = spp - n * mp * mp
        var_p = tf.where(var_p <= _PRED_VAR_FLOOR, tf.fill(tf.shape(var_p), np.inf), var_p)
        return cov / (tf.sqrt(syy - n * my * my) * tf.sqrt(var_p))


@keras.saving.register_keras_serializable(package="basenji_tf")
class R2(_PooledSumsMetric):
    """Per-target R2 pooled over batches and bins; the mean over targets if ``summarize``."""

    def __init__(self, num_targets: int, summarize: bool = True, name: str = "r2", **kwargs):
        super().__init__(num_targets, summarize=summarize, name=name, **kwargs)

    def _value(self, sums):
        n, sy, syy, sp, spp, syp = tf.unstack(sums)
        return 1.0 - (spp - 2.0 * syp + syy) / (syy - n * (sy / n) * (sy / n))


# ---------------------------------------------------------------------------------------
# Losses: per-example values [batch], averaged over bins and targets


def poisson_loss(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """Keras Poisson per example: mean over bins and targets of ``p - y*log(p + 1e-7)``.

    Averaging these over the batch gives exactly the original's loss (Keras ``Poisson``,
    mean over targets, then SUM_OVER_BATCH_SIZE over batch and bins).

    Args:
        y_true: targets [batch, length_bins, num_targets].
        y_pred: predictions, the same shape.

    Returns:
        [batch].
    """
    return tf.reduce_mean(y_pred - y_true * tf.math.log(y_pred + _POISSON_EPS), axis=[1, 2])


def mse_loss(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """Mean squared error per example [batch]."""
    return tf.reduce_mean(tf.square(y_true - y_pred), axis=[1, 2])


def bce_loss(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """Binary cross-entropy of probabilities per example [batch] (Keras clipping, 1e-7)."""
    p = tf.clip_by_value(y_pred, 1e-7, 1 - 1e-7)
    return -tf.reduce_mean(y_true * tf.math.log(p) + (1 - y_true) * tf.math.log(1 - p), axis=[1, 2])


def poisson_multinomial_loss(
    y_true: tf.Tensor, y_pred: tf.Tensor, total_weight: float = 1.0
) -> tf.Tensor:
    """Poisson on each track's total plus multinomial NLL of its shape, per example [batch].

    With a 1e-6 pseudocount on both, L bins, totals s = sum over bins:
    ``mean_t[(s_p - s_y*log(s_p + 1e-7)) * total_weight - sum_l y*log(p/s_p)] / L``.
    """
    y = y_true + _MN_EPS
    p = y_pred + _MN_EPS
    length = tf.cast(tf.shape(y)[1], y.dtype)
    s_true = tf.reduce_sum(y, axis=1)
    s_pred = tf.reduce_sum(p, axis=1)
    poisson_term = tf.reduce_mean(s_pred - s_true * tf.math.log(s_pred + _POISSON_EPS), axis=-1)
    log_share = tf.math.log(p / s_pred[:, None, :])
    multinomial_term = tf.reduce_mean(-tf.reduce_sum(y * log_share, axis=1), axis=-1)
    return (multinomial_term + total_weight * poisson_term) / length


def make_loss(settings: TrainParams) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """The per-example loss function named by ``settings.loss``."""
    if settings.loss == "poisson_mn":
        weight = settings.total_weight
        return lambda y, p: poisson_multinomial_loss(y, p, weight)
    return {"poisson": poisson_loss, "mse": mse_loss, "bce": bce_loss}[settings.loss]
