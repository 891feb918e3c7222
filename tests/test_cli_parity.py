"""Every option of the original's scripts (tests/data/reference/original_cli.tsv) parses here.

For each (script, option) row: every option string is accepted, maps to the same
destination (or the renamed one below), has the same action, a type of the same kind,
and the same default (parsed through our type). Defaults that pointed into the original's
$BASENJIDIR are required arguments here.

The original's other Basenji scripts (tests/data/reference/original_cli_more.tsv) are
checked one test per script (all its rows, and its positional arguments against the usage
line), so each script passes or fails on its own; the scripts without a command here yet
are in ``NOT_PORTED``.
"""

from __future__ import annotations

import argparse
import ast
import csv
import importlib

import pytest

# (script, original dest) -> our dest, where we named it differently.
RENAMED = {
    ("basenji_data", "break_t"): "break_bp",
    ("basenji_data", "test_pct_or_chr"): "test",
    ("basenji_data", "valid_pct_or_chr"): "valid",
    ("basenji_data", "run_local"): "local",
    ("basenji_data_align", "break_t"): "break_bp",
    ("basenji_data_align", "test_pct"): "test",
    ("basenji_data_align", "valid_pct"): "valid",
    ("basenji_data_read", "blacklist_pct"): "black_pct",
    ("basenji_data_read", "interp_nan"): "interp",
    ("basenji_test", "accuracy_indexes"): "plot_targets",
    ("basenji_test", "bedgraph_indexes"): "bedgraph_targets",
    ("basenji_test", "rank_corr"): "rank",
    ("basenji_test", "split_label"): "split",
    ("basenji_sat_vcf", "genome1_fasta"): "genome_fasta",
    ("basenji_sat_vcf", "sad_stats"): "stats",
    ("basenji_train", "tfr_train_pattern"): "tfr_train",
    ("basenji_train", "tfr_eval_pattern"): "tfr_eval",
    ("basenji_sad", "sad_stats"): "stats",
    ("basenji_sad_multi", "sad_stats"): "stats",
    ("basenji_sat_bed", "sad_stats"): "stats",
    ("basenji_sed", "sed_stats"): "stats",
    # original_cli_more.tsv: as their single-process counterparts above
    ("basenji_sad_ref", "sad_stats"): "stats",
    ("basenji_sad_ref_multi", "sad_stats"): "stats",
    ("basenji_sat_bed_multi", "sad_stats"): "stats",
    ("basenji_sed_multi", "sed_stats"): "stats",
}

# (script, option) -> why our type or default differs on purpose (docs/cli.md lists them).
DIFFERS = {
    ("basenji_data_align", "-t"): "a string: fractions or chromosome names, as basenji_data",
    ("basenji_data_align", "-v"): "a string: fractions or chromosome names, as basenji_data",
    ("basenji_test", "--ai"): "an empty list instead of None (no plots)",
    ("basenji_test", "--bi"): "an empty list instead of None (no bedgraphs)",
    ("basenji_predict_bed", "-b"): "an empty list instead of None (no BigWigs)",
    ("basenji_predict_bed_multi", "-b"): "an empty list instead of None (no BigWigs)",
    ("basenji_predict_tfr", "--bi"): "an empty list instead of None (no bedgraphs)",
    ("tfr_bw", "-f"): "optional: $HG38 is not assumed; sizes come from -g, the FASTA or the data",
    ("tfr_bw", "-g"): "optional: $HG38 is not assumed; sizes come from -g, the FASTA or the data",
    ("tfr_bw", "-l"): "from the data directory's statistics.json (checked when given)",
    ("basenji_motifs", "-m"): "optional: JASPAR CORE vertebrates (pyjaspar, offline) by default",
}

# (script, option) -> what is not there yet (reported to the lead).
NOT_YET: dict[tuple[str, str], str] = {}

# Scripts of original_cli_more.tsv that have no command here yet, and why. Each is
# xfail(strict=True): porting one without removing it from this set fails the test.
NOT_PORTED: dict[str, str] = {
    # other issues own these
    "basenji_motifs_denovo": "de novo motifs from attributions: another issue",
}

INT_TYPES = {"int", "positive_int", "nonnegative_int"}
FLOAT_TYPES = {
    "float", "positive_float", "nonnegative_float", "fraction", "probability", "quantile",
}  # fmt: skip


def _rows(tsv):
    with open(tsv) as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row["option"] not in ("usage", "(not in the original)"):
                yield row


def pytest_generate_tests(metafunc):
    if "row" in metafunc.fixturenames:
        from conftest import REPO

        rows = list(_rows(REPO / "tests" / "data" / "reference" / "original_cli.tsv"))
        params = [
            pytest.param(
                r,
                id=f"{r['script']}:{r['option']}",
                marks=_marks(r),
            )
            for r in rows
        ]
        metafunc.parametrize("row", params)


