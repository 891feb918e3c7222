"""basenji-tf: Basenji and Basenji2 on Keras 3 / TensorFlow.

Modules, with imports running downward only (see docs/architecture.md):

* tools: train, evaluate, variants, export, data, sim, plots
* model wing: seqnn -> blocks -> layers; weights (legacy HDF5 files); metrics
* data wing: tfrecords, targets, genome -> dna
"""

__version__ = "0.1.0"
