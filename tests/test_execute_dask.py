"""Tasks on a real Dask cluster (a scheduler and two workers, processes on 127.0.0.1).

SAD, BED predictions and attributions, genome-wide tracks and a data directory made through
``--scheduler`` equal the local runs bit for bit; a worker killed mid-run costs time, not
results; a task failing on bad input stops the run with that task's own one-line error.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import h5py
import keras
import numpy as np
import pyBigWig
import pytest

from basenji_tf import seqnn
from basenji_tf.cli import (
    basenji_grad_bed,
    basenji_predict_bed,
    basenji_predict_genome,
    basenji_sad,
)
from basenji_tf.errors import InputError
from basenji_tf.execute import DaskExecutor, InProcess, make_executor

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]
distributed = pytest.importorskip("distributed")


def _h5_datasets(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path) as h5:
        return {name: h5[name][()] for name in h5}


def assert_same_h5(a: Path, b: Path) -> None:
    ours, theirs = _h5_datasets(a), _h5_datasets(b)
    assert ours.keys() == theirs.keys()
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)


def test_map_keeps_task_order_and_reraises_the_task_error(dask_cluster):
    with DaskExecutor(dask_cluster.address) as executor:
        assert executor.parallelism == 2
        assert executor.map(abs, [-3, 1, -2, 5]) == [3, 1, 2, 5]
        # make_executor(0) raises InputError in the worker
        with pytest.raises(InputError, match="-p 0: the number of processes"):
            executor.map(make_executor, [1, 0, 1])


def test_scheduler_file_and_unreachable_scheduler(dask_cluster, tmp_path):
    with make_executor(scheduler_file=str(dask_cluster.scheduler_file)) as executor:
        assert executor.map(abs, [-1]) == [1]
    with pytest.raises(InputError, match="cannot reach the Dask scheduler"):
        DaskExecutor("tcp://127.0.0.1:9", timeout_s=2)
    with pytest.raises(FileNotFoundError, match="scheduler file not found"):
        DaskExecutor(scheduler_file=str(tmp_path / "none.json"))


def _sad_argv(reference_dir: Path, out: Path, *extra: str) -> list[str]:
    small, sad = reference_dir / "basenji2_small", reference_dir / "sad_small"
    return [
        "-f",
        str(sad / "gata4_locus.fa"),
        "-o",
        str(out),
        "--rc",
        "--stats",
        "SAD,REF",
        "--batch_variants",
        "2",
        "--batch_size",
        "4",
        *extra,
        str(small / "params.json"),
        str(small / "model0_best.h5"),
        str(sad / "snps.vcf"),
    ]


def test_sad_through_the_scheduler_equals_a_local_run(dask_cluster, reference_dir, tmp_path):
    assert basenji_sad.main(_sad_argv(reference_dir, tmp_path / "local")) == 0
    argv = _sad_argv(
        reference_dir, tmp_path / "dask", "--scheduler", dask_cluster.address, "--keep_shards"
    )
    assert basenji_sad.main(argv) == 0
    assert_same_h5(tmp_path / "local" / "sad.h5", tmp_path / "dask" / "sad.h5")
    assert len(list((tmp_path / "dask").glob("job*/sad.h5"))) == 2  # one shard per worker


def test_predict_bed_through_the_scheduler_equals_a_local_run(dask_cluster, small_model, tmp_path):
    bed = tmp_path / "r.bed"
    bed.write_text("".join(f"chrG\t{s}\t{s + 100}\n" for s in range(20000, 110000, 15000)))
    common = ["-f", small_model["fasta"], "-b", "1", "-l", "2048", "--batch_size", "2"]
    model = [small_model["params"], small_model["model"], str(bed)]
    assert basenji_predict_bed.main([*common, "-o", str(tmp_path / "local"), *model]) == 0
    dask = ["--scheduler", dask_cluster.address, "-p", "3", "-o", str(tmp_path / "dask")]
    assert basenji_predict_bed.main([*common, *dask, *model]) == 0
    for name in ("predict.h5", "bigwig/t1.bw"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes()
    assert not list((tmp_path / "dask").glob("job*"))


@pytest.fixture(scope="module")
def genome_files(tmp_path_factory, repo):
    root = tmp_path_factory.mktemp("genome")
    params = json.loads((repo / "models" / "params_tiny.json").read_text())
    (root / "params.json").write_text(json.dumps(params))
    keras.utils.set_random_seed(3)
    seqnn.SeqNN(params["model"]).save(root / "model.h5")
    rng = np.random.default_rng(3)
    with open(root / "genome.fa", "w") as fasta:
        for chrom, size in {"chr1": 9000, "chr2": 4100}.items():
            seq = "".join(rng.choice(list("ACGT"), size))
            fasta.write(f">{chrom}\n{seq}\n")
    return [str(root / "params.json"), str(root / "model.h5"), str(root / "genome.fa")]


def _bigwig_values(path: Path) -> dict[str, list]:
    with pyBigWig.open(str(path)) as bw:
        return {c: bw.intervals(c) for c in bw.chroms()}


def test_genome_tracks_through_the_scheduler_equal_a_local_run(
    dask_cluster, genome_files, tmp_path
):
    common = ["--batch_size", "2", "--chunk_windows", "2", "--ti", "0,2"]
    assert basenji_predict_genome.main(["-o", str(tmp_path / "local"), *common, *genome_files]) == 0
    assert (
        basenji_predict_genome.main(
            [
                "-o",
                str(tmp_path / "dask"),
                *common,
                "--scheduler",
                dask_cluster.address,
                *genome_files,
            ]
        )
        == 0
    )
    for name in ("t0.bw", "t2.bw"):
        local = tmp_path / "local" / "bigwig" / name
        assert _bigwig_values(local) == _bigwig_values(tmp_path / "dask" / "bigwig" / name)
        assert local.read_bytes() == (tmp_path / "dask" / "bigwig" / name).read_bytes()


def test_grad_bed_through_the_scheduler_equals_a_local_run(dask_cluster, genome_files, tmp_path):
    params, model, fasta = genome_files
    bed = tmp_path / "r.bed"
    bed.write_text("".join(f"chr1\t{s}\t{s + 50}\n" for s in (1000, 3000, 5000, 7000)))
    common = ["-f", fasta, "--method", "deepshap", "--references", "2", "--batch_size", "1"]
    assert (
        basenji_grad_bed.main([*common, "-o", str(tmp_path / "local"), params, model, str(bed)])
        == 0
    )
    dask = ["--scheduler", dask_cluster.address, "-o", str(tmp_path / "dask")]
    assert basenji_grad_bed.main([*common, *dask, params, model, str(bed)]) == 0
    for name in ("scores.h5", "attr.bw"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes()
    assert not list((tmp_path / "dask").glob("job*"))


def _kill_when_busy(cluster, victim, address: str, done: threading.Event) -> None:
    """SIGKILL worker ``victim`` as soon as it is running a task."""
    with distributed.Client(address, timeout=30) as client:
        while not done.is_set():
            busy = {
                info["name"]
                for info in client.scheduler_info()["workers"].values()
                if info.get("metrics", {}).get("executing", 0)
            }
            processing = client.processing()
            names = {a: i["name"] for a, i in client.scheduler_info()["workers"].items()}
            if "w0" in busy or any(
                names.get(a) == "w0" and tasks for a, tasks in processing.items()
            ):
                cluster.kill(victim)
                return
            time.sleep(0.05)


def test_a_worker_killed_mid_run_changes_nothing(tmp_path, reference_dir):
    """Dask reruns the killed worker's task elsewhere; the merged file is the same."""
    from dask_cluster import LocalDaskCluster

    expected = tmp_path / "local"
    assert basenji_sad.main(_sad_argv(reference_dir, expected)) == 0
    cluster = LocalDaskCluster(tmp_path / "cluster", n_workers=2)
    done = threading.Event()
    try:
        killer = threading.Thread(
            target=_kill_when_busy, args=(cluster, cluster.workers[0], cluster.address, done)
        )
        killer.start()
        argv = _sad_argv(
            reference_dir, tmp_path / "dask", "--scheduler", cluster.address, "-p", "4"
        )
        assert basenji_sad.main(argv) == 0
        done.set()
        killer.join()
        assert cluster.workers[0].poll() is not None, "the worker was never killed"
    finally:
        done.set()
        cluster.close()
    assert_same_h5(expected / "sad.h5", tmp_path / "dask" / "sad.h5")


