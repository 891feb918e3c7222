"""Every command against every kind of fault, run as the installed command in a subprocess.

Each case spoils one input of an otherwise valid run (missing, a directory, empty, garbage,
truncated), passes one bad number, an unknown option, or an output path under a file, and
asserts what a user in a shell pipeline relies on: a non-zero exit (1, or 2 for usage
errors), one error line on stderr that names the file or option, no traceback, no crash
signal, and no output under its final name that could pass for a complete result.

The cases run two at a time (most of their time is the interpreter and TensorFlow start-up)
as soon as the module's first case asks for its result.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fault_world import build_world

from basenji_tf.files import claim_output_dir

pytestmark = [pytest.mark.subprocess, pytest.mark.slow]

BIN = Path(__file__).resolve().parents[1] / "bin"


@dataclass(frozen=True)
class Command:
    """One command's valid run and what of it can be spoiled.

    `argv` tokens are formatted with the world's paths (`{fasta}`) and `{out}`, the case's
    output path. `inputs` maps a placeholder to its format: "text" files get text garbage,
    "binary" ones random bytes and a truncated copy, "dir" inputs get only missing/empty.
    `outputs` are paths under `{out}` that only a complete run writes.
    """

    name: str
    argv: tuple[str, ...]
    inputs: dict[str, str]
    outputs: tuple[str, ...]
    numbers: tuple[tuple[str, ...], ...] = ()
    out_is_file: str = ""  # the output's file name, when the output is one file
    locks_out: bool = True  # holds its output directory for the run (files.claim_output_dir)
    carried: dict[str, str] = field(default_factory=dict)  # file -> the table naming it


SCORING = ("{params}", "{model}")
COMMANDS = (
    Command(
        "basenji_sad",
        ("-f", "{fasta}", "-o", "{out}", *SCORING, "{vcf}"),
        {"fasta": "binary", "params": "text", "model": "binary", "vcf": "text"},
        ("sad.h5",),
        (
            ("-p", "0"),
            ("--batch_size", "0"),
            ("--shifts", "1,x"),
            ("--stats", "NOPE"),
            ("--head", "-3"),
            ("--shifts", "999999"),
        ),
    ),
    Command(
        "basenji_sad_multi",
        ("-f", "{fasta}", "-o", "{out}", "-p", "2", *SCORING, "{vcf}"),
        {"vcf": "text"},
        ("sad.h5",),
        (("-p", "0"), ("--max_proc", "0"), ("--batch_size", "-1")),
    ),
    Command(
        "basenji_sed",
        ("-f", "{fasta}", "-g", "{gtf}", "-o", "{out}", *SCORING, "{vcf}"),
        {"gtf": "text", "vcf": "text"},
        ("sed.h5",),
        (("--batch_size", "0"), ("--shifts", "a")),
    ),
    Command(
        "basenji_sat_bed",
        ("-f", "{fasta}", "-o", "{out}", "-l", "4", *SCORING, "{bed}"),
        {"bed": "text", "params": "text"},
        ("scores.h5",),
        (("-l", "-4"), ("--batch_size", "0"), ("--stats", "NOPE")),
    ),
    Command(
        "basenji_predict_bed",
        ("-f", "{fasta}", "-o", "{out}", *SCORING, "{bed}"),
        {"bed": "text", "fasta": "binary"},
        ("predict.h5",),
        (("--batch_size", "0"), ("-l", "-1")),
    ),
    Command(
        "basenji_grad_bed",
        ("-f", "{fasta}", "-o", "{out}", *SCORING, "{bed}"),
        {"bed": "text"},
        ("grads.h5",),
        (("--batch_size", "0"),),
    ),
    Command(
        "basenji_predict_genome",
        ("-o", "{out}", "--chroms", "chrG", *SCORING, "{fasta}"),
        {"fasta": "binary", "model": "binary"},
        ("bigwig/t0.bw",),
        (("--batch_size", "0"), ("--chunk_windows", "0"), ("-p", "-2")),
    ),
    Command(
        "basenji_sat_vcf",
        ("--f1", "{fasta}", "-o", "{out}", "-l", "4", *SCORING, "{vcf}"),
        {"vcf": "text"},
        ("scores.h5",),
        (("-l", "-4"),),
    ),
    Command(
        "basenji_sad_table",
        ("-o", "{out}", "{sad_h5}"),
        {"sad_h5": "binary"},
        (),
        (),
        out_is_file="sad.tsv",
    ),
    Command(
        "tfr_bw",
        ("-s", "train", "{tiny_data}", "{out}"),
        {"tiny_data": "dir"},
        (),
        (("-t", "-1"), ("-t", "999")),
        out_is_file="train.bw",
    ),
    Command(
        "tfr_qc",
        ("-o", "{out}", "-s", "train", "{tiny_data}"),
        {"tiny_data": "dir"},
        ("table.txt",),
        (("-p", "0"),),
    ),
    Command(
        "basenji_export",
        (*SCORING, "{out}"),
        {"params": "text", "model": "binary"},
        ("saved_model.pb",),
        (("--head", "x"),),
        locks_out=False,
    ),
    Command(
        "basenji_test",
        ("-o", "{out}", "{tiny_params}", "{tiny_model}", "{tiny_data}"),
        {"tiny_params": "text", "tiny_model": "binary", "tiny_data": "dir"},
        ("acc.txt",),
        (("--step", "0"), ("--head", "-1"), ("--shifts", "q")),
    ),
    Command(
        "basenji_train",
        ("-o", "{out}", "{tiny_params}", "{tiny_data}"),
        {"tiny_params": "text", "tiny_data": "dir"},
        ("model_best.h5",),
        (("--seed", "x"),),
    ),
    Command(
        "basenji_data",
        (
            "-o",
            "{out}",
            "-l",
            "4096",
            "-w",
            "128",
            "-v",
            "chrB",
            "-t",
            "chrC",
            "{data_fasta}",
            "{data_targets}",
        ),  # fmt: skip
        {"data_fasta": "binary", "data_targets": "text", "data_bigwig": "binary"},
        ("statistics.json",),
        (("-l", "0"), ("-p", "0"), ("-w", "-128"), ("-s", "1.5"), ("-t", "x")),
        carried={"data_bigwig": "data_targets"},
        locks_out=False,
    ),
    Command(
        "basenji_hdf5_tfr",
        ("{legacy_h5}", "{out}"),
        {"legacy_h5": "binary"},
        ("statistics.json",),
        (("-s", "0"),),
        locks_out=False,
    ),
    Command(
        "basenji_params_convert",
        ("{params_txt}", "{out}"),
        {"params_txt": "text"},
        (),
        (("--seq_length", "-5"),),
        out_is_file="params.json",
    ),
    Command(
        "bam_cov",
        ("{bam}", "{out}"),
        {"bam": "binary"},
        (),
        (),
        out_is_file="coverage.bw",
    ),
)

# Unknown options are argparse's: checked on a few commands, not all.
USAGE_CHECKED = ("basenji_sad", "basenji_data", "basenji_train", "bam_cov")

SPOILS = {
    "text": ("missing", "empty", "garbage"),
    "binary": ("missing", "empty", "garbage", "truncated"),
    "dir": ("missing", "empty_dir"),
}


@dataclass(frozen=True)
class Case:
    """One (command, fault) run: `spoil` an input, or pass `extra` arguments."""

    command: Command
    fault: str
    target: str = ""  # the spoiled placeholder, or the bad option
    extra: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        what = " ".join(self.extra) or self.target
        return f"{self.command.name}-{self.fault}-{what}".replace(" ", "_").replace("/", "_")


def all_cases() -> list[Case]:
    """Every spoil of an input on the first command that reads it, "missing" on the rest."""
    cases = []
    spoiled: set[str] = set()
    for command in COMMANDS:
        for target, kind in command.inputs.items():
            spoils = ("missing",) if target in spoiled else SPOILS[kind]
            spoiled.add(target)
            cases += [Case(command, spoil, target) for spoil in spoils]
        first = next(iter(command.inputs))
        if command.inputs[first] != "dir":
            cases.append(Case(command, "directory", first))
        cases += [Case(command, "bad_number", numbers[0], numbers) for numbers in command.numbers]
        if command.name in USAGE_CHECKED:
            cases.append(Case(command, "unknown_option", "--no_such", ("--no_such",)))
        cases.append(Case(command, "out_under_file", "out"))
        if command.locks_out and not command.out_is_file:
            cases.append(Case(command, "out_in_use", "out"))
    return cases


CASES = all_cases()


def spoil(path: Path, how: str, case_dir: Path) -> Path:
    """A spoiled stand-in for `path`, with the same file name, under `case_dir`."""
    bad = case_dir / "spoiled" / path.name
    bad.parent.mkdir(parents=True)
    if how == "missing":
        return case_dir / "absent" / path.name
    if how in ("directory", "empty_dir"):
        bad.mkdir()
    elif how == "empty":
        bad.write_bytes(b"")
    elif how == "garbage":
        bad.write_bytes(b"\x00\xff\x13garbage\n\x89not this format\n" * 40)
    elif how == "truncated":
        data = path.read_bytes()
        bad.write_bytes(data[: len(data) // 3])
    return bad


def case_argv(case: Case, world: dict[str, Path], case_dir: Path) -> tuple[list[str], Path]:
    """The command line of `case` and its output path."""
    paths = {name: str(path) for name, path in world.items()}
    out = case_dir / (case.command.out_is_file or "out")
    if case.fault == "out_under_file":
        blocker = case_dir / "a_file"
        blocker.write_text("not a directory\n")
        out = blocker / out.name
    paths["out"] = str(out)
    if case.fault in (*SPOILS["binary"], *SPOILS["dir"], "directory"):
        carrier = case.command.carried.get(case.target)
        if carrier is None:
            paths[case.target] = str(spoil(world[case.target], case.fault, case_dir))
        else:
            # The spoiled file is named in a table: spoil it in a copy of the table's folder.
            table = world[carrier]
            copy = case_dir / "carrier"
            shutil.copytree(table.parent, copy)
            (copy / world[case.target].name).unlink()
            stand_in = spoil(world[case.target], case.fault, case_dir)
            if case.fault != "missing":
                shutil.move(stand_in, copy / world[case.target].name)
            paths[carrier] = str(copy / table.name)
    argv = [token.format(**paths) for token in case.command.argv]
    return [*argv, *case.extra], out


def command_path(name: str) -> list[str]:
    """The installed console script, or the checkout's bin/ file where it is not installed."""
    installed = shutil.which(f"{name}.py")
    return [installed] if installed else [sys.executable, str(BIN / f"{name}.py")]


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stderr: str
    out: Path


