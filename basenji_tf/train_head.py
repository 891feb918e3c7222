"""``basenji_train_head.py``: a ridge-regression head fitted on a frozen trunk's embeddings.

Steps, as the original's:

1. Embeddings: the trunk model (``SeqNN.model_trunk``: sequence -> the trunk's output after
   the model activation, the original's ``build_embed(-1)``), ensembled over ``rc`` and
   ``shifts`` like a head, over every sequence of the data directory's train, valid and test
   splits. Each (sequence, bin) pair is one row: embeddings [rows, features] go to
   ``preds.h5`` and the targets [rows, targets] to ``targets.h5``, one dataset per split,
   rows in TFRecord order, sequence-major (row = sequence * target_length + bin). With one
   bin per sequence (a gene data directory, the original's use) a row is a sequence, as in
   the original's squeezed arrays.
2. A ridge regression from the train + valid rows' embeddings to their targets
   (:class:`RidgeSums`, exact, streamed).
3. Accuracy of the test rows: ``acc_tissue.txt`` (per target, over rows) and
   ``acc_gene.txt`` (per row, over targets), each line ``index pearsonr spearmanr r2``
   (r2 = explained variance), after quantile normalising test targets and predictions
   with ``quantile_normalize`` (``-q``).
4. With ``save_gene_expr`` (``-g``): ``gene_preds.tsv`` and ``gene_expr.tsv``, the ridge
   predictions and the targets of every row (train, valid, test), columns named by the
   targets table's identifiers, rows by ``genes.bed``'s gene ids as in the original (column
   4 ``gene_id/split``) or, without a genes.bed, by each bin's ``chrom:start-end``.
5. Unless ``skip_model_save`` (``-m``): ``params.json``, the params with one head, a
   ``final`` block of the data directory's number of targets, and ``model_best.h5``, the
   trunk's weights and the fitted head, loadable with ``seqnn.load``.

An existing ``preds.h5``/``targets.h5`` pair is reused when it was computed from the same
model file, data directory and ensemble (the original reused any pair it found), so a
second run with another ``alpha`` skips the model.

Differences from the original:

* The saved head is linear: the params' ``final`` block keeps its keys, with ``units`` the
  data directory's targets and ``activation`` ``linear``. The original wrote the ridge
  coefficients into the params' own output layer, usually softplus, so its saved model
  predicted softplus(X W + b), not the ridge predictions its accuracy files describe; ours
  predicts exactly X W + b.
* The ridge fit is float64 from streamed sums (the original: scikit-learn on float32
  arrays of all rows in memory); the solutions agree to float32 rounding.
* Data directories with several bins per sequence work (each bin a row); the original's
  squeeze needed one bin.
* A stale preds.h5 of another model or data directory is recomputed, not reused.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import h5py
import keras
import numpy as np
import pandas as pd
from natsort import natsorted
from scipy import stats as sstats

from basenji_tf import seqnn
from basenji_tf.dataset import SeqDataset
from basenji_tf.errors import InputError
from basenji_tf.evaluate_specificity import quantile_normalize
from basenji_tf.files import atomic_h5, atomic_path, write_text_atomic
from basenji_tf.model_files import save_model_file
from basenji_tf.params import parse_train_params, read_params
from basenji_tf.progress import track
from basenji_tf.targets import read_targets
from basenji_tf.tfrecords import read_sequences_bed, read_statistics
from basenji_tf.weights import weighted_layers

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
FIT_SPLITS = ("train", "valid")
# rows per chunk read back from preds.h5 (chunk memory: rows x features x 8 bytes)
CHUNK_ROWS = 8192


class RidgeSums:
    """Ridge regression with an unpenalised intercept, from sums accumulated over chunks.

    For rows x [n, F] and y [n, T] the fit is scikit-learn's ``Ridge(alpha)``: with the
    column means mx [F] and my [T],

        W = (Xc^T Xc + alpha I)^-1 Xc^T yc,   b = my - mx W,

    Xc = X - mx, yc = y - my. Both products come from sums over chunks, in float64:

        Xc^T Xc = S_xx - n mx mx^T,   Xc^T yc = S_xy - n mx my^T,

    where S_xx = sum x x^T and S_xy = sum x y^T. Rows are shifted by the first chunk's means
    before summing (the centred products are unchanged) so the subtraction does not cancel
    digits. Memory: F^2 + F T + F + T float64, whatever n; the rows are never held.
    """

    def __init__(self) -> None:
        self.n = 0
        self._shift_x: np.ndarray | None = None
        self._shift_y: np.ndarray | None = None

    def add(self, x: np.ndarray, y: np.ndarray) -> None:
        """Accumulate rows ``x`` [n, features] and ``y`` [n, targets]."""
        x = np.asarray(x, np.float64)
        y = np.asarray(y, np.float64)
        if x.ndim != 2 or y.ndim != 2 or len(x) != len(y):
            raise ValueError(f"need x [n, F] and y [n, T], not {x.shape} and {y.shape}")
        if not len(x):
            return
        if self._shift_x is None:
            self._shift_x, self._shift_y = x.mean(axis=0), y.mean(axis=0)
            self._sx = np.zeros(x.shape[1])
            self._sy = np.zeros(y.shape[1])
            self._sxx = np.zeros((x.shape[1], x.shape[1]))
            self._sxy = np.zeros((x.shape[1], y.shape[1]))
        xs, ys = x - self._shift_x, y - self._shift_y
        self.n += len(x)
        self._sx += xs.sum(axis=0)
        self._sy += ys.sum(axis=0)
        self._sxx += xs.T @ xs
        self._sxy += xs.T @ ys

    def solve(self, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        """The ridge solution: (W float64 [features, targets], b float64 [targets]).

        ``alpha`` 0 is least squares (minimum-norm when X is rank deficient).
        """
        if self.n == 0:
            raise InputError("ridge regression: no rows to fit (empty train and valid splits)")
        if alpha < 0:
            raise InputError(f"-a {alpha}: the ridge alpha must be >= 0")
        mean_x, mean_y = self._sx / self.n, self._sy / self.n
        gram = self._sxx - self.n * np.outer(mean_x, mean_x)
        cross = self._sxy - self.n * np.outer(mean_x, mean_y)
        gram[np.diag_indices_from(gram)] += alpha
        try:
            if alpha == 0:
                raise np.linalg.LinAlgError
            weights = np.linalg.solve(gram, cross)
        except np.linalg.LinAlgError:
            weights = np.linalg.lstsq(gram, cross, rcond=None)[0]
        intercept = (mean_y + self._shift_y) - (mean_x + self._shift_x) @ weights
        return weights, intercept


def fit_ridge(
    chunks: Iterable[tuple[np.ndarray, np.ndarray]], alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """Ridge fit of (x [n, F], y [n, T]) chunks: (W [F, T], b [T]); see :class:`RidgeSums`."""
    sums = RidgeSums()
    for x, y in chunks:
        sums.add(x, y)
    return sums.solve(alpha)


# -- the head's params and model ----------------------------------------------------------


def head_params(params: dict, num_targets: int, source: str = "params") -> dict:
    """The params of the new model: the trunk, one linear ``final`` head of ``num_targets``.

    Args:
        params: a params JSON (``model`` and usually ``train``).
        num_targets: outputs of the new head (the data directory's targets).
        source: the params file, for errors.

    Returns:
        a copy with the first head key only, its ``final`` block's ``units`` and
        ``activation`` ("linear") replaced, and no ``strand_pair`` (that of the old targets).

    Raises:
        InputError: the head is not one ``final`` block on the trunk's output.
    """
    out = copy.deepcopy(params)
    model = out["model"]
    keys = natsorted(k for k in model if k.startswith("head"))
    if not keys:
        raise InputError(f"{source}: model section needs a head* key")
    key = keys[0]
    blocks = model[key] if isinstance(model[key], list) else [model[key]]
    block = blocks[0] if len(blocks) == 1 else None
    if block is None or block.get("name") not in ("final", "dense") or block.get("flatten"):
        raise InputError(
            f"{source}: model.{key} must be one 'final' block without flatten (the ridge fits "
            "the trunk's output per bin); give a params file whose head is a final block"
        )
    if block.get("activation", "linear") != "linear":
        log.info(
            "the fitted head is linear (the ridge regression); params %s had activation %s",
            key,
            block["activation"],
        )
    for other in keys:
        if other != key:
            del model[other]
    model.pop("strand_pair", None)
    model[key] = {**block, "units": int(num_targets), "activation": "linear"}
    return out


def head_model(params: dict, model_file: str | os.PathLike, source: str) -> seqnn.SeqNN:
    """The SeqNN of :func:`head_params`' params with the trunk of ``model_file`` restored.

    ``model_file`` may hold the trunk only (the original's input) or a whole model, whose
    leading (trunk) layers are taken.
    """
    model = seqnn.SeqNN(params["model"], source=source, augment=False, params_json=params)
    model.restore(model_file, trunk=True)
    return model


def final_dense(model: seqnn.SeqNN) -> keras.layers.Dense:
    """The output Dense layer of ``model``'s current head (the one the ridge fit replaces)."""
    layer = weighted_layers(model.model)[-1]
    if not isinstance(layer, keras.layers.Dense):
        raise InputError(f"the head's last weighted layer is {type(layer).__name__}, not Dense")
    return layer


def set_head(model: seqnn.SeqNN, weights: np.ndarray, intercept: np.ndarray) -> None:
    """Write W [features, targets] and b [targets] into the head's output Dense."""
    layer = final_dense(model)
    kernel, bias = layer.get_weights()
    if kernel.shape != weights.shape or bias.shape != intercept.shape:
        raise InputError(
            f"the head's Dense has kernel {kernel.shape}, the fit {weights.shape}; the trunk's "
            "features or the targets differ from the params'"
        )
    layer.set_weights([weights.astype(np.float32), intercept.astype(np.float32)])


def trunk_head(model: seqnn.SeqNN) -> seqnn.Head:
    """The trunk as a :class:`seqnn.Head` (embeddings [B, bins, features]), for ensembling.

    Its RC members are flipped back along the bins; features are not strand-swapped.
    """
    head = model.head
    features = int(model.model_trunk.output.shape[-1])
    bins = int(model.model_trunk.output.shape[1])
    if bins != head.target_length:
        raise InputError(f"the trunk has {bins} output bins, its head {head.target_length}")
    return dataclasses.replace(
        head, index=-1, model=model.model_trunk, num_targets=features, strand_pair=None
    )


# -- embeddings -----------------------------------------------------------------------------


def _embed_source(model_file, data_dir, rc: bool, shifts: Sequence[int]) -> str:
    return json.dumps(
        {
            "model_file": os.path.abspath(model_file),
            "model_mtime": os.path.getmtime(model_file),
            "data_dir": os.path.abspath(data_dir),
            "rc": bool(rc),
            "shifts": [int(s) for s in shifts],
        },
        sort_keys=True,
    )


def embeddings_current(preds_file: Path, targets_file: Path, source: str) -> bool:
    """True if ``preds_file`` and ``targets_file`` exist and were computed from ``source``."""
    if not (preds_file.is_file() and targets_file.is_file()):
        return False
    try:
        with h5py.File(preds_file, "r") as preds, h5py.File(targets_file, "r") as targets:
            return (
                preds.attrs.get("source") == source
                and targets.attrs.get("source") == source
                and all(s in preds and s in targets for s in SPLITS)
            )
    except OSError:
        return False


def write_embeddings(
    model: seqnn.SeqNN,
    data_dir: str | os.PathLike,
    preds_file: str | os.PathLike,
    targets_file: str | os.PathLike,
    *,
    rc: bool = False,
    shifts: Sequence[int] = (0,),
    batch_size: int = 4,
    source: str = "",
) -> dict[str, int]:
    """Write every split's trunk embeddings and targets, one batch at a time.

    Model calls have ``batch_size`` sequences (``seqnn.predict_model`` pads the last).

    Args:
        model: the SeqNN whose trunk embeds.
        data_dir: the data directory (train, valid, test splits).
        preds_file: output, datasets ``train``/``valid``/``test`` float32 [rows, features].
        targets_file: output, the same splits' targets float32 [rows, targets].
        rc: average with the reverse complements (flipped back along the bins).
        shifts: ensemble shifts (bp).
        batch_size: sequences per model call.
        source: stored as the files' ``source`` attribute (:func:`embeddings_current`).

    Returns:
        rows per split.

    Raises:
        InputError: the data's sequences or bins do not fit the model.
    """
    trunk = trunk_head(model)
    embed = trunk.ensemble(rc, shifts)
    rows = {}
    with atomic_h5(preds_file) as preds_h5, atomic_h5(targets_file) as targets_h5:
        preds_h5.attrs["source"] = targets_h5.attrs["source"] = source
        for split in SPLITS:
            data = SeqDataset(data_dir, split, batch_size, mode="eval")
            _check_geometry(trunk, data, data_dir)
            bins = data.target_length
            total = data.num_seqs * bins
            x_out = preds_h5.create_dataset(split, (total, trunk.num_targets), np.float32)
            y_out = targets_h5.create_dataset(split, (total, data.num_targets), np.float32)
            row = 0
            batches = track(data.batches(), -(-data.num_seqs // batch_size), f"embed {split}")
            for seqs, targets in batches:
                x = seqnn.predict_model(embed, np.asarray(seqs), batch_size)
                y = np.asarray(targets, np.float32)
                end = row + len(x) * bins
                if end > total:
                    raise InputError(_count_error(data_dir, split, data.num_seqs))
                x_out[row:end] = x.reshape(-1, x.shape[-1])
                y_out[row:end] = y.reshape(-1, y.shape[-1])
                row = end
            if row != total:
                raise InputError(_count_error(data_dir, split, data.num_seqs))
            rows[split] = total
            log.info("embedded %d %s sequences (%d rows)", data.num_seqs, split, total)
    return rows


def _count_error(data_dir, split: str, num_seqs: int) -> str:
    return (
        f"{Path(data_dir) / 'statistics.json'}: {split}_seqs {num_seqs} disagrees with the "
        f"{split} TFRecords; rewrite the data directory"
    )


def _check_geometry(trunk: seqnn.Head, data: SeqDataset, data_dir) -> None:
    stats = Path(data_dir) / "statistics.json"
    if data.seq_length != trunk.seq_length:
        raise InputError(
            f"{stats}: seq_length {data.seq_length} bp, the model's {trunk.seq_length} bp; "
            "use the data directory the trunk was trained on (or one of its geometry)"
        )
    if data.target_length != trunk.target_length:
        raise InputError(
            f"{stats}: target_length {data.target_length} bins, the trunk's output "
            f"{trunk.target_length} bins; the ridge head maps each trunk bin to a target bin"
        )


def iter_rows(
    preds_file: str | os.PathLike,
    targets_file: str | os.PathLike,
    splits: Sequence[str],
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(embeddings [<= chunk_rows, F], targets [<= chunk_rows, T]) chunks of ``splits``."""
    with h5py.File(preds_file, "r") as preds_h5, h5py.File(targets_file, "r") as targets_h5:
        for split in splits:
            x, y = preds_h5[split], targets_h5[split]
            for start in range(0, len(x), chunk_rows):
                yield x[start : start + chunk_rows], y[start : start + chunk_rows]


# -- accuracy ---------------------------------------------------------------------------------


def explained_variance(y: np.ndarray, yh: np.ndarray, axis: int) -> np.ndarray:
    """scikit-learn's ``explained_variance_score`` along ``axis``: 1 - Var(y - yh) / Var(y).

    A constant ``y`` scores 1 if the residual is constant too, else 0 (sklearn's
    ``force_finite``).
    """
    var_y = np.var(y, axis=axis)
    var_res = np.var(y - yh, axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = 1 - var_res / var_y
    return np.where(var_y == 0, np.where(var_res == 0, 1.0, 0.0), score)


def _pearson(y: np.ndarray, yh: np.ndarray, axis: int) -> np.ndarray:
    yc = y - y.mean(axis=axis, keepdims=True)
    pc = yh - yh.mean(axis=axis, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (yc * pc).sum(axis) / np.sqrt((yc**2).sum(axis) * (pc**2).sum(axis))


def accuracy(y: np.ndarray, yh: np.ndarray, axis: int) -> pd.DataFrame:
    """Pearson r, Spearman r and explained variance of [rows, targets] arrays along ``axis``.

    ``axis`` 0: one line per target, over rows (acc_tissue.txt); 1: one line per row, over
    targets (acc_gene.txt). Constant vectors give NaN correlations, as scipy's.
    """
    y = np.asarray(y, np.float64)
    yh = np.asarray(yh, np.float64)
    ranks_y = sstats.rankdata(y, axis=axis)
    ranks_p = sstats.rankdata(yh, axis=axis)
    return pd.DataFrame(
        {
            "pearsonr": _pearson(y, yh, axis),
            "spearmanr": _pearson(ranks_y, ranks_p, axis),
            "r2": explained_variance(y, yh, axis),
        }
    )


def write_accuracy(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Tab-separated ``index pearsonr spearmanr r2`` lines, %.4f, no header (the original's)."""
    lines = [
        f"{i}\t{r.pearsonr:.4f}\t{r.spearmanr:.4f}\t{r.r2:.4f}\n"
        for i, r in enumerate(table.itertuples())
    ]
    write_text_atomic(path, "".join(lines))


# -- gene expression tables -----------------------------------------------------------------


def row_names(data_dir: str | os.PathLike, rows: dict[str, int]) -> list[str]:
    """Names of the rows of every split (train, valid, test order).

    ``data_dir/genes.bed`` (column 4 ``gene_id/split``), as the original, when it exists;
    else each bin's ``chrom:start-end`` from sequences.bed and statistics.json's pool_width.
    """
    genes_bed = Path(data_dir) / "genes.bed"
    total = sum(rows[s] for s in SPLITS)
    if genes_bed.is_file():
        by_split: dict[str, list[str]] = {s: [] for s in SPLITS}
        with open(genes_bed) as handle:
            for number, line in enumerate(handle, 1):
                fields = line.rstrip("\n").split("\t")
                if len(fields) < 4 or "/" not in fields[3]:
                    raise InputError(f"{genes_bed}: line {number}: column 4 must be gene_id/split")
                gene, split = fields[3].rsplit("/", 1)
                by_split["test" if split not in ("train", "valid") else split].append(gene)
        names = [g for s in SPLITS for g in by_split[s]]
        if len(names) != total:
            raise InputError(
                f"{genes_bed}: {len(names)} genes, but the splits have {total} rows; it does "
                "not belong to this data directory's TFRecords"
            )
        return names
    stats = read_statistics(data_dir)
    pool_bp, bins = int(stats.get("pool_width", 1)), int(stats["target_length"])
    names = []
    for split in SPLITS:
        bed = read_sequences_bed(data_dir, split)
        if len(bed) * bins != rows[split]:
            raise InputError(
                f"{Path(data_dir) / 'sequences.bed'}: {len(bed)} {split} regions, the "
                f"TFRecords {rows[split] // bins}; rewrite the data directory"
            )
        for chrom, start in zip(bed["chrom"], bed["start"]):
            names.extend(
                f"{chrom}:{start + b * pool_bp}-{start + (b + 1) * pool_bp}" for b in range(bins)
            )
    return names


def write_gene_table(
    path: str | os.PathLike,
    names: list[str],
    columns: list[str],
    chunks: Iterable[np.ndarray],
) -> None:
    """A TSV of [rows, targets] chunks, rows named ``names``, columns ``columns``."""
    with atomic_path(path) as tmp, open(tmp, "w") as handle:
        handle.write("\t" + "\t".join(columns) + "\n")
        row = 0
        for chunk in chunks:
            frame = pd.DataFrame(chunk, index=names[row : row + len(chunk)], columns=columns)
            frame.to_csv(handle, sep="\t", header=False)
            row += len(chunk)


# -- the command ------------------------------------------------------------------------------


def train_head(
    params_file: str | os.PathLike,
    model_file: str | os.PathLike,
    data_dir: str | os.PathLike,
    out_dir: str | os.PathLike = "head_out",
    *,
    alpha: float = 1.0,
    quantile_normalize_test: bool = False,
    save_gene_expr: bool = False,
    skip_model_save: bool = False,
    rc: bool = False,
    shifts: Sequence[int] = (0,),
) -> dict:
    """Fit a ridge head on a frozen trunk and write the original's files into ``out_dir``.

    Args:
        params_file: the params JSON of ``model_file`` (its head must be one final block).
        model_file: the trained trunk (``save_model.py --trunk``) or whole model.
        data_dir: data directory with train, valid and test splits; its targets are fitted.
        out_dir: preds.h5, targets.h5, acc_tissue.txt, acc_gene.txt, [gene_preds.tsv,
            gene_expr.tsv], params.json and model_best.h5.
        alpha: the ridge penalty (>= 0).
        quantile_normalize_test: quantile normalise the test targets and predictions
            (across targets) before the accuracy files (``-q``).
        save_gene_expr: write gene_preds.tsv and gene_expr.tsv (``-g``).
        skip_model_save: write no params.json or model_best.h5 (``-m``).
        rc: embeddings averaged with the reverse complements' (``--rc``).
        shifts: ensemble shifts of the embeddings (bp, ``--shifts``).

    Returns:
        dict with ``weights`` [features, targets], ``intercept`` [targets], ``rows`` per split
        and the mean ``tissue`` and ``gene`` accuracies ({pearsonr, spearmanr, r2}).
    """
    if alpha < 0:
        raise InputError(f"-a {alpha}: the ridge alpha must be >= 0")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    params = read_params(params_file)
    settings = parse_train_params(params.get("train", {}), os.fspath(params_file))
    num_targets = int(read_statistics(data_dir)["num_targets"])
    new_params = head_params(params, num_targets, os.fspath(params_file))
    model = head_model(new_params, model_file, os.fspath(params_file))

    preds_file, targets_file = out / "preds.h5", out / "targets.h5"
    source = _embed_source(model_file, data_dir, rc, shifts)
    if embeddings_current(preds_file, targets_file, source):
        log.info("%s: embeddings of this model and data found; reusing them", preds_file)
        with h5py.File(preds_file, "r") as preds_h5:
            rows = {s: len(preds_h5[s]) for s in SPLITS}
    else:
        rows = write_embeddings(
            model,
            data_dir,
            preds_file,
            targets_file,
            rc=rc,
            shifts=shifts,
            batch_size=settings.batch_size,
            source=source,
        )

    weights, intercept = fit_ridge(iter_rows(preds_file, targets_file, FIT_SPLITS), alpha)
    log.info("ridge fit on %d rows, alpha %g", rows["train"] + rows["valid"], alpha)

    def predictions(splits):
        for x, y in iter_rows(preds_file, targets_file, splits):
            yield x.astype(np.float64) @ weights + intercept, y

    test = list(predictions(["test"]))
    yh_test = np.concatenate([p for p, _ in test]) if test else np.zeros((0, num_targets))
    y_test = np.concatenate([y for _, y in test]) if test else np.zeros((0, num_targets))

    if save_gene_expr:
        names = row_names(data_dir, rows)
        columns = [str(c) for c in read_targets(Path(data_dir) / "targets.txt")["identifier"]]
        write_gene_table(
            out / "gene_preds.tsv", names, columns, (p for p, _ in predictions(SPLITS))
        )
        write_gene_table(out / "gene_expr.tsv", names, columns, (y for _, y in predictions(SPLITS)))

    if quantile_normalize_test and len(y_test):
        y_test = quantile_normalize(y_test)
        yh_test = quantile_normalize(yh_test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        tissue = accuracy(y_test, yh_test, axis=0)
        gene = accuracy(y_test, yh_test, axis=1)
    write_accuracy(tissue, out / "acc_tissue.txt")
    write_accuracy(gene, out / "acc_gene.txt")

    if not skip_model_save:
        set_head(model, weights, intercept)
        write_text_atomic(out / "params.json", json.dumps(new_params, indent=4) + "\n")
        save_model_file(model, out / "model_best.h5")
        log.info("wrote %s and %s", out / "params.json", out / "model_best.h5")
    return {
        "weights": weights,
        "intercept": intercept,
        "rows": rows,
        "tissue": {k: float(np.nanmean(tissue[k])) for k in tissue},
        "gene": {k: float(np.nanmean(gene[k])) for k in gene},
    }
