"""Every command's ``--help`` and usage errors, each in a fresh Python process.

The commands are the modules of ``basenji_tf/cli`` not starting with ``_``, found the way
setup.py finds its console entry points, so a new command is covered without editing this
file. Each one must answer ``--help``, an unknown option and (when it has required
arguments) a missing argument without importing TensorFlow, Keras or matplotlib
(docs/architecture.md, "Allowed imports"), and its help must show each option's default
once.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

CLI_DIR = Path(__file__).resolve().parents[1] / "basenji_tf" / "cli"
COMMANDS = sorted(p.stem for p in CLI_DIR.glob("*.py") if not p.stem.startswith("_"))
HEAVY = ("tensorflow", "keras", "matplotlib")

# One Python process checks every command: it imports the third-party packages most
# commands share (none of them heavy), then forks a fresh worker per command (two at a
# time), which imports the command, calls its main on each argv and reports the exit
# status, the output and which heavy modules were loaded after each call.
_CHECKER = """
import contextlib, importlib, io, json, multiprocessing, sys, traceback

import h5py, numpy, pandas, pysam, scipy.stats  # shared by most commands, loaded once

HEAVY = {heavy!r}


def loaded():
    return sorted(m for m in HEAVY if m in sys.modules)


def call(module, argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = module.main(argv)
        except SystemExit as exit_:
            code = exit_.code
    return dict(argv=argv, code=code, stdout=out.getvalue(), stderr=err.getvalue(),
                heavy=loaded())


def check(name):
    try:
        module = importlib.import_module("basenji_tf.cli." + name)
        report = dict(import_heavy=loaded())
        report["calls"] = [call(module, ["--help"]), call(module, ["--no-such-option"])]
        if any(action.required for action in module.build_parser()._actions):
            report["calls"].append(call(module, []))
        return report
    except BaseException:
        return dict(failed=traceback.format_exc())


if __name__ == "__main__":
    assert not loaded(), loaded()
    names = sys.argv[1:]
    with multiprocessing.get_context("fork").Pool(2, maxtasksperchild=1) as pool:
        reports = pool.map(check, names, chunksize=1)
    print(json.dumps(dict(zip(names, reports))))
"""


@pytest.fixture(scope="module")
def reports() -> dict[str, dict]:
    """Each command's report from the checking process."""
    env = dict(os.environ, COLUMNS="100", BASENJI_DEBUG="0")
    done = subprocess.run(
        [sys.executable, "-c", _CHECKER.format(heavy=HEAVY), *COMMANDS],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def _option_texts(help_text: str) -> list[str]:
    """The help output cut into one text per argument (its first line is indented 2)."""
    texts: list[str] = []
    for line in help_text.splitlines():
        if re.match(r"  \S", line):
            texts.append(line.strip())
        elif line.startswith("   ") and texts:
            texts[-1] += " " + line.strip()
    return texts


def test_every_command_is_found():
    # the setup.py rule finds the commands this file checks; a handful are named here so
    # that a broken glob (no commands, nothing checked) fails
    assert {"basenji_sad", "basenji_train", "basenji_export", "tfr_qc"} <= set(COMMANDS)


@pytest.mark.subprocess
@pytest.mark.parametrize("name", COMMANDS)
def test_help_and_usage_errors_import_no_tensorflow(name, reports):
    report = reports[name]
    assert "failed" not in report, report.get("failed")
    assert report["import_heavy"] == [], f"importing basenji_tf.cli.{name} loads these"
    help_call, *usage_calls = report["calls"]
    assert help_call["code"] == 0 and help_call["stdout"].startswith("usage: ")
    for usage in usage_calls:
        assert usage["code"] == 2, usage
        assert "error: " in usage["stderr"], usage
    for call in report["calls"]:
        assert call["heavy"] == [], f"main({call['argv']}) loads {call['heavy']}"


@pytest.mark.subprocess
@pytest.mark.parametrize("name", COMMANDS)
def test_help_shows_each_default_once(name, reports):
    report = reports[name]
    assert "failed" not in report, report.get("failed")
    texts = _option_texts(report["calls"][0]["stdout"])
    assert any(t.startswith("--debug") for t in texts)  # the cut found the options
    twice = [t for t in texts if t.count("(default") > 1]
    assert not twice, twice


def test_option_texts_cut_wrapped_help():
    help_text = (
        "usage: x.py [-h] [-o OUT_DIR]\n\noptions:\n"
        "  -h, --help  show this help message and exit\n"
        "  -o OUT_DIR  output directory, a long text wrapped\n"
        "              onto a second line (default: out)\n"
        "  --debug     print the traceback\n"
    )
    assert _option_texts(help_text) == [
        "-h, --help  show this help message and exit",
        "-o OUT_DIR  output directory, a long text wrapped onto a second line (default: out)",
        "--debug     print the traceback",
    ]
