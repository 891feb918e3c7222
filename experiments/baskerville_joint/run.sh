#!/usr/bin/env bash
# Joint human + mouse training of a small Basenji2-style model on the real baskerville
# tiny data (one head per species, shared trunk), then per-head test accuracy.
# Usage: experiments/baskerville_joint/run.sh [out_dir]   (from the repository root)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
data="$repo/data/baskerville_tiny/tiny"
out="${1:-$here/out}"

python "$repo/bin/basenji_train.py" --seed 44 -o "$out/train" \
    "$here/params.json" "$data/hg38" "$data/mm10"

python "$repo/bin/basenji_test.py" --rc --peaks -o "$out/test_hg38" \
    "$here/params.json" "$out/train/model0_best.h5" "$data/hg38"
python "$repo/bin/basenji_test.py" --rc --peaks --head 1 -o "$out/test_mm10" \
    "$here/params.json" "$out/train/model1_best.h5" "$data/mm10"
