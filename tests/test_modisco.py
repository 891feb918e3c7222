"""basenji_modisco.py: TF-MoDISco (modisco-lite) on a scores.h5, its outputs and errors.

The end-to-end test plants JASPAR's REST matrix (MA0138.3, 20 bp, with no close relative
in JASPAR CORE vertebrates) in 85 of 100 random sequences and gives its bases the signal
(hypothetical contributions ``pwm - 1/4`` on the site, small noise elsewhere), as an
attribution method would if the model had learned it.
"""

from __future__ import annotations

import os
import sys

import h5py
import numpy as np
import pytest

from basenji_tf.cli.basenji_modisco import main
from basenji_tf.errors import InputError
from basenji_tf.interpret.modisco import (
    ModiscoInputs,
    ModiscoOptions,
    Pattern,
    import_modiscolite,
    read_attributions,
    read_patterns,
    run_modisco,
    seqlet_bed,
    trim_bounds,
)

MOTIF_ID = "MA0138.3"  # REST
LENGTH_BP = 600  # model window of the synthetic scores.h5
REGION = (250, 350)  # the BED region inside each window


def write_scores(path, pwm: np.ndarray | None, n: int = 100, seed: int = 0, frac: float = 0.85):
    """A scores.h5 of ``n`` random windows, ``pwm`` [w, 4] planted near most centres.

    Returns:
        the planted sites: (chrom, start, end, strand) at genome coordinates.
    """
    rng = np.random.default_rng(seed)
    index = rng.integers(0, 4, size=(n, LENGTH_BP))
    hyp = rng.normal(0, 0.01, size=(n, LENGTH_BP, 4)).astype(np.float32)
    starts = 10_000 + 1000 * np.arange(n)
    sites = []
    for i in range(n if pwm is not None else 0):
        if rng.random() >= frac:
            continue
        width = len(pwm)
        pos = int(rng.integers(240, 360 - width))
        rev = bool(rng.random() < 0.5)
        site = pwm[::-1, ::-1] if rev else pwm
        index[i, pos : pos + width] = [rng.choice(4, p=col / col.sum()) for col in site]
        hyp[i, pos : pos + width] += (site - 0.25).astype(np.float32)
        sites.append(("chr1", int(starts[i]) + pos, int(starts[i]) + pos + width, "-+"[not rev]))
    seqs = np.eye(4, dtype=bool)[index]
    with h5py.File(path, "w") as h5:
        h5["seqs"] = seqs
        h5["hypothetical"] = hyp
        h5["contributions"] = hyp * seqs
        h5["chr"] = np.array([b"chr1"] * n)
        h5["start"] = starts
        h5["end"] = starts + LENGTH_BP
        h5["name"] = np.array([f"r{i}".encode() for i in range(n)])
        h5["region_start"] = starts + REGION[0]
        h5["region_end"] = starts + REGION[1]
        h5.attrs["method"] = "deepshap"
    return sites


def consensus_agreement(pwm: np.ndarray, reference: np.ndarray) -> float:
    """How well ``pwm`` [P, 4] spells ``reference`` [w, 4], on either strand.

    The best fraction, over offsets and strands, of ``reference``'s confident positions
    (max probability > 0.5) whose best base ``pwm`` shares.
    """
    confident = np.nonzero(reference.max(axis=1) > 0.5)[0]
    best = 0.0
    for query in (pwm, pwm[::-1, ::-1]):
        for offset in range(-len(reference), len(query)):
            hits = sum(
                0 <= offset + j < len(query) and query[offset + j].argmax() == reference[j].argmax()
                for j in confident
            )
            best = max(best, hits / len(confident))
    return best


# ---------------------------------------------------------------------------------------
# Small pieces


def test_trim_bounds_keeps_positions_above_30_percent_of_the_largest():
    contrib = np.zeros((10, 4))
    contrib[2, 0], contrib[4, 1], contrib[6, 3], contrib[8, 2] = 0.2, -1.0, 0.5, 0.29
    assert trim_bounds(contrib) == (4, 7)
    assert trim_bounds(contrib, threshold=0.1) == (2, 9)


