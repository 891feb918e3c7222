"""basenji_sad with the small Basenji2 model: the original's outputs, exact fast paths, real VCFs."""

import h5py
import numpy as np
import pytest

from basenji_tf import variants as V
from basenji_tf.cone import ConeSplice, SharedTower
from basenji_tf.cli import basenji_sad
from basenji_tf.genome import Genome

ALL_STATS = ",".join(V.SAD_STATS)


@pytest.fixture(scope="module")
def small(reference_dir):
    d = reference_dir / "basenji2_small"
    return V.load_scoring_model(str(d / "params.json"), str(d / "model0_best.h5"))


@pytest.fixture(scope="module")
def sad_dir(reference_dir):
    return reference_dir / "sad_small"


def assert_same_sad(ours_file, ref_file, extra_row=None):
    """Every dataset equal (float16 tolerance); ``extra_row``: a row of ours the original
    does not have (then the percentile tables, computed over all rows, are not compared)."""
    with h5py.File(ours_file) as ours, h5py.File(ref_file) as ref:
        assert set(ours) == set(ref)
        for name in ref:
            a, b = ours[name][:], ref[name][:]
            if extra_row is not None:
                if name.endswith("_pct"):
                    continue
                if a.shape[:1] == (b.shape[0] + 1,):
                    a = np.delete(a, extra_row, axis=0)
            assert a.shape == b.shape, name
            if b.dtype.kind == "f":
                assert a.dtype == b.dtype, name
                np.testing.assert_allclose(a, b, rtol=2e-3, atol=1e-3, err_msg=name)
            elif name == "target_labels" and not any(b):
                assert not any(a)  # empty labels: the original's string width is not kept
            else:
                assert a.dtype == b.dtype, name
                np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.mark.parametrize("run", ["sad_out", "sad_targets_out"])
def test_cli_reproduces_the_original(tmp_path, reference_dir, sad_dir, run):
    argv = ["-f", str(sad_dir / "gata4_locus.fa"), "-o", str(tmp_path), "--rc",
            "--shifts", "0,1,-1", "--stats", ALL_STATS, "--batch_variants", "6"]
    extra_row = None
    if run == "sad_targets_out":
        argv += ["-t", str(sad_dir / "targets_sad.txt"), "--first_alt"]
    else:
        extra_row = 11  # multi's second ALT (C), which the original does not score
    small = reference_dir / "basenji2_small"
    argv += [str(small / "params.json"), str(small / "model0_best.h5"), str(sad_dir / "snps.vcf")]
    assert basenji_sad.main(argv) == 0
    assert_same_sad(tmp_path / "sad.h5", sad_dir / run / "sad.h5", extra_row)
    if extra_row is not None:
        with h5py.File(tmp_path / "sad.h5") as h5:
            assert list(h5["snp"][10:12]) == [b"multi", b"multi"]
            assert list(h5["alt_allele"][10:12]) == [b"A", b"C"]
            # both ALTs share the REF window
            np.testing.assert_array_equal(h5["REF"][10], h5["REF"][11])


