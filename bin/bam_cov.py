#!/usr/bin/env python3
from basenji_tf.cli.bam_cov import main

if __name__ == "__main__":
    raise SystemExit(main())
