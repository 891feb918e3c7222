"""basenji_predict_bed.py: predictions for BED regions to HDF5 and BigWig."""

from __future__ import annotations

import os
from collections.abc import Sequence

import h5py
import numpy as np

from basenji_tf.cli._common import comma_ints, make_parser, parse_args, run_main
from basenji_tf.errors import InputError
from basenji_tf.files import atomic_path

PROG = "basenji_predict_bed.py"


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser(
        PROG,
        "Predict a model window centred on each BED region; writes <out_dir>/predict.h5 "
        "(central site bins) and, with -b, one BigWig per chosen target in <out_dir>/bigwig "
        "at the genomic coordinates of the bins.",
    )
    parser.add_argument("params_file")
    parser.add_argument("model_file")
    parser.add_argument("bed_file")
    parser.add_argument("-f", dest="genome_fasta", required=True, help="genome FASTA")
    parser.add_argument("-g", dest="genome_file", help="chromosome sizes for the BigWig "
                        "header (default: the FASTA's)")
    parser.add_argument("-b", dest="bigwig_indexes", type=comma_ints, default=[],
                        help="targets (reported indexes) to write as BigWig")
    parser.add_argument("-l", dest="site_length", type=int,
                        help="bp of the central site kept (multiple of the bin width; "
                        "default: the whole prediction)")
    parser.add_argument("-o", dest="out_dir", default="pred_out", help="output directory")
    parser.add_argument("--rc", action="store_true", help="average with reverse complements")
    parser.add_argument("--shifts", type=comma_ints, default=[0], help="ensemble shifts (bp)")
    parser.add_argument("-s", dest="sum", action="store_true", help="sum the site's bins")
    parser.add_argument("-t", dest="targets_file", help="targets table (output channels to keep)")
    parser.add_argument("--head", dest="head_i", type=int, default=0, help="model head")
    parser.add_argument("--batch_size", type=int, default=8, help="sequences per model call")
    args = parse_args(parser, argv)

    def body() -> None:
        from basenji_tf.genome import Genome, read_chrom_sizes
        from basenji_tf.regions import predict_regions, read_bed_windows, write_bigwigs
        from basenji_tf.variants import scoring_setup

        seqnn_model, model, predictor, _ = scoring_setup(
            args.params_file, args.model_file, args.head_i, args.targets_file,
            args.rc, args.shifts, args.batch_size, splice=False,
        )  # fmt: skip
        stride = seqnn_model.model_strides[args.head_i]
        crop_bp = seqnn_model.target_crops[args.head_i] * stride
        preds_len = int(model.output.shape[1])
        site_length = args.site_length or stride * preds_len
        if site_length % stride or not 0 < site_length <= stride * preds_len:
            raise InputError(
                f"-l {site_length}: the site must be a multiple of the {stride} bp bins and at "
                f"most {stride * preds_len} bp"
            )
        site_bins = site_length // stride
        if args.sum and args.bigwig_indexes:
            raise InputError("-s sums the bins away; drop -s to write BigWigs with -b")
        with Genome(args.genome_fasta) as genome:
            regions = read_bed_windows(args.bed_file, genome, seqnn_model.seq_length, False)
            preds = predict_regions(predictor, genome, regions, site_bins, args.batch_size,
                                    args.sum)
            sizes = read_chrom_sizes(args.genome_file) if args.genome_file else genome.sizes
        first_bin = preds_len // 2 - site_bins // 2
        starts = np.array([r.start + crop_bp + first_bin * stride for r in regions], np.int64)
        out_h5 = os.path.join(args.out_dir, "predict.h5")
        with atomic_path(out_h5) as tmp, h5py.File(tmp, "w") as h5:
            h5.create_dataset("preds", data=np.clip(preds, -65504, 65504).astype(np.float16))
            h5.create_dataset("chrom", data=np.array([r.chrom for r in regions], dtype="S"))
            h5.create_dataset("start", data=starts)
            h5.create_dataset("end", data=starts + site_length)
        if args.bigwig_indexes:
            bad = [t for t in args.bigwig_indexes if not 0 <= t < preds.shape[-1]]
            if bad:
                raise InputError(f"-b {bad[0]}: there are {preds.shape[-1]} targets")
            write_bigwigs(
                os.path.join(args.out_dir, "bigwig"), regions,
                preds[..., args.bigwig_indexes], starts, stride, sizes,
                [f"t{t}" for t in args.bigwig_indexes],
            )  # fmt: skip

    return run_main(PROG, body)


if __name__ == "__main__":
    raise SystemExit(main())
