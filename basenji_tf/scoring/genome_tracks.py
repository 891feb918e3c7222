"""Genome-wide predicted tracks: one BigWig per target from tiled model windows.

Chromosomes are tiled into model windows, the windows are predicted in independent chunk
tasks, and the chunk files are merged into one BigWig per target.

Tiling (bp, 0-based half-open). For a head with ``seq_length`` bp inputs, bins of
``stride`` bp, ``target_length`` output bins and ``crop`` bins cropped on each side, let
``span = target_length * stride`` and ``crop_bp = crop * stride``. Window ``k`` of a
chromosome of length ``n`` reads the input ``[k*span - crop_bp, k*span - crop_bp +
seq_length)``, with N outside the chromosome, and its output bin ``j`` covers ``[k*span +
j*stride, k*span + (j+1)*stride)``. The outputs of windows ``k = 0 .. ceil(n / span) - 1``
abut and cover every base of the chromosome once; bins that start at or past ``n`` are
dropped and a bin straddling ``n`` is cut there. A window whose whole input is N (an
assembly gap) is not predicted and leaves no data in the BigWigs. With regions (``-b``),
the windows are those whose output overlaps a region, written whole.

Work is a list of :class:`ChunkTask` s, each a run of consecutive windows; any process can
run any task (:func:`predict_chunk`), which writes one chunk file atomically and depends on
no other task. Model calls always have ``batch_size`` sequences (the last batch is padded),
so a chunk's values do not depend on which process computed it or which tasks ran
before. :func:`predict_genome` runs the tasks whose chunk files do not exist yet through an
:class:`~basenji_tf.execute.Executor`, then merges the chunk files into BigWigs a
group of targets at a time (:class:`MergeTask`, through the executor too) and deletes
them.

Files under ``out_dir``:

* ``plan.json``: the settings that determine the outputs; ``--restart`` requires the same;
* ``chunks/chunk{i:06d}.h5`` while running: ``chrom`` (S), ``window`` (int64 k) and
  ``present`` (bool, False for all-N windows) per window of the chunk, and ``preds``
  float32 [present windows, target_length, targets] (the model's values, untransformed);
* ``bigwig/t{ti}.bw``: one per kept model output ``ti``, header = the FASTA's chromosomes
  and lengths in FASTA order; ``bigwig/targets.txt``: index, identifier, description and
  file of each BigWig.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from basenji_tf import seqnn
from basenji_tf.dna import dna_1hot
from basenji_tf.errors import InputError
from basenji_tf.execute import Executor, InProcess
from basenji_tf.files import atomic_h5, read_h5, write_text_atomic
from basenji_tf.genome import Genome
from basenji_tf.scoring.track_writer import (
    Untransform,
    bigwig_group_size,
    write_track_group,
)
from basenji_tf.targets import read_targets, strand_pairs

log = logging.getLogger(__name__)

Window = tuple[str, int]  # chromosome, window index k
CHUNK_PATTERN = "chunk{:06d}.h5"


# ---------------------------------------------------------------------------------------
# Tiling
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tiling:
    """Window geometry of one head (see the module docstring).

    Attributes:
        seq_length: input bp.
        stride: bp per output bin.
        target_length: output bins.
        crop: bins cropped from each side of the input.
    """

    seq_length: int
    stride: int
    target_length: int
    crop: int

    def __post_init__(self):
        if (self.target_length + 2 * self.crop) * self.stride != self.seq_length:
            raise InputError(
                f"the head's {self.target_length} bins of {self.stride} bp plus {self.crop} "
                f"cropped bins each side do not make its {self.seq_length} bp input; genome "
                "tiling needs a head whose bins divide the input exactly"
            )

    @property
    def span(self) -> int:
        """Output bp per window, also the step between windows."""
        return self.target_length * self.stride

    @property
    def crop_bp(self) -> int:
        return self.crop * self.stride

    def input_start(self, k: int) -> int:
        """First input bp of window ``k`` (negative for the first window)."""
        return k * self.span - self.crop_bp

    def num_windows(self, chrom_length: int) -> int:
        """Windows whose outputs cover a chromosome of ``chrom_length`` bp."""
        return -(-chrom_length // self.span)


def tile_windows(
    sizes: dict[str, int],
    tiling: Tiling,
    chroms: Sequence[str] | None = None,
    regions: Sequence[tuple[str, int, int]] | None = None,
) -> list[Window]:
    """The windows to predict, in the chromosome order of ``sizes``, then by ``k``.

    Args:
        sizes: chromosome lengths (bp) of the FASTA, in FASTA order.
        tiling: the head's window geometry.
        chroms: only these chromosomes (None: all).
        regions: only windows whose output overlaps one of these (chrom, start, end) bp
            intervals (None: whole chromosomes).
    """
    if regions is not None:
        wanted: dict[str, set[int]] = {}
        for chrom, start, end in regions:
            start, end = max(start, 0), min(end, sizes[chrom])
            if end > start:
                ks = range(start // tiling.span, -(-end // tiling.span))
                wanted.setdefault(chrom, set()).update(ks)
        return [(c, k) for c in sizes if c in wanted for k in sorted(wanted[c])]
    keep = set(sizes if chroms is None else chroms)
    return [(c, k) for c in sizes if c in keep for k in range(tiling.num_windows(sizes[c]))]


# ---------------------------------------------------------------------------------------
# Chunk tasks
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeadSpec:
    """Which model head predicts, and how.

    Attributes:
        params_file, model_file: the trained model.
        head: head index.
        rc, shifts: ensemble members (reverse complement; shifts in bp).
        batch_size: sequences per model call (fixed; the last batch is padded).
        strand_pair: per output, the output of the other strand, swapped in reverse
            complement members (None: the head's own from the params).
        precision: compute precision (:data:`basenji_tf.seqnn.PRECISIONS`).
    """

    params_file: str
    model_file: str
    head: int = 0
    rc: bool = False
    shifts: tuple[int, ...] = (0,)
    batch_size: int = 4
    strand_pair: tuple[int, ...] | None = None
    precision: str = "float32"


@dataclass(frozen=True)
class ChunkTask:
    """A run of windows predicted into one chunk file.

    Attributes:
        path: the chunk file to write.
        fasta: genome FASTA (plain or bgzipped).
        spec: the predicting head.
        windows: (chromosome, k) of each window.
        outputs: model output channels kept.
    """

    path: str
    fasta: str
    spec: HeadSpec
    windows: tuple[Window, ...]
    outputs: tuple[int, ...]


@functools.lru_cache(maxsize=1)
def load_head(
    params_file: str, model_file: str, head: int, precision: str = "float32"
) -> seqnn.Head:
    """A trained model head, loaded once per process (the last one asked for is kept)."""
    return seqnn.load(params_file, model_file, head, precision=precision).head


def head_tiling(head: seqnn.Head) -> Tiling:
    """The window geometry of a head."""
    return Tiling(head.seq_length, head.stride, head.target_length, head.crop)


def predict_chunk(task: ChunkTask) -> str:
    """Predict a chunk's windows into its chunk file (nothing if the file exists).

    The file appears only once complete, so an interrupted task leaves no chunk file.

    Returns:
        the chunk file's path.
    """
    if Path(task.path).exists():
        return task.path
    spec = task.spec
    head = load_head(spec.params_file, spec.model_file, spec.head, spec.precision)
    tiling = head_tiling(head)
    with Genome(task.fasta) as genome:
        seqs = [genome.fetch(c, tiling.input_start(k), tiling.input_start(k) + tiling.seq_length)
                for c, k in task.windows]  # fmt: skip
    present = np.array([seq.strip("N") != "" for seq in seqs], dtype=bool)
    seqs = [seq for seq, keep in zip(seqs, present) if keep]
    size, outputs = spec.batch_size, list(task.outputs)
    shape = (len(seqs), tiling.target_length, len(outputs))
    with atomic_h5(task.path) as h5:
        h5.create_dataset("chrom", data=np.array([c for c, _ in task.windows], dtype="S"))
        h5.create_dataset("window", data=np.array([k for _, k in task.windows], dtype=np.int64))
        h5.create_dataset("present", data=present)
        chunks = (1, shape[1], min(shape[2], bigwig_group_size())) if seqs else None
        preds = h5.create_dataset("preds", shape, np.float32, chunks=chunks)
        for b0 in range(0, len(seqs), size):
            batch = np.stack([dna_1hot(seq) for seq in seqs[b0 : b0 + size]])
            pred = head.predict(
                batch, batch_size=size, rc=spec.rc, shifts=spec.shifts, strand_pair=spec.strand_pair
            )
            preds[b0 : b0 + len(batch)] = pred[..., outputs]
    log.info("%s: %d windows predicted, %d all N", Path(task.path).name, len(seqs),
             len(present) - len(seqs))  # fmt: skip
    return task.path


def chunk_blocks(
    path: str, columns: Sequence[int], tiling: Tiling
) -> Iterator[tuple[str, int, np.ndarray]]:
    """The predicted windows of a chunk file, in window order.

    Yields:
        (chromosome, first output bp, values float32 [target_length, len(columns)]).
    """
    with read_h5(path, "chunk file") as h5:
        present = h5["present"][:]
        chroms = h5["chrom"][:][present]
        ks = h5["window"][:][present]
        first, last = min(columns), max(columns) + 1
        values = h5["preds"][:, :, first:last][..., [c - first for c in columns]]
    for chrom, k, block in zip(chroms, ks, values):
        yield chrom.decode(), int(k) * tiling.span, block


@dataclass(frozen=True)
class MergeTask:
    """BigWigs of some targets from every chunk file.

    Attributes:
        chunk_files: in window order.
        columns: positions of the targets in the chunk files' last axis.
        paths: one BigWig per column.
        chrom_sizes: the BigWig header, (chromosome, bp) in FASTA order.
        tiling: window geometry.
        untransform: applied to the columns' values (None: write them as predicted).
    """

    chunk_files: tuple[str, ...]
    columns: tuple[int, ...]
    paths: tuple[str, ...]
    chrom_sizes: tuple[tuple[str, int], ...]
    tiling: Tiling
    untransform: Untransform | None = None


def merge_chunks(task: MergeTask) -> None:
    """Write a :class:`MergeTask`'s BigWigs (each atomically)."""
    blocks = (
        block
        for path in task.chunk_files
        for block in chunk_blocks(path, task.columns, task.tiling)
    )
    write_track_group(task.paths, task.chrom_sizes, blocks, task.tiling.stride,
                      task.untransform)  # fmt: skip
    names = [Path(path).name for path in task.paths]
    shown = ", ".join(names) if len(names) <= 4 else f"{names[0]}, ..., {names[-1]}"
    log.info("wrote %d BigWigs: %s", len(names), shown)


# ---------------------------------------------------------------------------------------
# The whole run
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackSelection:
    """Which outputs become BigWigs and how they are named and transformed.

    Attributes:
        outputs: model output channels (None: the targets table's rows, else all).
        targets_file: targets table (names; transforms for ``untransform``).
        untransform: undo the table's scale, clip_soft and sum_stat transforms.
    """

    outputs: tuple[int, ...] | None = None
    targets_file: str | None = None
    untransform: bool = False


def predict_genome(
    fasta: str,
    spec: HeadSpec,
    out_dir: str,
    selection: TrackSelection = TrackSelection(),
    chroms: Sequence[str] | None = None,
    regions: Sequence[tuple[str, int, int]] | None = None,
    chunk_windows: int = 64,
    executor: Executor | None = None,
    restart: bool = False,
) -> list[str]:
    """Predict a genome (or some chromosomes or regions) to one BigWig per target.

    Args:
        fasta: genome FASTA, plain or bgzipped.
        spec: the model head and its ensemble.
        out_dir: output directory (see the module docstring).
        selection: targets to write.
        chroms: tile only these chromosomes (names as in the FASTA, ``chr`` optional).
        regions: tile only the windows over these (chrom, start, end) bp intervals.
        chunk_windows: windows per chunk task.
        executor: runs the chunk and merge tasks (default: in this process).
        restart: resume an interrupted run of the same settings: keep its chunk files and
            BigWigs.

    Returns:
        the BigWig paths, in output order.
    """
    if chunk_windows < 1 or spec.batch_size < 1:
        raise InputError("--chunk_windows and --batch_size must be at least 1")
    fasta, out = os.path.abspath(fasta), Path(os.path.abspath(out_dir))
    spec = replace(spec, params_file=os.path.abspath(spec.params_file),
                   model_file=os.path.abspath(spec.model_file))  # fmt: skip
    head = load_head(spec.params_file, spec.model_file, spec.head, spec.precision)
    tiling = head_tiling(head)
    outputs, table = _resolve_outputs(selection, head.num_targets)
    if table is not None and spec.strand_pair is None:
        pairs = strand_pairs(table, head.num_targets)
        spec = replace(spec, strand_pair=None if pairs is None else tuple(pairs))
    untransform = Untransform.from_table(table, outputs, selection.targets_file) \
        if selection.untransform else None  # fmt: skip
    with Genome(fasta) as genome:
        sizes = dict(genome.sizes)
        chroms = None if chroms is None else [genome.resolve(c, "--chroms") for c in chroms]
        if regions is not None:
            regions = [(genome.resolve(c, "-b"), s, e) for c, s, e in regions]
    windows = tile_windows(sizes, tiling, chroms, regions)
    if not windows:
        raise InputError("no window to predict: the regions (-b) lie outside the chromosomes")
    plan = {
        "fasta": fasta, "spec": asdict(spec), "outputs": list(outputs),
        "chunk_windows": chunk_windows, "windows": len(windows),
        "windows_sha256": hashlib.sha256(repr(windows).encode()).hexdigest(),
        "targets_file": selection.targets_file and os.path.abspath(selection.targets_file),
        "untransform": selection.untransform,
    }  # fmt: skip
    _start_or_resume(out, plan, restart)
    tasks = [
        ChunkTask(str(out / "chunks" / CHUNK_PATTERN.format(i)), fasta, spec,
                  tuple(windows[w0 : w0 + chunk_windows]), outputs)
        for i, w0 in enumerate(range(0, len(windows), chunk_windows))
    ]  # fmt: skip
    log.info("%d windows of %d bp in %d chunks; %d targets", len(windows), tiling.span,
             len(tasks), len(outputs))  # fmt: skip
    paths = [str(out / "bigwig" / f"t{ti}.bw") for ti in outputs]
    todo = [i for i, path in enumerate(paths) if not (restart and Path(path).exists())]
    if todo:
        executor = executor or InProcess()
        pending = [t for t in tasks if not Path(t.path).exists()]
        log.info("predicting %d chunks (%d finished earlier)", len(pending),
                 len(tasks) - len(pending))  # fmt: skip
        executor.map(predict_chunk, pending)
        merges = _merge_tasks(tasks, todo, paths, tuple(sizes.items()), tiling, untransform)
        log.info("writing %d BigWigs in %d groups", len(todo), len(merges))
        executor.map(merge_chunks, merges)
    _write_index(out / "bigwig" / "targets.txt", outputs, table, paths)
    for task in tasks:
        Path(task.path).unlink(missing_ok=True)
    chunk_dir = out / "chunks"
    if not any(chunk_dir.iterdir()):  # left in place if it holds anything else
        chunk_dir.rmdir()
    return paths


def _merge_tasks(
    tasks: Sequence[ChunkTask],
    todo: Sequence[int],
    paths: Sequence[str],
    header: tuple[tuple[str, int], ...],
    tiling: Tiling,
    untransform: Untransform | None,
) -> list[MergeTask]:
    """Merge tasks for the outputs at positions ``todo``, a group of BigWigs each."""
    chunk_files = tuple(t.path for t in tasks)
    group = bigwig_group_size()
    merges = []
    for g in range(0, len(todo), group):
        columns = tuple(todo[g : g + group])
        merges.append(MergeTask(
            chunk_files, columns, tuple(paths[i] for i in columns), header, tiling,
            untransform.subset(columns) if untransform else None,
        ))  # fmt: skip
    return merges


def _resolve_outputs(
    selection: TrackSelection, num_targets: int
) -> tuple[tuple[int, ...], pd.DataFrame | None]:
    """(output channels, targets table or None), checked against the head."""
    table = read_targets(selection.targets_file) if selection.targets_file else None
    if selection.untransform and table is None:
        raise InputError("--untransform needs the targets table (-t) that holds the transforms")
    if selection.outputs is not None:
        outputs = tuple(int(t) for t in selection.outputs)
    elif table is not None:
        outputs = tuple(int(t) for t in table.index)
    else:
        outputs = tuple(range(num_targets))
    bad = [t for t in outputs if not 0 <= t < num_targets]
    if bad:
        raise InputError(f"target {bad[0]} is not an output of the head ({num_targets} outputs)")
    if len(set(outputs)) != len(outputs):
        raise InputError("--ti lists a target twice")
    return outputs, table


def _start_or_resume(out: Path, plan: dict, restart: bool) -> None:
    """Write ``plan.json``, or with ``restart`` check it against the interrupted run's.

    A fresh run drops the chunk files of an earlier one; leftover temporary files of a
    killed run are removed either way.
    """
    plan_file = out / "plan.json"
    chunk_dir = out / "chunks"
    text = json.dumps(plan, indent=2) + "\n"
    if restart and plan_file.is_file():
        old, new = json.loads(plan_file.read_text()), json.loads(text)
        differ = sorted(k for k in set(new) | set(old) if new.get(k) != old.get(k))
        if differ:
            raise InputError(
                f"{plan_file}: --restart resumes a run with the same settings, but these "
                f"differ: {', '.join(differ)}; repeat the first command, or drop --restart"
            )
    elif chunk_dir.is_dir():
        for path in chunk_dir.glob("chunk*.h5"):
            path.unlink()
    for directory in (chunk_dir, out / "bigwig"):
        for path in directory.glob(".*.tmp*"):
            path.unlink()
    chunk_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(plan_file, text)


def _write_index(
    path: Path, outputs: Sequence[int], table: pd.DataFrame | None, bigwigs: Sequence[str]
) -> None:
    """``targets.txt`` beside the BigWigs: index, identifier, description, file."""
    rows = []
    for ti, bigwig in zip(outputs, bigwigs):
        row = table.loc[ti] if table is not None and ti in table.index else None
        identifier = str(row["identifier"]) if row is not None else f"t{ti}"
        description = row.get("description", "") if row is not None else ""
        description = str(description) if pd.notna(description) else ""
        rows.append(f"{ti}\t{identifier}\t{description}\t{Path(bigwig).name}\n")
    write_text_atomic(path, "index\tidentifier\tdescription\tfile\n" + "".join(rows))
