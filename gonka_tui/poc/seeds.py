"""The round's random numbers, drawn exactly as the reference draws them: numpy's own PCG64
Generator seeded from SHA-256 words of a seed string. The block hash and public key go into the
strings verbatim (the chain prints the hash in uppercase hex, the key in lowercase hex)."""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np


def rng(seed: str, num_hashes: int = 4) -> np.random.Generator:
    """sha256(f"{seed}_{i}") for i < num_hashes, read as little-endian uint32 words, into SeedSequence."""
    words = b"".join(hashlib.sha256(f"{seed}_{i}".encode()).digest() for i in range(num_hashes))
    return np.random.default_rng(np.random.SeedSequence(np.frombuffer(words, dtype="<u4")))


def input_seed(block_hash: str, public_key: str, nonce: int) -> str:
    return f"{block_hash}_{public_key}_nonce{nonce}"


def fill_inputs(out: np.ndarray, block_hash: str, public_key: str, nonces: Sequence[int]) -> np.ndarray:
    """Each nonce's embeddings, (seq_len, dim) standard normals drawn in float64, into float32 `out`
    of shape (len(nonces), seq_len, dim)."""
    shape = out.shape[1:]
    for row, nonce in zip(out, nonces):
        row[...] = rng(input_seed(block_hash, public_key, nonce)).standard_normal(shape)
    return out


def inputs(block_hash: str, public_key: str, nonces: Sequence[int], seq_len: int, dim: int) -> np.ndarray:
    return fill_inputs(np.empty((len(nonces), seq_len, dim), np.float32), block_hash, public_key, nonces)


def permutation(block_hash: str, public_key: str, nonce: int, vocab_size: int) -> np.ndarray:
    """Where each logit goes: new[j] = logits[perm[j]]."""
    return rng(f"{block_hash}_{public_key}_nonce_{nonce}_permutations", 1).permutation(vocab_size)


def target(block_hash: str, vocab_size: int) -> np.ndarray:
    """The round's target: a uniform unit vector in R^vocab (float64), the same for every host."""
    y = rng(f"{block_hash}_target", 1).standard_normal((1, vocab_size))
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    return y[0]
