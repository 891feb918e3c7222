"""How well attribution finds planted sites: each method's AUROC on the simulator's truth.

On the trained demo model (``bin/basenji_demo.py -o DEMO``), takes ``-n`` planted elements
(promoters, enhancers, CTCF sites of ``sim/human/elements.bed``) of the held-out
chromosomes (valid and test, which training never saw), attributes a window of the
model's input length around each with every method of
``basenji_tf.interpret.attribution.attribute`` and with saturation mutagenesis
(``basenji_tf.scoring.sat.sat_mutagenesis``), and measures how well each ranks the bases
of the element's planted motif sites above the other bases of its window.

* **Objective**: the model's outputs over the two central output bins (sat's ``center``
  bins; the window is placed so that the element's centre is the middle of those 256 bp),
  summed over the tracks the element's factors drive in the true model (docs/sim.md):
  promoters (TBP, SP1) the three CAGE tracks; an enhancer the DNase track of each cell
  type where one of its factors has activity >= 0.5 (GATA1: erythroid; SPI1: myeloid;
  CEBPB: myeloid, hepatic; HNF4A: hepatic); CTCF sites the CTCF ChIP and the three DNase
  tracks. Forward strand only (no ``rc``).
* **Score** of a base: its |contribution| summed over the four channels; for saturation
  mutagenesis the largest |change of the objective| of its three substitutions.
* **AUROC** per window, the element's site bases (positives) against the other bases;
  bases of other planted elements and N bases are left out. Reported as the mean over
  windows, over the whole window (attribution methods; mutagenesis of 98k mutants per
  window is out of reach) and over the central ``--span`` bp (every method).
* **Seconds per region**: wall time of a method's calls over the regions / regions, on
  whatever else the machine is running.

Usage::

    python experiments/attribution.py --demo demo_out [-o out] [-n 200] [--quick]
    python experiments/attribution.py --demo demo_out -n 0 --figure attribution_region.png

``--figure`` draws one held-out enhancer (``--figure_element``; default the one with the
most observed DNase over its central bins in its objective tracks): the observed and
predicted tracks of its window above the DeepSHAP contributions of the 150 bp around its
centre as a logo, planted sites shaded.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from basenji_tf.files import atomic_path
from basenji_tf.sim.config import CELL_TYPES, SPECIES_TRACKS

ATTRIBUTION_METHODS = (
    "saliency",
    "input_x_gradient",
    "integrated_gradients",
    "expected_gradients",
    "deepshap",
)
SAT = "saturation_mutagenesis"
ACTIVE = 0.5  # a factor drives the DNase track of a cell type where its activity is this high
LOGO_BP = 150


# ---------------------------------------------------------------------------------------
# AUROC
# ---------------------------------------------------------------------------------------


def auroc(labels: np.ndarray, scores: np.ndarray, keep: np.ndarray | None = None) -> float:
    """Area under the ROC curve from ranks (Mann-Whitney U); tied scores share their rank.

    Args:
        labels: bool [n], positives.
        scores: float [n].
        keep: bool [n], the entries that count (None: all).

    Returns:
        AUROC in [0, 1] (ties count half); NaN without positives or without negatives.
    """
    labels = np.asarray(labels, bool).ravel()
    scores = np.asarray(scores, np.float64).ravel()
    if keep is not None:
        keep = np.asarray(keep, bool).ravel()
        labels, scores = labels[keep], scores[keep]
    positives = int(labels.sum())
    negatives = labels.size - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    _, group, counts = np.unique(scores, return_inverse=True, return_counts=True)
    # 1-based average rank of each group of equal scores
    mean_rank = np.cumsum(counts) - (counts - 1) / 2
    rank_sum = mean_rank[group.ravel()][labels].sum()
    return float((rank_sum - positives * (positives + 1) / 2) / (positives * negatives))


# ---------------------------------------------------------------------------------------
# Elements, their objectives and windows
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Element:
    """A planted element: its motif sites (0-based half-open bp) on one chromosome."""

    name: str
    chrom: str
    sites: tuple[tuple[int, int, str], ...]  # (start, end, motif)

    @property
    def kind(self) -> str:
        """``prom``, ``enh`` or ``ctcf`` (from the name, ``hs_chr1_enh00012``)."""
        return self.name.rsplit("_", 1)[-1].rstrip("0123456789")

    @property
    def centre(self) -> int:
        return (min(s for s, _, _ in self.sites) + max(e for _, e, _ in self.sites)) // 2


def read_elements(bed_file: str | Path) -> list[Element]:
    """elements.bed (BED6, name ``<element>:<motif>``) -> elements in file order."""
    sites: dict[str, list] = defaultdict(list)
    chroms: dict[str, str] = {}
    with open(bed_file) as handle:
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 4 or line.startswith(("#", "track", "browser")):
                continue
            element, _, motif = fields[3].partition(":")
            chroms[element] = fields[0]
            sites[element].append((int(fields[1]), int(fields[2]), motif))
    return [Element(name, chroms[name], tuple(sites[name])) for name in sites]


def driven_tracks(motif: str, kind: str) -> set[str]:
    """Identifiers of the human tracks a planted site of ``motif`` drives (docs/sim.md)."""
    out = set()
    for track in SPECIES_TRACKS["human"]:
        if kind == "prom":
            drives = track.assay == "CAGE"
        elif motif == "CTCF":
            drives = track.assay in ("CHIP", "DNASE")
        else:
            drives = track.assay == "DNASE" and CELL_TYPES[track.cell_type][motif] >= ACTIVE
        if drives:
            out.add(track.identifier)
    return out


def element_targets(element: Element, identifiers: Sequence[str]) -> tuple[int, ...]:
    """Model outputs (indexes into ``identifiers``) the element's sites drive."""
    driven = set().union(*(driven_tracks(m, element.kind) for _, _, m in element.sites))
    return tuple(i for i, identifier in enumerate(identifiers) if identifier in driven)


