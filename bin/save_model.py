#!/usr/bin/env python3
from basenji_tf.cli.save_model import main

if __name__ == "__main__":
    raise SystemExit(main())
