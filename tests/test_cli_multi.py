"""The *_multi commands and basenji_sad_ref.py: the original's options, and -p 2 runs.

Each ``*_multi.py`` and ``basenji_sad_ref.py`` parses every option row of the original
(``/work/shared/reference/original_cli_more.tsv``, these scripts' rows copied below), and
a ``-p 2`` run writes the bytes of the single command's output. Those runs execute their two
shards in this process (:func:`in_process_shards`): shards in local processes are tested by
each single command's own ``-p 2`` test, and here the Dask run keeps real workers.
"""

from __future__ import annotations

import argparse
import importlib
import logging

import pytest

from basenji_tf.cli import (
    _scoring,
    basenji_predict_bed,
    basenji_predict_bed_multi,
    basenji_sad_ref,
    basenji_sad_ref_multi,
    basenji_sat_bed,
    basenji_sat_bed_multi,
    basenji_sed,
    basenji_sed_multi,
)
from basenji_tf.execute import InProcess, LocalProcesses

# script, option, dest, type, action, default (original_cli_more.tsv)
ORIGINAL_ROWS = [
    "basenji_sad_ref\t-c\tcenter_pct\tfloat\t\t0.25",
    "basenji_sad_ref\t-f\tgenome_fasta\t\t\t'%s/data/hg38.fa' % os.environ['BASENJIDIR']",
    "basenji_sad_ref\t--flip\tflip_ref\t\tstore_true\tFalse",
    "basenji_sad_ref\t-o\tout_dir\t\t\t'sad'",
    "basenji_sad_ref\t-p\tprocesses\tint\t\tNone",
    "basenji_sad_ref\t--rc\trc\t\tstore_true\tFalse",
    "basenji_sad_ref\t--shifts\tshifts\tstr\t\t'0'",
    "basenji_sad_ref\t--stats\tsad_stats\t\t\t'SAD'",
    "basenji_sad_ref\t-t\ttargets_file\tstr\t\tNone",
    "basenji_sad_ref\t-u\tuntransform_old\t\tstore_true\tFalse",
    "basenji_sad_ref_multi\t-c\tcenter_pct\tfloat\t\t0.25",
    "basenji_sad_ref_multi\t-f\tgenome_fasta\t\t\t'%s/data/hg38.fa' % os.environ['BASENJIDIR']",
    "basenji_sad_ref_multi\t--flip\tflip_ref\t\tstore_true\tFalse",
    "basenji_sad_ref_multi\t-n\tnorm_file\t\t\tNone",
    "basenji_sad_ref_multi\t-o\tout_dir\t\t\t'sad'",
    "basenji_sad_ref_multi\t--pseudo\tlog_pseudo\tfloat\t\t1",
    "basenji_sad_ref_multi\t--rc\trc\t\tstore_true\tFalse",
    "basenji_sad_ref_multi\t--shifts\tshifts\tstr\t\t'0'",
    "basenji_sad_ref_multi\t--stats\tsad_stats\t\t\t'SAD'",
    "basenji_sad_ref_multi\t-t\ttargets_file\tstr\t\tNone",
    "basenji_sad_ref_multi\t--ti\ttrack_indexes\tstr\t\tNone",
    "basenji_sad_ref_multi\t--threads\tthreads\t\tstore_true\tFalse",
    "basenji_sad_ref_multi\t-u\tpenultimate\t\tstore_true\tFalse",
    "basenji_sad_ref_multi\t-e\tconda_env\t\t\t(site-specific; need not match)",
    "basenji_sad_ref_multi\t--name\tname\t\t\t'sad'",
    "basenji_sad_ref_multi\t--max_proc\tmax_proc\tint\t\tNone",
    "basenji_sad_ref_multi\t-p\tprocesses\tint\t\tNone",
    "basenji_sad_ref_multi\t-q\tqueue\t\t\t(site-specific; need not match)",
    "basenji_sad_ref_multi\t-r\trestart\t\tstore_true\tFalse",
    "basenji_sat_bed_multi\t-d\tmut_down\tint\t\t0",
    "basenji_sat_bed_multi\t-f\tgenome_fasta\t\t\tNone",
    "basenji_sat_bed_multi\t-l\tmut_len\tint\t\t200",
    "basenji_sat_bed_multi\t-o\tout_dir\t\t\t'sat_mut'",
    "basenji_sat_bed_multi\t--plots\tplots\t\tstore_true\tFalse",
    "basenji_sat_bed_multi\t--rc\trc\t\tstore_true\tFalse",
    "basenji_sat_bed_multi\t--shifts\tshifts\t\t\t'0'",
    "basenji_sat_bed_multi\t--stats\tsad_stats\t\t\t'sum'",
    "basenji_sat_bed_multi\t-t\ttargets_file\tstr\t\tNone",
    "basenji_sat_bed_multi\t-u\tmut_up\tint\t\t0",
    "basenji_sat_bed_multi\t-e\tconda_env\t\t\t(site-specific; need not match)",
    "basenji_sat_bed_multi\t--max_proc\tmax_proc\tint\t\tNone",
    "basenji_sat_bed_multi\t-n\tname\t\t\t'sat'",
    "basenji_sat_bed_multi\t-p\tprocesses\tint\t\tNone",
    "basenji_sat_bed_multi\t-q\tqueue\t\t\t(site-specific; need not match)",
    "basenji_sat_bed_multi\t-r,--restart\trestart\t\tstore_true\tFalse",
    "basenji_sed_multi\t-f\tgenome_fasta\t\t\t'%s/data/hg38.fa' % os.environ['BASENJIDIR']",
    "basenji_sed_multi\t-n\tnorm_file\t\t\tNone",
    "basenji_sed_multi\t-o\tout_dir\t\t\t'sed'",
    "basenji_sed_multi\t--pseudo\tlog_pseudo\tfloat\t\t1",
    "basenji_sed_multi\t--rc\trc\t\tstore_true\tFalse",
    "basenji_sed_multi\t--shifts\tshifts\tstr\t\t'0'",
    "basenji_sed_multi\t--stats\tsed_stats\t\t\t'SED'",
    "basenji_sed_multi\t-t\ttargets_file\tstr\t\tNone",
    "basenji_sed_multi\t--threads\tthreads\t\tstore_true\tFalse",
    "basenji_sed_multi\t--cpu\tcpu\t\tstore_true\tFalse",
    "basenji_sed_multi\t-e\tconda_env\t\t\t(site-specific; need not match)",
    "basenji_sed_multi\t--name\tname\t\t\t'sed'",
    "basenji_sed_multi\t--max_proc\tmax_proc\tint\t\tNone",
    "basenji_sed_multi\t-p\tprocesses\tint\t\tNone",
    "basenji_sed_multi\t-q\tqueue\t\t\t(site-specific; need not match)",
    "basenji_sed_multi\t-r\trestart\t\tstore_true\tFalse",
    "basenji_predict_bed_multi\t-b\tbigwig_indexes\t\t\tNone",
    "basenji_predict_bed_multi\t-e\tembed_layer\tint\t\tNone",
    "basenji_predict_bed_multi\t-f\tgenome_fasta\t\t\tNone",
    "basenji_predict_bed_multi\t-g\tgenome_file\t\t\tNone",
    "basenji_predict_bed_multi\t-l\tsite_length\tint\t\tNone",
    "basenji_predict_bed_multi\t-o\tout_dir\t\t\t'pred_out'",
    "basenji_predict_bed_multi\t--rc\trc\t\tstore_true\tFalse",
    "basenji_predict_bed_multi\t-s\tsum\t\tstore_true\tFalse",
    "basenji_predict_bed_multi\t--shifts\tshifts\t\t\t'0'",
    "basenji_predict_bed_multi\t-t\ttargets_file\tstr\t\tNone",
    "basenji_predict_bed_multi\t-p\tprocesses\tint\t\tNone",
    "basenji_predict_bed_multi\t-q\tqueue\t\t\t(site-specific; need not match)",
    "basenji_predict_bed_multi\t-r\trestart\t\tstore_true\tFalse",
    "unmappable_bed\t-l\tunmap_len\tint\t\t500",
    "unmappable_bed\t-t\tunmap_t\tfloat\t\t0.2",
]

