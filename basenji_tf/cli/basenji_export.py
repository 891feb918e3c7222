"""basenji_export.py: export a trained model as a TensorFlow SavedModel."""

from __future__ import annotations

from collections.abc import Sequence

from basenji_tf.cli._common import comma_ints, make_parser, parse_args, run_main

PROG = "basenji_export.py"


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser(PROG, "Export a model (optionally ensembled) as a TF SavedModel "
                               "with a serving signature over float32 [batch, seq_length, 4].")
    parser.add_argument("params_file", help="params JSON the model was trained with")
    parser.add_argument("model_file", help="weights (.h5 of the original or ours, or .keras)")
    parser.add_argument("out_dir", help="SavedModel directory to write")
    parser.add_argument("--head", dest="head_i", type=int, default=0, help="head index")
    parser.add_argument("--rc", action="store_true", help="average with reverse complements")
    parser.add_argument("--shifts", type=comma_ints, default=[0], help="ensemble shifts (bp)")
    parser.add_argument("--trunk", action="store_true", help="model_file holds the trunk only")
    args = parse_args(parser, argv)

    def body():
        from basenji_tf.export import export_saved_model
        from basenji_tf import seqnn

        model = seqnn.load(args.params_file, args.model_file, args.head_i, trunk=args.trunk)
        export_saved_model(model, args.out_dir, head_i=args.head_i,
                           ensemble_rc=args.rc, ensemble_shifts=args.shifts)
        print(f"wrote {args.out_dir}")

    return run_main(PROG, body)
