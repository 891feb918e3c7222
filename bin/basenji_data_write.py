#!/usr/bin/env python3
from basenji_tf.cli.basenji_data_write import main

if __name__ == "__main__":
    raise SystemExit(main())
