"""The round's random draws per nonce — input embeddings and the shuffle of the logits — in compiled
loops (gonka_tui/poc/_draws.c) that give numpy's bits exactly; seeds.py's numpy calls where that
extension is not built, or is turned off with GONKA_POC_DRAWS=numpy.

Why: a nonce at the "cpu" preset costs 8192 standard normals and a shuffle of 8192 logits. Here, per
item, numpy takes 5.7 ns a normal and 10 ns for the shuffle and distance; the compiled loops, a batch
of nonces a call, 2.0 and 3.2 ns (the CPU kernel does 6 % more nonces/s than with numpy's), and a
GPU's host side keeps up with more of the device.

The ziggurat's tables (a layer's width per unit of magnitude and the magnitude below which a draw
lies in its rectangle) are learned from numpy's own Generator, not copied: a PCG64 state is set so
that the generator's next 64-bit word is one we chose, and the normal numpy returns for it, and how
many words it took, give the layer's width and its bound. The densities at the layers' edges follow
from the widths. Before anything uses the tables, the compiled draws are compared, bit for bit, with
numpy's over a few hundred thousand normals and a shuffle; on any difference the numpy path serves.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from typing import Sequence

import numpy as np

from gonka_tui.poc import seeds

LAYERS = 256
MAGNITUDE_BITS = 52  # of a 64-bit word: 8 for the layer, 1 for the sign, 52 for the magnitude
_PCG_MULT = 0x2360ED051FC65DA44385DF649FCCF645
_PCG_MASK = (1 << 128) - 1
_PCG_MULT_INV = pow(_PCG_MULT, -1, 1 << 128)
_PROBE_INC = 1  # any odd increment: the probes choose the state, so the stream is theirs
_CHECK_SEEDS = 16  # streams of 8192 normals compared with numpy's before the tables are used
_WORDS_A_HASH = 8  # 32-bit words of entropy in a SHA-256 digest

_lock = threading.Lock()
_learned: tuple[object, bytes] | None | bool = False  # False: not tried yet; None: numpy serves


def _ext():
    from gonka_tui.poc import _draws  # ImportError where it was not built

    return _draws


def built() -> bool:
    """The extension was built (whether its tables reproduce numpy is `available`'s question)."""
    return importlib.util.find_spec("gonka_tui.poc._draws") is not None


# ----- the ziggurat's tables, learned from numpy -----

class _Probe:
    """A numpy Generator whose next 64-bit word can be chosen."""

    def __init__(self) -> None:
        self.bits = np.random.PCG64(0)
        self.gen = np.random.Generator(self.bits)

    def normal_after(self, word: int) -> tuple[float, int]:
        """numpy's standard normal when the generator's next word is `word`, and the words it took
        (0 when more than 2)."""
        # PCG64 steps, then outputs rotr(high ^ low, top 6 bits): a state whose high half is 1 outputs low ^ 1
        after = (1 << 64) | (word ^ 1)
        before = ((after - _PROBE_INC) * _PCG_MULT_INV) & _PCG_MASK
        self.bits.state = {"bit_generator": "PCG64", "state": {"state": before, "inc": _PROBE_INC},
                           "has_uint32": 0, "uinteger": 0}
        x = float(self.gen.standard_normal())
        now = self.bits.state["state"]["state"]
        second = (after * _PCG_MULT + _PROBE_INC) & _PCG_MASK
        return x, 1 if now == after else 2 if now == second else 0

    def in_rectangle(self, layer: int, magnitude: int) -> bool:
        """Whether numpy returns at once (one word) for this layer and magnitude, sign positive."""
        return self.normal_after(magnitude << 9 | layer)[1] == 1


def _bound(probe: _Probe, layer: int, guess: int) -> int:
    """The smallest magnitude outside the layer's rectangle: `guess` when the probes agree, else found by
    bisection."""
    top = 1 << MAGNITUDE_BITS
    if 0 <= guess <= top and (guess == 0 or probe.in_rectangle(layer, guess - 1)) and \
            (guess == top or not probe.in_rectangle(layer, guess)):
        return guess
    lo, hi = 0, top  # in_rectangle(lo - 1) holds (vacuously at 0), in_rectangle(hi) does not (or hi = top)
    while lo < hi:
        mid = (lo + hi) // 2
        if probe.in_rectangle(layer, mid):
            lo = mid + 1
        else:
            hi = mid
    return lo


def _learn_tables() -> bytes:
    """w, f (float64) and k (uint64), 256 each, as _draws.c's ziggurat struct; ValueError when numpy's
    draws do not fit the layout this module knows."""
    probe = _Probe()
    w = np.empty(LAYERS)
    for layer in range(LAYERS):
        x, words = probe.normal_after(1 << 9 | layer)  # magnitude 1: numpy returns the width itself
        if words == 0 or x <= 0:  # the top layer has no rectangle: one word more, for its wedge test
            raise ValueError(f"layer {layer}: numpy's normal took more than two words, or came out {x}")
        w[layer] = x
    edges = w * float(1 << MAGNITUDE_BITS)  # each layer's right edge
    # a layer's rectangle ends where the layer above it begins; the top layer (1) has none, and the
    # base's (0) holds the tail's area too, past the edge of the layer just above it (255)
    above = np.concatenate(([edges[LAYERS - 1], 0.0], edges[1:LAYERS - 1]))
    k = np.array([_bound(probe, layer, int(above[layer] / edges[layer] * (1 << MAGNITUDE_BITS)))
                  for layer in range(LAYERS)], dtype=np.uint64)
    f = np.exp(-0.5 * edges * edges)
    f[0] = 1.0  # the density at the peak: the top layer's wedge test reads it as the layer above's
    return w.tobytes() + f.tobytes() + k.tobytes()


def _agrees(ext, tables: bytes) -> bool:
    """The compiled draws give numpy's bits: normals (float64 and float32, one stream and a batch's
    interleaved streams), a shuffle; and a batch's distances equal numpy's to float64 rounding."""
    n = 8192
    out = np.empty(n)
    out32 = np.empty(n, np.float32)
    wants, entropies = [], []
    for i in range(_CHECK_SEEDS):
        e = seeds.entropy(f"gonka draws check {i}", seeds.INPUT_HASHES)
        ext.normals(e, tables, out, n, 8)
        ext.normals(e, tables, out32, n, 4)
        want = seeds.rng(f"gonka draws check {i}").standard_normal(n)
        if not (np.array_equal(out.view(np.uint64), want.view(np.uint64)) and np.array_equal(out32, want.astype(np.float32))):
            return False
        wants.append(want.astype(np.float32))
        entropies.append(e)
    batch = np.empty((_CHECK_SEEDS, n), np.float32)  # groups of streams and a group's remainder
    ext.inputs(b"".join(entropies), seeds.INPUT_HASHES * _WORDS_A_HASH, tables, batch, n)
    if not np.array_equal(batch, np.stack(wants)):
        return False
    perm = np.arange(n, dtype=np.int64)
    ext.shuffle(seeds.entropy("gonka draws check", 1), perm, n, 8)
    if not np.array_equal(perm, seeds.rng("gonka draws check", 1).permutation(n)):
        return False
    target = seeds.target("gonka draws check", n)
    got = np.empty(5)
    ext.distances(b"".join(seeds.entropy(f"gonka draws check {i}", seeds.PERMUTATION_HASHES) for i in range(5)),
                  seeds.PERMUTATION_HASHES * _WORDS_A_HASH, batch[:5], target, got)
    rows = batch[:5].astype(np.float64)
    for i, row in enumerate(rows):
        seeds.rng(f"gonka draws check {i}", seeds.PERMUTATION_HASHES).shuffle(row)
    return bool(np.abs(got - seeds.distances(rows, target)).max() < 1e-12)


def _tables() -> tuple[object, bytes] | None:
    global _learned
    if _learned is False:
        with _lock:
            if _learned is False:
                try:
                    ext = _ext()
                    tables = _learn_tables()
                    _learned = (ext, tables) if _agrees(ext, tables) else None
                except (ImportError, ValueError):
                    _learned = None
    return _learned


def _compiled() -> tuple[object, bytes] | None:
    """(the extension, its tables) where the compiled draws serve, else None."""
    if os.environ.get("GONKA_POC_DRAWS", "").strip().lower() == "numpy":
        return None
    return _tables()


def available() -> bool:
    """Built, its tables learned and checked against numpy, and not turned off with GONKA_POC_DRAWS=numpy."""
    return _compiled() is not None


def name() -> str:
    """What draws the numbers: "compiled" or "numpy" (for the bench's JSON)."""
    return "compiled" if available() else "numpy"


# ----- the draws a kernel needs -----

def fill_inputs(out: np.ndarray, block_hash: str, public_key: str, nonces: Sequence[int]) -> np.ndarray:
    """seeds.fill_inputs: each nonce's (seq_len, dim) embeddings into float32 `out` (len(nonces), seq_len, dim)."""
    if len(nonces) != out.shape[0]:
        raise ValueError(f"{len(nonces)} nonces for {out.shape[0]} rows of inputs")
    learned = _compiled()
    if learned is None or out.dtype != np.float32 or not out.flags.c_contiguous or out.ndim != 3:
        return seeds.fill_inputs(out, block_hash, public_key, nonces)
    ext, tables = learned
    entropies = b"".join(seeds.entropy(seeds.input_seed(block_hash, public_key, nonce), seeds.INPUT_HASHES)
                         for nonce in nonces)
    ext.inputs(entropies, seeds.INPUT_HASHES * _WORDS_A_HASH, tables, out, out.shape[1] * out.shape[2])
    return out


def inputs(block_hash: str, public_key: str, nonces: Sequence[int], seq_len: int, dim: int) -> np.ndarray:
    return fill_inputs(np.empty((len(nonces), seq_len, dim), np.float32), block_hash, public_key, nonces)


def distances(logits: np.ndarray, block_hash: str, public_key: str, nonces: Sequence[int],
              target: np.ndarray) -> np.ndarray:
    """Each nonce's row of logits (len(nonces), vocab), permuted as seeds.permutation says and scaled to unit
    length, to the round's float64 target: seeds.distances(seeds.permuted(...)). `logits` is not changed."""
    learned = _compiled()
    if learned is None:
        return seeds.distances(seeds.permuted(logits, block_hash, public_key, nonces), target)
    rows = np.ascontiguousarray(logits, dtype=np.float32)  # numpy's products hand over a transposed view
    target = np.ascontiguousarray(target, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[0] != len(nonces) or target.shape != (rows.shape[1],):
        raise ValueError(f"need (nonces, vocab) logits and a (vocab,) target, not {rows.shape} and {target.shape}")
    out = np.empty(len(nonces))
    entropies = b"".join(seeds.entropy(seeds.permutation_seed(block_hash, public_key, nonce), seeds.PERMUTATION_HASHES)
                         for nonce in nonces)
    learned[0].distances(entropies, seeds.PERMUTATION_HASHES * _WORDS_A_HASH, rows, target, out)
    return out
