"""basenji-tf: Basenji and Basenji2 on Keras 3 / TensorFlow.

Modules, with imports running downward only (see docs/architecture.md):

* tools: train, evaluate, variants, export, data, sim, demo, plots
* model wing: seqnn -> blocks -> layers; params, weights, metrics
* data wing: tfrecords, targets, genome -> dna
"""

import os

# Keep TensorFlow's C++ info and warning logs out of every command's output (errors stay).
# Set TF_CPP_MIN_LOG_LEVEL yourself to override. Two start-up lines (oneDNN, absl) are
# printed before TensorFlow reads the variable and still appear.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
