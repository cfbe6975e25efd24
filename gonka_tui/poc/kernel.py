"""The CPU kernel: PoC v1 distances of a batch of nonces with numpy, computing only what the
distance needs.

- Rows are kept nonce-major, (batch · seq_len, dim): each nonce's positions are one block of rows,
  so the attention of a few nonces reads rows close together (QKV and attention run over tiles of
  ATTENTION_TILE_ROWS, whose QKV stays in L2 between the two). The last layer computes keys and
  values for all rows but queries, attention, output projection and feed-forward for every nonce's
  last row alone (a strided view of the rows), and the output layer only for those.
- Per-row constants move into the weights once per round: RMSNorm gains are folded into the rows
  of the matrix that follows, and 1/sqrt(head_dim) into the query columns. The distances move by
  float32 rounding only (~1e-7), far inside the 1e-6 the validators' recomputation tolerates.
- Matrix products run over hundreds of rows at once (OpenBLAS packs the weight matrix on every call:
  a few rows per call would spend more time packing than multiplying), while the elementwise work
  between them runs over tiles of rows that stay in cache, every pass in place, float32 throughout.
- Where numpy's BLAS runs AVX-512 (and the compiled loops are built), the products are our own
  (`gemm`, fused_loops.matmul): weights packed once a round, and RMSNorm's factor, the FFN gate and
  the residual add applied to each tile of output while it is in registers — no normalised copy,
  no hidden activations of both halves, no zeroing of the output (10 % more nonces/s than numpy's
  matmul with the loops around it, alternating in one process on this workplace's EPYC).
- RoPE's pairs (2i, 2i+1) are complex numbers (x₂ᵢ + i·x₂ᵢ₊₁) rotated by cos + i·sin: one complex
  multiply pass over a complex64 view instead of six passes over every other float.
- SiLU(a)·b as (−a)·b / (1 + exp(−a)) with the signs folded into w1 and w2: four passes, not five.
- Each nonce's input embeddings and the shuffle of its logits are numpy's Generator draws, bit for
  bit, from compiled loops where they are built (gonka_tui/poc/draws.py: 0.4 of numpy's time for
  the normals and the shuffle with the distance).
- Several threads each run whole sub-batches with single-threaded BLAS: numpy releases the GIL in
  BLAS and in its ufuncs, and the compiled loops and draws release it too, so the elementwise work
  and the random numbers run in parallel, not only the matrix products.

Two paths for the work between the matrix products (RMSNorm, RoPE, attention, the FFN gate), with
the same projections around them:
- numpy (always there): the steps above, a few ufunc passes each, and attention as batched matrix
  products (the whole seq_len × seq_len square of scores, then the −inf mask).
- fused (`fused=True`, the default where the optional C extension gonka_tui.poc._fused was built
  and GONKA_POC_FUSED is not 0): one vectorised loop per step, with its own exp (gonka_tui/poc/fused.py
  has the figures); attention is one loop that turns queries and keys, scores only the key blocks
  each query sees, and leaves masked columns out instead of adding −inf. The distances differ from
  numpy's by float32 rounding only.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from gonka_tui.poc import blas, draws, seeds
from gonka_tui.poc import fused as fused_loops
from gonka_tui.poc.params import PocParams
from gonka_tui.poc.weights import Weights

SOFTMAX_SHIFT_ABOVE = 30.0  # exp(30)·seq_len stays far inside float32
FFN_TILE_BYTES = 256 * 1024  # numpy's gate, four passes: over sub-tiles this size, half of a core's L2
FFN_TILE_ROWS = 256  # rows per feed-forward tile: the gate reads numpy's product from cache (512 rows: 3 MB, 2 % fewer nonces/s)
ATTENTION_TILE_ROWS = 256  # whole nonces' rows per QKV product and attention: QKV stays in L2 for the attention


Matrix = np.ndarray | fused_loops.Packed


@dataclass
class _Layer:
    """A layer's matrices as the products take them: numpy arrays, or packed for our own products
    (fused_loops.Packed; then the last layer has wq and wkv, the others wqkv)."""

    wqkv: Matrix | None  # (dim, dim + 2·kv): attention-norm gain folded into rows, 1/sqrt(hd) into q
    wq: Matrix | None  # its query and key-value columns, for the last layer
    wkv: Matrix | None
    wo: Matrix
    w13: Matrix  # (dim, 2·hidden): ffn-norm gain folded into rows, w1 negated (packed: w1 and w3 interleaved)
    w2: Matrix  # negated: (−a)·b / (1 + exp(−a)) · (−w2) = silu(a)·b · w2


def _fold(w: Weights, isa: str | None) -> tuple[list[_Layer], Matrix]:
    """The layers with per-row constants folded in; packed for our own products in `isa` (only what
    each layer uses), one layer at a time, so that a round's folded copies are never all held."""
    p = w.params
    scale = np.float32(1.0 / np.sqrt(p.head_dim))
    layers = []
    for i, lw in enumerate(w.layers):
        wqkv = lw.wqkv * lw.attention_norm[:, None]
        wqkv[:, :p.dim] *= scale
        w13 = lw.w13 * lw.ffn_norm[:, None]
        w13[:, :p.ffn_hidden] *= np.float32(-1)  # negation is exact: the same numbers, other sign
        layer = _Layer(wqkv, wqkv[:, :p.dim], wqkv[:, p.dim:], lw.wo, w13, -lw.w2)
        if isa:
            pack, last, H = fused_loops.pack, i == len(w.layers) - 1, p.ffn_hidden
            layer = _Layer(None if last else pack(wqkv, isa), pack(layer.wq, isa) if last else None,
                           pack(layer.wkv, isa) if last else None, pack(lw.wo, isa),
                           fused_loops.pack_gate(w13[:, :H], w13[:, H:], isa), pack(layer.w2, isa))
        layers.append(layer)
    output = w.output * w.norm[:, None]
    return layers, fused_loops.pack(output, isa) if isa else output


