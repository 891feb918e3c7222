"""The targets table and coverage reading: BigWig, w5 (HDF5) and BED tracks -> binned targets.

The targets table is tab-separated with a header; its first column (header ``index``, or
empty in some released tables) is the model output channel. Other columns, as the
original uses them: ``identifier``, ``file`` (coverage track), ``clip``, ``clip_soft``,
``scale``, ``sum_stat``, ``description``, optional ``strand_pair`` (index of the other
strand's track).

Coverage reading follows the current original ``basenji_data_read.py``; per window of
``[start, end)`` bp (the cropped target region of sequences.bed):

1. per-bp coverage, cast to float16 (NaN where a BigWig has no data);
2. optional linear interpolation of NaN;
3. baseline = the ``black_pct`` percentile of the window (0 when NaN, or when the window
   has fewer than 8 bins);
4. blacklisted bp (each interval extended by 20 bp) clipped to [-baseline, baseline];
5. remaining NaN -> baseline; multiply by ``scale`` (before pooling);
6. pool to ``pool_width`` bins with ``sum_stat``;
7. soft clip ``x > c: c - 1 + sqrt(x - c + 1)``, then hard clip to [-clip, clip];
8. clamp to the float16 range; after all windows, clip to +-the ``clip_pct`` percentile of
   the whole track.

Differences from the original:
  * ``median`` pooling works (the original calls a non-existent ndarray method and crashes).
  * A chromosome missing from a BigWig or w5 file is an :class:`InputError` listing
    example names of both files, unless ``allow_missing_chroms`` (then zeros, as the
    original does silently, which makes a naming mismatch look like empty coverage).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pyBigWig

from basenji_tf.errors import InputError
from basenji_tf.files import atomic_h5
from basenji_tf.genome import Genome, read_bed_intervals, read_bed_rows
from basenji_tf.progress import track
from basenji_tf.textio import display_name, read_lines

REQUIRED_COLUMNS = ("identifier", "file")
SUM_STATS = ("sum", "sum_sqrt", "mean", "avg", "mean_sqrt", "avg_sqrt", "median", "max", "peak")
BLACKLIST_EXTEND_BP = 20
F16_MAX = float(np.finfo(np.float16).max)


def read_targets(path: str | os.PathLike) -> pd.DataFrame:
    """Read a targets table, checking every value the pipeline uses.

    Args:
        path: tab-separated table with a header; first column = output channel index;
            plain, gzip or bgzip (``-`` reads standard input).

    Returns:
        DataFrame indexed by the channel index (int, named ``index``), other columns as in
        the file, in file order.

    Raises:
        FileNotFoundError: no such file.
        InputError: not a table; a required column (identifier, file) missing; the index
            not unique integers >= 0; an identifier missing; clip, clip_soft, scale or
            strand_pair not numeric, or clip/clip_soft < 0, scale <= 0, strand_pair not
            an integer; a sum_stat not one of :data:`SUM_STATS`.
    """
    name = display_name(path)
    if name != "<stdin>" and not Path(name).is_file():
        raise FileNotFoundError(f"{name}: targets table not found")
    text = "\n".join(line for _, line in read_lines(path, "targets table"))
    try:
        table = pd.read_csv(io.StringIO(text), sep="\t", index_col=0)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
        reason = " ".join(str(err).split())  # pandas' messages span lines
        raise InputError(
            f"{name}: cannot parse as a tab-separated targets table ({reason}); "
            "the first line must be a header such as 'index<TAB>identifier<TAB>file...'"
        ) from None
    for column in REQUIRED_COLUMNS:
        if column not in table.columns:
            raise InputError(
                f"{name}: targets table has no {column!r} column (columns: "
                f"{', '.join(repr(str(c)) for c in table.columns)}); add it to the header"
            )
    _check_index(table, name)
    table.index.name = "index"
    _check_values(table, name)
    return table


def _check_index(table: pd.DataFrame, name: str) -> None:
    if not pd.api.types.is_integer_dtype(table.index) or (table.index < 0).any():
        raise InputError(f"{name}: the first column (index) must hold integer channel indexes >= 0")
    if table.index.has_duplicates:
        dup = table.index[table.index.duplicated()][0]
        raise InputError(f"{name}: index {dup} appears more than once; indexes must be unique")


# column -> (lowest allowed value, whether it is allowed itself, integers only)
_NUMERIC_COLUMNS = {
    "clip": (0, True, False),
    "clip_soft": (0, True, False),
    "scale": (0, False, False),
    "strand_pair": (0, True, True),
}


def _shown(value) -> str:
    """A table value as the file spells it: text quoted, numbers without numpy's type."""
    return repr(value) if isinstance(value, str) else f"{value:g}"


