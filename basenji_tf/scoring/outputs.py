"""Every HDF5 layout the scoring commands write, and BigWig tracks.

* ``sad.h5`` (:class:`SadWriter`, :func:`merge_sad`): ``snp``, ``chr``, ``pos`` (uint32,
  1-based), ``ref_allele``, ``alt_allele``, ``target_ids``, ``target_labels``, one float16
  dataset per statistic ([rows, T]; ``REF``/``ALT`` [rows, bins, T]), ``percentiles`` and
  ``{stat}_pct`` (float16 [T, 279]), as the original's ``basenji_sad.py``.
* ``scores.h5`` of saturation mutagenesis (:func:`write_sat_h5`) and of attributions
  (:func:`write_grad_h5`, :func:`read_grad_h5`).
* ``predict.h5`` (:func:`write_predict_h5`); ``sed.h5`` is in :mod:`.sed_output`.
* reading: ``sad.h5`` as a table (:func:`iter_sad_table`, ``basenji_sad_table.py``),
  ``scores.h5`` of saturation mutagenesis (:func:`read_sat_h5`).

Every float16 dataset goes through :func:`to_float16`, which clips to the finite float16
range first (as the original does for its SAD statistics) instead of overflowing to inf.
Files are written atomically (:func:`basenji_tf.files.atomic_path`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import h5py
import numpy as np
import pandas as pd
from natsort import natsorted

from basenji_tf.errors import InputError
from basenji_tf.files import atomic_h5, atomic_path, close_h5, discard_h5, h5_os_error, read_h5

if TYPE_CHECKING:
    from basenji_tf.scoring.bed import Region, Site
    from basenji_tf.scoring.vcf import Variant

SAD_STATS = (
    "SAD", "logSAD", "sqrtSAD", "SAX", "D1", "logD1", "sqrtD1",
    "D2", "logD2", "sqrtD2", "JS", "logJS", "REF", "ALT",
)  # fmt: skip
"""Statistic datasets ``sad.h5`` may hold, in the original's order."""

# The original's table: 0.001..0.099 by 0.001, 0.10..0.89 by 0.01, 0.900..0.999 by 0.001,
# built with np.arange so the float64 values are bit-identical.
PERCENTILES = np.concatenate(
    [np.arange(0.001, 0.1, 0.001), np.arange(0.1, 0.9, 0.01), np.arange(0.9, 1, 0.001)]
)

FLOAT16_MAX = float(np.finfo(np.float16).max)


def clip_float16(values: np.ndarray) -> np.ndarray:
    """``values`` clipped to the finite float16 range (same dtype)."""
    return np.clip(values, -FLOAT16_MAX, FLOAT16_MAX)


def to_float16(values: np.ndarray) -> np.ndarray:
    """``values`` as float16, clipped to the finite range first (no inf from overflow)."""
    return clip_float16(values).astype(np.float16)


# ---------------------------------------------------------------------------------------
# sad.h5
# ---------------------------------------------------------------------------------------


