"""basenji_transfer.py: fine-tune a pretrained model (basenji_tf.transfer).

The successor library's (baskerville's) name for the same command as basenji_train.py:
its params file must have a ``transfer`` section; ``--skip_train`` prints the trainable
and total parameters per layer group and exits.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import make_parser, parse_args, run_main
from basenji_tf.cli._train import add_train_arguments, train

PROG = "basenji_transfer.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Fine-tune the --restore model on the data directories as the params' transfer "
        "section says (mode full, linear or adapter: lora, ia3, locon, houlsby, "
        "houlsby_se). Writes basenji_train.py's files; lora, ia3 and locon are merged, so "
        "model_best.h5 is a plain model of the output params.json.",
    )
    add_train_arguments(parser)
    parser.add_argument(
        "--skip_train",
        action="store_true",
        help="print the trainable and total parameters per layer group, and exit",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        from basenji_tf import transfer

        if not args.skip_train:
            transfer.read_transfer_params(args.params_file)
            train(args)
            return
        heads = args.heads if args.heads is not None else list(range(len(args.data_dirs)))
        counts = transfer.transfer_counts(args.params_file, args.restore, args.trunk, heads)
        print(transfer.format_counts(counts))

    return run_main(PROG, body)


if __name__ == "__main__":
    raise SystemExit(main())