# (script, original dest) -> ours: the names basenji_sad/sat_bed/sed use for the same option
RENAMED = {
    ("basenji_sad_ref", "sad_stats"): "stats",
    ("basenji_sad_ref_multi", "sad_stats"): "stats",
    ("basenji_sat_bed_multi", "sad_stats"): "stats",
    ("basenji_sed_multi", "sed_stats"): "stats",
}
# (script, option) -> why the default differs (as tests/test_cli_parity.py DIFFERS)
DIFFERS = {
    ("basenji_predict_bed_multi", "-b"): "an empty list instead of None (no BigWigs)",
}
SITE_SPECIFIC = "(site-specific; need not match)"
INT_TYPES = {"int", "positive_int", "nonnegative_int"}
FLOAT_TYPES = {"float", "positive_float", "nonnegative_float", "fraction", "probability"}


def _original_default(text: str):
    import ast

    if text in ("", "None"):
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # an expression ($BASENJIDIR)


@pytest.mark.parametrize(
    "row", [r.split("\t") for r in ORIGINAL_ROWS], ids=lambda r: f"{r[0]}:{r[1]}"
)
def test_option_parses_as_the_original(row):
    script, option, dest, kind, action_name, default_text = row
    parser = importlib.import_module(f"basenji_tf.cli.{script}").build_parser()
    actions = {parser._option_string_actions.get(o) for o in option.split(",")}
    assert None not in actions, f"{script}: {option} not accepted"
    assert len(actions) == 1, f"{option}: one option, one destination"
    action = actions.pop()
    assert action.dest == RENAMED.get((script, dest), dest)
    if action_name == "store_true":
        assert isinstance(action, argparse._StoreTrueAction)
        assert action.default is False
        return
    assert not isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction))
    ours = getattr(action.type, "__name__", "str") if action.type else "str"
    if kind == "int":
        assert ours in INT_TYPES, ours
    elif kind == "float":
        assert ours in FLOAT_TYPES, ours
    if default_text == SITE_SPECIFIC or (script, option) in DIFFERS:
        return
    default = _original_default(default_text)
    if isinstance(default, str) and "BASENJIDIR" in default:
        assert action.required, f"{option}: a $BASENJIDIR default must be required"
        return
    if isinstance(default, (str, int, float)) and action.type is not None:
        default = action.type(str(default))
    assert action.default == default, f"{option}: default {action.default!r} != {default!r}"


