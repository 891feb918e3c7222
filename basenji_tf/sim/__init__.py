"""The ground-truth simulator: two related genomes, regulatory grammar, tracks, variants.

:func:`basenji_tf.sim.pipeline.simulate` writes a human-like and a mouse-like genome whose
coverage tracks are a known function of their sequence, so that a model trained on them
can be checked against the truth (accuracy on held-out chromosomes, variant effects).

Modules, from the bottom up:

* :mod:`~basenji_tf.sim.motifs`: transcription factor motifs and their log-odds matrices;
* :mod:`~basenji_tf.sim.config`: tracks, cell types, true-model constants, genome sizes;
* :mod:`~basenji_tf.sim.true_model`: sequence -> expected and sampled coverage (the
  formulas);
* :mod:`~basenji_tf.sim.genomes`: the human-like genome with planted elements and genes,
  and the mouse-like genome assembled from its orthologous segments;
* :mod:`~basenji_tf.sim.effects`: variants planted on the test chromosomes and their true
  effects;
* :mod:`~basenji_tf.sim.writers`: FASTA, BED, GTF, targets, BigWig, VCF and net files;
* :mod:`~basenji_tf.sim.pipeline`: :func:`~basenji_tf.sim.pipeline.simulate`, which runs
  it all.

Differences from the original: Basenji has no simulator. Tracks here are unstranded
(one CAGE track per cell type, no ``strand_pair`` column), and enhancers act on every
promoter within range (no insulation by CTCF).
"""