@dataclass(frozen=True)
class Geometry:
    """Where the objective lies in a window (bp and bins)."""

    seq_length: int
    stride: int
    crop: int
    target_length: int

    @classmethod
    def of(cls, head) -> Geometry:
        return cls(head.seq_length, head.stride, head.crop, head.target_length)

    @property
    def bins(self) -> tuple[int, int]:
        """Output bins of the objective: sat_mutagenesis's ``center`` bins, half-open."""
        c0 = self.target_length // 2
        return c0, c0 + (2 if self.target_length % 2 == 0 else 1)

    @property
    def centre_bp(self) -> int:
        """The middle of those bins, in window bp."""
        first, last = self.bins
        return (first + last + 2 * self.crop) * self.stride // 2


@dataclass(frozen=True)
class Case:
    """One evaluated window.

    Attributes:
        element: the element.
        start: the window's first bp on the chromosome.
        seq: one-hot [L, 4].
        targets: the objective's outputs.
        positive: bool [L], the element's site bases.
        keep: bool [L], bases that count (not N, not another element's site).
    """

    element: Element
    start: int
    seq: np.ndarray
    targets: tuple[int, ...]
    positive: np.ndarray
    keep: np.ndarray


def make_cases(
    elements: Sequence[Element],
    all_elements: Sequence[Element],
    fasta: str | Path,
    geometry: Geometry,
    identifiers: Sequence[str],
) -> list[Case]:
    """The windows of ``elements``, each with the element's centre at ``centre_bp``."""
    from basenji_tf.dna import dna_1hot
    from basenji_tf.genome import Genome

    by_chrom = defaultdict(list)
    for other in all_elements:
        by_chrom[other.chrom].append(other)
    cases = []
    with Genome(str(fasta)) as genome:
        for element in elements:
            start = element.centre - geometry.centre_bp
            end = start + geometry.seq_length
            seq = dna_1hot(genome.fetch(element.chrom, start, end)).astype(np.float32)
            positive = np.zeros(geometry.seq_length, bool)
            other_sites = np.zeros(geometry.seq_length, bool)
            for other in by_chrom[element.chrom]:
                mask = positive if other.name == element.name else other_sites
                for s, e, _ in other.sites:
                    if e > start and s < end:
                        mask[max(s - start, 0) : e - start] = True
            keep = seq.any(axis=1) & ~(other_sites & ~positive)
            targets = element_targets(element, identifiers)
            cases.append(Case(element, start, seq, targets, positive, keep))
    return cases


