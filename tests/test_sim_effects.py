"""sim.effects: true variant effects from the chunked model equal whole-chromosome runs."""

import numpy as np
import pytest

from basenji_tf.dna import dna_index
from basenji_tf.sim.config import SIZES, SPECIES_TRACKS
from basenji_tf.sim.effects import variant_effect
from basenji_tf.sim.genomes import build_human
from basenji_tf.sim.true_model import TrueModel


@pytest.mark.parametrize("offset, ref_len, alt_seq", [(2, 4, "A"), (-3, 1, "ACGTT")])
def test_chunked_effect_equals_whole_chromosome(offset, ref_len, alt_seq):
    """A deletion in a planted site, an insertion beside it; with and without cumsums."""
    human, _ = build_human(SIZES["tiny"], seed=1)
    index = human.chrom("chr4").index
    model = TrueModel(SPECIES_TRACKS["human"])
    ref_sites = model.scan(index)
    ref = model.expected(ref_sites)
    ref_cumsum = np.concatenate([np.zeros((1, ref.shape[1])), np.cumsum(ref, axis=0)])
    half = model.params.effect_half_window_bp
    chr4_sites = [s for s in human.sites if s.chrom == "chr4"]
    pos0 = chr4_sites[len(chr4_sites) // 2].start + offset
    alt_index = dna_index(alt_seq)
    joined = np.concatenate([index[:pos0], alt_index, index[pos0 + ref_len :]])
    alt = model.expected(model.scan(joined))
    shift = len(alt_seq) - ref_len
    truth = alt[pos0 - half : pos0 + half + shift].sum(0) - ref[pos0 - half : pos0 + half].sum(0)
    for cumsum in (None, ref_cumsum):
        effect, _ = variant_effect(model, index, ref_sites, pos0, ref_len, alt_index, cumsum)
        np.testing.assert_allclose(effect, truth, rtol=1e-6, atol=1e-6)
    assert np.abs(truth).max() > 1.0
