"""``basenji_motifs_inject.py``: the predicted effect of inserting each motif of a database.

Each motif is put into the centre of every background window (a model window centred on
a BED record, reverse complemented on the minus strand) and the window is predicted with
and without it. As in the original:

* the inserted bases are drawn at random, position by position, from the motif's PWM
  raised to the power ``-e`` (``pwm_exp``) and renormalised (a large ``-e`` approaches the
  consensus);
* the motif starts at ``L // 2 + offset - width // 2`` bp of the window (``-s`` is the
  offset), on the window's strand (``--rc`` only averages the predictions of both
  strands);
* the effect of a motif on a window is, per target, the motif window's predictions summed
  over all bins minus the background's; each window's effects are centred on their mean
  over the motifs, and ``scores.h5`` holds their mean (``scores``) and variance (``var``)
  over the windows, [motifs, targets] float16, with the motif ids (``motif``) and names
  (``tf``) as byte strings.

Differences from the original:

* the motifs come from JASPAR (``--db jaspar``: CORE vertebrates, shipped by pyjaspar and
  read offline, as basenji_motifs.py; the original read JASPAR2020 CORE nematodes from
  ``$CE11``) or a MEME file (``--db path``); CIS-BP (the original's default) is not
  shipped;
* ``-g`` is a genome FASTA; the original's ``ce11`` means ``$CE11/assembly/ce11.fa``;
* the random draws are seeded (``seed``, then the window and motif indexes), so a run is
  reproducible and a motif's bases do not depend on the other motifs;
* a window that leaves its chromosome is an error (the original padded it with N);
* effects are centred and averaged in float32 (the original rounded each window's effects
  to float16 first); only the outputs are float16.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

from basenji_tf.errors import InputError
from basenji_tf.files import atomic_h5
from basenji_tf.genome import Genome
from basenji_tf.interpret.motifs import read_motif_db
from basenji_tf.progress import track
from basenji_tf.scoring.bed import Region, read_bed_windows, region_1hot
from basenji_tf.scoring.ensemble import EnsemblePredictor, ModelSpec, load_predictor

log = logging.getLogger(__name__)

MOTIFS_PER_CALL = 64
"""Motif windows of one background predicted together (with their background)."""


@dataclass(frozen=True)
class Motif:
    """One motif of the database.

    Attributes:
        id: its identifier (the MEME ``MOTIF`` line's first field, JASPAR's matrix id).
        tf: its protein name.
        pwm: base probabilities [width, 4] (A C G T), each row summing to 1, after ``-e``.
    """

    id: str
    tf: str
    pwm: np.ndarray


@dataclass(frozen=True)
class InjectOptions:
    """Options of ``basenji_motifs_inject.py`` (see its ``--help``).

    Attributes:
        pwm_exp: power the PWM is raised to before drawing bases (``-e``).
        offset: bp from the window's centre to the motif's centre (``-s``).
        seed: seed of the base draws.
    """

    pwm_exp: float = 1.0
    offset: int = 0
    seed: int = 1


# ---------------------------------------------------------------------------------------
# Motifs


def tf_name(name: str) -> str:
    """A motif's protein name: CIS-BP's ``(GATA4)_(Homo_sapiens)_(DBD_1.00)`` -> ``GATA4``.

    :func:`basenji_tf.interpret.motifs.read_motif_db` has already stripped the outer
    parentheses; the part before the first ``)`` is kept, as the original's ``cisbp_name``
    did.
    """
    head = name.split(")")[0]
    return head if ")" in name and "(" not in head else name


def read_motifs(database: str, pwm_exp: float = 1.0) -> list[Motif]:
    """The motifs of ``--db``: ``jaspar`` (CORE vertebrates, pyjaspar) or a MEME file.

    Args:
        database: ``jaspar``, or a MEME motif file (``cisbp`` is refused: not shipped).
        pwm_exp: each PWM is raised to this power and its rows renormalised.

    Raises:
        InputError: ``cisbp``, a missing or motif-less MEME file, a negative ``pwm_exp``,
            or a PWM row with no positive probability.
    """
    if database == "cisbp":
        raise InputError(
            "--db cisbp: the CIS-BP motifs are not shipped with basenji-tf; give --db a MEME "
            "file of them (the original read $CE11/cisbp2j/Caenorhabditis_elegans.meme) or "
            "--db jaspar"
        )
    if pwm_exp < 0:
        raise InputError(f"-e {pwm_exp}: give a power >= 0")
    if database == "jaspar":
        ids, names, pwms = read_motif_db(None)
    else:
        if not os.path.isfile(database):
            raise InputError(
                f"--db {database}: no such MEME file; give a MEME motif file or jaspar"
            )
        try:
            ids, names, pwms = read_motif_db(database)
        except InputError:
            raise InputError(
                f"--db {database}: no MOTIF found; give a MEME motif file or jaspar"
            ) from None
    motifs = []
    for motif_id, name, pwm in zip(ids, names, pwms):
        powered = np.asarray(pwm, np.float64).T ** pwm_exp
        sums = powered.sum(axis=1, keepdims=True)
        if not (np.isfinite(powered).all() and (sums > 0).all()):
            raise InputError(
                f"--db {database}: motif {motif_id} has a position with no positive "
                f"probability after -e {pwm_exp}; fix the matrix or use another -e"
            )
        motifs.append(Motif(motif_id, tf_name(name), powered / sums))
    return motifs


# ---------------------------------------------------------------------------------------
# Inserted windows


def motif_start(seq_length: int, width: int, offset: int) -> int:
    """First bp of a motif of ``width`` bp in a window of ``seq_length`` bp.

    The motif's centre base (``width // 2``) lies at ``seq_length // 2 + offset``.

    Raises:
        InputError: the motif would not fit inside the window.
    """
    start = seq_length // 2 + offset - width // 2
    if start < 0 or start + width > seq_length:
        raise InputError(
            f"-s {offset}: a {width} bp motif there leaves the {seq_length} bp window; "
            f"give |-s| below {seq_length // 2 - width}"
        )
    return start


def motif_rng(seed: int, window: int, motif: int) -> np.random.Generator:
    """The random draws of motif ``motif`` in background window ``window``."""
    return np.random.default_rng([seed, window, motif])


def sample_bases(pwm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Base indexes [width] (A0 C1 G2 T3), each drawn from its PWM row [width, 4]."""
    cdf = np.cumsum(pwm, axis=1)
    draws = rng.random(len(pwm)) * cdf[:, -1]
    return np.minimum((cdf <= draws[:, None]).sum(axis=1), 3)