# ---------------------------------------------------------------------------------------
# The evaluation
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """How each method runs (``references``: deepshap and expected gradients)."""

    methods: tuple[str, ...] = (*ATTRIBUTION_METHODS, SAT)
    references: int = 20
    steps: int = 50
    span_bp: int = 256
    rows: int = 4
    seed: int = 1


@dataclass
class MethodResult:
    """One method's per-window AUROCs and its wall seconds."""

    method: str
    auroc_window: list[float] = field(default_factory=list)
    auroc_span: list[float] = field(default_factory=list)
    seconds: float = 0.0


def span_of(geometry: Geometry, span_bp: int) -> slice:
    """The central ``span_bp`` of a window, centred on ``centre_bp``."""
    first = geometry.centre_bp - span_bp // 2
    if first < 0 or first + span_bp > geometry.seq_length:
        raise SystemExit(f"--span {span_bp}: must fit in the {geometry.seq_length} bp window")
    return slice(first, first + span_bp)


def base_scores(model, cases: Sequence[Case], method: str, geometry: Geometry, settings: Settings):
    """Per case, |contribution| summed over channels [L] of one method; and wall seconds.

    Cases are attributed in groups of equal objective targets (one call per group).
    """
    from basenji_tf.interpret.attribution import attribute

    groups = defaultdict(list)
    for i, case in enumerate(cases):
        groups[case.targets].append(i)
    scores: list[np.ndarray | None] = [None] * len(cases)
    seconds = 0.0
    for targets, members in groups.items():
        seqs = np.stack([cases[i].seq for i in members])
        t0 = time.perf_counter()
        result = attribute(
            model, seqs, method, targets=targets, bins=geometry.bins, rows=settings.rows,
            references=settings.references, steps=settings.steps, seed=settings.seed,
            baseline="zeros",
        )  # fmt: skip
        seconds += time.perf_counter() - t0
        summed = np.abs(result.contributions).sum(axis=-1)
        for k, i in enumerate(members):
            scores[i] = summed[k]
    return scores, seconds


def sat_scores(predictor, case: Case, span: slice) -> np.ndarray:
    """Largest |objective change| of each base's three substitutions over ``span`` [span]."""
    from basenji_tf.scoring.sat import sat_mutagenesis

    length = span.stop - span.start
    centred = sat_mutagenesis(predictor, case.seq, span.start, length, ("center",))["center"]
    values = centred[:, :, list(case.targets)].sum(axis=-1).astype(np.float64)  # [span, 4]
    ref = case.seq[span].astype(bool)
    ref_value = np.where(ref.any(axis=1), (values * ref).sum(axis=1), values.mean(axis=1))
    return np.abs(values - ref_value[:, None]).max(axis=1)