def test_in_process_executor_has_parallelism_one():
    assert InProcess().parallelism == 1


def test_a_task_failing_on_bad_input_stops_the_run_with_its_line(
    dask_cluster, reference_dir, tmp_path, capsys
):
    vcf = tmp_path / "bad.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n"
        "chrG\t36300\tgood\tG\tA\nchrG\t36322\tbad\tG\tA\n"
    )
    argv = _sad_argv(reference_dir, tmp_path, "--strict", "--scheduler", dask_cluster.address)
    argv[-1] = str(vcf)
    assert basenji_sad.main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [err[0]] and err[0].startswith("basenji_sad.py: error: line 4 bad: REF G")
    assert not list(tmp_path.glob("job*")), "a failed run's shard directories are removed"


def test_data_directory_through_the_scheduler_equals_a_local_run(
    dask_cluster, reference_dir, tmp_path, monkeypatch
):
    from test_data import REF_ARGS

    from basenji_tf.cli import basenji_data

    inputs = reference_dir / "basenji_data_small" / "inputs"
    monkeypatch.chdir(inputs.parent)  # the targets table names its BigWigs from here
    files = ["inputs/genome.fa", "inputs/targets.txt"]
    local, dask = tmp_path / "local", tmp_path / "dask"
    assert basenji_data.main([*REF_ARGS, "-o", str(local), *files]) == 0
    assert (
        basenji_data.main([*REF_ARGS, "--scheduler", dask_cluster.address, "-o", str(dask), *files])
        == 0
    )
    written = sorted(p.relative_to(local) for p in local.rglob("*") if p.is_file())
    assert written and written == sorted(
        p.relative_to(dask) for p in dask.rglob("*") if p.is_file()
    )
    for path in written:
        assert (dask / path).read_bytes() == (local / path).read_bytes(), path
