"""The argparse types of basenji_tf/cli/_types.py: good values pass, bad ones name the option."""

from __future__ import annotations

import argparse

import pytest

from basenji_tf.cli import _types

GOOD = [
    (_types.positive_int, "1", 1),
    (_types.positive_int, "256", 256),
    (_types.nonnegative_int, "0", 0),
    (_types.positive_float, "0.5", 0.5),
    (_types.nonnegative_float, "0", 0.0),
    (_types.fraction, "1", 1.0),
    (_types.fraction, "0.25", 0.25),
    (_types.probability, "0", 0.0),
    (_types.probability, "0.99", 0.99),
    (_types.quantile, "0", 0.0),
    (_types.quantile, "1", 1.0),
    (_types.comma_strs, "chr1, chr2,,", ["chr1", "chr2"]),
]
BAD = [
    (_types.positive_int, "0"),
    (_types.positive_int, "-3"),
    (_types.positive_int, "1.5"),
    (_types.positive_int, "x"),
    (_types.nonnegative_int, "-1"),
    (_types.positive_float, "0"),
    (_types.positive_float, "nan"),
    (_types.positive_float, "inf"),
    (_types.nonnegative_float, "-0.1"),
    (_types.fraction, "0"),
    (_types.fraction, "1.01"),
    (_types.probability, "1"),
    (_types.probability, "-0.1"),
    (_types.quantile, "1.5"),
    (_types.quantile, "-0.5"),
]


@pytest.mark.parametrize(("kind", "text", "value"), GOOD)
def test_good_values_parse(kind, text, value):
    assert kind(text) == value


@pytest.mark.parametrize(("kind", "text"), BAD)
def test_bad_values_are_rejected(kind, text):
    with pytest.raises(argparse.ArgumentTypeError, match=repr(text)):
        kind(text)


def test_parser_error_names_the_option(capsys):
    parser = argparse.ArgumentParser(prog="tool")
    parser.add_argument("--batch_size", type=_types.positive_int, default=4)
    with pytest.raises(SystemExit) as stop:
        parser.parse_args(["--batch_size", "0"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == "tool: error: argument --batch_size: expected an integer >= 1, got '0'"