def test_run_multi_makes_p_shards_on_max_proc_processes():
    """-p shards (2 by default) on --max_proc local processes; the run gets them all."""
    seen = {}

    def run(*run_args, shards, executor, keep_shards):
        seen.update(args=run_args, shards=shards, executor=executor, keep=keep_shards)
        return "merged"

    args = basenji_sat_bed_multi.build_parser().parse_args(["-f", "g.fa", "p", "m", "b.bed"])
    assert args.processes is None
    assert _scoring.run_multi(args, run, "a", 1) == "merged"
    assert (seen["args"], seen["shards"], seen["keep"]) == (("a", 1), 2, False)
    assert isinstance(seen["executor"], LocalProcesses) and seen["executor"].max_proc == 2
    argv = ["-f", "g.fa", "-p", "5", "--max_proc", "3", "--keep_shards", "p", "m", "b.bed"]
    args = basenji_sat_bed_multi.build_parser().parse_args(argv)
    _scoring.run_multi(args, run)
    assert (seen["shards"], seen["executor"].max_proc, seen["keep"]) == (5, 3, True)


def test_slurm_options_are_named_in_one_warning(caplog):
    parser = basenji_sed_multi.build_parser()
    argv = ["-f", "g.fa", "-q", "gpu", "--cpu", "-r", "-p", "3", "p", "m", "v.vcf", "t.bed"]
    args = parser.parse_args(argv)
    with caplog.at_level(logging.WARNING):
        _scoring.warn_slurm_ignored(args, parser)
    assert [r.getMessage().split(": ")[-1] for r in caplog.records] == ["queue, cpu, restart"]
    caplog.clear()
    parser = basenji_predict_bed_multi.build_parser()  # no -e (embedding layer), no --name
    args = parser.parse_args(["-f", "g.fa", "-e", "-1", "p", "m", "b.bed"])
    assert args.embed_layer == -1
    _scoring.warn_slurm_ignored(args, parser)
    assert not caplog.records


