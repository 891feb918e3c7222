#!/usr/bin/env python3
from basenji_tf.cli.basenji_modisco import main

if __name__ == "__main__":
    raise SystemExit(main())
