"""basenji_motifs_scan.py: FIMO hits in attributed regions, at genome coordinates.

A synthetic attribution scores.h5 holds random windows with JASPAR's CTCF consensus
(MA0139.2) planted on both strands, inside the BED regions and once outside, with
contributions high on the planted bases only: the scan must find each planted site at its
genome coordinates and strand, with the largest attribution sums, and nothing of a long
motif (REST, MA0138.3) that is not in the sequences at a threshold its consensus passes.
"""

import h5py
import numpy as np
import pandas as pd
import pytest

from basenji_tf.errors import InputError
from basenji_tf.interpret.motifs import meme_text
from basenji_tf.interpret.scan import (
    HIT_COLUMNS,
    MotifDb,
    ScanOptions,
    load_motifs,
    motif_summary,
    run_scan,
    scan_scores,
)

pytest.importorskip("memelite")
pytest.importorskip("pyjaspar")

WINDOW_BP = 600
REGION = (200, 400)  # window bp of each record's BED region
# (row, window bp, strand) of each planted CTCF site; the last is outside its region
PLANTED = [(0, 250, "+"), (1, 300, "-"), (2, 210, "+"), (2, 340, "-"), (3, 500, "+")]
WINDOWS = [("chr1", 10_000), ("chr1", 50_000), ("chr2", 7_000), ("chr2", 90_000)]
STRICT = 1e-7
LOOSE = 1e-3  # random hits as well as the planted ones


@pytest.fixture(scope="module")
def matrices():
    """PWMs [4, width] of CTCF (planted) and REST (absent) from JASPAR (pyjaspar, offline)."""
    from pyjaspar import jaspardb

    db = jaspardb()
    out = {}
    for motif_id in ("MA0139.2", "MA0138.3"):
        motif = db.fetch_motif_by_id(motif_id)
        out[motif_id] = (motif.name, np.array([motif.counts.normalize()[b] for b in "ACGT"]))
    return out


def consensus_codes(pwm: np.ndarray, strand: str) -> np.ndarray:
    """Base codes (A0 C1 G2 T3) of a PWM's consensus [width], reverse complemented on '-'."""
    codes = pwm.argmax(axis=0)
    return codes if strand == "+" else 3 - codes[::-1]


def write_scores(path, matrices, plant_rest: bool = False, contributions: bool = True) -> None:
    """A scores.h5 of basenji_grad_bed.py's layout with CTCF planted as in PLANTED."""
    rng = np.random.default_rng(7)
    codes = rng.integers(0, 4, size=(len(WINDOWS), WINDOW_BP))
    signal = rng.normal(0, 0.01, size=codes.shape)
    ctcf = matrices["MA0139.2"][1]
    for row, pos, strand in PLANTED:
        codes[row, pos : pos + ctcf.shape[1]] = consensus_codes(ctcf, strand)
        signal[row, pos : pos + ctcf.shape[1]] = 1.0
    if plant_rest:
        rest = matrices["MA0138.3"][1]
        codes[3, 250 : 250 + rest.shape[1]] = consensus_codes(rest, "+")
    seqs = np.eye(4, dtype=bool)[codes]
    with h5py.File(path, "w") as h5:
        h5.create_dataset("seqs", data=seqs)
        if contributions:
            h5.create_dataset("contributions", data=(seqs * signal[..., None]).astype(np.float32))
        h5.create_dataset("chr", data=np.array([c for c, _ in WINDOWS], dtype="S"))
        starts = np.array([s for _, s in WINDOWS], np.int64)
        h5.create_dataset("start", data=starts)
        h5.create_dataset("end", data=starts + WINDOW_BP)
        h5.create_dataset("name", data=np.array([f"r{i}" for i in range(len(WINDOWS))], "S"))
        h5.create_dataset("region_start", data=starts + REGION[0])
        h5.create_dataset("region_end", data=starts + REGION[1])


def write_meme(path, matrices) -> None:
    """A MEME file of the two matrices (MOTIF lines ``<id> <name>``)."""
    pwms = {f"{i} {name}": (pwm.T, 20) for i, (name, pwm) in matrices.items()}
    with open(path, "w") as handle:
        handle.write(meme_text(pwms, np.full(4, 0.25)))


@pytest.fixture(scope="module")
def files(tmp_path_factory, matrices):
    folder = tmp_path_factory.mktemp("scan")
    write_scores(folder / "scores.h5", matrices)
    write_meme(folder / "two.meme", matrices)
    return folder