def test_float32_predictions_and_seqnn_ensemble(small, sad_dir):
    """Our batched ensemble (spliced and not) matches the original's float32 arrays and
    SeqNN.build_ensemble."""
    seqnn_model, model, _ = small
    z = np.load(sad_dir / "sad_float32.npz")
    refs = z["ref_onehot"].astype(np.float32)
    alts = z["alt_onehot"].astype(np.float32)
    index = np.arange(len(refs))
    plain = V.EnsemblePredictor(model, True, [0, 1, -1], batch_size=12)
    spliced = V.EnsemblePredictor(model, True, [0, 1, -1], splice=ConeSplice(model))
    for predictor in (plain, spliced):
        ref_p, alt_p = predictor.predict_pairs(refs, alts, index)
        np.testing.assert_allclose(ref_p, z["ref_preds"], rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(alt_p, z["alt_preds"], rtol=1e-4, atol=1e-4)
    seqnn_model.build_ensemble(True, [0, 1, -1])
    np.testing.assert_allclose(
        seqnn_model.predict(refs[:3]), plain.predict(refs[:3]), rtol=1e-5, atol=1e-5
    )


def test_cone_splice_is_exact(small):
    """Spliced ALT predictions equal full ones for SNVs anywhere (edges included), a short
    multi-base change, and a long change that takes the full pass."""
    _, model, _ = small
    splice = ConeSplice(model)
    assert (splice.stride_bp, splice.reach_bp) == (128, 7 + 2 * (2 + 4 + 8 + 16 + 32 + 64))
    assert {kind for *_, kind in splice._steps} == {"pointwise", "conv", "merge", "crop"}
    rng = np.random.default_rng(0)
    length = model.input.shape[1]
    ref = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (2, length))]
    positions = [0, 5, 127, 128, 300, 8191, 8192, 16000, length - 1]
    alts = np.repeat(ref[[0]], len(positions) + 2, axis=0)
    for j, p in enumerate(positions):
        alts[j, p] = np.roll(alts[j, p], 1)
    alts[-2, 4000:4003] = 0.25  # a short multi-base change, still one band
    alts[-1, 4000:4400] = 0.25  # longer than a band: the full pass
    alt_ref = np.zeros(len(alts), dtype=int)
    full = V.EnsemblePredictor(model, rc=True, shifts=[0, 1])
    fast = V.EnsemblePredictor(model, rc=True, shifts=[0, 1], splice=splice, batch_size=3)
    want = full.predict_pairs(ref, alts, alt_ref)
    got = fast.predict_pairs(ref, alts, alt_ref)
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("unknown", ["layer_norm", "concatenate"])
def test_cone_splice_any_layer_stays_exact(unknown):
    """A layer the band logic does not know (LayerNormalization, or Concatenate with two
    inputs) widens the band to the whole length; convolutions of even width and
    dilation, Add and cropping around it keep their bands; results stay exact."""
    import keras

    keras.utils.set_random_seed(0)
    x = inputs = keras.Input((1024, 4))
    x = keras.layers.Conv1D(8, 5, padding="same")(x)
    x = keras.layers.MaxPooling1D(8)(x)
    y = keras.layers.Conv1D(8, 4, padding="same", dilation_rate=3, activation="relu")(x)
    x = keras.layers.Add()([x, y])
    z = keras.layers.Conv1D(8, 3, padding="same")(x)
    if unknown == "layer_norm":
        z = keras.layers.LayerNormalization()(z)
    else:
        z = keras.layers.Concatenate()([z, y])
    x = keras.layers.Add()([x, keras.layers.Conv1D(8, 3, padding="same")(z)])
    x = keras.layers.Cropping1D((3, 5))(x)
    outputs = keras.layers.Dense(3)(x)
    model = keras.Model(inputs, outputs)
    splice = ConeSplice(model)
    kinds = [kind for *_, kind in splice._steps]
    assert kinds.count("whole") == 1 and kinds.count("conv") == 3
    rng = np.random.default_rng(1)
    ref = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (1, 1024))]
    alts = np.repeat(ref, 4, axis=0)
    for j, p in enumerate([0, 9, 500, 1023]):
        alts[j, p] = np.roll(alts[j, p], 1)
    alt_ref = np.zeros(len(alts), dtype=int)
    want = V.EnsemblePredictor(model).predict_pairs(ref, alts, alt_ref)
    got = V.EnsemblePredictor(model, splice=splice).predict_pairs(ref, alts, alt_ref)
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("rc", [True, False])
def test_shared_tower_equals_window_by_window(small, rc):
    """Overlapping genome windows share their tower; every ensemble member (shifts, reverse
    complement) equals its own tower pass. Windows off the chromosome's start (N), alone,
    without a start, or not matching the genome take their own pass."""
    _, model, _ = small
    splice = ConeSplice(model)
    shared = SharedTower(splice)
    length = splice.seq_length
    rng = np.random.default_rng(3)
    seq = "".join(rng.choice(list("ACGT"), 4 * length))

    def fetch(chrom, start, end):
        inside = seq[max(start, 0) : max(end, 0)]
        padded = "N" * max(0, -start) + inside
        return V.dna_1hot(padded + "N" * (end - start - len(padded)), n_uniform=True)

    starts = [-300, 5, 130, 131, 1000, 9001, 2 * length, None, 6 * length, 77]
    loci = [None if s is None else ("c", s) for s in starts]
    windows = np.stack([fetch("c", s or 0, (s or 0) + length) for s in starts])
    windows[-1, 4000] = windows[-1, 4000, ::-1]  # a REF put in for the genome's allele
    predictor = V.EnsemblePredictor(model, rc=rc, shifts=[0, 1, -1], splice=splice)
    inputs = predictor._member_inputs(windows)
    whole_rows = []

    def call(fn, x):
        if x.shape[1] == length:
            whole_rows.append(len(x))
        return predictor._call(fn, x)

    got = shared.outputs(loci, predictor.members, inputs, call, fetch)
    assert shared.regions(loci) == [[0, 1, 9, 2, 3, 4, 5]]
    assert whole_rows == [len(predictor.members) * 4]  # each member of rows 6, 7, 8 and 9
    want = predictor._call(splice.tower, inputs)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-5)


