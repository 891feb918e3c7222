#!/usr/bin/env bash
# Test the released weights on the held-out sequences with the metric settings pinned:
# per-track Pearson R and R2 pooled over all bins of all test sequences, then averaged
# (no ensembling in the first run; the paper's numbers also come without it).
set -euo pipefail
basenji_test.py --split test -o test_human \
  ../../models/params_basenji2_human.json models/model_human.h5 data/human
basenji_test.py --split test -o test_mouse \
  ../../models/params_basenji2_mouse.json models/model_mouse.h5 data/mouse
basenji_test.py --split test --rc --shifts 1,0,-1 -o test_human_ens \
  ../../models/params_basenji2_human.json models/model_human.h5 data/human
