"""basenji-tf: Basenji and Basenji2 on Keras 3 / TensorFlow.

Modules, with imports running downward only (see docs/architecture.md):

* commands: cli (one module per command)
* tools: train, checkpoint, optimizers, evaluate, export, scoring/ (variant effects,
  mutagenesis, region and genome-wide predictions), data, data_align, data_write, demo,
  legacy_params, legacy_data, sim/, plots
* model wing: seqnn -> blocks -> layers; params, weights, metrics
* data wing: tfrecords, dataset, targets, bam, genome -> dna
* used by all: errors, files, execute (how tasks run: here, local processes, Dask)
"""

import os

# Keep TensorFlow's C++ info and warning logs out of every command's output (errors stay).
# Set TF_CPP_MIN_LOG_LEVEL yourself to override. Two start-up lines (oneDNN, absl) are
# printed before TensorFlow reads the variable and still appear.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
