"""Why a model predicts what it does: attribution of predictions to input bases.

* :mod:`.attribution`: one interface, :func:`~.attribution.attribute`, to saliency, input x
  gradient, integrated and expected gradients, and DeepLIFT/DeepSHAP, with the
  hypothetical contributions TF-MoDISco reads (docs/interpretation.md).
* :mod:`.deeplift`: DeepLIFT's rules, switched on for one model while attributing.
* :mod:`.motifs`: ``basenji_motifs.py``, first-layer filters as motifs and their database
  matches; :mod:`.motifs_inject`: ``basenji_motifs_inject.py``, motifs inserted into
  background windows and their predicted effects.

The names below load nothing heavy, so command parsers can offer them as choices.
"""

METHODS = (
    "saliency",
    "input_x_gradient",
    "integrated_gradients",
    "expected_gradients",
    "deepshap",
)
"""Attribution methods, as ``--method`` names them."""

BASELINES = ("zeros", "shuffle")
"""Baselines of integrated gradients (``--baseline``)."""