def write_dense_vcf(path, genome) -> None:
    """Four close SNVs, then a deletion, an insertion and a two-ALT site (8 rows)."""
    base = lambda pos, n=1: genome.fetch("chrG", pos - 1, pos - 1 + n)  # noqa: E731
    lines = [f"chrG\t{p}\ts{p}\t{base(p)}\t{'T' if base(p) != 'T' else 'G'}"
             for p in (50_000, 50_377, 51_001, 52_222)]
    lines += [f"chrG\t50800\tdel\t{base(50_800, 4)}\t{base(50_800)}",
              f"chrG\t51500\tins\t{base(51_500)}\t{base(51_500)}GATTACA",
              f"chrG\t52000\ttwo\t{base(52_000)}\t{','.join('ACGT'.replace(base(52_000), '')[:2])}"]
    path.write_text("\n".join(lines) + "\n")


def test_scoring_with_shared_towers_equals_without(tmp_path, small, sad_dir):
    """score_vcf on close SNVs, a deletion, an insertion and a two-ALT site: REF windows
    (a deletion's shifted by half its length) all share their tower, and every statistic
    equals the run without sharing."""
    _, model, _ = small
    vcf = tmp_path / "dense.vcf"
    with Genome(sad_dir / "gata4_locus.fa") as genome:
        write_dense_vcf(vcf, genome)
        targets = V.TargetSet.all_outputs(8)
        options = V.SadOptions(stats=["SAD", "REF", "ALT"], batch_variants=8)
        splice = ConeSplice(model)
        scores = []
        for share in (True, False):
            predictor = V.EnsemblePredictor(
                model, rc=True, shifts=[0, 1], splice=splice, share_towers=share
            )
            out = tmp_path / f"share{share}.h5"
            V.score_vcf(predictor, genome, str(vcf), str(out), targets, options)
            with h5py.File(out) as h5:
                scores.append({name: h5[name][:] for name in ("SAD", "REF", "ALT")})
            if share:
                # 7 REF windows (the two ALTs share one) x 4 members, none on its own
                assert predictor.shared.counts == {"shared": 28, "alone": 0}
            else:
                assert predictor.shared is None
    for name, values in scores[0].items():
        assert values.shape[0] == 8
        np.testing.assert_allclose(values, scores[1][name], rtol=2e-3, atol=1e-3, err_msg=name)


