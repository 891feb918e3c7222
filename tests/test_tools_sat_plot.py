"""basenji_sat_plot.py: figures of a saturation mutagenesis scores.h5."""

import h5py
import numpy as np
import pytest

from basenji_tf.cli import basenji_sat_bed, basenji_sat_plot
from basenji_tf.scoring.outputs import read_sat_h5, write_sat_h5
from basenji_tf.scoring.sat_plot import plot_window, sat_deltas


def write_scores(path, activity=(1.0, 1.0, 5.0), stat="sum") -> None:
    """Three 20 bp mutated regions, two targets; sequence i's reference score = activity[i]."""
    rng = np.random.default_rng(0)
    seqs = np.zeros((3, 20, 4), bool)
    seqs[:, np.arange(20), rng.integers(0, 4, 20)] = True
    scores = rng.normal(scale=0.1, size=(3, 20, 4, 2)).astype(np.float32)
    scores[seqs] = np.repeat(np.asarray(activity, np.float32), 20)[:, None]
    labels = np.array([b"a", b"b", b"c"])
    write_sat_h5(str(path), seqs, {stat: scores}, {"label": labels})


def test_deltas_window_and_reader(tmp_path):
    seq = np.eye(4, dtype=bool)[[0, 1, 2, 3]]
    seq[3] = False  # an N
    scores = np.arange(16, dtype=np.float32).reshape(4, 4)
    delta = sat_deltas(seq, scores)
    assert delta[0].tolist() == [0, 1, 2, 3] and delta[2].tolist() == [-2, -1, 0, 1]
    assert delta[3].tolist() == [-1.5, -0.5, 0.5, 1.5]
    assert plot_window(20, 10) == slice(5, 15) and plot_window(20, 300) == slice(0, 20)
    original = tmp_path / "original.h5"
    write_scores(original, stat="scores")  # the original's dataset name
    seqs, values, labels = read_sat_h5(str(original))
    assert values.shape == (3, 20, 4, 2) and labels == ["a", "b", "c"]


def test_cli_most_active_sequence_one_target(tmp_path):
    scores_file, out = tmp_path / "scores.h5", tmp_path / "plots"
    write_scores(scores_file)
    targets = tmp_path / "targets.txt"
    targets.write_text("index\tidentifier\tfile\tdescription\n1\tT1\tx.bw\tsecond\n")
    argv = [str(scores_file), "-o", str(out), "-l", "10", "-a", "0.3", "-g", "-t", str(targets)]
    assert basenji_sat_plot.main(argv) == 0
    assert sorted(p.name for p in out.iterdir()) == ["seq2_t1.pdf", "seq2_t1.png"]
    assert (out / "seq2_t1.png").stat().st_size > 5000


def test_cli_sample_and_bad_target(tmp_path, capsys):
    scores_file, out = tmp_path / "scores.h5", tmp_path / "plots"
    write_scores(scores_file)
    assert basenji_sat_plot.main([str(scores_file), "-o", str(out), "-s", "2", "-r", "3"]) == 0
    assert len(list(out.glob("*.png"))) == 4  # two sequences x two targets
    targets = tmp_path / "targets.txt"
    targets.write_text("index\tidentifier\tfile\n7\tT7\tx.bw\n")
    assert basenji_sat_plot.main([str(scores_file), "-o", str(out), "-t", str(targets)]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "index 7" in err and "0..1" in err


@pytest.mark.slow
def test_tutorial_chain_sat_bed_then_plot(tmp_path, reference_dir):
    """The original tutorial: basenji_sat_bed.py, then basenji_sat_plot.py on its output."""
    small = reference_dir / "basenji2_small"
    bed = tmp_path / "r.bed"
    bed.write_text("chrG\t60000\t60010\tplus\n")
    out = tmp_path / "sat"
    fasta = str(reference_dir / "sad_small" / "gata4_locus.fa")
    argv = ["-f", fasta, "-l", "6", "-o", str(out), str(small / "params.json")]
    assert basenji_sat_bed.main([*argv, str(small / "model0_best.h5"), str(bed)]) == 0
    plot_dir = tmp_path / "sat_plot"
    assert basenji_sat_plot.main([str(out / "scores.h5"), "-o", str(plot_dir), "-l", "4"]) == 0
    with h5py.File(out / "scores.h5") as h5:
        num_targets = h5["sum"].shape[-1]
    assert len(list(plot_dir.glob("seq0_t*.png"))) == num_targets