def _check_values(table: pd.DataFrame, name: str) -> None:
    """Identifiers present, numeric columns in range, sum_stat known; NaN = absent."""
    missing = table.index[table["identifier"].isna()]
    if len(missing):
        raise InputError(f"{name}: index {missing[0]}: identifier is missing; give every row one")
    for column, (low, inclusive, integer) in _NUMERIC_COLUMNS.items():
        if column not in table.columns:
            continue
        values = pd.to_numeric(table[column], errors="coerce")
        bad = table[column].notna() & values.isna()  # text
        bad |= values < low if inclusive else values <= low
        if integer:
            bad |= values.notna() & (values % 1 != 0)
        if bad.any():
            index = table.index[bad.to_numpy()][0]
            kind = "an integer" if integer else "a number"
            rule = f"{kind} {'>=' if inclusive else '>'} {low}"
            raise InputError(
                f"{name}: index {index}: {column} {_shown(table[column][index])} is not {rule}; "
                "fix the value or leave it empty"
            )
    if "sum_stat" in table.columns:
        for index, stat in table["sum_stat"].items():
            if stat not in SUM_STATS:
                raise InputError(
                    f"{name}: index {index}: sum_stat {stat!r} is not one of {', '.join(SUM_STATS)}"
                )


def strand_pairs(table: pd.DataFrame, num_targets: int | None = None) -> list[int] | None:
    """The ``strand_pair`` column as a list: per output, the output of the other strand.

    Args:
        table: from :func:`read_targets`, one row per output of a model head.
        num_targets: the head's outputs; a table of another length (a subset of the
            outputs, say) gives None, as its pairs cannot index the outputs.

    Returns:
        the pairs in table order, or None when there is no ``strand_pair`` column or the
        table does not match ``num_targets``.
    """
    if "strand_pair" not in table.columns:
        return None
    if num_targets is not None and len(table) != num_targets:
        return None
    return [int(x) for x in table["strand_pair"]]


def target_options(table: pd.DataFrame, path: str = "targets table") -> list[dict]:
    """Per-target coverage options of a table, validated for the data pipeline.

    Args:
        table: from :func:`read_targets` (which checked the values).
        path: the table's file name, for messages.

    Returns:
        one dict per row, in table order: ``file``, ``sum_stat``, ``clip`` (None if absent
        or NaN), ``clip_soft`` (None likewise), ``scale`` (1.0 if absent).
    """
    if "sum_stat" not in table.columns:
        raise InputError(
            f"{path}: targets table has no 'sum_stat' column, which the data pipeline needs "
            f"to pool coverage into bins; add it with one of {', '.join(SUM_STATS)}"
        )

    def optional_float(row: pd.Series, column: str) -> float | None:
        value = row.get(column, np.nan)
        return None if pd.isna(value) else float(value)

    options = []
    for _, row in table.iterrows():
        scale = optional_float(row, "scale")
        options.append(
            {
                "file": str(row["file"]),
                "sum_stat": row["sum_stat"],
                "clip": optional_float(row, "clip"),
                "clip_soft": optional_float(row, "clip_soft"),
                "scale": 1.0 if scale is None else scale,
            }
        )
    return options