def test_shared_towers_shard_equals_single_run(tmp_path, small, sad_dir):
    """Regions are formed within a batch, so a shard cut at a batch boundary scores its
    rows bit for bit as the single run does."""
    _, model, _ = small
    vcf = tmp_path / "dense.vcf"
    predictor = V.EnsemblePredictor(
        model, rc=True, splice=ConeSplice(model), share_towers=True, batch_size=3
    )
    targets = V.TargetSet.all_outputs(8)
    with Genome(sad_dir / "gata4_locus.fa") as genome:
        write_dense_vcf(vcf, genome)
        for name, records in (("one", None), ("shard", (4, 7))):
            options = V.SadOptions(stats=["SAD", "REF"], batch_variants=4, record_range=records)
            V.score_vcf(predictor, genome, str(vcf), str(tmp_path / f"{name}.h5"), targets, options)
    assert predictor.shared.counts["alone"] == 0
    with h5py.File(tmp_path / "one.h5") as one, h5py.File(tmp_path / "shard.h5") as shard:
        for name in ("SAD", "REF"):
            np.testing.assert_array_equal(shard[name][:], one[name][4:], err_msg=name)


def test_cluster_shares_one_reference(tmp_path, small, sad_dir):
    """--cluster: one reference window per group, each ALT substituted in it, rows in
    VCF order."""
    _, model, _ = small
    vcf = tmp_path / "c.vcf"
    vcf.write_text(
        "chrG\t74453\ta\tA\tC\n"
        "chrG\t74460\tb\tG\tA\n"  # genome base at 74460
        "chrG\t40001\tdel2\tTTG\tT\n"
        "chrG\t74500\tc\tC\tG\n"
    )
    with Genome(sad_dir / "gata4_locus.fa") as genome:
        rows = list(V.read_vcf(str(vcf), genome))
        for v in rows:
            if v.id in "abc":
                assert genome.fetch("chrG", v.pos - 1, v.pos) == v.ref, v
        targets = V.TargetSet.all_outputs(8)
        options = V.SadOptions(stats=["SAD", "REF", "ALT"], cluster_bp=100)
        predictor = V.EnsemblePredictor(model, rc=True, splice=ConeSplice(model))
        V.score_vcf(predictor, genome, str(vcf), str(tmp_path / "sad.h5"), targets, options)
        # by hand: the window of the middle member (b), not centred on a or c
        left = 16384 // 2 - 1
        start0 = 74460 - 1 - left
        ref = V.dna_1hot(genome.fetch("chrG", start0, start0 + 16384), n_uniform=True)
    predictor = V.EnsemblePredictor(model, rc=True)
    alts = []
    for v in (rows[0], rows[1], rows[3]):
        alt = ref.copy()
        alt[v.pos - 1 - start0] = V.dna_1hot(v.alt)[0]
        alts.append(alt)
    want = predictor.predict(np.stack([ref, *alts]))
    with h5py.File(tmp_path / "sad.h5") as h5:
        assert [s.decode() for s in h5["snp"][:]] == ["a", "b", "del2", "c"]
        np.testing.assert_allclose(h5["REF"][[0, 1, 3]], np.repeat(want[:1], 3, 0).astype(np.float16), rtol=2e-3, atol=1e-3)
        np.testing.assert_allclose(h5["ALT"][[0, 1, 3]], want[1:].astype(np.float16), rtol=2e-3, atol=1e-3)