def _marks(row):
    key = (row["script"], row["option"])
    if key in NOT_YET:
        return pytest.mark.xfail(reason=NOT_YET[key] or "not yet", strict=True)
    return ()


def _actions(script: str, option: str) -> list[argparse.Action]:
    parser = importlib.import_module(f"basenji_tf.cli.{script}").build_parser()
    by_string = parser._option_string_actions
    missing = [o for o in option.split(",") if o not in by_string]
    assert not missing, f"{script}: options {missing} not accepted"
    return [by_string[o] for o in option.split(",")]


def _type_name(action: argparse.Action) -> str:
    return getattr(action.type, "__name__", "str") if action.type else "str"


def _original_default(text: str):
    if text in ("", "None"):
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # an expression (BASENJIDIR)


def test_option_parses_as_the_original(row):
    check_row(row)


def check_row(row: dict) -> None:
    """Assert that our parser of ``row["script"]`` accepts ``row["option"]`` as the original."""
    script, option = row["script"], row["option"]
    actions = _actions(script, option)
    action = actions[0]
    assert all(a is action for a in actions), f"{option}: one option, one destination"
    assert action.dest == RENAMED.get((script, row["dest"]), row["dest"])
    if row["action"] == "store_true":
        assert isinstance(action, argparse._StoreTrueAction)
        return
    assert not isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction))
    if (script, option) in DIFFERS:
        return
    kind = _type_name(action)
    if row["type"] == "int":
        assert kind in INT_TYPES, kind
    elif row["type"] == "float":
        assert kind in FLOAT_TYPES, kind
    if "site-specific" in row["default"]:
        return  # one site's conda environment, queue or directory
    default = _original_default(row["default"])
    if isinstance(default, str) and "BASENJIDIR" in default:
        assert action.required, f"{option}: a $BASENJIDIR default must be required"
        return
    if row["type"] == "str" and isinstance(default, float):
        default = str(default)  # optparse kept the literal default of a str option
    if isinstance(default, (str, int, float)) and action.type is not None:
        default = action.type(str(default))
    assert action.default == default, f"{option}: default {action.default!r} != {default!r}"


def _more_scripts() -> list:
    from conftest import REPO

    table = REPO / "tests" / "data" / "reference" / "original_cli_more.tsv"
    with open(table) as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    scripts = dict.fromkeys(r["script"] for r in rows)
    return [
        pytest.param(
            script,
            [r for r in rows if r["script"] == script],
            id=script,
            marks=pytest.mark.xfail(reason=NOT_PORTED[script], strict=True)
            if script in NOT_PORTED
            else (),
        )
        for script in scripts
    ]


@pytest.mark.parametrize(("script", "rows"), _more_scripts())
def test_more_script_parses_as_the_original(script, rows):
    """A script of original_cli_more.tsv: every option row, and its positional arguments."""
    parser = importlib.import_module(f"basenji_tf.cli.{script}").build_parser()
    for row in rows:
        if row["option"] == "usage":
            positionals = [a for a in parser._actions if not a.option_strings]
            required = [a for a in positionals if a.nargs not in ("?", "*")]
            wanted = row["dest"].count("<")
            assert len(required) <= wanted <= len(positionals), (
                f"{script}: the original's usage {row['dest']!r} has {wanted} positional "
                f"arguments, ours {[a.dest for a in positionals]}"
            )
        else:
            check_row(row)


def test_bad_number_is_one_line_naming_the_option(capsys):
    parser = importlib.import_module("basenji_tf.cli.basenji_data").build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["-p", "0", "x.fa", "t.txt"])
    assert "argument -p: expected an integer >= 1, got '0'" in capsys.readouterr().err


def test_sat_vcf_figure_width_and_second_genome(capsys):
    parser = importlib.import_module("basenji_tf.cli.basenji_sat_vcf").build_parser()
    args = parser.parse_args(["--f1", "g.fa", "-f", "12", "p.json", "m.h5", "v.vcf"])
    assert (args.genome_fasta, args.figure_width, args.genome2_fasta) == ("g.fa", 12.0, None)
    with pytest.raises(SystemExit):  # -f is the figure width, as in the original
        parser.parse_args(["-f", "g.fa", "p.json", "m.h5", "v.vcf"])
    assert "argument -f: expected a number > 0, got 'g.fa'" in capsys.readouterr().err
    main = importlib.import_module("basenji_tf.cli.basenji_sat_vcf").main
    assert main(["--f1", "g.fa", "--f2", "h.fa", "p.json", "m.h5", "v.vcf"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "basenji_sat_vcf.py: error: --f2 h.fa: ALT windows from a second genome are not "
        "supported; leave out --f2 to score each ALT allele put into the --f1 window"
    ]
