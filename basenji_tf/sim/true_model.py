"""The true model of the simulator: sequence -> expected and sampled per-bp coverage.

The true model (:class:`TrueModel`), all coordinates in bp:

1. Binding. Each factor has a position weight matrix built from a JASPAR consensus
   (:data:`basenji_tf.sim.motifs.MOTIFS`); the occupancy of every window on both
   strands is ``sigmoid((score - max_score + delta) / temp)``, so an exact consensus
   match binds (~0.95) and a mismatch at a fixed position almost abolishes binding
   (~0.02).
2. Accessibility, per cell type ``c``: ``u_c = G_60 * sum_m activity[c, m] weight_m
   site_m`` (site occupancies at window centres, ``G_60`` a Gaussian of sd 60 bp with
   peak 1), made cooperative by ``acc_c = u_c^2 / (1 + u_c)``: one site opens chromatin
   weakly, clusters of sites (enhancers, promoters) strongly.
3. Promoters: a TATA box (TBP) is a transcription start 30 bp downstream on its strand,
   with strength ``tata * (promoter_base + number of SP1 sites within +-150 bp)``.
4. Distal regulation: ``D_c = (acc_c * k) / 150`` with ``k(d) = exp(-|d| / 8000)`` for
   ``|d| <= 20000``; CAGE is ``cage_amp * (G_8 * start_strength) * (alpha + D_c)``
   (``G_8`` a Gaussian of sd 8 bp with sum 1), so enhancers 10-20 kb away still change it.
5. Tracks: DNase-like ``dnase_amp * (bg + acc_c)``; CAGE-like as above; ChIP-like
   (CTCF) ``chip_amp * (bg + activity * G_50 * ctcf_sites + leak * acc_c)``. DNase and
   ChIP are fragment coverage: fragment starts are drawn with mean ``rate / frag_bp``
   and each covers ``frag_bp`` bp; CAGE counts 5' ends per bp. Counts are
   negative-binomial (gamma-Poisson). The noise-free expected coverage is the same
   computation with the means instead of the draws.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import signal

from basenji_tf.sim.config import CELL_TYPES, Track, TrueModelParams
from basenji_tf.sim.motifs import MOTIF_BY_NAME, MOTIFS, Motif, motif_logodds, tata_centre


def _conv_same(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Centred convolution (odd symmetric kernel), floored at 0 against FFT round-off."""
    return np.maximum(signal.oaconvolve(x, kernel, mode="same"), 0.0)


def _gauss(sigma: int, peak_one: bool) -> np.ndarray:
    d = np.arange(-4 * sigma, 4 * sigma + 1)
    k = np.exp(-0.5 * (d / sigma) ** 2)
    return k if peak_one else k / k.sum()


def _shift(x: np.ndarray, by: int) -> np.ndarray:
    """Move values ``by`` bp to the right (left if negative), zero-filled."""
    out = np.zeros_like(x)
    if by >= 0:
        out[by:] = x[: len(x) - by]
    else:
        out[:by] = x[-by:]
    return out


