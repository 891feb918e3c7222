"""Which model outputs a scoring command reports, and how predictions become targets.

Differences from the original (``basenji_sad.py``): a targets table without a
``clip_soft`` column skips the soft-clip un-transformation (the original raises an
AttributeError).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from basenji_tf.errors import InputError
from basenji_tf.targets import read_targets, strand_pairs


@dataclass
class TargetSet:
    """Which model outputs to score and how to turn predictions into reported targets.

    Attributes:
        ids, labels: one per reported target (after strand collapsing).
        slice: model output channels to keep (None: all).
        strand_pair: for each kept channel, the kept channel of its other strand (None: no
            pairs); reverse-complement ensemble members swap these columns.
        clip_soft: per kept channel, the soft-clip threshold to undo (None: skip).
        sqrt_mask: per kept channel, whether to undo a ``*_sqrt`` transform.
        collapse: [kept, reported] 0/1 matrix summing + and - strands (None: identity).
    """

    ids: list[str]
    labels: list[str]
    slice: np.ndarray | None = None
    strand_pair: np.ndarray | None = None
    clip_soft: np.ndarray | None = None
    sqrt_mask: np.ndarray | None = None
    collapse: np.ndarray | None = None

    @classmethod
    def all_outputs(cls, num_targets: int) -> TargetSet:
        """Every output, named ``t0, t1, ...`` with empty labels (no targets table)."""
        return cls([f"t{i}" for i in range(num_targets)], [""] * num_targets)

    @classmethod
    def from_table(cls, path: str) -> TargetSet:
        """Targets table -> slice, strand pairs re-indexed to the slice, un-transform."""
        table = read_targets(path)
        index = np.asarray(table.index)
        strand_pair = _slice_pairs(table, index, path)
        clip_soft = None
        if "clip_soft" in table.columns:
            clip_soft = table["clip_soft"].to_numpy(dtype=np.float64)
        sum_stat = table["sum_stat"] if "sum_stat" in table.columns else [""] * len(table)
        identifiers = [str(x) for x in table["identifier"]]
        descriptions = (
            [str(x) for x in table["description"]]
            if "description" in table.columns
            else [""] * len(table)
        )
        keep, collapse = _strand_collapse(identifiers, strand_pair, path)
        return cls(
            ids=[identifiers[i] for i in keep],
            labels=[descriptions[i] for i in keep],
            slice=index,
            strand_pair=strand_pair,
            clip_soft=clip_soft,
            sqrt_mask=np.array(["_sqrt" in str(s) for s in sum_stat]),
            collapse=collapse,
        )

    def check_outputs(self, num_outputs: int, source: str, head: int) -> None:
        """Raise unless every kept channel is one of a head's ``num_outputs`` outputs."""
        if self.slice is None:
            return
        if self.slice.max() >= num_outputs or self.slice.min() < 0:
            raise InputError(
                f"{source}: index {int(self.slice.max())} is not an output of head "
                f"{head} ({num_outputs} outputs); use the targets table of this head"
            )

    def transform(self, preds: np.ndarray) -> np.ndarray:
        """Un-transform and strand-collapse ensemble predictions.

        Args:
            preds: float32 [..., kept channels].

        Returns:
            float32 [..., len(ids)].
        """
        if self.clip_soft is not None:
            cs = self.clip_soft.astype(preds.dtype)
            preds = np.where(preds > cs, cs - 1 + (preds - cs + 1) ** 2, preds)
        if self.sqrt_mask is not None and self.sqrt_mask.any():
            preds = preds.copy()
            preds[..., self.sqrt_mask] = -1 + (preds[..., self.sqrt_mask] + 1) ** (4 / 3)
        if self.collapse is not None:
            preds = preds @ self.collapse
        return preds


def _slice_pairs(table: pd.DataFrame, index: np.ndarray, path: str) -> np.ndarray | None:
    """The table's strand pairs (model output indexes) as positions in the table."""
    pairs = strand_pairs(table)
    if pairs is None:
        return None
    position = {channel: i for i, channel in enumerate(index)}
    try:
        return np.array([position[c] for c in pairs])
    except KeyError as err:
        raise InputError(
            f"{path}: strand_pair {err.args[0]} is not an index of the table; every "
            "strand's pair must be listed too"
        ) from None


def _strand_collapse(
    identifiers: list[str], strand_pair: np.ndarray | None, path: str
) -> tuple[list[int], np.ndarray | None]:
    """Rows kept as reported targets, and the [rows, kept] matrix summing strands.

    The original's ``targets_prep_strand``: a target paired with another is stranded by
    the last character of its identifier; '-' rows are summed into their '+' partner.
    """
    keep = []
    collapse_cols = {}
    for i, identifier in enumerate(identifiers):
        stranded = strand_pair is not None and strand_pair[i] != i
        if stranded and identifier.endswith("-"):
            continue
        collapse_cols[i] = len(keep)
        keep.append(i)
    if strand_pair is None or len(keep) == len(identifiers):
        return keep, None
    collapse = np.zeros((len(identifiers), len(keep)), dtype=np.float32)
    for i, identifier in enumerate(identifiers):
        col = collapse_cols.get(i, collapse_cols.get(int(strand_pair[i])))
        if col is None:
            raise InputError(
                f"{path}: {identifier} and its strand pair are both '-' strands; "
                "one of a pair must end in '+'"
            )
        collapse[i, col] = 1
    return keep, collapse