def run_case(case: Case, world: dict[str, Path], root: Path) -> Outcome:
    case_dir = root / case.id
    case_dir.mkdir(parents=True)
    argv, out = case_argv(case, world, case_dir)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env.pop("BASENJI_DEBUG", None)
    with contextlib.ExitStack() as stack:
        if case.fault == "out_in_use":
            stack.enter_context(claim_output_dir(out))
        done = subprocess.run(
            command_path(case.command.name) + argv,
            capture_output=True,
            text=True,
            timeout=600,
            cwd=case_dir,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    return Outcome(done.returncode, done.stderr, out)


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory, reference_dir):
    """Futures of every selected case's outcome, started at once, two at a time."""
    root = tmp_path_factory.mktemp("faults")
    world = build_world(root / "world", reference_dir)
    selected = [
        item.callspec.params["case"]
        for item in request.session.items
        if hasattr(item, "callspec") and "case" in item.callspec.params
    ]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        yield {case.id: pool.submit(run_case, case, world, root / "cases") for case in selected}
        pool.shutdown(cancel_futures=True)


def expected_names(case: Case) -> tuple[str, ...]:
    """Strings of which the error line must contain one: the file or option at fault."""
    if case.fault == "bad_number":
        return (case.extra[0],)
    if case.fault == "unknown_option":
        return (case.target,)
    if case.fault == "out_under_file":
        return ("a_file",)
    if case.fault == "out_in_use":
        return (f"in use by pid {os.getpid()}",)
    if (case.target, case.fault) == ("fasta", "truncated"):
        # A FASTA cut short is a valid, shorter genome: the first record past its end says so.
        return (WORLD_NAMES["fasta"], "FASTA")
    return (WORLD_NAMES[case.target],)


