"""Why a model predicts what it does: attribution of predictions to input bases.

* :mod:`.attribution`: one interface, :func:`~.attribution.attribute`, to saliency, input x
  gradient, integrated and expected gradients, and DeepLIFT/DeepSHAP, with the
  hypothetical contributions TF-MoDISco reads (docs/interpretation.md).
* :mod:`.deeplift`: DeepLIFT's rules, switched on for one model while attributing.

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