@pytest.mark.parametrize("module", [basenji_sad_ref, basenji_sad_ref_multi])
def test_flip_is_refused_in_one_line(tmp_path, capsys, module):
    argv = ["--flip", "-f", "g.fa", "-o", str(tmp_path / "out"), "p.json", "m.h5", "v.vcf"]
    assert module.main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--flip: the original refuses it" in err[0], err
    assert err[0].startswith(f"{module.PROG}: error: ")


def test_sad_ref_maps_c_onto_cluster_pct():
    args = basenji_sad_ref.build_parser().parse_args(["-f", "g.fa", "p", "m", "v.vcf"])
    assert basenji_sad_ref.sad_ref_options(args).cluster_pct == 0.25
    args = basenji_sad_ref.build_parser().parse_args(["-c", "0", "-f", "g.fa", "p", "m", "v"])
    options = basenji_sad_ref.sad_ref_options(args)
    assert (options.cluster_pct, options.cluster_bp) == (0.0, 0)


@pytest.fixture
def in_process_shards(monkeypatch):
    """``*_multi.py`` runs its ``-p`` shards one after the other in this process."""
    monkeypatch.setattr(_scoring, "executor_from_args", lambda args, max_proc=None: InProcess())


def _dense_vcf(path, fasta) -> None:
    """SNVs 700-2,900 bp apart (clusters under -c 0.25 of 16 kb), a deletion, an insertion."""
    from basenji_tf.genome import Genome

    with Genome(fasta) as genome:
        base = lambda pos, n=1: genome.fetch("chrG", pos - 1, pos - 1 + n)  # noqa: E731
        lines = []
        pos = 30_000
        for i in range(14):
            pos += 700 + (i * 523) % 2200
            lines.append(f"chrG\t{pos}\ts{i}\t{base(pos)}\t{'T' if base(pos) != 'T' else 'G'}")
        lines.insert(5, f"chrG\t41000\tdel\t{base(41_000, 3)}\t{base(41_000)}")
        lines.insert(9, f"chrG\t47000\tins\t{base(47_000)}\t{base(47_000)}GAT")
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.slow
def test_sad_ref_multi_equals_sad_ref(in_process_shards, tmp_path, small_model):
    """basenji_sad_ref_multi.py -p 2 writes basenji_sad_ref.py's sad.h5, byte for byte."""
    import h5py

    vcf = tmp_path / "dense.vcf"
    _dense_vcf(vcf, small_model["fasta"])
    common = [
        "-f", small_model["fasta"], "--stats", "SAD,REF", "--rc", "--batch_variants", "6",
        small_model["params"], small_model["model"], str(vcf),
    ]  # fmt: skip
    assert basenji_sad_ref.main(["-o", str(tmp_path / "one"), *common]) == 0
    argv = ["-o", str(tmp_path / "two"), "-p", "2", "-q", "gpu", "-r", *common]
    assert basenji_sad_ref_multi.main(argv) == 0
    one, two = tmp_path / "one" / "sad.h5", tmp_path / "two" / "sad.h5"
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["sad.h5"]
    assert one.read_bytes() == two.read_bytes()
    with h5py.File(one) as a:
        assert a["snp"].shape == (16,)
        ref = a["REF"][:]
    # clustered SNVs share their REF prediction: fewer distinct REF rows than rows
    distinct = {row.tobytes() for row in ref}
    assert 2 < len(distinct) < 12