def evaluate(
    model, predictor, cases: Sequence[Case], geometry: Geometry, settings: Settings
) -> list[MethodResult]:
    """AUROCs and times of every method of ``settings`` on ``cases`` (module docstring).

    Args:
        model: the head's ``keras.Model`` (attribution).
        predictor: an ``EnsemblePredictor`` of the same model (saturation mutagenesis).
        cases: the windows (:func:`make_cases`).
        geometry: the head's geometry.
        settings: methods and their counts.
    """
    from basenji_tf.interpret.attribution import attribute
    from basenji_tf.progress import track

    span = span_of(geometry, settings.span_bp)
    # untimed first calls: oneDNN creates its kernels for these shapes once per process
    attribute(model, cases[0].seq[None], "input_x_gradient", bins=geometry.bins, rows=settings.rows)
    predictor.predict(cases[0].seq[None])
    results = []
    for method in settings.methods:
        result = MethodResult(method)
        if method == SAT:
            for case in track(cases, desc="saturation mutagenesis", unit="regions"):
                t0 = time.perf_counter()
                score = sat_scores(predictor, case, span)
                result.seconds += time.perf_counter() - t0
                result.auroc_window.append(float("nan"))
                result.auroc_span.append(auroc(case.positive[span], score, case.keep[span]))
        else:
            scores, result.seconds = base_scores(model, cases, method, geometry, settings)
            for case, score in zip(cases, scores, strict=True):
                result.auroc_window.append(auroc(case.positive, score, case.keep))
                result.auroc_span.append(auroc(case.positive[span], score[span], case.keep[span]))
        results.append(result)
    return results


def summary_rows(results: Sequence[MethodResult], cases: Sequence[Case]) -> list[dict]:
    """One row per method: mean AUROCs (all windows, and per element kind), s/region."""
    kinds = [c.element.kind for c in cases]
    rows = []
    for r in results:
        row = {
            "method": r.method,
            "regions": len(cases),
            "auroc_window": _mean(r.auroc_window),
            "auroc_span": _mean(r.auroc_span),
        }
        for kind in ("prom", "enh", "ctcf"):
            row[f"auroc_span_{kind}"] = _mean([a for a, k in zip(r.auroc_span, kinds) if k == kind])
        row["seconds_per_region"] = r.seconds / max(len(cases), 1)
        rows.append(row)
    return rows


def _mean(values: Sequence[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def write_tsv(path: Path, rows: Sequence[dict]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter="\t")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: f"{v:.4f}" if isinstance(v, float) else v for k, v in row.items()})


