"""``-o -``: a command whose output is one table writes it to standard output.

Of our commands only basenji_test.py qualifies (acc.txt); docs/cli.md says why the others
do not. With ``-o -`` the table is byte for byte acc.txt, the summary goes to stderr, and
the options that write more files are refused before any work.
"""

from __future__ import annotations

import pytest
from test_train import TINY_PARAMS, write_data_dir, write_params

from basenji_tf import seqnn
from basenji_tf.cli import basenji_test


@pytest.fixture(scope="module")
def model_and_data(tmp_path_factory):
    """A randomly initialised tiny SeqNN saved to .h5 and a synthetic data dir."""
    root = tmp_path_factory.mktemp("stdout")
    data = write_data_dir(root / "data")
    params = write_params(root / "params.json")
    seqnn.SeqNN(TINY_PARAMS["model"]).save(root / "model.h5", head_i=0)
    return [str(params), str(root / "model.h5"), str(data)], root


def test_acc_table_on_stdout_equals_acc_txt(model_and_data, capsys):
    positionals, root = model_and_data
    options = ["--rc", "--shifts", "0,1", "--rank"]
    assert basenji_test.main(["-o", str(root / "out"), *options, *positionals]) == 0
    to_dir = capsys.readouterr()
    assert "Test PearsonR" in to_dir.out
    assert basenji_test.main(["-o", "-", *options, *positionals]) == 0
    to_stdout = capsys.readouterr()
    assert to_stdout.out == (root / "out" / "acc.txt").read_text()
    assert to_stdout.out.startswith("index\tpearsonr\tspearmanr\tr2\t")
    assert "Test PearsonR" in to_stdout.err and "Test PearsonR" not in to_stdout.out
    assert not (root / "-").exists()


@pytest.mark.parametrize("extra", [["--save"], ["--peaks"], ["--ai", "0"], ["--bi", "0"]])
def test_file_outputs_need_a_directory(model_and_data, capsys, extra):
    positionals, root = model_and_data
    assert basenji_test.main(["-o", "-", *extra, *positionals]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert lines == [
        "basenji_test.py: error: -o -: the accuracy table goes to standard output, but "
        "--save, --peaks, --ai and --bi write files; give -o a directory"
    ]