def test_the_matrix_is_large_enough():
    assert len(CASES) >= 120, len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fault_ends_in_one_clear_line(case, outcomes):
    outcome = outcomes[case.id].result()
    stderr = outcome.stderr
    assert outcome.returncode in (1, 2), (outcome.returncode, stderr[-2000:])
    assert "Traceback" not in stderr, stderr[-3000:]
    error_lines = [line for line in stderr.splitlines() if ": error:" in line]
    assert len(error_lines) == 1, stderr[-2000:]
    assert stderr.rstrip().splitlines()[-1] == error_lines[0], stderr[-2000:]
    names = expected_names(case)
    assert any(name in error_lines[0] for name in names), (names, error_lines[0])
    for output in case.command.outputs:
        assert not (outcome.out / output).exists(), f"{output} written despite the error"
    if case.command.out_is_file:
        assert not outcome.out.exists(), "output file written despite the error"


# The file name of each spoiled input (a spoiled stand-in keeps its name).
WORLD_NAMES = {
    "fasta": "gata4_locus.fa",
    "params": "params.json",
    "model": "model0_best.h5",
    "vcf": "snps.vcf",
    "bed": "regions.bed",
    "gtf": "genes.gtf",
    "tiny_params": "params.json",
    "tiny_model": "model.h5",
    "tiny_data": "data",
    "data_fasta": "genome.fa",
    "data_targets": "targets.txt",
    "data_bigwig": "t0_smooth.bw",
    "legacy_h5": "legacy.h5",
    "params_txt": "genome_research2018_params.txt",
    "bam": "reads.bam",
    "sad_h5": "sad.h5",
}