def resolve_track_path(path: str, targets_file: str) -> str:
    """``path`` as given if it exists, else relative to the targets table's folder."""
    if os.path.isabs(path) or Path(path).exists():
        return path
    beside = Path(targets_file).parent / path
    return str(beside) if beside.exists() else path


def read_target_options(targets_file: str) -> list[dict]:
    """:func:`target_options` of a targets table file, with every coverage file found."""
    options = target_options(read_targets(targets_file), targets_file)
    for opt in options:
        opt["file"] = resolve_track_path(opt["file"], targets_file)
        if not Path(opt["file"]).is_file():
            raise FileNotFoundError(f"{targets_file}: coverage file {opt['file']} not found")
    return options


def check_tracks(
    options: list[dict], genome: Genome, chroms: set[str], allow_missing: bool
) -> None:
    """Every coverage file opens and has the chromosomes ``chroms`` (of ``genome``)."""
    examples = ", ".join(list(genome.sizes)[:4])
    for opt in options:
        with CoverageSource(opt["file"], allow_missing) as source:
            source.check_chroms(chroms, f"FASTA {genome.path} (names like {examples})")


# ---------------------------------------------------------------------------------------
# Coverage sources: per-bp values of [start, end) as float16, NaN where a BigWig has no data.


class CoverageSource:
    """Per-bp coverage of one track file, BigWig, w5/HDF5 or BED/narrowPeak.

    Args:
        path: ``.bw``/``.bigwig``; ``.h5``/``.hdf5``/``.w5``/``.wdf5`` (one dataset per
            chromosome); ``.bed``/``.narrowpeak`` (optionally ``.gz``: 1 inside an interval).
        allow_missing_chroms: read a chromosome the file lacks as zeros instead of failing.
    """

    def __init__(self, path: str | os.PathLike, allow_missing_chroms: bool = False):
        self.path = str(path)
        self.allow_missing = allow_missing_chroms
        if not Path(self.path).is_file():
            raise FileNotFoundError(f"{self.path}: coverage file not found")
        lower = self.path.lower()
        if lower.endswith((".bw", ".bigwig")):
            self.kind = "bigwig"
            try:
                self._handle = pyBigWig.open(self.path)
            except RuntimeError:
                raise InputError(
                    f"{self.path}: cannot open as a BigWig file; it may be truncated or "
                    "corrupt: check it or make it again"
                ) from None
            if self._handle is None or not self._handle.isBigWig():
                raise InputError(f"{self.path}: not a BigWig file")
            self.chroms = dict(self._handle.chroms())
        elif lower.endswith((".h5", ".hdf5", ".w5", ".wdf5")):
            self.kind = "w5"
            try:
                self._handle = h5py.File(self.path, "r")
            except OSError:
                raise InputError(f"{self.path}: cannot open as an HDF5 (w5) file") from None
            self.chroms = {k: self._handle[k].shape[0] for k in self._handle.keys()}
        elif lower.endswith((".bed", ".narrowpeak", ".bed.gz", ".narrowpeak.gz")):
            self.kind = "bed"
            self._intervals = {
                c: np.array(ivs, dtype=np.int64) for c, ivs in read_bed_intervals(self.path).items()
            }
            self.chroms = {c: int(v[-1, 1]) for c, v in self._intervals.items()}
        else:
            raise InputError(
                f"{self.path}: unknown coverage file type; use .bw/.bigwig, .h5/.w5 or "
                ".bed/.narrowPeak"
            )

    def close(self) -> None:
        if self.kind in ("bigwig", "w5"):
            self._handle.close()

    def __enter__(self) -> CoverageSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def check_chroms(self, chroms: Iterable[str], source: str) -> None:
        """Fail with examples of both namings if a chromosome of ``source`` is absent here.

        A BED track only lists chromosomes with intervals, so it is never checked.
        """
        if self.allow_missing or self.kind == "bed":
            return
        missing = sorted(set(chroms) - set(self.chroms))
        if missing:
            ours = ", ".join(list(self.chroms)[:4]) or "none"
            raise InputError(
                f"{self.path}: chromosome {missing[0]!r} of {source} is not in this coverage "
                f"file (its names look like {ours}; {len(missing)} missing); make the "
                "chromosome names agree, or pass --allow_missing_chroms to read them as zeros"
            )

    def _read(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Values of [start, end) inside the chromosome, from a BigWig or w5 file."""
        try:
            if self.kind == "bigwig":
                return self._handle.values(chrom, start, end, numpy=True)
            return self._handle[chrom][start:end]
        except (RuntimeError, OSError) as err:
            raise InputError(
                f"{self.path}: cannot read {chrom}:{start}-{end} ({err}); the file may be "
                "truncated or corrupt: check it or make it again"
            ) from None

    def values(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Coverage of [start, end) bp as float16 [end - start]; zero past the chromosome end."""
        length = end - start
        out = np.zeros(length, dtype=np.float16)
        if chrom not in self.chroms:
            if self.allow_missing or self.kind == "bed":
                return out
            raise InputError(f"{self.path}: chromosome {chrom!r} is not in this coverage file")
        size = self.chroms[chrom]
        lo, hi = max(start, 0), min(end, size)
        if hi <= lo:
            return out
        if self.kind in ("bigwig", "w5"):
            out[lo - start : hi - start] = self._read(chrom, lo, hi)
        else:
            ivs = self._intervals[chrom]
            first = np.searchsorted(ivs[:, 1], lo, side="right")
            for iv_start, iv_end in ivs[first:]:
                if iv_start >= hi:
                    break
                out[max(iv_start, lo) - start : min(iv_end, hi) - start] = 1
        return out


def read_blacklist(path: str | os.PathLike | None) -> dict[str, np.ndarray]:
    """Blacklist BED -> per-chromosome merged intervals, each extended by 20 bp both sides."""
    if path is None:
        return {}
    intervals = {}
    for chrom, ivs in read_bed_intervals(path).items():
        arr = np.array(ivs, dtype=np.int64)
        arr[:, 0] = np.maximum(arr[:, 0] - BLACKLIST_EXTEND_BP, 0)
        arr[:, 1] += BLACKLIST_EXTEND_BP
        intervals[chrom] = arr
    return intervals


# ---------------------------------------------------------------------------------------
# Per-window processing.


def interp_nan(values: np.ndarray) -> np.ndarray:
    """Linearly interpolate NaN runs, as if the array had a 0 just outside both ends."""
    values = np.asarray(values, dtype=np.float32)
    nan = np.isnan(values)
    if not nan.any():
        return values
    padded = np.concatenate([[0.0], values, [0.0]]).astype(np.float32)
    pnan = np.isnan(padded)
    x = np.arange(len(padded))
    padded[pnan] = np.interp(x[pnan], x[~pnan], padded[~pnan])
    return padded[1:-1]


def pool_bins(values: np.ndarray, pool_width: int, sum_stat: str) -> np.ndarray:
    """Pool per-bp values [L] into float32 bins [L // pool_width] with ``sum_stat``.

    sum (float32 sum), sum_sqrt (sum, then -1 + sqrt(1 + x)), mean/avg, mean_sqrt/avg_sqrt,
    median, max, peak (clip(sqrt(4 * mean), 0, 1)).
    """
    bins = values.reshape(-1, pool_width)
    if sum_stat == "sum":
        return bins.sum(axis=1, dtype=np.float32)
    if sum_stat == "sum_sqrt":
        return -1 + np.sqrt(1 + bins.sum(axis=1, dtype=np.float32))
    if sum_stat in ("mean", "avg"):
        return bins.mean(axis=1, dtype=np.float32)
    if sum_stat in ("mean_sqrt", "avg_sqrt"):
        return -1 + np.sqrt(1 + bins.mean(axis=1, dtype=np.float32))
    if sum_stat == "median":
        return np.median(bins, axis=1).astype(np.float32)
    if sum_stat == "max":
        return bins.max(axis=1).astype(np.float32)
    if sum_stat == "peak":
        return np.clip(np.sqrt(4 * bins.mean(axis=1, dtype=np.float32)), 0, 1)
    raise InputError(f"sum_stat {sum_stat!r} is not one of {', '.join(SUM_STATS)}")


def soft_clip(x: np.ndarray, clip_soft: float) -> np.ndarray:
    """Compress values above ``clip_soft``: x -> clip_soft - 1 + sqrt(x - clip_soft + 1)."""
    over = x > clip_soft
    x = x.copy()
    x[over] = clip_soft - 1 + np.sqrt(x[over] - clip_soft + 1)
    return x


def window_targets(
    values: np.ndarray,
    pool_width: int,
    sum_stat: str,
    clip: float | None = None,
    clip_soft: float | None = None,
    scale: float = 1.0,
    interp: bool = False,
    black_mask: np.ndarray | None = None,
    black_pct: float = 0.5,
    crop_bp: int = 0,
) -> np.ndarray:
    """Binned targets of one window from its per-bp coverage (steps 2-8 of the module doc).

    Args:
        values: float16 [L] bp coverage (NaN = no data); L - 2 * crop_bp a multiple of
            pool_width.
        pool_width: bp per bin.
        sum_stat: how bp values become a bin value (one of :data:`SUM_STATS`).
        clip: hard clip of the bins to [-clip, clip] (None: none).
        clip_soft: soft clip above this value (None: none).
        scale: factor of the per-bp values (before pooling).
        interp: interpolate NaN linearly instead of setting it to the baseline.
        black_mask: bool [L], True on blacklisted bp.
        black_pct: the baseline's percentile of the window (a fraction).
        crop_bp: bp dropped at each end after the baseline is computed, before pooling.

    Returns:
        float32 [(L - 2 * crop_bp) // pool_width] bins, within the float16 range.
    """
    # float16 until pooling, as the original: its scale multiply rounds to float16; a
    # copy, since blacklisting writes into it
    cov = np.array(values, dtype=np.float16)
    if interp:
        cov = interp_nan(cov)
    if black_mask is not None and black_mask.any():
        baseline = 0.0
        if (len(cov) - 2 * crop_bp) // pool_width >= 8:
            baseline = float(np.nan_to_num(np.percentile(cov, 100 * black_pct)))
        cov[black_mask] = np.clip(cov[black_mask], -baseline, baseline)
    if not interp:
        # NaN -> baseline, which is 0 whenever there is NaN (the percentile of a window
        # holding NaN is NaN, read as 0); so the slow percentile runs only for blacklists
        nan = np.isnan(cov)
        if nan.any():
            cov = np.where(nan, cov.dtype.type(0), cov)
    cov = cov[crop_bp : len(cov) - crop_bp]
    if scale != 1:
        cov = cov * cov.dtype.type(scale)
    out = pool_bins(cov, pool_width, sum_stat)
    if clip_soft is not None:
        out = soft_clip(out, clip_soft)
    if clip is not None:
        out = np.clip(out, -clip, clip)
    return np.clip(out, -F16_MAX, F16_MAX).astype(np.float32)


def blacklist_mask(
    blacklist: dict[str, np.ndarray], chrom: str, start: int, end: int
) -> np.ndarray | None:
    """A bool [end - start] mask, True on bp inside (extended) blacklist intervals, or None."""
    ivs = blacklist.get(chrom)
    if ivs is None:
        return None
    first = np.searchsorted(ivs[:, 1], start, side="right")
    mask = None
    for iv_start, iv_end in ivs[first:]:
        if iv_start >= end:
            break
        if mask is None:
            mask = np.zeros(end - start, dtype=bool)
        mask[max(iv_start, start) - start : min(iv_end, end) - start] = True
    return mask


def read_coverage(
    cov_file: str | os.PathLike,
    windows: Sequence[tuple[str, int, int]],
    pool_width: int,
    sum_stat: str = "sum",
    clip: float | None = None,
    clip_soft: float | None = None,
    scale: float = 1.0,
    interp: bool = False,
    blacklist_bed: str | os.PathLike | None = None,
    black_pct: float = 0.5,
    clip_pct: float = 0.9999999,
    allow_missing_chroms: bool = False,
    crop_bp: int = 0,
    progress: bool = False,
) -> np.ndarray:
    """Binned, processed targets of one track over many windows (basenji_data_read.py).

    Args:
        cov_file: BigWig, w5 or BED track.
        windows: (chrom, start, end) bp regions, all of one length L with L - 2 * crop_bp
            a multiple of pool_width.
        pool_width: bp per bin.
        sum_stat: how bp values become a bin value (one of :data:`SUM_STATS`).
        clip: hard clip of the bins (None: none).
        clip_soft: soft clip above this value (None: none).
        scale: factor of the per-bp values (before pooling).
        interp: interpolate NaN linearly.
        blacklist_bed: BED of blacklisted regions (None: none).
        black_pct: the baseline's percentile of each window (a fraction).
        clip_pct: final clip of the whole array to +-its ``100 * clip_pct`` percentile.
        allow_missing_chroms: read chromosomes missing from the track as zeros.
        crop_bp: bp of each window left out of the bins (the baseline still sees them).
        progress: show a progress bar.

    Returns:
        float16 [num_windows, target_length], target_length = (L - 2 * crop_bp) // pool_width.
    """
    if not windows:
        raise InputError(f"{cov_file}: no windows to read")
    lengths = {end - start - 2 * crop_bp for _, start, end in windows}
    if len(lengths) != 1 or next(iter(lengths)) % pool_width or next(iter(lengths)) <= 0:
        raise InputError(
            f"{cov_file}: windows minus the crop must share one length that is a multiple "
            f"of the pool width {pool_width} bp (got lengths {sorted(lengths)[:3]})"
        )
    target_length = next(iter(lengths)) // pool_width
    blacklist = read_blacklist(blacklist_bed)
    out = np.zeros((len(windows), target_length), dtype=np.float16)
    with CoverageSource(cov_file, allow_missing_chroms) as source:
        source.check_chroms({w[0] for w in windows}, "the sequences")
        for i, (chrom, start, end) in enumerate(
            track(windows, desc=Path(str(cov_file)).name, unit="windows", enabled=progress)
        ):
            out[i] = window_targets(
                source.values(chrom, start, end),
                pool_width,
                sum_stat,
                clip=clip,
                clip_soft=clip_soft,
                scale=scale,
                interp=interp,
                black_mask=blacklist_mask(blacklist, chrom, start, end),
                black_pct=black_pct,
                crop_bp=crop_bp,
            )
    extreme = np.percentile(out.astype(np.float32), 100 * clip_pct)
    return np.clip(out, -extreme, extreme).astype(np.float16)


def read_coverage_h5(
    cov_file: str | os.PathLike,
    seqs_bed: str | os.PathLike,
    out_h5: str | os.PathLike,
    pool_width: int,
    **kwargs,
) -> None:
    """:func:`read_coverage` over the windows of a BED file, saved as HDF5 ``targets``.

    Args:
        cov_file: BigWig, w5 or BED track.
        seqs_bed: windows (first three columns used), e.g. a data dir's sequences.bed.
        out_h5: written atomically, dataset ``targets`` float16 [num_windows,
            target_length], gzip-compressed (the original's ``seqs_cov/{ti}.h5``).
        pool_width: bp per bin.
        kwargs: options of :func:`read_coverage`.
    """
    windows = read_bed_rows(seqs_bed)
    targets = read_coverage(cov_file, windows, pool_width, **kwargs)
    with atomic_h5(out_h5) as handle:
        handle.create_dataset("targets", data=targets, dtype="float16", compression="gzip")
