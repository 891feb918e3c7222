"""basenji_sat_vcf.py: saturation mutagenesis around VCF variants, REF and each ALT."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from basenji_tf.cli._common import make_parser, parse_args, run_main
from basenji_tf.cli.basenji_sat_bed import add_sat_options, sat_setup, write_plots

PROG = "basenji_sat_vcf.py"


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser(
        PROG,
        "Saturation mutagenesis of the centre of each variant's REF window and of each ALT "
        "window (variant at index L/2-1, as basenji_sad.py); writes <out_dir>/scores.h5 with "
        "labels {id}_{allele}.",
    )
    parser.add_argument("params_file")
    parser.add_argument("model_file")
    parser.add_argument("vcf_file", help="VCF, plain or bgzipped")
    parser.add_argument("--f1", "-f", dest="genome_fasta", required=True, help="genome FASTA")
    add_sat_options(parser, default_len=200, default_out="sat_vcf")
    args = parse_args(parser, argv)

    def body() -> None:
        from basenji_tf.genome import Genome
        from basenji_tf.regions import sat_mutagenesis, vcf_sequences, write_sat_h5

        predictor, mut_start, mut_len, stats = sat_setup(args)
        labels, seqs, scores = [], [], {s: [] for s in stats}
        with Genome(args.genome_fasta) as genome:
            seq_length = int(predictor.model.input.shape[1])
            for label, seq_1hot in vcf_sequences(genome, args.vcf_file, seq_length):
                labels.append(label)
                seqs.append(seq_1hot[mut_start : mut_start + mut_len])
                out = sat_mutagenesis(predictor, seq_1hot, mut_start, mut_len, stats)
                for stat in stats:
                    scores[stat].append(out[stat])
        seqs = np.stack(seqs) == 1
        scores = {s: np.stack(v) for s, v in scores.items()}
        write_sat_h5(os.path.join(args.out_dir, "scores.h5"), seqs, scores,
                     {"label": np.array(labels, dtype="S")})
        if args.plots:
            write_plots(args.out_dir, labels, seqs, scores[stats[0]], args.plot_targets)

    return run_main(PROG, body)


if __name__ == "__main__":
    raise SystemExit(main())