def print_table(rows: Sequence[dict], settings: Settings, span_bp: int, seq_length: int) -> None:
    print(
        f"\nAUROC of planted-site bases vs other bases, mean over {rows[0]['regions']} windows "
        f"(references {settings.references}, IG {settings.steps} steps from zeros)"
    )
    print(
        f"| method | AUROC, window ({seq_length:,} bp) | AUROC, central {span_bp} bp | "
        "promoters | enhancers | CTCF | seconds per region |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        cells = [r["auroc_window"], r["auroc_span"], r["auroc_span_prom"], r["auroc_span_enh"]]
        cells.append(r["auroc_span_ctcf"])
        text = " | ".join("-" if np.isnan(v) else f"{v:.3f}" for v in cells)
        print(f"| {r['method']} | {text} | {r['seconds_per_region']:.2f} |")


# ---------------------------------------------------------------------------------------
# The figure
# ---------------------------------------------------------------------------------------


def figure_element(
    elements: Sequence[Element], demo: Path, identifiers: Sequence[str], centre_bp: int = 128
) -> Element:
    """The enhancer with the most observed coverage in its objective tracks near its centre.

    Coverage is summed over the ``2 centre_bp`` bp around the element's centre.
    """
    import pyBigWig

    tracks_dir = demo / "sim" / "human" / "tracks"
    best, best_value = None, -1.0
    for element in elements:
        if element.kind != "enh":
            continue
        c, total = element.centre, 0.0
        for t in element_targets(element, identifiers):
            with pyBigWig.open(str(tracks_dir / f"{identifiers[t]}.bw")) as bw:
                total += float(np.nansum(bw.values(element.chrom, c - centre_bp, c + centre_bp)))
        if total > best_value:
            best, best_value = element, total
    if best is None:
        raise SystemExit("--figure: no held-out enhancer to draw")
    return best


def draw_figure(
    model, case: Case, geometry: Geometry, demo: Path, out: Path, settings: Settings
) -> None:
    """Observed and predicted tracks of the case's window above its DeepSHAP logo."""
    import logomaker
    import matplotlib
    import pandas as pd
    import pyBigWig

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from basenji_tf import seqnn
    from basenji_tf.interpret.attribution import attribute
    from basenji_tf.scoring.track_writer import Untransform

    targets_file = demo / "data_human" / "targets.txt"
    table = pd.read_csv(targets_file, sep="\t", index_col=0)
    targets = list(case.targets)
    predicted = seqnn.predict_model(model, case.seq[None], 1)[0][:, targets]
    predicted = Untransform.from_table(table, targets, str(targets_file))(predicted)
    contributions = attribute(
        model, case.seq[None], "deepshap", targets=case.targets, bins=geometry.bins, rows=1,
        references=settings.references, seed=settings.seed,
    ).contributions[0]  # fmt: skip
    chrom, bin_bp = case.element.chrom, geometry.stride
    span_start = case.start + geometry.crop * bin_bp
    span_end = span_start + geometry.target_length * bin_bp
    fig, axes = plt.subplots(
        len(targets) + 1, 1, figsize=(10, 1.5 * len(targets) + 2.4),
        gridspec_kw={"height_ratios": [1] * len(targets) + [1.6]},
    )  # fmt: skip
    obj_first = span_start + geometry.bins[0] * bin_bp
    obj_last = span_start + geometry.bins[1] * bin_bp
    x = span_start + bin_bp * np.arange(geometry.target_length)
    for ax, t, column in zip(axes[:-1], targets, predicted.T, strict=True):
        row = table.loc[t]
        with pyBigWig.open(str(demo / "sim" / "human" / row["file"])) as bw:
            values = bw.values(chrom, span_start, span_end, numpy=True).reshape(-1, bin_bp)
        observed = values.sum(axis=1) if row["sum_stat"].startswith("sum") else values.mean(1)
        ax.fill_between(x, observed, step="post", color="0.7", label="observed")
        ax.step(x, column, where="post", color="tab:blue", linewidth=1, label="predicted")
        ax.axvspan(obj_first, obj_last, color="tab:orange", alpha=0.25, lw=0)
        ax.set_xlim(span_start, span_end)
        ax.set_ylabel(row["identifier"], fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].legend(loc="upper right", fontsize=7, frameon=False)
    axes[0].set_title(
        f"{case.element.name} ({chrom}:{case.element.centre:,}, held out): observed vs "
        f"predicted over the window's {span_end - span_start:,} bp; objective bins shaded",
        fontsize=9,
    )
    first = geometry.centre_bp - LOGO_BP // 2
    logo = pd.DataFrame(contributions[first : first + LOGO_BP], columns=list("ACGT"))
    logo.index = np.arange(LOGO_BP) + case.start + first
    ax = axes[-1]
    logomaker.Logo(logo, ax=ax, color_scheme="classic")
    for s, e, motif in case.element.sites:
        ax.axvspan(s - 0.5, e - 0.5, color="tab:orange", alpha=0.2, lw=0)
        ax.text((s + e) / 2, 1.0, motif, transform=ax.get_xaxis_transform(), ha="center",
                va="bottom", fontsize=7)  # fmt: skip
    ax.set_xlim(logo.index[0] - 0.5, logo.index[-1] + 0.5)
    ax.set_ylabel("DeepSHAP\ncontribution", fontsize=8)
    ax.set_xlabel(f"{chrom} position (bp); planted sites shaded", fontsize=8)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=150)
    plt.close(fig)
    print(f"wrote {out} ({case.element.name})")


# ---------------------------------------------------------------------------------------
# The script
# ---------------------------------------------------------------------------------------