def planted_hits(window: bool) -> set[tuple[str, int, int, str]]:
    width = 15
    return {
        (WINDOWS[r][0], WINDOWS[r][1] + pos, WINDOWS[r][1] + pos + width, strand)
        for r, pos, strand in PLANTED
        if window or REGION[0] <= pos and pos + width <= REGION[1]
    }


def as_set(hits) -> set[tuple[str, int, int, str]]:
    return set(zip(hits["chrom"], hits["start"], hits["end"], hits["strand"]))


def test_a_meme_file_of_two_motifs_reads_both(files):
    db = load_motifs(str(files / "two.meme"))
    assert db.ids == ["MA0139.2", "MA0138.3"] and db.names == ["CTCF", "REST"]
    assert [p.shape for p in db.pwms] == [(4, 15), (4, 20)]


@pytest.mark.parametrize("window", [False, True])
def test_planted_sites_are_found_at_their_genome_coordinates_and_strand(files, window):
    db = load_motifs(str(files / "two.meme"))
    hits = scan_scores(str(files / "scores.h5"), db, ScanOptions(LOOSE, window=window))
    assert len(hits) > len(planted_hits(window)) + 2
    ctcf = hits[hits["motif_id"] == "MA0139.2"]
    expected = planted_hits(window)
    assert expected <= as_set(ctcf)
    # the planted sites carry CTCF's largest attribution sums (15 bases of 1.0 each; a
    # shifted CTCF hit overlapping one has at most 14)
    top = ctcf.nlargest(len(expected), "attr_sum")
    assert ctcf["attr_sum"].drop(top.index).max() < 14.1
    assert as_set(top) == expected
    assert np.allclose(top["attr_sum"], 15, atol=0.2)
    assert np.allclose(top["attr_mean"], 1, atol=0.02)
    # region mode: no hit leaves its region (window mode finds the site outside it)
    window_start = np.array([WINDOWS[r][1] for r in hits["row"]])
    lowest, highest = (0, WINDOW_BP) if window else REGION
    assert (hits["start"] - window_start >= lowest).all()
    assert (hits["end"] - window_start <= highest).all()
    keys = list(zip(hits["chrom"], hits["start"], hits["end"]))
    assert keys == sorted(keys)


def test_an_absent_motif_has_no_hit_at_a_strict_threshold(files, matrices, tmp_path):
    db = load_motifs(str(files / "two.meme"))
    hits = scan_scores(str(files / "scores.h5"), db, ScanOptions(threshold=STRICT, window=True))
    assert set(hits["motif_id"]) == {"MA0139.2"}
    assert as_set(hits) == planted_hits(True)
    # the control: REST's consensus, once planted, passes the same threshold
    write_scores(tmp_path / "rest.h5", matrices, plant_rest=True)
    hits = scan_scores(str(tmp_path / "rest.h5"), db, ScanOptions(threshold=STRICT, window=True))
    rest = hits[hits["motif_id"] == "MA0138.3"]
    assert as_set(rest) == {("chr2", 90_250, 90_270, "+")}


def test_hits_do_not_depend_on_the_chunks(files):
    db = load_motifs(str(files / "two.meme"))
    options = ScanOptions(LOOSE, window=True)
    whole = scan_scores(str(files / "scores.h5"), db, options)
    chunked = scan_scores(str(files / "scores.h5"), db, options, chunk_bp=700)
    assert len(whole) > len(PLANTED) + 2
    assert whole.equals(chunked)


def test_min_attribution_keeps_the_strong_hits(files):
    db = load_motifs(str(files / "two.meme"))
    every = scan_scores(str(files / "scores.h5"), db, ScanOptions(LOOSE))
    hits = scan_scores(str(files / "scores.h5"), db, ScanOptions(LOOSE, min_attribution=14.5))
    assert len(every) > len(hits) and planted_hits(False) <= as_set(hits)
    assert hits.equals(every[every["attr_sum"] > 14.5].reset_index(drop=True))