def fragment_coverage(starts: np.ndarray, frag_bp: int) -> np.ndarray:
    """Coverage of fragments of ``frag_bp`` bp centred on their start positions.

    Args:
        starts: [L] fragment counts (or expected counts) per bp.
        frag_bp: fragment length in bp.

    Returns:
        [L] coverage per bp (float64; exact integers for integer counts).
    """
    length = len(starts)
    cum = np.concatenate([[0.0], np.cumsum(starts, dtype=np.float64)])
    pos = np.arange(length)
    lo = np.clip(pos - frag_bp // 2, 0, length)
    hi = np.clip(pos - frag_bp // 2 + frag_bp, 0, length)
    return cum[hi] - cum[lo]


def _rc_table(table: np.ndarray) -> np.ndarray:
    """The matrix of the reverse strand: reverse positions, complement A<->T, C<->G."""
    out = table[::-1].copy()
    out[:, :4] = out[:, 3::-1]
    return out


Sites = dict[str, np.ndarray]
"""Occupancy per motif: float32 [2, L] indexed by window start (row 0 '+', row 1 '-')."""


class TrueModel:
    """The noise-free map from sequence to expected per-bp coverage of each track.

    Args:
        tracks: the tracks to compute, in output order.
        params: model constants.
    """

    def __init__(self, tracks: Sequence[Track], params: TrueModelParams | None = None):
        self.tracks = tuple(tracks)
        self.params = params or TrueModelParams()
        p = self.params
        self._tables = {m.name: (motif_logodds(m), _rc_table(motif_logodds(m))) for m in MOTIFS}
        self._max_score = {
            m.name: float(t[0][:, :4].max(axis=1).sum())
            for m, t in zip(MOTIFS, self._tables.values())
        }
        self._acc_kernel = _gauss(p.acc_sigma_bp, peak_one=True)
        d = np.arange(-p.distal_max_bp, p.distal_max_bp + 1)
        self._distal_kernel = np.exp(-np.abs(d) / p.distal_lambda_bp) / self._acc_kernel.sum()
        self._sp1_kernel = np.ones(2 * p.sp1_half_window_bp + 1)
        self._cage_kernel = _gauss(p.cage_sigma_bp, peak_one=False)
        self._chip_kernel = _gauss(p.chip_sigma_bp, peak_one=True)

    # ---- binding
    def scan_motif(self, index: np.ndarray, motif: Motif) -> np.ndarray:
        """Occupancy of every window of one motif, float32 [2, L] (see :meth:`scan`)."""
        index = np.asarray(index, dtype=np.intp)
        w = motif.width
        out = np.zeros((2, len(index)), dtype=np.float32)
        n = len(index) - w + 1
        if n > 0:
            for strand, table in enumerate(self._tables[motif.name]):
                score = np.zeros(n)
                for j in range(w):
                    score += table[j][index[j : j + n]]
                z = score - self._max_score[motif.name] + self.params.motif_delta
                out[strand, :n] = 1.0 / (1.0 + np.exp(-z / self.params.motif_temp))
        return out

    def scan(self, index: np.ndarray) -> Sites:
        """Occupancy of every motif window on both strands.

        Args:
            index: uint8 [L] base indexes (A0 C1 G2 T3 N4).

        Returns:
            Sites: per motif float32 [2, L] by window start; windows running past the
            end are 0.
        """
        return {motif.name: self.scan_motif(index, motif) for motif in MOTIFS}

    def _centred_sum(self, sites: Sites, name: str) -> np.ndarray:
        """Occupancy of both strands moved from window start to window centre."""
        return _shift(sites[name].sum(axis=0, dtype=np.float64), MOTIF_BY_NAME[name].width // 2)

    # ---- coverage
    def accessibility(self, sites: Sites, cell_type: str) -> np.ndarray:
        """Cooperative accessibility ``u^2 / (1 + u)`` of one cell type, [L] float64."""
        activity = CELL_TYPES[cell_type]
        drive = 0.0
        for motif in MOTIFS:
            a = activity.get(motif.name, 1.0) * motif.weight
            if a:
                drive = drive + a * self._centred_sum(sites, motif.name)
        u = _conv_same(drive, self._acc_kernel)
        return u * u / (1.0 + u)

    def start_strength(self, sites: Sites) -> np.ndarray:
        """Transcription start strength per bp (TATA boxes and nearby SP1), [L] float64."""
        p = self.params
        sp1_near = p.promoter_base + _conv_same(self._centred_sum(sites, "SP1"), self._sp1_kernel)
        fwd = _shift(sites["TBP"][0].astype(np.float64), tata_centre("+")) * sp1_near
        rev = _shift(sites["TBP"][1].astype(np.float64), tata_centre("-")) * sp1_near
        return _shift(fwd, p.tss_offset_bp) + _shift(rev, -p.tss_offset_bp)

    def rates(self, sites: Sites) -> list[tuple[np.ndarray, int | None]]:
        """Per track: mean events per bp and the fragment length (None for CAGE).

        DNase and ChIP events are fragment starts (coverage = fragment box of them);
        CAGE events are 5' tags counted where they fall.
        """
        p = self.params
        acc_cache: dict[str, np.ndarray] = {}
        starts = bound = None
        out = []
        for track in self.tracks:
            cell = track.cell_type
            if cell not in acc_cache:
                acc_cache[cell] = self.accessibility(sites, cell)
            acc = acc_cache[cell]
            if track.assay == "DNASE":
                rate = p.dnase_amp * (p.dnase_bg + acc)
                out.append((rate / p.dnase_frag_bp, p.dnase_frag_bp))
            elif track.assay == "CAGE":
                if starts is None:
                    starts = _conv_same(self.start_strength(sites), self._cage_kernel)
                distal = _conv_same(acc, self._distal_kernel)
                out.append((p.cage_amp * starts * (p.cage_alpha + distal), None))
            elif track.assay == "CHIP":
                if bound is None:
                    bound = _conv_same(self._centred_sum(sites, "CTCF"), self._chip_kernel)
                activity = CELL_TYPES[cell].get("CTCF", 1.0)
                rate = p.chip_amp * (p.chip_bg + activity * bound + p.chip_acc_leak * acc)
                out.append((rate / p.chip_frag_bp, p.chip_frag_bp))
            else:
                raise ValueError(f"unknown assay {track.assay!r}")
        return out

    def expected(self, sites: Sites) -> np.ndarray:
        """Noise-free expected coverage per bp of every track.

        Args:
            sites: output of :meth:`scan` for a sequence of L bp.

        Returns:
            float64 [L, num_tracks]: expected BigWig values (fragment coverage for
            DNase/ChIP, 5' tag counts for CAGE).
        """
        columns = [
            rate if frag is None else fragment_coverage(rate, frag)
            for rate, frag in self.rates(sites)
        ]
        return np.stack(columns, axis=1)

    def sample(self, sites: Sites, rng: np.random.Generator) -> np.ndarray:
        """Observed coverage with negative-binomial (gamma-Poisson) event counts.

        Returns:
            float32 [L, num_tracks] integer-valued coverage per bp.
        """
        out = []
        for track, (rate, frag) in zip(self.tracks, self.rates(sites)):
            disp = self.params.dispersion[track.assay]
            counts = rng.poisson(rng.gamma(disp, rate / disp))
            out.append(counts if frag is None else fragment_coverage(counts, frag))
        return np.stack(out, axis=1).astype(np.float32)

    # ---- variants
    def splice(
        self, index: np.ndarray, sites: Sites, pos: int, ref_len: int, alt: np.ndarray
    ) -> tuple[np.ndarray, Sites, dict[str, float]]:
        """Sequence and sites after replacing ``index[pos:pos+ref_len]`` by ``alt``.

        Only windows overlapping the change are rescanned; the others are taken from
        ``sites`` (shifted by the length change), so the result equals :meth:`scan` of
        the new sequence at a fraction of the cost.

        Returns:
            (new index [L'], new sites, per motif the change of summed occupancy).
        """
        alt = np.asarray(alt, dtype=np.uint8)
        new_index = np.concatenate([index[:pos], alt, index[pos + ref_len :]])
        new_sites: Sites = {}
        change = {}
        for motif in MOTIFS:
            w = motif.width
            lo = max(pos - w + 1, 0)
            fresh = self.scan_motif(new_index[lo : pos + len(alt) + w - 1], motif)
            fresh = fresh[:, : pos + len(alt) - lo]
            old = sites[motif.name]
            new_sites[motif.name] = np.concatenate(
                [old[:, :lo], fresh, old[:, pos + ref_len :]], axis=1
            )
            change[motif.name] = float(fresh.sum() - old[:, lo : pos + ref_len].sum())
        return new_index, new_sites, change