def choose_elements(elements: Sequence[Element], chroms: Sequence[str], n: int, seed: int):
    """``n`` elements of ``chroms`` drawn without replacement (all if fewer), genome order."""
    pool = [e for e in elements if e.chrom in chroms]
    if n >= len(pool):
        return pool
    picked = np.random.default_rng(seed).choice(len(pool), n, replace=False)
    return [pool[i] for i in sorted(picked)]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path, default=Path("demo_out"), help="a finished demo")
    parser.add_argument("-o", dest="out", type=Path, default=Path("experiments_out/attribution"))
    parser.add_argument("-n", type=int, default=200, help="elements evaluated")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--references", type=int, default=20, help="deepshap, expected grads")
    parser.add_argument("--steps", type=int, default=50, help="integrated gradients' steps")
    parser.add_argument("--span", type=int, default=256, help="central bp evaluated with sat")
    parser.add_argument("--rows", type=int, default=4, help="sequences per model call")
    parser.add_argument("--methods", default=",".join((*ATTRIBUTION_METHODS, SAT)))
    parser.add_argument("--quick", action="store_true", help="-n 20, 5 references, 10 steps")
    parser.add_argument("--figure", type=Path, help="also draw one region's figure (PNG)")
    parser.add_argument("--figure_element", help="the element drawn (default: see above)")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.references, args.steps = min(args.n, 20), 5, 10
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    import pandas as pd

    from basenji_tf import seqnn
    from basenji_tf.scoring.ensemble import ModelSpec, load_predictor

    demo = args.demo
    params_file = str(demo / "train" / "params.json")
    model_file = str(demo / "train" / "model_best.h5")
    head = seqnn.load(params_file, model_file, augment=False).head
    geometry = Geometry.of(head)
    identifiers = list(pd.read_csv(demo / "data_human" / "targets.txt", sep="\t")["identifier"])
    info = json.loads((demo / "sim" / "sim.json").read_text())["species"]["human"]
    held_out = [*info["valid_chroms"], *info["test_chroms"]]
    all_elements = read_elements(demo / "sim" / "human" / "elements.bed")
    fasta = demo / "sim" / "human" / "genome.fa"
    settings = Settings(
        tuple(args.methods.split(",")), args.references, args.steps, args.span, args.rows,
        args.seed,
    )  # fmt: skip
    chosen = choose_elements(all_elements, held_out, args.n, args.seed)
    cases = make_cases(chosen, all_elements, fasta, geometry, identifiers)
    if cases:
        counts = Counter(c.element.kind for c in cases)
        print(f"{len(cases)} elements of {', '.join(held_out)}: {dict(counts)}")
        _, predictor, _ = load_predictor(ModelSpec(params_file, model_file, batch_size=8))
        results = evaluate(head.model, predictor, cases, geometry, settings)
        rows = summary_rows(results, cases)
        args.out.mkdir(parents=True, exist_ok=True)
        write_tsv(args.out / "attribution.tsv", rows)
        per_region = [
            {"element": c.element.name, "kind": c.element.kind, "chrom": c.element.chrom,
             "window_start": c.start, "targets": ",".join(identifiers[t] for t in c.targets),
             "method": r.method, "auroc_window": r.auroc_window[i], "auroc_span": r.auroc_span[i]}
            for r in results
            for i, c in enumerate(cases)
        ]  # fmt: skip
        write_tsv(args.out / "regions.tsv", per_region)
        print_table(rows, settings, args.span, geometry.seq_length)
        print(f"wrote {args.out / 'attribution.tsv'} and {args.out / 'regions.tsv'}")
    if args.figure:
        pool = [e for e in all_elements if e.chrom in held_out]
        if args.figure_element:
            pool = [e for e in pool if e.name == args.figure_element]
            if not pool:
                raise SystemExit(f"--figure_element {args.figure_element}: no held-out element")
            element = pool[0]
        else:
            element = figure_element(pool, demo, identifiers)
        (case,) = make_cases([element], all_elements, fasta, geometry, identifiers)
        draw_figure(head.model, case, geometry, demo, args.figure, settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
