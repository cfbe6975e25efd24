"""The round's random numbers, drawn exactly as the reference draws them: numpy's own PCG64
Generator seeded from SHA-256 words of a seed string. The block hash and public key go into the
strings verbatim (the chain prints the hash in uppercase hex, the key in lowercase hex)."""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np


INPUT_HASHES = 4  # SHA-256 digests of an input seed; a permutation seed has one
PERMUTATION_HASHES = 1


def entropy(seed: str, num_hashes: int) -> bytes:
    """sha256(f"{seed}_{i}") for i < num_hashes: SeedSequence's words, read as little-endian uint32."""
    return b"".join(hashlib.sha256(f"{seed}_{i}".encode()).digest() for i in range(num_hashes))


def rng(seed: str, num_hashes: int = INPUT_HASHES) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(np.frombuffer(entropy(seed, num_hashes), dtype="<u4")))


def input_seed(block_hash: str, public_key: str, nonce: int) -> str:
    return f"{block_hash}_{public_key}_nonce{nonce}"


def permutation_seed(block_hash: str, public_key: str, nonce: int) -> str:
    return f"{block_hash}_{public_key}_nonce_{nonce}_permutations"


def fill_inputs(out: np.ndarray, block_hash: str, public_key: str, nonces: Sequence[int]) -> np.ndarray:
    """Each nonce's embeddings, (seq_len, dim) standard normals drawn in float64, into float32 `out`
    of shape (len(nonces), seq_len, dim)."""
    shape = out.shape[1:]
    for row, nonce in zip(out, nonces):
        row[...] = rng(input_seed(block_hash, public_key, nonce)).standard_normal(shape)
    return out


def inputs(block_hash: str, public_key: str, nonces: Sequence[int], seq_len: int, dim: int) -> np.ndarray:
    return fill_inputs(np.empty((len(nonces), seq_len, dim), np.float32), block_hash, public_key, nonces)


def _permutation_rng(block_hash: str, public_key: str, nonce: int) -> np.random.Generator:
    return rng(permutation_seed(block_hash, public_key, nonce), PERMUTATION_HASHES)


def permutation(block_hash: str, public_key: str, nonce: int, vocab_size: int) -> np.ndarray:
    """Where each logit goes: new[j] = logits[perm[j]]."""
    return _permutation_rng(block_hash, public_key, nonce).permutation(vocab_size)


def permuted(logits: np.ndarray, block_hash: str, public_key: str, nonces: Sequence[int]) -> np.ndarray:
    """Each nonce's row of logits (len(nonces), vocab) permuted as `permutation` says, as float64.

    The Generator's shuffle makes the same swaps whatever the values are, so shuffling the row itself
    gives logits[perm] without the index array and the gather (float64: numpy's fast 8-byte swaps)."""
    rows = np.array(logits, dtype=np.float64, order="C")  # rows of their own, whatever logits' layout
    for row, nonce in zip(rows, nonces):
        _permutation_rng(block_hash, public_key, nonce).shuffle(row)
    return rows


def distances(rows: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The distance of each permuted row of logits, scaled to unit length, to the target; in place.

    Normalised in float64 where the reference does it in float32: the two differ by float32's
    rounding (~1e-8 in a distance), far inside the 1e-6 the validators allow."""
    rows /= np.sqrt(np.einsum("ij,ij->i", rows, rows))[:, None]
    rows -= target
    return np.sqrt(np.einsum("ij,ij->i", rows, rows))


def target(block_hash: str, vocab_size: int) -> np.ndarray:
    """The round's target: a uniform unit vector in R^vocab (float64), the same for every host."""
    y = rng(f"{block_hash}_target", 1).standard_normal((1, vocab_size))
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    return y[0]