def test_read_attributions_crops_around_each_region_centre(tmp_path):
    path = tmp_path / "scores.h5"
    write_scores(path, None, n=3)
    with h5py.File(path, "r+") as h5:
        h5["region_start"][1] = h5["start"][1] + 10  # centre 20 bp into the window
        h5["region_end"][1] = h5["start"][1] + 30
        seqs, hyp = h5["seqs"][:], h5["hypothetical"][:]
    inputs = read_attributions(str(path), 200)
    assert inputs.one_hot.shape == inputs.hypothetical.shape == (3, 200, 4)
    # row 0: centre 300, crop [200, 400); row 1: moved inward to [0, 200)
    np.testing.assert_array_equal(inputs.hypothetical[0], hyp[0, 200:400])
    np.testing.assert_array_equal(inputs.one_hot[1], seqs[1, 0:200])
    assert list(inputs.starts_bp) == [10_200, 11_000, 12_200]
    assert inputs.chroms == ["chr1"] * 3 and inputs.names == ["r0", "r1", "r2"]
    assert read_attributions(str(path), 5000).window_bp == LENGTH_BP  # cut to the window


def _one_line_error(call) -> str:
    """The message of the InputError ``call`` raises, checked to be one line."""
    with pytest.raises(InputError) as err:
        call()
    message = str(err.value)
    assert "\n" not in message
    return message


def test_bad_scores_files_are_one_line_errors(tmp_path):
    path = tmp_path / "scores.h5"
    write_scores(path, None, n=4)
    with h5py.File(path, "r+") as h5:
        del h5["hypothetical"]
    message = _one_line_error(lambda: read_attributions(str(path), 400))
    assert "scores.h5" in message and "'hypothetical'" in message

    write_scores(path, None, n=4)
    with h5py.File(path, "r+") as h5:
        del h5["contributions"]
        h5["contributions"] = np.zeros((4, 100, 4), np.float32)
    message = _one_line_error(lambda: read_attributions(str(path), 400))
    assert "contributions" in message and "(4, 100, 4)" in message

    write_scores(path, None, n=4)
    with h5py.File(path, "r+") as h5:
        del h5["start"]
        h5["start"] = np.zeros(3, np.int64)
    message = _one_line_error(lambda: read_attributions(str(path), 400))
    assert "start" in message and "[4]" in message

    write_scores(path, None, n=4)
    with h5py.File(path, "r+") as h5:  # saliency: absolute gradients at every base
        h5["contributions"][...] = np.abs(h5["hypothetical"][:])
        h5.attrs["method"] = "saliency"
    message = _one_line_error(lambda: read_attributions(str(path), 400))
    assert "saliency" in message and "--method deepshap" in message

    message = _one_line_error(lambda: read_attributions(str(tmp_path / "none.h5"), 400))
    assert "none.h5" in message


def test_seqlet_bed_maps_both_strands_to_genome_coordinates():
    contrib = np.zeros((30, 4))
    contrib[10:20, 0] = 1.0  # trimmed to [10, 20)
    pattern = Pattern(
        "pos_patterns.pattern_0", np.full((30, 4), 0.25), contrib,
        example_idx=np.array([0, 1]), start=np.array([100, 40]), end=np.array([130, 70]),
        is_revcomp=np.array([False, True]),
    )  # fmt: skip
    inputs = ModiscoInputs(
        np.zeros((2, 400, 4), np.float32), np.zeros((2, 400, 4), np.float32),
        ["chr2", "chr1"], np.array([1000, 5000]), ["a", "b"], 400,
    )  # fmt: skip
    lines = seqlet_bed([pattern], inputs).splitlines()
    # genome order: chr1 first; the reverse seqlet's core counts from its end
    assert lines == [
        "chr1\t5040\t5070\tpos_patterns.pattern_0\t0\t-\t5050\t5060",
        "chr2\t1100\t1130\tpos_patterns.pattern_0\t0\t+\t1110\t1120",
    ]


def test_missing_modisco_lite_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "modiscolite", None)
    message = _one_line_error(import_modiscolite)
    assert "pip install 'basenji-tf[motifs]'" in message