class HgFake:
    """hg19 chromosome names and sizes with a synthetic sequence: the GATA4 locus repeated,
    and the validated VCF's REF alleles at their positions (hg19 itself is not in the repo)."""

    def __init__(self, reference_dir):
        real = reference_dir / "real_hg19"
        self.base = "".join(
            line.strip() for line in open(real / "gata4.fa") if not line.startswith(">")
        ).upper()
        self.sizes = {}
        for line in open(reference_dir / "basenji_published" / "human.hg19.genome"):
            name, size = line.split()[:2]
            self.sizes[name] = int(size)
        self.planted = {}
        for v in V.read_vcf(str(real / "regulatory_validated.vcf")):
            self.planted[(v.chrom, v.pos - 1)] = v.ref

    def resolve(self, chrom, source="input"):
        return Genome.resolve(self, chrom, source)

    def fetch(self, chrom, start, end):
        seq = list(
            self.base[i % len(self.base)] if 0 <= i < self.sizes[chrom] else "N"
            for i in range(start, end)
        )
        for (c, p), allele in self.planted.items():
            if c == chrom and start <= p < end:
                seq[p - start : p - start + len(allele)] = allele
        return "".join(seq)[: end - start]


def test_real_vcfs_misref_and_misorder(tmp_path, reference_dir, small, caplog):
    _, model, _ = small
    genome = HgFake(reference_dir)
    genome.path = "hg19-fake"
    real = reference_dir / "real_hg19"
    options = V.SadOptions(stats=["SAD", "D1"], batch_variants=5)
    targets = V.TargetSet.all_outputs(8)
    results = {}
    for name in ("regulatory_validated", "regulatory_validated_misref",
                 "regulatory_validated_misorder"):
        out = tmp_path / f"{name}.h5"
        counts = V.score_vcf(
            V.EnsemblePredictor(model), genome, str(real / f"{name}.vcf"), str(out), targets, options
        )
        assert counts.rows == 16 and counts.ref_mismatch == 0
        with h5py.File(out) as h5:
            results[name] = {
                s.decode(): (h5["SAD"][i], h5["D1"][i]) for i, s in enumerate(h5["snp"][:])
            }
            if name.endswith("misorder"):
                assert h5["snp"][0] == b"rs12740374"  # file order kept
    assert "rs72664324: the genome has the ALT allele G" in caplog.text
    valid = results["regulatory_validated"]
    for name in ("regulatory_validated_misref", "regulatory_validated_misorder"):
        for rsid, (sad, d1) in results[name].items():
            if name.endswith("misref") and rsid == "rs72664324":
                # REF put in the genome's place: the windows swap, so SAD changes sign
                np.testing.assert_allclose(sad, -valid[rsid][0], rtol=2e-3, atol=2e-3)
            else:
                np.testing.assert_array_equal(sad, valid[rsid][0])
            np.testing.assert_allclose(d1, valid[rsid][1], rtol=2e-3, atol=2e-3)


def test_shards_merge_to_a_single_run(tmp_path, reference_dir, sad_dir):
    """--shard i/N runs (what -p N starts as processes) merge into the single-run file."""
    small = reference_dir / "basenji2_small"
    common = ["-f", str(sad_dir / "gata4_locus.fa"), "--stats", "SAD,SAX,REF", "--rc",
              "--batch_variants", "3", "--batch_size", "4",
              str(small / "params.json"), str(small / "model0_best.h5"), str(sad_dir / "snps.vcf")]
    assert basenji_sad.main(["-o", str(tmp_path / "one"), *common]) == 0
    jobs = []
    for i in range(2):
        job = tmp_path / f"job{i}"
        assert basenji_sad.main(["--shard", f"{i}/2", "-o", str(job), *common]) == 0
        jobs.append(str(job / "sad.h5"))
    V.merge_sad(jobs, str(tmp_path / "two.h5"))
    with h5py.File(tmp_path / "one/sad.h5") as one, h5py.File(tmp_path / "two.h5") as two:
        assert set(one) == set(two) and one["snp"].shape == (16,)
        for k in one:
            np.testing.assert_array_equal(one[k][:], two[k][:], err_msg=k)
    assert basenji_sad.worker_argv(["-p", "2", "-o", "x", "--rc", "--shard=1/2", "a.vcf"]) == [
        "--rc", "a.vcf"
    ]
