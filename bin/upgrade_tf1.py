#!/usr/bin/env python3
from basenji_tf.cli.upgrade_tf1 import main

if __name__ == "__main__":
    raise SystemExit(main())
