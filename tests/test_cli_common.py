"""The error boundary every command shares: one line on stderr and a non-zero exit."""

import errno
import subprocess
import sys

import pytest

from basenji_tf.cli._common import DEBUG_ENV, make_parser, run_main
from basenji_tf.errors import InputError


def _run(body, capsys):
    code = run_main("prog.py", body)
    return code, capsys.readouterr().err


def _raise(err):
    def body():
        raise err

    return body


@pytest.mark.parametrize(
    ("err", "expected"),
    [
        (
            InputError("x.vcf: line 3: POS is not a number; fix the record"),
            "prog.py: error: x.vcf: line 3: POS is not a number; fix the record",
        ),
        (
            OSError(errno.ENOSPC, "No space left on device", "out/sad.h5"),
            "prog.py: error: out/sad.h5: No space left on device; free space",
        ),
        (
            PermissionError(errno.EACCES, "Permission denied", "/root/x"),
            "prog.py: error: /root/x: Permission denied; check the permissions",
        ),
        (
            NotADirectoryError(errno.ENOTDIR, "Not a directory", "a.txt/b"),
            "prog.py: error: a.txt/b: Not a directory; a component of the path is a file",
        ),
        (
            FileNotFoundError("genome.fa: FASTA file not found"),
            "prog.py: error: genome.fa: FASTA file not found",
        ),
        (
            ZeroDivisionError("division by zero"),
            "prog.py: error: internal error: ZeroDivisionError: division by zero; please report",
        ),
    ],
)
def test_failures_end_in_one_line(err, expected, capsys, monkeypatch):
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    code, stderr = _run(_raise(err), capsys)
    assert code == 1
    assert stderr.startswith(expected)
    assert stderr.count("\n") == 1 and "Traceback" not in stderr


def test_multiline_messages_are_joined(capsys):
    code, stderr = _run(_raise(InputError("first\n  second")), capsys)
    assert code == 1 and stderr == "prog.py: error: first second\n"


def test_debug_environment_adds_the_traceback(capsys, monkeypatch):
    monkeypatch.setenv(DEBUG_ENV, "1")
    code, stderr = _run(_raise(InputError("bad")), capsys)
    assert code == 1
    assert "Traceback" in stderr and stderr.rstrip().endswith("prog.py: error: bad")


def test_interrupt_exits_130(capsys):
    code, stderr = _run(_raise(KeyboardInterrupt()), capsys)
    assert code == 130 and stderr == "prog.py: interrupted\n"


def test_success_returns_the_body_status(capsys):
    assert _run(lambda: None, capsys) == (0, "")
    assert _run(lambda: 3, capsys) == (3, "")


@pytest.mark.subprocess
def test_closed_pipe_ends_quietly():
    code = (
        "import sys\n"
        "from basenji_tf.cli._common import run_main\n"
        "def body():\n"
        "    for _ in range(100000):\n"
        "        print('x' * 100)\n"
        "sys.exit(run_main('p', body))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdout.readline()
    proc.stdout.close()
    assert proc.wait(timeout=60) == 0
    assert proc.stderr.read() == b""


def _option_help(parser, dest):
    """The one-line help text of ``dest`` as ``parser --help`` shows it."""
    action = next(a for a in parser._actions if a.dest == dest)
    formatter = parser._get_formatter()
    return formatter._expand_help(action) if action.help else ""


def test_help_shows_one_default_the_help_texts_own_first():
    parser = make_parser("prog.py", "test")
    add = parser.add_argument
    add("-p", dest="processes", type=int, help="number of shards (default: 2)")
    add("-t", dest="targets_file", help="targets table; default: data_dir/targets.txt")
    add("-c", dest="crop", type=int, default=3, help="crop %(default)s bins")
    add("-f", dest="fasta", required=True, help="genome FASTA")
    add("-o", dest="out_dir", default="out", help="output directory")
    add("-n", dest="num", type=int, help="how many")
    add("--size", choices=["default", "small"], default="small", help="default or small")
    assert _option_help(parser, "processes") == "number of shards (default: 2)"
    assert _option_help(parser, "targets_file") == "targets table; default: data_dir/targets.txt"
    assert _option_help(parser, "crop") == "crop 3 bins"
    assert _option_help(parser, "fasta") == "genome FASTA"
    assert _option_help(parser, "out_dir") == "output directory (default: out)"
    assert _option_help(parser, "num") == "how many (default: None)"
    assert _option_help(parser, "size") == "default or small (default: small)"
    # -p, -o, -n, --size and --debug: once each
    assert parser.format_help().count("(default") == 5
