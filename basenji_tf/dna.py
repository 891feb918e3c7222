"""DNA encodings: one-hot, base indexes, reverse complement, shifts.

Conventions shared by every module (and by the original Basenji files):

* channel order A, C, G, T, so the complement of a one-hot row is the same row
  with its channels reversed;
* base index encoding A0 C1 G2 T3, anything else (N, IUPAC codes, gaps) 4;
* an unknown base is an all-zero row in training data, or 0.25 in each channel where
  ``n_uniform=True`` (variant scoring inputs, as in the original ``basenji_sad.py``).

Arrays are ``[length, 4]`` (one sequence) or ``[batch, length, 4]``; lengths are in bp.
"""

from __future__ import annotations

import numpy as np

BASES = "ACGT"
N_INDEX = 4

# Byte value -> base index; upper and lower case map alike, everything else to N.
_INDEX_OF_BYTE = np.full(256, N_INDEX, dtype=np.uint8)
for _i, _b in enumerate(BASES):
    _INDEX_OF_BYTE[ord(_b)] = _i
    _INDEX_OF_BYTE[ord(_b.lower())] = _i

_COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")
_LETTER_OF_INDEX = np.frombuffer(b"ACGTN", dtype=np.uint8)


def dna_index(seq: str) -> np.ndarray:
    """Encode a DNA string as base indexes.

    Args:
        seq: DNA string of length L (any case).

    Returns:
        uint8 array [L]: A0 C1 G2 T3, any other character 4.
    """
    return _INDEX_OF_BYTE[np.frombuffer(seq.encode("ascii"), dtype=np.uint8)]


def index_dna(index: np.ndarray) -> str:
    """Decode base indexes [L] (codes 0-4) to an upper-case DNA string (4 is N)."""
    return _LETTER_OF_INDEX[np.asarray(index)].tobytes().decode()


def index_rc(index: np.ndarray) -> np.ndarray:
    """Reverse complement of base indexes.

    Args:
        index: integer array [L] of codes 0-4.

    Returns:
        uint8 array [L]: reversed, A<->T and C<->G swapped, N (4) kept.
    """
    index = np.asarray(index)[::-1]
    out = (3 - index).astype(np.uint8)
    out[index == N_INDEX] = N_INDEX
    return out


def index_1hot(
    index: np.ndarray, n_uniform: bool = False, dtype: np.typing.DTypeLike = np.float32
) -> np.ndarray:
    """One-hot encode base indexes.

    Args:
        index: integer array [..., L] of codes 0-4.
        n_uniform: encode code 4 as 0.25 in every channel instead of all zeros.
        dtype: output dtype.

    Returns:
        array [..., L, 4].
    """
    table = np.eye(5, 4, dtype=dtype)
    if n_uniform:
        table[N_INDEX] = 0.25
    return table[np.asarray(index)]


def dna_1hot(
    seq: str, n_uniform: bool = False, dtype: np.typing.DTypeLike = np.float32
) -> np.ndarray:
    """One-hot encode a DNA string as a [L, 4] array (A, C, G, T channels)."""
    return index_1hot(dna_index(seq), n_uniform=n_uniform, dtype=dtype)


def hot1_index(seq_1hot: np.ndarray) -> np.ndarray:
    """Inverse of :func:`index_1hot`: rows with no single 1 (N rows) become 4.

    Args:
        seq_1hot: array [..., L, 4].

    Returns:
        uint8 array [..., L].
    """
    seq_1hot = np.asarray(seq_1hot)
    index = np.argmax(seq_1hot, axis=-1).astype(np.uint8)
    is_base = (seq_1hot.max(axis=-1) == 1) & (seq_1hot.sum(axis=-1) == 1)
    index[~is_base] = N_INDEX
    return index


def hot1_dna(seq_1hot: np.ndarray) -> str:
    """Decode a [L, 4] one-hot array to a string (N where the row is not one-hot)."""
    return index_dna(hot1_index(seq_1hot))


def dna_rc(seq: str) -> str:
    """Reverse complement of a DNA string (A<->T, C<->G, N and others kept)."""
    return seq.translate(_COMPLEMENT)[::-1]


def hot1_rc(seq_1hot: np.ndarray) -> np.ndarray:
    """Reverse complement of one-hot sequences [..., L, 4]: flip length and channels."""
    return np.asarray(seq_1hot)[..., ::-1, ::-1]


def hot1_shift(seq_1hot: np.ndarray, shift: int, pad_value: float = 0.0) -> np.ndarray:
    """Shift one-hot sequences along the length axis, padding with ``pad_value``.

    A positive shift moves the sequence right: ``shift`` padding rows enter at the start
    and the last ``shift`` positions are dropped; a negative shift moves it left.

    Args:
        seq_1hot: array [..., L, 4].
        shift: bp to move; |shift| < L.
        pad_value: value of every channel in padding rows (0 = N in training data).

    Returns:
        array of the same shape and dtype.
    """
    seq_1hot = np.asarray(seq_1hot)
    if shift == 0:
        return seq_1hot.copy()
    length = seq_1hot.shape[-2]
    if abs(shift) >= length:
        raise ValueError(f"shift {shift} must be shorter than the sequence ({length} bp)")
    out = np.full_like(seq_1hot, pad_value)
    if shift > 0:
        out[..., shift:, :] = seq_1hot[..., :-shift, :]
    else:
        out[..., :shift, :] = seq_1hot[..., -shift:, :]
    return out