def insert_bases(seq_1hot: np.ndarray, bases: np.ndarray, start: int) -> np.ndarray:
    """A copy of one-hot [L, 4] with ``bases`` [width] one-hot at ``start`` bp."""
    out = np.array(seq_1hot, dtype=np.float32, copy=True)
    out[start : start + len(bases)] = np.eye(4, dtype=np.float32)[bases]
    return out


def motif_windows(
    seq_1hot: np.ndarray, motifs: list[Motif], window: int, options: InjectOptions
) -> np.ndarray:
    """The background [L, 4] with each motif inserted: [len(motifs), L, 4] float32.

    Args:
        seq_1hot: the background window (its strand's orientation).
        motifs: the motifs (their index in this list seeds their draws: give the whole
            database's list, or pass a slice through :func:`inject_chunk`).
        window: the background's index (seeds the draws).
        options: offset and seed.
    """
    return inject_chunk(seq_1hot, motifs, 0, window, options)


def inject_chunk(
    seq_1hot: np.ndarray, motifs: list[Motif], first: int, window: int, options: InjectOptions
) -> np.ndarray:
    """:func:`motif_windows` of ``motifs``, the database's motifs ``first``, ``first + 1``, ..."""
    length = seq_1hot.shape[0]
    out = np.empty((len(motifs), length, 4), np.float32)
    for k, motif in enumerate(motifs):
        start = motif_start(length, len(motif.pwm), options.offset)
        bases = sample_bases(motif.pwm, motif_rng(options.seed, window, first + k))
        out[k] = insert_bases(seq_1hot, bases, start)
    return out


# ---------------------------------------------------------------------------------------
# Effects


def background_windows(genome: Genome, bed_file: str, seq_length: int) -> list[Region]:
    """Windows of ``seq_length`` bp centred on the BED records, each inside its chromosome.

    Raises:
        InputError: a window that leaves its chromosome (or any error of
            :func:`basenji_tf.scoring.bed.read_bed_windows`).
    """
    regions = read_bed_windows(bed_file, genome, seq_length, stranded=True)
    for i, region in enumerate(regions):
        size = genome.sizes[region.chrom]
        if region.start < 0 or region.end > size:
            raise InputError(
                f"{bed_file}: record {i + 1} ({region.name}): its {seq_length} bp window "
                f"{region.chrom}:{region.start}-{region.end} leaves {region.chrom} ({size} bp); "
                "drop the record or move it away from the chromosome's end"
            )
    return regions


