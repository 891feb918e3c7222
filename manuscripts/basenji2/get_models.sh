#!/usr/bin/env bash
# Download the released Basenji2 weights (Keras-2 HDF5 files, ~120 MB each).
set -euo pipefail
mkdir -p models
for species in human mouse; do
  curl -fL -o "models/model_${species}.h5" \
    "https://storage.googleapis.com/basenji_barnyard2/model_${species}.h5"
done