@pytest.mark.slow
def test_sat_bed_multi_equals_sat_bed(in_process_shards, tmp_path, small_model):
    bed = tmp_path / "r.bed"
    bed.write_text(
        "chrG\t60000\t60010\ta\t0\t+\nchrG\t80000\t80011\tb\t0\t-\nchrG\t3000\t3010\tc\t0\t+\n"
    )
    common = ["-f", small_model["fasta"], "-l", "2", "--stats", "sum,scd"]
    model = [small_model["params"], small_model["model"], str(bed)]
    assert basenji_sat_bed.main([*common, "-o", str(tmp_path / "one"), *model]) == 0
    multi = ["-o", str(tmp_path / "two"), "-p", "2", "-n", "x", "--restart"]
    assert basenji_sat_bed_multi.main([*common, *multi, *model]) == 0
    one, two = tmp_path / "one" / "scores.h5", tmp_path / "two" / "scores.h5"
    assert one.read_bytes() == two.read_bytes()
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["scores.h5"]


@pytest.mark.slow
def test_sed_multi_equals_sed(in_process_shards, tmp_path, small_model, reference_dir):
    tss = tmp_path / "tss.bed"
    tss.write_text("chrG\t74000\t74001\tnear\t0\t+\nchrG\t90100\t90101\tg90\t0\t+\n")
    common = [
        "-f", small_model["fasta"], "--stats", "SED,SEDR", "--batch_variants", "4",
        small_model["params"], small_model["model"],
        str(reference_dir / "sad_small" / "snps.vcf"), str(tss),
    ]  # fmt: skip
    assert basenji_sed.main(["-o", str(tmp_path / "one"), *common]) == 0
    argv = ["-o", str(tmp_path / "two"), "-p", "2", "--max_proc", "1", "--cpu", *common]
    assert basenji_sed_multi.main(argv) == 0
    one, two = tmp_path / "one" / "sed.h5", tmp_path / "two" / "sed.h5"
    assert one.read_bytes() == two.read_bytes()


@pytest.mark.slow
def test_predict_bed_multi_equals_predict_bed(in_process_shards, tmp_path, small_model):
    bed = tmp_path / "r.bed"
    bed.write_text("".join(f"chrG\t{s}\t{s + 50}\n" for s in range(5000, 125000, 30000)))
    common = ["-f", small_model["fasta"], "-b", "0,3", "-l", "2048", "--batch_size", "2"]
    model = [small_model["params"], small_model["model"], str(bed)]
    assert basenji_predict_bed.main([*common, "-o", str(tmp_path / "one"), *model]) == 0
    multi = ["-o", str(tmp_path / "two"), "-p", "2", "-q", "cpu"]
    assert basenji_predict_bed_multi.main([*common, *multi, *model]) == 0
    for name in ("predict.h5", "bigwig/t0.bw", "bigwig/t3.bw"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


@pytest.mark.slow
@pytest.mark.subprocess
def test_sed_multi_through_a_scheduler_equals_sed(
    tmp_path, small_model, reference_dir, dask_cluster
):
    """--scheduler: shard tasks on two Dask workers (one per worker thread, -p 1 asked)."""
    tss = tmp_path / "tss.bed"
    tss.write_text("chrG\t74000\t74001\tnear\t0\t+\nchrG\t102100\t102101\tg102\t0\t-\n")
    common = [
        "-f", small_model["fasta"], "--batch_variants", "4",
        small_model["params"], small_model["model"],
        str(reference_dir / "sad_small" / "snps.vcf"), str(tss),
    ]  # fmt: skip
    assert basenji_sed.main(["-o", str(tmp_path / "one"), *common]) == 0
    dask = ["--scheduler", dask_cluster.address, "-p", "1", "--keep_shards", "-e", "env"]
    assert basenji_sed_multi.main(["-o", str(tmp_path / "dask"), *dask, *common]) == 0
    one, two = tmp_path / "one" / "sed.h5", tmp_path / "dask" / "sed.h5"
    assert one.read_bytes() == two.read_bytes()
    assert len(list((tmp_path / "dask").glob("job*/sed.h5"))) == 2  # one shard per worker
