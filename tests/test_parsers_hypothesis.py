"""Property tests: whatever bytes or lines the parsers get, they fail only with InputError.

Each reader gets random bytes and random tab-separated lines built from cells that look
like its format (numbers around the edges, names, alleles, empty cells), so both the
"not text at all" and the "almost valid" paths run. The parsers must return a result or
raise :class:`InputError`: never a ValueError, IndexError, UnicodeDecodeError, ...
"""

import gzip
import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from basenji_tf.errors import InputError
from basenji_tf.genome import (
    Genome,
    read_bed_intervals,
    read_bed_rows,
    read_chrom_sizes,
    read_gtf_tss,
)
from basenji_tf.params import parse_model_params, parse_train_params, read_params
from basenji_tf.scoring.bed import read_bed_windows
from basenji_tf.scoring.vcf import read_vcf
from basenji_tf.targets import read_targets, target_options

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

CELLS = st.one_of(
    st.integers(-3, 200_000).map(str),
    st.sampled_from(["chrG", "G", "chrA", "chrQ", "A", "C", "ACGT", "N", "<DEL>", "*", ".",
                     "+", "-", "gene", "exon", 'gene_id "g1"; gene_name "x";', "sum", "mean",
                     "nan", "1.5", "-0", "1e3", "", " ", "#", "track", "index", "identifier",
                     "file", "clip", "scale", "sum_stat", "strand_pair"]),
    st.text(max_size=6),
)  # fmt: skip
LINES = st.lists(st.lists(CELLS, min_size=0, max_size=10).map("\t".join), max_size=8).map("\n".join)
CONTENT = st.one_of(
    st.binary(max_size=200),
    LINES.map(str.encode),
    LINES.map(lambda text: gzip.compress(text.encode())),
    LINES.map(lambda text: gzip.compress(text.encode())[: len(text) // 2]),
)


@pytest.fixture(scope="module")
def genome(reference_dir):
    with Genome(reference_dir / "sad_small" / "gata4_locus.fa") as g:
        yield g


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("parsers")


def _input_error(read, path, content: bytes) -> str | None:
    """``read`` on a file of ``content``: its InputError message, or None if it read it.

    Any other exception propagates and fails the test.
    """
    path.write_bytes(content)
    try:
        read(path)
    except InputError as err:
        return str(err)
    return None


def _read_target_options(path):
    return target_options(read_targets(path))


def _one_line(error: str | None) -> bool:
    return error is None or "\n" not in error


@SETTINGS
@given(content=CONTENT)
def test_vcf(work, genome, content):
    assert _one_line(
        _input_error(lambda p: list(read_vcf(str(p), genome)), work / "x.vcf", content)
    )


@SETTINGS
@given(content=CONTENT)
def test_bed(work, genome, content):
    readers = (
        read_bed_rows,
        read_bed_intervals,
        lambda p: read_bed_rows(p, genome.sizes),
        lambda p: read_bed_windows(str(p), genome, 64),
    )
    for read in readers:
        assert _one_line(_input_error(read, work / "x.bed", content))


@SETTINGS
@given(content=CONTENT)
def test_gtf_and_chrom_sizes(work, genome, content):
    gtf = _input_error(lambda p: read_gtf_tss(p, sizes=genome.sizes), work / "x.gtf", content)
    assert _one_line(gtf)
    assert _one_line(_input_error(read_chrom_sizes, work / "x.sizes", content))


@SETTINGS
@given(content=CONTENT)
@example(content=b'0\t"\n"')  # a header cell holding a newline, named in the message
def test_targets_table(work, content):
    assert _one_line(_input_error(_read_target_options, work / "t.txt", content))


def _targets_rows(rows) -> bytes:
    header = "index\tidentifier\tfile\tclip\tclip_soft\tscale\tsum_stat\tstrand_pair"
    return "\n".join([header, *rows]).encode()


@SETTINGS
@given(rows=st.lists(st.lists(CELLS, min_size=8, max_size=8).map("\t".join), max_size=5))
def test_targets_table_rows(work, rows):
    assert _one_line(_input_error(_read_target_options, work / "t.txt", _targets_rows(rows)))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 200_000) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
BLOCK = st.fixed_dictionaries(
    {"name": st.sampled_from(["conv_block", "conv_tower", "dilated_residual", "Cropping1D",
                              "final", "dense_block"])},
    optional={k: JSON | st.integers(0, 8) for k in ["filters", "pool_size", "repeat",
              "kernel_size", "dropout", "cropping", "stride", "units", "rate_mult"]},
)  # fmt: skip
MODEL = st.fixed_dictionaries(
    {"seq_length": JSON | st.sampled_from([64, 1024, 1000]),
     "trunk": JSON | st.lists(BLOCK, max_size=4),
     "head0": JSON | BLOCK},
    optional={k: JSON for k in ["seq_depth", "activation", "augment_rc", "augment_shift",
              "strand_pair", "target_length", "l2_scale", "bn_momentum", "norm_type"]},
)  # fmt: skip
TRAIN = st.dictionaries(
    st.sampled_from(["batch_size", "learning_rate", "loss", "optimizer", "momentum",
                     "clip_norm", "train_epochs_min", "train_epochs_max", "patience",
                     "warmup_steps", "num_gpu", "clipnorm"]),
    JSON,
)  # fmt: skip


@SETTINGS
@given(model=MODEL, train=TRAIN)
def test_params_sections(model, train):
    for parse, section in ((parse_model_params, model), (parse_train_params, train)):
        try:
            parse(section, "p.json")
        except InputError as err:
            assert "\n" not in str(err)


@SETTINGS
@given(content=st.one_of(st.binary(max_size=100), JSON.map(lambda j: json.dumps(j).encode())))
def test_params_file(work, content):
    assert _one_line(_input_error(read_params, work / "p.json", content))