def rope_tables(p: PocParams) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of position × frequency, (seq_len, head_dim/2), computed in float32 as the reference."""
    hd = p.head_dim
    freqs = np.float32(1.0) / (np.float32(p.rope_theta) ** (np.arange(0, hd, 2, dtype=np.float32) / np.float32(hd)))
    angles = np.outer(np.arange(p.seq_len, dtype=np.float32), freqs)
    return np.cos(angles), np.sin(angles)


class _Scratch:
    """One thread's buffers for batches of up to `batch` nonces."""

    def __init__(self, p: PocParams, batch: int, fused: bool, own_gemm: bool) -> None:
        S, D, kv, H = p.seq_len, p.dim, p.kv_dim, p.ffn_hidden
        M = S * batch
        self.h = np.empty((M, D), np.float32)  # the residual stream
        self.r = np.empty((M, 1), np.float32)  # RMSNorm factors
        self.qkv = np.empty((M, D + 2 * kv), np.float32)
        if not fused:  # turned queries and keys, and scores: the fused attention keeps its own, per head
            self.rot = np.empty((M, D + kv), np.float32)
            self.scores = np.empty((batch, p.n_heads, S, S), np.float32)
        self.att = np.empty((M, D), np.float32)
        ffn_rows = min(M, FFN_TILE_ROWS)  # the feed-forward's hidden activations, one tile at a time
        self.t = np.empty((ffn_rows, H), np.float32)
        if own_gemm:  # our products scale their rows, gate and add in place: no copies between them
            self.logits = np.empty((batch, p.vocab_size), np.float32)
        else:
            self.xn = np.empty((M, D), np.float32)
            self.proj = np.empty((M, D), np.float32)
            self.tile = max(1, min(M, FFN_TILE_BYTES // (8 * H)))
            self.ab = np.empty((ffn_rows, 2 * H), np.float32)


class CpuKernel:
    """Distances for one round (block hash and weights); any public key, any nonces. `threads`
    kernel threads, each with single-threaded BLAS (set around each call, process-wide).
    `fused`: the compiled elementwise loops (True), numpy's (False), or the first where built (None).
    `gemm` (fused only): "avx512" for our own matrix products, None for numpy's matmul, or "auto":
    fused_loops.gemm_isa(), ours where numpy's BLAS runs AVX-512 too."""

    device = "cpu"
    dtype = "float32"

    def __init__(self, weights: Weights, block_hash: str, *, batch: int = 32, threads: int = 1,
                 fused: bool | None = None, gemm: str | None = "auto") -> None:
        if fused is None:
            fused = fused_loops.available()
        elif fused and not fused_loops.built():
            raise RuntimeError("the compiled kernel loops (gonka_tui.poc._fused) are not built: "
                               "reinstall the package with a C compiler, or use fused=False")
        self.fused = bool(fused)
        self.params = p = weights.params
        self.block_hash = block_hash
        self.batch, self.threads = max(1, batch), max(1, threads)
        self.flops_per_nonce = p.flops_per_nonce(causal=self.fused)  # what this kernel's products compute
        if gemm == "auto":
            gemm = fused_loops.gemm_isa() if self.fused else None
        elif gemm is not None and (not self.fused or gemm not in fused_loops.gemm_isas()):
            raise RuntimeError(f"our own matrix products in {gemm} need the compiled loops and a processor that "
                               f"runs {gemm} (this one: {', '.join(fused_loops.gemm_isas()) or 'none'})")
        self.gemm = gemm
        self.layers, output = _fold(weights, gemm)
        if gemm:
            self.output = output
        else:
            self.output_t = np.ascontiguousarray(output.T)  # (vocab, dim)
        cos, sin = rope_tables(p)
        self.turns = (cos + 1j * sin).astype(np.complex64)  # (seq_len, head_dim/2)
        self.turns_f32 = self.turns.view(np.float32)  # (seq_len, head_dim): cos, sin interleaved
        self.target = seeds.target(block_hash, p.vocab_size)
        self.mask = np.triu(np.full((p.seq_len, p.seq_len), -np.inf, np.float32), 1)
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(self.threads) if self.threads > 1 else None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)

    def distances(self, public_key: str, nonces: Sequence[int]) -> np.ndarray:
        """float64 distance of each nonce to the round's target, in the order given."""
        nonces = [int(n) for n in nonces]
        chunks = [nonces[i:i + self.batch] for i in range(0, len(nonces), self.batch)]
        with blas.limited(1):
            if self._pool is None or len(chunks) == 1:
                parts = [self._chunk(public_key, c) for c in chunks]
            else:
                parts = list(self._pool.map(lambda c: self._chunk(public_key, c), chunks))
        return np.concatenate(parts) if parts else np.empty(0)

    # ----- one batch, in one thread -----

    def _scratch(self) -> _Scratch:
        s = getattr(self._local, "scratch", None)
        if s is None:
            s = self._local.scratch = _Scratch(self.params, self.batch, self.fused, self.gemm is not None)
        return s

    def _chunk(self, public_key: str, nonces: list[int]) -> np.ndarray:
        p, sc = self.params, self._scratch()
        B, S = len(nonces), p.seq_len
        h = sc.h[:B * S]  # nonce-major: nonce b's position j is row b·S + j
        draws.fill_inputs(h.reshape(B, S, p.dim), self.block_hash, public_key, nonces)
        tile = max(1, ATTENTION_TILE_ROWS // S)  # nonces
        for layer in self.layers[:-1]:
            for first in range(0, B, tile):
                self._attention(sc, layer, h[first * S:min(B, first + tile) * S], last_only=False)
            self._ffn(sc, layer, h)
        last = self.layers[-1]
        self._attention(sc, last, h, last_only=True)
        tail = h[S - 1::S]  # every nonce's last position
        self._ffn(sc, last, tail)
        if self.gemm:
            x, r = self._normed(sc, tail, B)
            logits = fused_loops.matmul(x, self.output, sc.logits[:B], scale=r)
        else:
            xn = self._norm(sc, tail, B)
            # (vocab, B) = outputᵀ · xnᵀ: OpenBLAS's AVX-512 kernel runs this shape ~1.7× as fast as xn · output
            logits = np.matmul(self.output_t, xn.T).T  # (B, vocab), a transposed view
        return self._distances(public_key, nonces, logits)

    def _normed(self, sc: _Scratch, x: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray | None]:
        """RMSNorm of x's rows as `_product` takes it: (x, each row's factor) for our own products,
        which scale their output rows by it; (a normalised copy, None) for numpy's."""
        if self.gemm:
            return x, fused_loops.rms_factors(x, sc.r[:n, 0], self.params.norm_eps)
        return self._norm(sc, x, n), None

    def _product(self, sc: _Scratch, x: np.ndarray, r: np.ndarray | None, w: Matrix, out: np.ndarray, *,
                 add: bool = False) -> None:
        """out = x·w, or out += x·w (`add`), x's rows scaled by r where given (our own products)."""
        if self.gemm:
            fused_loops.matmul(x, w, out, scale=r, add=add)
        elif add:
            out += np.matmul(x, w, out=sc.proj[:x.shape[0]])
        else:
            np.matmul(x, w, out=out)

    def _norm(self, sc: _Scratch, x: np.ndarray, n: int) -> np.ndarray:
        """x · rsqrt(mean(x²) + eps) into sc.xn (the gain is in the next matrix)."""
        if self.fused:
            return fused_loops.rmsnorm(x, sc.xn[:n], self.params.norm_eps)
        r = sc.r[:n]
        np.einsum("ij,ij->i", x, x, out=r[:, 0])
        r *= np.float32(1.0 / self.params.dim)
        r += np.float32(self.params.norm_eps)
        np.sqrt(r, out=r)
        np.reciprocal(r, out=r)
        return np.multiply(x, r, out=sc.xn[:n])

    def _attention(self, sc: _Scratch, layer: _Layer, h: np.ndarray, *, last_only: bool) -> None:
        """h += wo(attention(attention_norm(h))) over the rows of whole nonces in h; `last_only`: the
        queries, attention and output projection of each nonce's last position alone."""
        p = self.params
        S, D, kv = p.seq_len, p.dim, p.kv_dim
        n = h.shape[0]
        rows = slice(S - 1, n, S) if last_only else slice(0, n)  # the queries' rows
        x, r = self._normed(sc, h, n)
        qkv = sc.qkv[:n]
        if last_only:  # keys and values of every row; the query of the last rows alone
            self._product(sc, x, r, layer.wkv, qkv[:, D:])
            self._product(sc, x[rows], None if r is None else np.ascontiguousarray(r[rows]), layer.wq, qkv[rows, :D])
        else:
            self._product(sc, x, r, layer.wqkv, qkv)
        if self.fused:  # RoPE, scores, softmax and the weighted values in one loop per head
            fused_loops.attention(qkv[:, :D], qkv[:, D:D + kv], qkv[:, D + kv:], sc.att[:n], self.turns_f32, n // S,
                                  p.n_kv_heads, 1 if last_only else S, SOFTMAX_SHIFT_ABOVE)
        else:
            self._attention_numpy(sc, qkv, n // S, last_only)
        self._product(sc, sc.att[:n][rows], None, layer.wo, h[rows], add=True)

    def _attention_numpy(self, sc: _Scratch, qkv: np.ndarray, B: int, last_only: bool) -> None:
        """RoPE into sc.rot, then scores, softmax and the weighted values as batched matrix products,
        into sc.att's query rows."""
        p = self.params
        S, D, kv, hd = p.seq_len, p.dim, p.kv_dim, p.head_dim
        nkv, rep = p.n_kv_heads, p.n_heads // p.n_kv_heads
        M = S * B
        self._rope(sc, qkv, B, last_only)
        rot = sc.rot[:M]
        q = rot[:, :D].reshape(B, S, nkv, rep, hd)
        k = rot[:, D:].reshape(B, S, nkv, 1, hd)
        v = qkv[:, D + kv:].reshape(B, S, nkv, 1, hd)
        if last_only:
            q = q[:, S - 1:]
        Sq = q.shape[1]
        scores = sc.scores.reshape(-1)[:B * p.n_heads * Sq * S].reshape(B, nkv, rep, Sq, S)  # contiguous
        # (B, nkv, rep, Sq, hd) @ (B, nkv, 1, hd, S): query head j uses kv head j // rep
        np.matmul(q.transpose(0, 2, 3, 1, 4), k.transpose(0, 2, 3, 4, 1), out=scores)
        self._softmax(scores, last_only)
        att = sc.att[:M].reshape(B, S, nkv, rep, hd)[:, S - Sq:]
        np.matmul(scores, v.transpose(0, 2, 3, 1, 4), out=att.transpose(0, 2, 3, 1, 4))

    def _softmax(self, scores: np.ndarray, last_only: bool) -> None:
        """Causal softmax over the last axis, in place; scores (..., Sq, S) of the last Sq positions."""
        # softmax(x) = exp(x − c) / Σ exp(x − c) for any c: subtracting each row's maximum (two
        # passes) only matters when exp could overflow, so it is skipped while every score is small.
        if not last_only:
            scores += self.mask
        if scores.max() > SOFTMAX_SHIFT_ABOVE:
            scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        total = scores.sum(axis=-1, keepdims=True)
        np.divide(scores, total, out=scores)

    def _rope(self, sc: _Scratch, qkv: np.ndarray, B: int, last_only: bool) -> None:
        """Rotate the pairs (2i, 2i+1) of every query and key head by position: into sc.rot."""
        p = self.params
        S, D, kv, hd = p.seq_len, p.dim, p.kv_dim, p.head_dim
        M = S * B
        heads = (D + kv) // hd
        # (a, b) → (a·cos − b·sin, b·cos + a·sin) is (a + ib)·(cos + i·sin)
        src = qkv[:M].view(np.complex64)[:, :(D + kv) // 2].reshape(B, S, heads, hd // 2)
        dst = sc.rot[:M].view(np.complex64).reshape(B, S, heads, hd // 2)
        turns = self.turns[None, :, None, :]
        if last_only:  # keys of every row, the query of the last rows (their slots of dst alone)
            q = D // hd
            np.multiply(src[:, :, q:], turns, out=dst[:, :, q:])
            np.multiply(src[:, S - 1:, :q], turns[:, S - 1:], out=dst[:, S - 1:, :q])
        else:
            np.multiply(src, turns, out=dst)

    def _ffn(self, sc: _Scratch, layer: _Layer, h: np.ndarray) -> None:
        """h += w2(silu(w1 x) * w3 x), x = norm(h), over tiles of rows: each tile's hidden activations
        are written by the first product, gated and read by the second while they are still in L2."""
        n = h.shape[0]
        x, r = self._normed(sc, h, n)
        for start in range(0, n, FFN_TILE_ROWS):
            rows = slice(start, min(n, start + FFN_TILE_ROWS))
            m = rows.stop - start
            t = sc.t[:m]
            if self.gemm:  # the gate on each tile of the product, in registers
                fused_loops.matmul(x[rows], layer.w13, t, scale=r[rows])
            else:
                self._gate(sc, np.matmul(x[rows], layer.w13, out=sc.ab[:m]), t)  # −a ‖ b
            self._product(sc, t, None, layer.w2, h[rows], add=True)

    def _gate(self, sc: _Scratch, ab: np.ndarray, t_all: np.ndarray) -> None:
        """t = silu(a)·b from ab = −a ‖ b: in one pass (fused), or over tiles of rows that stay in cache
        (numpy, four passes)."""
        if self.fused:
            fused_loops.gate(ab, t_all)
            return
        H, n = t_all.shape[1], t_all.shape[0]
        for start in range(0, n, sc.tile):
            stop = min(n, start + sc.tile)
            na, b, t = ab[start:stop, :H], ab[start:stop, H:], t_all[start:stop]
            np.exp(na, out=t)
            t += np.float32(1.0)
            na *= b
            np.divide(na, t, out=t)

    def _distances(self, public_key: str, nonces: list[int], logits: np.ndarray) -> np.ndarray:
        return draws.distances(logits, self.block_hash, public_key, nonces, self.target)