class SadWriter:
    """Stream rows into ``sad.h5`` (resizable datasets), then add the percentile tables.

    Args:
        path: an open-for-writing temporary path (see :func:`basenji_tf.files.atomic_path`).
            On a failed write (a full disk) the file is discarded (closed, left for the
            caller's ``atomic_path`` to delete) and the error names ``path``.
        stats: statistic names.
        target_ids, target_labels: one per reported target.
        num_bins: prediction length in bins (REF/ALT datasets).
    """

    def __init__(
        self,
        path: str,
        stats: Sequence[str],
        target_ids: Sequence[str],
        target_labels: Sequence[str],
        num_bins: int,
    ):
        self.h5 = h5py.File(path, "w")
        self.h5_path = path
        self.stats = list(stats)
        self.rows = 0
        num_targets = len(target_ids)
        # Every row dataset stays open until close: HDF5 writes a dataset's cached chunks
        # when its last handle closes, and a write that fails there (a full disk) cannot
        # raise and leaves the file unusable.
        self._rows: dict[str, h5py.Dataset] = {}
        for name in ("snp", "chr", "ref_allele", "alt_allele"):
            self._rows[name] = self.h5.create_dataset(
                name, (0,), dtype="S1", maxshape=(None,), chunks=(4096,)
            )
        self._rows["pos"] = self.h5.create_dataset(
            "pos", (0,), dtype="uint32", maxshape=(None,), chunks=(4096,)
        )
        self.h5.create_dataset("target_ids", data=np.array(target_ids, dtype="S"))
        self.h5.create_dataset("target_labels", data=np.array(target_labels, dtype="S"))
        for stat in self.stats:
            shape = (num_bins, num_targets) if stat in ("REF", "ALT") else (num_targets,)
            self._rows[stat] = self.h5.create_dataset(
                stat,
                (0, *shape),
                dtype="float16",
                maxshape=(None, *shape),
                chunks=(max(1, min(64, 2**20 // (2 * int(np.prod(shape))))), *shape),
            )

    def _append_strings(self, name: str, values: list[str]) -> None:
        data = np.array(values, dtype="S")
        dset = self._rows[name]
        if data.dtype.itemsize > dset.dtype.itemsize:
            # h5py cannot widen a fixed-length string dataset in place: rewrite it.
            old = dset[:]
            dset.flush()  # write its chunks here, where a failure raises, not at its close
            del self.h5[name]
            dset = self._rows[name] = self.h5.create_dataset(
                name, data=old.astype(data.dtype), maxshape=(None,), chunks=(4096,)
            )
        dset.resize((self.rows + len(values),))
        dset[self.rows :] = data

    def append(self, variants: Sequence[Variant], scores: dict[str, np.ndarray]) -> None:
        """Add rows: ``scores[stat]`` is [len(variants), ...] float16."""
        if not variants:
            return
        try:
            self._append(variants, scores)
        except BaseException as err:
            discard_h5(self.h5)
            raise h5_os_error(err, self.h5_path) from err

    def _append(self, variants: Sequence[Variant], scores: dict[str, np.ndarray]) -> None:
        self._append_strings("snp", [v.id for v in variants])
        self._append_strings("chr", [v.chrom for v in variants])
        self._append_strings("ref_allele", [v.ref for v in variants])
        self._append_strings("alt_allele", [v.alt for v in variants])
        end = self.rows + len(variants)
        self._rows["pos"].resize((end,))
        self._rows["pos"][self.rows :] = [v.pos for v in variants]
        for stat in self.stats:
            dset = self._rows[stat]
            dset.resize((end, *dset.shape[1:]))
            dset[self.rows :] = scores[stat]
        self.rows = end

    def close(self) -> None:
        """Add the percentile tables and close (a discarded file is left closed)."""
        if not self.h5.id.valid:
            return
        try:
            write_percentiles(self.h5, self.stats)
        except BaseException as err:
            discard_h5(self.h5)
            raise h5_os_error(err, self.h5_path) from err
        close_h5(self.h5, self.h5_path)


def write_percentiles(h5: h5py.File, stats: Sequence[str], block: int = 256) -> None:
    """Add ``percentiles`` and ``{stat}_pct`` [T, 279] (float16) over all rows.

    Targets are processed in blocks of columns so memory stays at rows x block values.
    With no rows the tables are NaN.
    """
    if "percentiles" in h5:
        del h5["percentiles"]
    h5.create_dataset("percentiles", data=PERCENTILES)
    for stat in stats:
        if stat in ("REF", "ALT"):
            continue
        dset = h5[stat]
        num_targets = dset.shape[1]
        table = np.full((num_targets, len(PERCENTILES)), np.nan, dtype=np.float16)
        if dset.shape[0]:
            for t0 in range(0, num_targets, block):
                values = dset[:, t0 : t0 + block]
                table[t0 : t0 + block] = np.percentile(values, 100 * PERCENTILES, axis=0).T
        name = f"{stat}_pct"
        if name in h5:
            del h5[name]
        h5.create_dataset(name, data=table)


def merge_sad(job_files: Sequence[str], out_file: str, chunk_rows: int = 4096) -> int:
    """Concatenate shard ``sad.h5`` files (in order) into one and recompute percentiles.

    Returns:
        the number of rows written.
    """
    with read_h5(job_files[0], "shard sad.h5") as first:
        stats = [k for k in first if k in SAD_STATS]
        per_row = ["snp", "chr", "pos", "ref_allele", "alt_allele", *stats]
        shapes = {k: first[k].shape[1:] for k in per_row}
        dtypes = {k: first[k].dtype for k in per_row}
        target_ids = first["target_ids"][:]
        target_labels = first["target_labels"][:]
    with atomic_h5(out_file) as out:
        total = 0
        for job in job_files:
            with read_h5(job, "shard sad.h5") as h5:
                total += h5["snp"].shape[0]
                for k in ("snp", "chr", "ref_allele", "alt_allele"):
                    dtypes[k] = max(dtypes[k], h5[k].dtype, key=lambda d: d.itemsize)
        for k in per_row:
            out.create_dataset(k, (total, *shapes[k]), dtype=dtypes[k])
        out.create_dataset("target_ids", data=target_ids)
        out.create_dataset("target_labels", data=target_labels)
        row = 0
        for job in job_files:
            with read_h5(job, "shard sad.h5") as h5:
                n = h5["snp"].shape[0]
                for r0 in range(0, n, chunk_rows):
                    r1 = min(n, r0 + chunk_rows)
                    for k in per_row:
                        out[k][row + r0 : row + r1] = h5[k][r0:r1]
                row += n
        write_percentiles(out, stats)
    return total


def _strings(values: np.ndarray) -> list[str]:
    """Bytes (or str) values of an HDF5 string dataset as str."""
    return [x.decode() if isinstance(x, bytes) else str(x) for x in values]


def sad_quantiles(values: np.ndarray, pct_table: np.ndarray) -> np.ndarray:
    """Quantiles of scores within a file's percentile tables, as ``basenji_sad_table.py``.

    Args:
        values: [rows, T] scores of one statistic.
        pct_table: [T, 279] that statistic's ``{stat}_pct`` table.

    Returns:
        float64 [rows, T]: the first tabulated percentile whose value is not below the
        score (a score above the whole table gets the last, 0.999).
    """
    percentiles = np.append(PERCENTILES, PERCENTILES[-1])
    out = np.empty(values.shape, np.float64)
    for ti in range(values.shape[1]):
        out[:, ti] = percentiles[np.searchsorted(pct_table[ti], values[:, ti])]
    return out


def _sad_pct_table(h5: h5py.File, sad_file: str, quant_file: str | None) -> np.ndarray:
    """The ``SAD_pct`` table [T, 279] of ``quant_file`` (default: of ``h5`` itself)."""
    if quant_file is None:
        if "SAD_pct" not in h5:
            raise InputError(f"{sad_file}: dataset 'SAD_pct' is missing; give -q a sad.h5")
        return h5["SAD_pct"][:]
    with read_h5(quant_file, "SAD quantile file") as quant:
        if "SAD_pct" not in quant:
            raise InputError(f"{quant_file}: dataset 'SAD_pct' is missing; give a sad.h5")
        table = quant["SAD_pct"][:]
    if table.shape[0] != h5["SAD"].shape[1]:
        raise InputError(
            f"{quant_file}: SAD_pct has {table.shape[0]} targets, {sad_file} has "
            f"{h5['SAD'].shape[1]}; give a quantile file scored with the same targets"
        )
    return table


def iter_sad_table(
    sad_file: str, quant_file: str | None = None, wide: bool = False, chunk_rows: int = 4096
) -> Iterator[pd.DataFrame]:
    """``sad.h5`` (ours or the original's) as table chunks, for ``basenji_sad_table.py``.

    Long form: one row per variant and target, columns ``SNP chr pos ref_allele
    alt_allele TargetIndex TargetID TargetLabel``, one column per statistic (REF/ALT left
    out) and ``Quantile`` (of SAD within the percentile tables, when the file has SAD).
    Wide form: one row per variant, a column ``{stat}_{target_id}`` per statistic and
    target and ``Quantile_{target_id}`` (``t{index}`` for ``target_id`` when the ids are
    not unique).

    Args:
        sad_file: the sad.h5.
        quant_file: a sad.h5 whose ``SAD_pct`` tables give the quantiles (default: the
            file's own), e.g. the scores of a large background set.
        wide: the wide form.
        chunk_rows: variants per yielded chunk.

    Yields:
        DataFrames in variant order (at least one, possibly empty, so a header is known).

    Raises:
        InputError: not a sad.h5, or a quantile file with other targets.
    """
    with read_h5(sad_file, "sad.h5 file") as h5:
        for key in ("snp", "chr", "pos", "ref_allele", "alt_allele", "target_ids"):
            if key not in h5:
                raise InputError(f"{sad_file}: dataset {key!r} is missing; give a sad.h5")
        stats = [s for s in SAD_STATS if s in h5 and s not in ("REF", "ALT")]
        target_ids = _strings(h5["target_ids"][:])
        labels = (
            _strings(h5["target_labels"][:]) if "target_labels" in h5 else [""] * len(target_ids)
        )
        pct = _sad_pct_table(h5, sad_file, quant_file) if "SAD" in stats else None
        num_rows = h5["snp"].shape[0]
        for r0 in range(0, max(num_rows, 1), chunk_rows):
            rows = slice(r0, min(num_rows, r0 + chunk_rows))
            info = {
                "SNP": _strings(h5["snp"][rows]),
                "chr": _strings(h5["chr"][rows]),
                "pos": h5["pos"][rows].astype(np.int64),
                "ref_allele": _strings(h5["ref_allele"][rows]),
                "alt_allele": _strings(h5["alt_allele"][rows]),
            }
            values = {s: h5[s][rows].astype(np.float64) for s in stats}
            if pct is not None:
                values["Quantile"] = sad_quantiles(h5["SAD"][rows], pct)
            chunk = _wide_chunk if wide else _long_chunk
            yield chunk(info, values, target_ids, labels)


def _long_chunk(
    info: dict, values: dict[str, np.ndarray], target_ids: list[str], labels: list[str]
) -> pd.DataFrame:
    """One row per variant and target: variant columns repeated, target columns tiled."""
    num_rows, num_targets = len(info["SNP"]), len(target_ids)
    table = {k: np.repeat(np.asarray(v, dtype=object), num_targets) for k, v in info.items()}
    table["TargetIndex"] = np.tile(np.arange(num_targets), num_rows)
    table["TargetID"] = np.tile(np.asarray(target_ids, dtype=object), num_rows)
    table["TargetLabel"] = np.tile(np.asarray(labels, dtype=object), num_rows)
    table.update({k: v.reshape(-1) for k, v in values.items()})
    return pd.DataFrame(table)


def _wide_chunk(
    info: dict, values: dict[str, np.ndarray], target_ids: list[str], labels: list[str]
) -> pd.DataFrame:
    """One row per variant, a column per statistic and target."""
    names = target_ids if len(set(target_ids)) == len(target_ids) else None
    names = names or [f"t{ti}" for ti in range(len(target_ids))]
    table = dict(info)
    for stat, array in values.items():
        table.update({f"{stat}_{name}": array[:, ti] for ti, name in enumerate(names)})
    return pd.DataFrame(table)


# ---------------------------------------------------------------------------------------
# scores.h5, predict.h5
# ---------------------------------------------------------------------------------------


def write_sat_h5(
    path: str,
    seqs: np.ndarray,
    scores: dict[str, np.ndarray],
    extra: dict[str, np.ndarray],
) -> None:
    """Write saturation mutagenesis ``scores.h5``.

    Datasets: ``seqs`` bool [N, mut_len, 4], each stat of ``scores`` float16
    [N, mut_len, 4, T], and the ``extra`` datasets (chr/start/end/strand or label).
    """
    with atomic_h5(path) as h5:
        h5.create_dataset("seqs", data=seqs.astype(bool))
        for name, values in extra.items():
            h5.create_dataset(name, data=values)
        for stat, values in scores.items():
            h5.create_dataset(stat, data=to_float16(values))


SAT_SCORE_NAMES = ("sum", "center", "scd", "scores")
"""Score datasets of a saturation-mutagenesis ``scores.h5``: ours, then the original's."""


def read_sat_h5(path: str, stat: str | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read a saturation mutagenesis ``scores.h5`` (``basenji_sat_bed.py`` / ``_vcf.py``).

    Args:
        path: the scores.h5 (ours, or the original's with a ``scores`` dataset).
        stat: the score dataset; None: the first of :data:`SAT_SCORE_NAMES` present.

    Returns:
        (reference bases bool [N, mut_len, 4], scores float32 [N, mut_len, 4, T], one label
        per sequence: ``label``, else ``chr:start-end``, else ``seq{i}``).

    Raises:
        InputError: no such score dataset, or shapes that do not match.
    """
    with read_h5(path, "scores file") as h5:
        names = [stat] if stat else [n for n in SAT_SCORE_NAMES if n in h5]
        if "seqs" not in h5 or not names or names[0] not in h5:
            raise InputError(
                f"{path}: no 'seqs' or no score dataset {stat or '/'.join(SAT_SCORE_NAMES)}; "
                "give a scores.h5 of basenji_sat_bed.py or basenji_sat_vcf.py"
            )
        seqs = h5["seqs"][:].astype(bool)
        scores = h5[names[0]][:].astype(np.float32)
        if scores.shape[:3] != seqs.shape or scores.ndim != 4:
            raise InputError(
                f"{path}: {names[0]} has shape {scores.shape}, seqs {seqs.shape}; "
                "expected [N, mut_len, 4, T] and [N, mut_len, 4]"
            )
        labels = _sat_labels(h5, len(seqs))
    return seqs, scores, labels


def _sat_labels(h5: h5py.File, num_seqs: int) -> list[str]:
    if "label" in h5:
        return _strings(h5["label"][:])
    if all(k in h5 for k in ("chr", "start", "end")):
        chroms = _strings(h5["chr"][:])
        return [f"{c}:{s}-{e}" for c, s, e in zip(chroms, h5["start"][:], h5["end"][:])]
    return [f"seq{i}" for i in range(num_seqs)]


def write_grad_h5(
    path: str,
    seqs: np.ndarray,
    contributions: np.ndarray,
    hypothetical: np.ndarray,
    sites: Sequence[Site],
    bins: np.ndarray,
    delta_violation: np.ndarray | None,
    settings: dict[str, object],
) -> None:
    """Write attribution ``scores.h5`` (``basenji_grad_bed.py``; docs/interpretation.md).

    Datasets: ``seqs`` bool [N, L, 4]; ``contributions`` and ``hypothetical`` float32
    [N, L, 4]; ``attr`` float32 [N, L] (contributions summed over bases); ``grads``
    float16 [N, L, 4] (the hypothetical contributions: for input x gradient the gradient,
    as before); ``chr``, ``start``, ``end`` (int64 window bp); ``name``, ``region_start``,
    ``region_end`` (the BED record, clipped to its chromosome); ``bin_start``,
    ``bin_end`` (int64, the output bins of the objective); ``delta_violation`` float32
    [N] where the method checks summation to delta. ``settings`` become file attributes.
    """
    windows = [site.window for site in sites]
    with atomic_h5(path) as h5:
        h5.create_dataset("seqs", data=seqs == 1)
        h5.create_dataset("grads", data=to_float16(hypothetical))
        h5.create_dataset("attr", data=contributions.sum(axis=-1, dtype=np.float32))
        h5.create_dataset("contributions", data=contributions.astype(np.float32))
        h5.create_dataset("hypothetical", data=hypothetical.astype(np.float32))
        h5.create_dataset("chr", data=np.array([r.chrom for r in windows], dtype="S"))
        h5.create_dataset("start", data=np.array([r.start for r in windows], np.int64))
        h5.create_dataset("end", data=np.array([r.end for r in windows], np.int64))
        h5.create_dataset("name", data=np.array([r.name for r in windows], dtype="S"))
        h5.create_dataset("region_start", data=np.array([s.start for s in sites], np.int64))
        h5.create_dataset("region_end", data=np.array([s.end for s in sites], np.int64))
        h5.create_dataset("bin_start", data=np.asarray(bins[:, 0], np.int64))
        h5.create_dataset("bin_end", data=np.asarray(bins[:, 1], np.int64))
        if delta_violation is not None:
            h5.create_dataset("delta_violation", data=delta_violation.astype(np.float32))
        for key, value in settings.items():
            h5.attrs[key] = value


GRAD_ARRAYS = ("seqs", "contributions", "hypothetical", "bin_start", "bin_end")
"""The datasets of an attribution ``scores.h5`` that :func:`read_grad_h5` returns."""


def read_grad_h5(path: str) -> dict[str, np.ndarray]:
    """The :data:`GRAD_ARRAYS` (``seqs`` as float32) and ``delta_violation`` if present.

    Raises:
        InputError: not an attribution scores.h5.
    """
    with read_h5(path, "attribution scores file") as h5:
        missing = [name for name in GRAD_ARRAYS if name not in h5]
        if missing:
            raise InputError(
                f"{path}: no {missing[0]} dataset; give a scores.h5 of basenji_grad_bed.py"
            )
        arrays = {name: h5[name][()] for name in GRAD_ARRAYS}
        if "delta_violation" in h5:
            arrays["delta_violation"] = h5["delta_violation"][()]
    arrays["seqs"] = arrays["seqs"].astype(np.float32)
    return arrays


def write_predict_h5(
    path: str, preds: np.ndarray, regions: Sequence[Region], starts: np.ndarray, site_bp: int
) -> None:
    """Write ``predict.h5``.

    Datasets: ``preds`` float16 [N, bins, T] (or [N, T]), ``chrom``, ``start`` (int64
    genome bp of the site) and ``end`` (``start + site_bp``).
    """
    with atomic_h5(path) as h5:
        h5.create_dataset("preds", data=to_float16(preds))
        h5.create_dataset("chrom", data=np.array([r.chrom for r in regions], dtype="S"))
        h5.create_dataset("start", data=starts)
        h5.create_dataset("end", data=starts + site_bp)


# ---------------------------------------------------------------------------------------
# BigWig
# ---------------------------------------------------------------------------------------


def write_bigwigs(
    out_dir: str,
    regions: Sequence[Region],
    values: np.ndarray,
    first_bp: Sequence[int],
    bin_bp: int,
    chrom_sizes: dict[str, int],
    names: Sequence[str],
) -> list[str]:
    """One BigWig per track of ``values`` at the genomic bins of each region.

    Bins covered by two overlapping regions keep the value of the first region in
    (chromosome, start) order, since a BigWig cannot hold overlapping intervals.

    Args:
        out_dir: directory for ``{name}.bw``.
        regions: the windows (chromosome used).
        values: [N, bins, tracks], float.
        first_bp: per region, genome bp where its first bin starts.
        bin_bp: bin width in bp.
        chrom_sizes: chromosome lengths for the header; bins past an end are dropped.
        names: one file name stem per track.

    Returns:
        the paths written.
    """
    import pyBigWig

    order = natsorted(range(len(regions)), key=lambda i: (regions[i].chrom, first_bp[i]))
    chroms = natsorted({r.chrom for r in regions})
    missing = [c for c in chroms if c not in chrom_sizes]
    if missing:
        raise InputError(
            f"chromosome {missing[0]} has no size in the chromosome sizes given; use the "
            "sizes file of the FASTA's genome"
        )
    paths = []
    for ti, name in enumerate(names):
        path = os.path.join(out_dir, f"{name}.bw")
        with atomic_path(path) as tmp:
            bw = pyBigWig.open(tmp, "w")
            bw.addHeader([(c, int(chrom_sizes[c])) for c in chroms])
            for chrom in chroms:
                rows = [i for i in order if regions[i].chrom == chrom]
                _add_track_entries(
                    bw, chrom, rows, values[..., ti], first_bp, bin_bp, chrom_sizes[chrom]
                )
            bw.close()
        paths.append(path)
    return paths


def _add_track_entries(
    bw,
    chrom: str,
    rows: Sequence[int],
    values: np.ndarray,
    first_bp: Sequence[int],
    bin_bp: int,
    chrom_size: int,
) -> None:
    """Add one chromosome's bins of one track to an open BigWig.

    Args:
        bw: the open BigWig.
        chrom: the chromosome.
        rows: regions of ``chrom``, in start order.
        values: the track [N, bins].
        first_bp: per region, genome bp of its first bin.
        bin_bp: bin width in bp.
        chrom_size: the chromosome's length; bins past it are cut or dropped.
    """
    written_to = 0
    for i in rows:
        starts = first_bp[i] + bin_bp * np.arange(values.shape[1], dtype=np.int64)
        ends = np.minimum(starts + bin_bp, chrom_size)
        # a bin straddling the previous window's end is written from there on
        starts = np.maximum(starts, max(written_to, 0))
        keep = ends > starts
        if not keep.any():
            continue
        bw.addEntries(
            [chrom] * int(keep.sum()),
            starts[keep].tolist(),
            ends=ends[keep].tolist(),
            values=values[i, keep].astype(np.float64).tolist(),
        )
        written_to = int(ends[keep][-1])