def test_command_reports_a_bad_file_in_one_line(tmp_path, capsys):
    path = tmp_path / "scores.h5"
    write_scores(path, None, n=2)
    with h5py.File(path, "r+") as h5:
        del h5["seqs"]
    out_dir = tmp_path / "out"
    assert main(["-m", str(tmp_path / "db.meme"), "-o", str(out_dir), str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "db.meme" in err[0]  # the database is read first
    db = tmp_path / "db.meme"
    db.write_text("MEME version 4\n\nALPHABET= ACGT\n\nMOTIF m1 M1\n"
                  "letter-probability matrix: alength= 4 w= 2\n1 0 0 0\n0 1 0 0\n")  # fmt: skip
    assert main(["-m", str(db), "-o", str(out_dir), str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'seqs'" in err[0]
    assert not (out_dir / "matches.tsv").exists()


# ---------------------------------------------------------------------------------------
# End to end


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    from pyjaspar import jaspardb

    motif = jaspardb().fetch_motif_by_id(MOTIF_ID)
    pwm = np.array([motif.counts.normalize()[b] for b in "ACGT"]).T  # [20, 4]
    folder = tmp_path_factory.mktemp("modisco")
    sites = write_scores(folder / "scores.h5", pwm)
    out_dir = folder / "out"
    table = run_modisco(str(folder / "scores.h5"), str(out_dir), ModiscoOptions(threads=2))
    return pwm, sites, out_dir, table


@pytest.mark.slow
def test_modisco_finds_the_planted_jaspar_motif(planted):
    pwm, sites, out_dir, table = planted
    top = table.iloc[0]
    assert top["pattern"].startswith("pos_patterns.")
    assert top["match_id"] == MOTIF_ID and top["match_name"] == "REST"
    assert float(top["qvalue"]) < 0.1
    assert top["seqlets"] >= 0.8 * len(sites)  # most planted sites are its seqlets
    assert list(table["seqlets"]) == sorted(table["seqlets"], reverse=True)
    saved = (out_dir / "matches.tsv").read_text().splitlines()
    assert saved[0] == "pattern\tseqlets\tmatch_id\tmatch_name\tqvalue"
    assert saved[1].split("\t")[:3] == [top["pattern"], str(top["seqlets"]), MOTIF_ID]
    pattern = next(p for p in read_patterns(str(out_dir / "modisco_results.h5"))
                   if p.name == top["pattern"])  # fmt: skip
    assert consensus_agreement(pattern.pwm(), pwm) >= 0.9


@pytest.mark.slow
def test_seqlets_land_on_the_planted_sites(planted):
    _, sites, out_dir, table = planted
    by_start = {(c, s): (e, strand) for c, s, e, strand in sites}
    rows = [line.split("\t") for line in (out_dir / "seqlets.bed").read_text().splitlines()]
    mine = [r for r in rows if r[3] == table.iloc[0]["pattern"]]
    assert len(mine) == table.iloc[0]["seqlets"]
    flips = set()
    for chrom, _, _, _, _, strand, core0, core1 in mine:
        hits = [(s, e, st) for (c, s), (e, st) in by_start.items()
                if c == chrom and s < int(core1) and int(core0) < e]  # fmt: skip
        assert len(hits) == 1  # every core is on a planted site
        s, e, planted_strand = hits[0]
        overlap = min(e, int(core1)) - max(s, int(core0))
        assert overlap >= 0.8 * (e - s)
        flips.add(planted_strand == strand)
    assert len(flips) == 1  # one orientation of the pattern, both strands in the genome


@pytest.mark.slow
def test_outputs_reopen_with_modisco_lite_and_memelite(planted, tmp_path):
    from memelite.io import read_meme
    from modiscolite.io import write_meme_from_h5
    from modiscolite.util import MemeDataType

    _, _, out_dir, table = planted
    meme = tmp_path / "pfm.meme"
    write_meme_from_h5(str(out_dir / "modisco_results.h5"), MemeDataType.PFM, str(meme), True)
    assert sorted(read_meme(str(meme))) == sorted(table["pattern"])
    with h5py.File(out_dir / "modisco_results.h5", "r") as h5:
        assert h5.attrs["window_size"] == 400
    ours = read_meme(str(out_dir / "patterns.meme"))
    assert list(ours) == list(table["pattern"])
    for pwm in ours.values():
        assert pwm.shape[0] == 4 and np.allclose(pwm.sum(axis=0), 1, atol=1e-3)
    page = (out_dir / "report.html").read_text()
    for name in table["pattern"]:
        assert f'src="logos/{name}.png"' in page
        assert os.path.getsize(out_dir / "logos" / f"{name}.png") > 1000
    assert f"{MOTIF_ID} REST (q = " in page