def motif_effects(
    predictor: EnsemblePredictor,
    backgrounds: np.ndarray | list[np.ndarray],
    motifs: list[Motif],
    options: InjectOptions,
) -> np.ndarray:
    """Per background and motif, the predictions summed over bins: motif minus background.

    Args:
        predictor: the model (ensemble and targets as it says).
        backgrounds: one-hot windows [N, L, 4].
        motifs: the database.
        options: offset and seed of the insertions.

    Returns:
        float32 [N, motifs, targets].
    """
    num_t = None
    effects = None
    progress = track(total=len(backgrounds) * len(motifs), desc="motif windows", unit="window")
    for i, seq_1hot in enumerate(backgrounds):
        ref = np.asarray(seq_1hot, np.float32)[None]
        for m0 in range(0, len(motifs), MOTIFS_PER_CALL):
            chunk = motifs[m0 : m0 + MOTIFS_PER_CALL]
            alts = inject_chunk(ref[0], chunk, m0, i, options)
            ref_pred, alt_pred = predictor.predict_pairs(ref, alts, np.zeros(len(alts), int))
            if effects is None:
                num_t = ref_pred.shape[-1]
                effects = np.zeros((len(backgrounds), len(motifs), num_t), np.float32)
            ref_sum = ref_pred[0].sum(axis=0, dtype=np.float64)
            alt_sum = alt_pred.sum(axis=1, dtype=np.float64)
            effects[i, m0 : m0 + len(chunk)] = alt_sum - ref_sum
            progress.update(len(chunk))
    progress.close()
    return effects


def motif_scores(effects: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(scores, var) [motifs, targets] float32 of effects [N, motifs, targets].

    Each background's effects are centred on their mean over the motifs; then the mean and
    (population) variance over the backgrounds.
    """
    centred = effects - effects.mean(axis=1, keepdims=True, dtype=np.float64)
    return (
        centred.mean(axis=0).astype(np.float32),
        centred.var(axis=0).astype(np.float32),
    )


def write_scores(path: str, motifs: list[Motif], scores: np.ndarray, var: np.ndarray) -> None:
    """The original's ``scores.h5``: ``scores``, ``var`` (float16), ``motif``, ``tf`` (bytes)."""
    if np.abs(scores).max(initial=0) > np.finfo(np.float16).max:
        log.warning("%s: scores beyond float16's range are written as inf", path)
    with atomic_h5(path) as h5:
        h5.create_dataset("scores", data=scores.astype(np.float16))
        h5.create_dataset("var", data=var.astype(np.float16))
        h5.create_dataset("motif", data=np.array([m.id for m in motifs], dtype="S"))
        h5.create_dataset("tf", data=np.array([m.tf for m in motifs], dtype="S"))


def genome_fasta(genome: str) -> str:
    """The FASTA of ``-g``: a path, or ``ce11`` as the original (``$CE11/assembly/ce11.fa``).

    Raises:
        InputError: ``ce11`` without ``$CE11``, or no such file.
    """
    if genome == "ce11" and not os.path.isfile(genome):
        root = os.environ.get("CE11")
        if not root:
            raise InputError(
                "-g ce11: the original's $CE11/assembly/ce11.fa, and $CE11 is not set; "
                "give -g a genome FASTA"
            )
        genome = os.path.join(root, "assembly", "ce11.fa")
    if not os.path.isfile(genome):
        raise InputError(f"-g {genome}: no such FASTA; give -g a genome FASTA")
    return genome


def run_motifs_inject(
    spec: ModelSpec,
    database: str,
    genome: str,
    bed_file: str,
    out_dir: str,
    options: InjectOptions,
) -> tuple[list[Motif], np.ndarray, np.ndarray]:
    """Insert every motif into every background window; write ``out_dir/scores.h5``.

    Args:
        spec: the model, targets table (``-t``: the outputs kept) and ensemble.
        database: ``--db`` (:func:`read_motifs`).
        genome: ``-g`` (:func:`genome_fasta`).
        bed_file: the background regions.
        out_dir: output directory.
        options: ``-e``, ``-s`` and the seed.

    Returns:
        (motifs, scores [motifs, targets], var [motifs, targets]) as written (float32).
    """
    motifs = read_motifs(database, options.pwm_exp)  # bad input fails before the model loads
    fasta = genome_fasta(genome)
    head, predictor, _ = load_predictor(spec)
    width = max(len(m.pwm) for m in motifs)
    motif_start(head.seq_length, width, options.offset)
    with Genome(fasta) as fa:
        regions = background_windows(fa, bed_file, head.seq_length)
        backgrounds = [region_1hot(fa, r) for r in regions]
    log.info("%d motifs into %d background windows", len(motifs), len(backgrounds))
    effects = motif_effects(predictor, backgrounds, motifs, options)
    scores, var = motif_scores(effects)
    write_scores(os.path.join(out_dir, "scores.h5"), motifs, scores, var)
    return motifs, scores, var
