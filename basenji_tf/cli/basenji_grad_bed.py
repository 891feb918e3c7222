"""basenji_grad_bed.py: input x gradient attribution of BED regions."""

from __future__ import annotations

import os
from collections.abc import Sequence

import h5py
import numpy as np
from tqdm import tqdm

from basenji_tf.cli._common import comma_ints, make_parser, parse_args, run_main
from basenji_tf.errors import InputError
from basenji_tf.files import atomic_path

PROG = "basenji_grad_bed.py"


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser(
        PROG,
        "Input x gradient attribution of a model window centred on each BED region: the "
        "gradient of the predictions summed over all bins and the chosen targets, times the "
        "one-hot input. Writes <out_dir>/scores.h5 and <out_dir>/attr.bw (bp resolution).",
    )
    parser.add_argument("params_file")
    parser.add_argument("model_file")
    parser.add_argument("bed_file")
    parser.add_argument("-f", dest="genome_fasta", required=True, help="genome FASTA")
    parser.add_argument("-o", dest="out_dir", default="grad_bed", help="output directory")
    parser.add_argument("--targets", dest="target_indexes", type=comma_ints,
                        help="model outputs whose predictions are summed (default: all)")
    parser.add_argument("--rc", action="store_true",
                        help="average with the reverse complement's gradient")
    parser.add_argument("--head", dest="head_i", type=int, default=0, help="model head")
    parser.add_argument("--batch_size", type=int, default=4, help="sequences per gradient call")
    args = parse_args(parser, argv)

    def body() -> None:
        from basenji_tf.genome import Genome
        from basenji_tf.regions import input_gradients, read_bed_windows, region_1hot, write_bigwigs
        from basenji_tf.variants import load_scoring_model

        seqnn_model, model, _ = load_scoring_model(args.params_file, args.model_file, args.head_i)
        num_outputs = int(model.output.shape[-1])
        if args.target_indexes and not all(0 <= t < num_outputs for t in args.target_indexes):
            raise InputError(f"--targets: head {args.head_i} has outputs 0..{num_outputs - 1}")
        with Genome(args.genome_fasta) as genome:
            regions = read_bed_windows(args.bed_file, genome, seqnn_model.seq_length, False)
            seq_batches, grad_batches = [], []
            for b0 in tqdm(range(0, len(regions), args.batch_size), desc="regions", disable=None):
                batch = regions[b0 : b0 + args.batch_size]
                seq_batches.append(np.stack([region_1hot(genome, r) for r in batch]))
                grad_batches.append(
                    input_gradients(model, seq_batches[-1], args.target_indexes, rc=args.rc)
                )
            sizes = genome.sizes
        seqs = np.concatenate(seq_batches)
        grads = np.concatenate(grad_batches)
        attr = (grads * seqs).sum(axis=-1)
        with atomic_path(os.path.join(args.out_dir, "scores.h5")) as tmp, h5py.File(tmp, "w") as h5:
            h5.create_dataset("seqs", data=seqs == 1)
            h5.create_dataset("grads", data=grads.astype(np.float16))
            h5.create_dataset("attr", data=attr.astype(np.float32))
            h5.create_dataset("chr", data=np.array([r.chrom for r in regions], dtype="S"))
            h5.create_dataset("start", data=np.array([r.start for r in regions], np.int64))
            h5.create_dataset("end", data=np.array([r.end for r in regions], np.int64))
        write_bigwigs(args.out_dir, regions, attr[..., None], [r.start for r in regions], 1,
                      sizes, ["attr"])

    return run_main(PROG, body)


if __name__ == "__main__":
    raise SystemExit(main())