def hot1_augment(seq_1hot: np.ndarray, fwdrc: bool = True, shift: int = 0) -> np.ndarray:
    """Shift, then reverse complement if ``fwdrc`` is False (the original's order)."""
    out = hot1_shift(seq_1hot, shift)
    return out if fwdrc else hot1_rc(out)


def hot1_delete(seq_1hot: np.ndarray, pos: int, delete_len: int) -> np.ndarray:
    """Delete ``delete_len`` bp at ``pos`` and fill the freed end with N rows.

    The length is kept: bases after the deletion move left.
    """
    out = np.zeros_like(seq_1hot)
    kept = np.concatenate([seq_1hot[:pos], seq_1hot[pos + delete_len :]])
    out[: len(kept)] = kept
    return out


def hot1_insert(seq_1hot: np.ndarray, pos: int, insert_seq: str) -> np.ndarray:
    """Insert ``insert_seq`` at ``pos`` keeping the length (bases past the end drop off)."""
    inserted = dna_1hot(insert_seq, dtype=seq_1hot.dtype)
    joined = np.concatenate([seq_1hot[:pos], inserted, seq_1hot[pos:]])
    return joined[: len(seq_1hot)]


def dna_length_1hot(seq: str, length: int, n_uniform: bool = False) -> np.ndarray:
    """One-hot encode ``seq`` normalised to ``length`` bp around its centre.

    Longer sequences lose ``(len - length) // 2`` bp on the left and the rest on the
    right; shorter ones get ``(length - len) // 2`` N rows in front and the rest behind
    (how the original centres indel alleles for variant scoring).

    Returns:
        float32 array [length, 4].
    """
    if len(seq) > length:
        trim = (len(seq) - length) // 2
        seq = seq[trim : trim + length]
    elif len(seq) < length:
        pad = length - len(seq)
        seq = "N" * (pad // 2) + seq + "N" * (pad - pad // 2)
    return dna_1hot(seq, n_uniform=n_uniform)


def dinuc_shuffle(seq_1hot: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random sequence with the same dinucleotide counts (Altschul-Erickson, Euler path).

    Every maximal run of bases (rows that are exactly one-hot) is shuffled on its own, and
    the other rows (N: all zeros, or 0.25 each) stay where they are. A run keeps its first
    and last base, so the count of every dinucleotide over A, C, G, T and N, including
    those that touch an N, is exactly that of ``seq_1hot``; so is each base's count.

    Within a run the shuffle is uniform over the sequences with its dinucleotide counts
    (Kandel et al. 1996): each base's last exit is drawn as a random arborescence toward
    the run's last base, the other exits are permuted, and the Euler path is walked.

    Args:
        seq_1hot: one sequence [L, 4].
        rng: the random generator (the result is a function of its state).

    Returns:
        array [L, 4] of the same dtype: rows of ``seq_1hot`` in a new order.
    """
    seq_1hot = np.asarray(seq_1hot)
    index = hot1_index(seq_1hot)
    order = np.arange(len(index))
    is_base = np.concatenate([[0], index != N_INDEX, [0]]).astype(np.int8)
    bounds = np.flatnonzero(np.diff(is_base))
    for start, end in zip(bounds[::2], bounds[1::2]):
        if end - start > 2:
            order[start:end] = start + _euler_order(index[start:end], rng)
    return seq_1hot[order]


def _euler_order(codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Positions of ``codes`` (base indexes 0-3, length > 2) in a dinucleotide shuffle.

    The edges of the walk are the original dinucleotides, each named by the position it
    lands on; the walk starts at position 0 and ends on the last base.
    """
    last = int(codes[-1])
    landing = np.arange(1, len(codes))
    exits = [landing[codes[:-1] == v] for v in range(4)]
    # a self-loop is never in an arborescence: the last exit is drawn among the others
    away = [e[codes[e] != v] for v, e in enumerate(exits)]
    while True:
        chosen = {v: int(rng.choice(away[v])) for v in range(4) if v != last and len(exits[v])}
        if all(_reaches(v, chosen, codes, last) for v in chosen):
            break
    walks = []
    for v in range(4):
        rest = exits[v]
        if v in chosen:
            rest = rest[rest != chosen[v]]
        rest = rng.permutation(rest)
        walks.append(iter((np.append(rest, chosen[v]) if v in chosen else rest).tolist()))
    codes_list = codes.tolist()
    order = [0]
    vertex = codes_list[0]
    for _ in range(len(codes) - 1):
        position = next(walks[vertex])
        order.append(position)
        vertex = codes_list[position]
    return np.array(order)


def _reaches(vertex: int, chosen: dict[int, int], codes: np.ndarray, last: int) -> bool:
    """Whether following the chosen last exits from ``vertex`` arrives at ``last``."""
    for _ in range(len(chosen)):
        vertex = int(codes[chosen[vertex]])
        if vertex == last:
            return True
    return False