def test_outputs_and_summary(files, tmp_path):
    out = tmp_path / "out"
    hits, summary = run_scan(str(files / "scores.h5"), str(out), str(files / "two.meme"))
    lines = (out / "hits.bed").read_text().splitlines()
    assert lines[0] == "#" + "\t".join(HIT_COLUMNS)
    assert len(lines) == len(hits) + 1
    first = lines[1].split("\t")
    assert first[:3] == [hits["chrom"][0], str(hits["start"][0]), str(hits["end"][0])]
    table = (out / "motif_summary.tsv").read_text().splitlines()
    assert table[0].split("\t") == [
        "motif_id", "motif_name", "hits", "regions", "attr_sum", "attr_mean", "attr_share",
    ]  # fmt: skip
    assert table[1].split("\t")[:2] == ["MA0139.2", "CTCF"]
    ctcf = summary.iloc[0]
    in_region = hits[hits["motif_id"] == "MA0139.2"]
    assert ctcf["hits"] == len(in_region) and ctcf["regions"] == in_region["row"].nunique()
    assert ctcf["attr_sum"] == pytest.approx(in_region["attr_sum"].sum())
    assert summary["attr_share"].sum() == pytest.approx(1.0)


def test_summary_lists_motifs_without_hits():
    db = MotifDb(["a", "b"], ["A", "B"], [np.full((4, 5), 0.25)] * 2, "test")
    summary = motif_summary(pd.DataFrame({c: [] for c in HIT_COLUMNS}), db)
    assert list(summary["motif_id"]) == ["a", "b"] and list(summary["hits"]) == [0, 0]
    assert summary["attr_mean"].isna().all()


@pytest.mark.slow
def test_jaspar_finds_the_planted_ctcf(files):
    db = load_motifs(None, "vertebrates")
    assert len(db.ids) > 500
    hits = scan_scores(str(files / "scores.h5"), db, ScanOptions())
    ctcf = hits[hits["motif_id"].str.startswith("MA0139.")]
    assert planted_hits(False) <= as_set(ctcf)


def test_another_taxon_is_read_from_jaspar():
    db = load_motifs(None, "Nematodes")
    assert db.source == "JASPAR CORE nematodes" and len(db.ids) > 50
    assert all(i.startswith(("MA", "UN")) for i in db.ids)


# ---------------------------------------------------------------------------------------
# Bad input: one line naming the file


def one_line_error(capsys, argv) -> str:
    from basenji_tf.cli.basenji_motifs_scan import main

    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_the_command_writes_both_files(files, tmp_path):
    from basenji_tf.cli.basenji_motifs_scan import main

    out = tmp_path / "cli"
    argv = [str(files / "scores.h5"), "-m", str(files / "two.meme"), "-o", str(out)]
    assert main(argv + ["--threshold", str(STRICT), "--window"]) == 0
    rows = [line.split("\t") for line in (out / "hits.bed").read_text().splitlines()[1:]]
    found = {(r[0], int(r[1]), int(r[2]), r[5]) for r in rows}
    assert found == planted_hits(True) and {r[6] for r in rows} == {"MA0139.2"}
    summary = (out / "motif_summary.tsv").read_text().splitlines()
    assert [line.split("\t")[:3] for line in summary[1:]] == [
        ["MA0139.2", "CTCF", str(len(PLANTED))],
        ["MA0138.3", "REST", "0"],
    ]


def test_scores_without_contributions_is_one_line(capsys, matrices, tmp_path):
    write_scores(tmp_path / "bad.h5", matrices, contributions=False)
    line = one_line_error(capsys, [str(tmp_path / "bad.h5"), "-o", str(tmp_path / "o")])
    assert str(tmp_path / "bad.h5") in line and "no contributions dataset" in line


@pytest.mark.parametrize(
    "text, reason",
    [
        ("MEME version 4\n\nALPHABET= ACGT\n", "no MOTIF found"),
        ("MOTIF m\nletter-probability matrix: w= 2\n0.1 0.2\n0.3 0.4\n", "not a readable"),
        ("MOTIF m1\nletter-probability matrix: alength= 4 w= 1\n0 0 0 0\n", "all-zero column"),
    ],
)  # fmt: skip
def test_a_bad_meme_file_is_one_line(capsys, files, tmp_path, text, reason):
    meme = tmp_path / "bad.meme"
    meme.write_text(text)
    argv = [str(files / "scores.h5"), "-m", str(meme), "-o", str(tmp_path / "o")]
    line = one_line_error(capsys, argv)
    assert str(meme) in line and reason in line


def test_an_unknown_taxon_is_an_error():
    with pytest.raises(InputError, match="--jaspar mammals: unknown taxon"):
        load_motifs(None, "mammals")
