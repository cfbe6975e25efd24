/* gonka_tui.poc._fused: the CPU kernel's work between its matrix products, as compiled loops over
 * float32 rows.
 *
 * Why: numpy runs each elementwise step as its own pass over memory, and its float32 exp is scalar
 * on AVX2 machines (~2.2 ns per element); attention at these sizes is thousands of tiny matrix
 * products. Here the FFN gate and RMSNorm are one loop each that GCC -O3 vectorises, with an exp of
 * our own that vectorises too, and attention (RoPE, scores, causal softmax, weighted values) is one
 * loop per head over vectors of 16 floats. Optional: gonka_tui/poc/fused.py falls back to numpy
 * when this module is not built.
 *
 * Buffers come through the buffer protocol (no numpy headers): a C-contiguous span of float32
 * holding `rows` rows of `cols` values, `stride` values apart. Every function checks that span
 * against the buffer's length before touching it, and releases the GIL around its loops.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "_buffers.h"

/* Three copies of each hot loop on x86-64 (AVX-512, AVX2 + FMA, and the baseline), chosen when the
 * module loads; target_clones needs GCC and glibc's ifunc. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__GLIBC__)
#define HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define HOT
#endif
/* Helpers of the hot loops: always inlined, so that each clone compiles them for its own
 * instruction set (a call would run the baseline's SSE2 copy). */
#define INLINE static inline __attribute__((always_inline))

/* ----- exp ----- */

INLINE uint32_t bits_of(float f) { uint32_t u; memcpy(&u, &f, sizeof u); return u; }
INLINE float float_of(uint32_t u) { float f; memcpy(&f, &u, sizeof f); return f; }

#define EXP_SHIFTER 12582912.0f       /* 1.5·2^23: adding it rounds to an integer in the low bits */
#define EXP_LOG2E 1.44269504088896341f
#define EXP_LN2_HI 0.693359375f       /* ln 2 in 9 bits: k·LN2_HI is exact for |k| < 2^15 */
#define EXP_LN2_LO -2.12194440054690583e-4f
/* (e^r − 1 − r)/r² on |r| ≤ ln2/2: a degree-4 fit (least squares on Chebyshev nodes, weighted for
 * the relative error of e^r; ours). e^r's relative error from it is 5e-9, under float32's rounding. */
#define EXP_C2 0x1.fffff8p-2f
#define EXP_C3 0x1.55547ep-3f
#define EXP_C4 0x1.555bd4p-5f
#define EXP_C5 0x1.124790p-7f
#define EXP_C6 0x1.685950p-10f

/* e^x to < 1 ulp for every float32 (checked against libm in double on every 97th float: worst
 * 0.98 ulp), subnormal results included; inf above ~88.72, 0 below ~-103.97, NaN stays NaN.
 * x = k·ln2 + r: e^r by the polynomial, 2^k as the product of two powers of two built from
 * exponent bits, each a normal number for every k in range, so the product over- and underflows
 * (gradually) as e^x does. k comes from the bits of x·log2(e) + 1.5·2^23, not from a float-to-int
 * conversion, so no input is undefined behaviour; inputs out of range get their answer from
 * integer masks at the end: selects on floats there, or clamps of x at the start, make GCC
 * thread jumps and then refuse to vectorise the loop (FP ops it may not speculate). */
INLINE float exp_f(float x)
{
    float k = x * EXP_LOG2E + EXP_SHIFTER;
    uint32_t kb = bits_of(k);
    k -= EXP_SHIFTER;
    float r = x - k * EXP_LN2_HI;
    r = r - k * EXP_LN2_LO;
    float q = EXP_C2 + r * (EXP_C3 + r * (EXP_C4 + r * (EXP_C5 + r * EXP_C6)));
    float p = 1.0f + (r + (r * r) * q);
    uint32_t u = kb - bits_of(EXP_SHIFTER) + 254u; /* k + 254: in [104, 383] where x is in range */
    uint32_t e1 = u >> 1, e2 = u - e1;             /* biased exponents of 2^floor(k/2), 2^ceil(k/2) */
    float e = (p * float_of(e1 << 23)) * float_of(e2 << 23);
    uint32_t big = -(uint32_t)(x > 89.0f), tiny = -(uint32_t)(x < -104.0f); /* all ones where true */
    return float_of((bits_of(e) & ~(big | tiny)) | (0x7f800000u & big));
}

/* ----- loops ----- */

HOT static void exp_loop(const float *x, float *out, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++)
        out[i] = exp_f(x[i]);
}

/* t = (−a)·b / (1 + e^(−a)) = silu(a)·b with the kernel's sign folded into w1 (and back in w2). */
HOT static void gate_loop(const float *ab, float *t, Py_ssize_t rows, Py_ssize_t hidden, Py_ssize_t ab_stride,
                          Py_ssize_t t_stride)
{
    for (Py_ssize_t i = 0; i < rows; i++) {
        const float *na = ab + i * ab_stride, *b = na + hidden;
        float *o = t + i * t_stride;
        for (Py_ssize_t j = 0; j < hidden; j++) {
            float a = na[j];
            o[j] = (a * b[j]) / (1.0f + exp_f(a));
        }
    }
}

/* Whether the row's max over x[0..n) (n ≤ ncols) needs subtracting before exp: when it is above t
 * (exp could overflow), or below −t (every exp could underflow: a zero total). Two ORs of
 * comparisons over all ncols, masked, vectorise where a float max does not. */
INLINE int needs_shift(const float *x, int n, int ncols, float t)
{
    int above = 0, some_not_below = 0;
    for (int j = 0; j < ncols; j++) {
        above |= (x[j] > t) & (j < n);
        some_not_below |= (x[j] >= -t) & (j < n);
    }
    return above | !some_not_below;
}

INLINE float row_max(const float *x, Py_ssize_t n)
{
    float m = x[0];
    for (Py_ssize_t j = 1; j < n; j++)
        m = x[j] > m ? x[j] : m;
    return m;
}

/* 16 floats as one value (GCC and clang vector extensions): one AVX-512 register, two AVX2 ones.
 * Plain loops over a float[16] accumulator are unrolled but left scalar by GCC 12. */
typedef float vec16 __attribute__((vector_size(16 * sizeof(float))));
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi" /* static inline: a vec16 never crosses a call boundary */
#endif
INLINE vec16 load16(const float *x) { vec16 v; memcpy(&v, x, sizeof v); return v; }

/* A sum over eight partial sums, so that it vectorises without -ffast-math (the softmax's totals:
 * rows of a few dozen). */
INLINE float row_sum(const float *x, Py_ssize_t n)
{
    float s8[8] = {0};
    Py_ssize_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++)
            s8[l] += x[j + l];
    float s = ((s8[0] + s8[4]) + (s8[1] + s8[5])) + ((s8[2] + s8[6]) + (s8[3] + s8[7]));
    for (; j < n; j++)
        s += x[j];
    return s;
}

/* Σ x² over four vectors of partial sums: one chain of multiply-adds waits on its own latency
 * (a float a cycle); four keep both FMA units busy (RMSNorm's factors: 0.23 → 0.06 ns a float). */
INLINE float sum_squares(const float *x, Py_ssize_t n)
{
    vec16 acc[4] = {{0}};
    Py_ssize_t j = 0;
    for (; j + 64 <= n; j += 64)
        for (int u = 0; u < 4; u++) {
            const vec16 v = load16(x + j + 16 * u);
            acc[u] += v * v;
        }
    for (; j + 16 <= n; j += 16) {
        const vec16 v = load16(x + j);
        acc[0] += v * v;
    }
    const vec16 both = (acc[0] + acc[2]) + (acc[1] + acc[3]);
    float t[8];
    for (int l = 0; l < 8; l++)
        t[l] = both[l] + both[l + 8];
    float s = ((t[0] + t[4]) + (t[1] + t[5])) + ((t[2] + t[6]) + (t[3] + t[7])); /* a tree: 3 adds deep, not 16 */
    for (; j < n; j++)
        s += x[j] * x[j];
    return s;
}

INLINE float rms_factor(const float *x, Py_ssize_t dim, float inv_dim, float eps)
{
    return 1.0f / sqrtf(sum_squares(x, dim) * inv_dim + eps);
}

/* out = x · 1/sqrt(mean(x²) + eps), per row; float32 throughout, as numpy computes it. */
HOT static void rmsnorm_loop(const float *x, float *out, Py_ssize_t rows, Py_ssize_t dim, Py_ssize_t x_stride,
                             Py_ssize_t out_stride, float eps)
{
    float inv_dim = (float)(1.0 / (double)dim);
    for (Py_ssize_t i = 0; i < rows; i++) {
        const float *xi = x + i * x_stride;
        float *o = out + i * out_stride;
        float r = rms_factor(xi, dim, inv_dim, eps);
        for (Py_ssize_t j = 0; j < dim; j++)
            o[j] = xi[j] * r;
    }
}

/* out[i] = 1/sqrt(mean(x[i]²) + eps): the factor that the products apply to their output rows */
HOT static void rms_factors_loop(const float *x, float *out, Py_ssize_t rows, Py_ssize_t dim, Py_ssize_t x_stride,
                                 float eps)
{
    float inv_dim = (float)(1.0 / (double)dim);
    for (Py_ssize_t i = 0; i < rows; i++)
        out[i] = rms_factor(x + i * x_stride, dim, inv_dim, eps);
}

/* Causal attention of a batch of nonces, RoPE included: the kernel's step between the QKV and
 * output projections. Rows are nonce-major (nonce b's row at position j is b·s + j) in all four
 * arrays: q holds the queries (1/sqrt(hd) folded in), heads·hd per row, of which only the last sq
 * positions of each nonce are read; k and v every position's keys and values, kv_heads·hd; out
 * gets the outputs of those last sq positions, heads·hd, and nothing else is written. Query and key
 * pairs (2i, 2i+1) are turned by their position's (cos, sin) in cs (s rows of hd); query head h
 * reads kv head h / (heads / kv_heads).
 *
 * Per (nonce, kv head): its turned keys, transposed into hd rows of sp (s rounded up to KEY_BLOCK)
 * floats, and its values copied into rows of their own (in place, rows a whole row of all heads
 * apart fall into a few L1 sets). Then per group of QUERY_GROUP queries of a head: scores against
 * KEY_BLOCK keys at a time, one vector per query, the key row loaded once for the group, only the
 * key blocks the group sees; softmax with masked columns set to 0 and the row max subtracted only
 * where a score is past ±shift_above (needs_shift); the weighted values, 16 of hd at a time, divided
 * by the total at the end. Independent accumulators keep the multiply-adds from waiting on each
 * other. work: 3·hd·sp + QUERY_GROUP·(hd + sp) floats. */
#define KEY_BLOCK 16
#define QUERY_GROUP 4

/* memcpy of a short row, inline: the call to libc's cost 7 % of attention */
INLINE void copy_row(const float *x, float *y, Py_ssize_t n)
{
    Py_ssize_t i = 0;
    for (; i + 16 <= n; i += 16) {
        vec16 v = load16(x + i);
        memcpy(y + i, &v, sizeof v);
    }
    for (; i < n; i++)
        y[i] = x[i];
}

/* y = the pairs (x₂ᵢ, x₂ᵢ₊₁) turned by t's (cos, sin): (a + ib)(cos + i·sin) */
INLINE void turn_pairs(const float *x, const float *t, float *y, Py_ssize_t half)
{
    for (Py_ssize_t e = 0; e < half; e++) {
        float a = x[2 * e], c = x[2 * e + 1], co = t[2 * e], si = t[2 * e + 1];
        y[2 * e] = a * co - c * si;
        y[2 * e + 1] = a * si + c * co;
    }
}

/* A 16 × 16 block of floats transposed in registers: element (r, c) goes to (c, r) by exchanging bit
 * h of r with bit h of c for h = 8, 4, 2, 1 — each a two-source permute of rows i and i + h. */
#define T16_LO(h)                                                                                        \
    {0 & h ? 16 + 0 - h : 0, 1 & h ? 16 + 1 - h : 1, 2 & h ? 16 + 2 - h : 2, 3 & h ? 16 + 3 - h : 3,       \
     4 & h ? 16 + 4 - h : 4, 5 & h ? 16 + 5 - h : 5, 6 & h ? 16 + 6 - h : 6, 7 & h ? 16 + 7 - h : 7,       \
     8 & h ? 16 + 8 - h : 8, 9 & h ? 16 + 9 - h : 9, 10 & h ? 16 + 10 - h : 10, 11 & h ? 16 + 11 - h : 11, \
     12 & h ? 16 + 12 - h : 12, 13 & h ? 16 + 13 - h : 13, 14 & h ? 16 + 14 - h : 14,                     \
     15 & h ? 16 + 15 - h : 15}
#define T16_HI(h)                                                                                        \
    {0 & h ? 16 + 0 : 0 + h, 1 & h ? 16 + 1 : 1 + h, 2 & h ? 16 + 2 : 2 + h, 3 & h ? 16 + 3 : 3 + h,       \
     4 & h ? 16 + 4 : 4 + h, 5 & h ? 16 + 5 : 5 + h, 6 & h ? 16 + 6 : 6 + h, 7 & h ? 16 + 7 : 7 + h,       \
     8 & h ? 16 + 8 : 8 + h, 9 & h ? 16 + 9 : 9 + h, 10 & h ? 16 + 10 : 10 + h, 11 & h ? 16 + 11 : 11 + h, \
     12 & h ? 16 + 12 : 12 + h, 13 & h ? 16 + 13 : 13 + h, 14 & h ? 16 + 14 : 14 + h,                     \
     15 & h ? 16 + 15 : 15 + h}
typedef int ivec16 __attribute__((vector_size(16 * sizeof(int))));

#define T16_STAGE(h)                                                                                     \
    do {                                                                                                 \
        const ivec16 lo = T16_LO(h), hi = T16_HI(h);                                                    \
        for (int i = 0; i < 16; i++)                                                                     \
            if (!(i & h)) {                                                                              \
                const vec16 a = m[i], b = m[i + h];                                                      \
                m[i] = __builtin_shuffle(a, b, lo);                                                      \
                m[i + h] = __builtin_shuffle(a, b, hi);                                                  \
            }                                                                                            \
    } while (0)

INLINE void transpose16(vec16 m[16])
{
    T16_STAGE(8);
    T16_STAGE(4);
    T16_STAGE(2);
    T16_STAGE(1);
}

/* kt (hd rows of sp) = the s keys at k (rows k_stride apart, hd floats each; hd a multiple of 16)
 * turned by their positions' (cos, sin) and transposed, 16 keys × 16 dimensions at a time; cst: the
 * turns transposed (hd rows of sp: row 2i the cos, 2i + 1 the sin of pair i, 0 past s). Rows of
 * keys past s read as 0, so the padding columns come out 0. */
INLINE void turn_keys16(const float *k, Py_ssize_t k_stride, int s, Py_ssize_t hd, Py_ssize_t sp, const float *cst,
                        float *kt)
{
    for (int j0 = 0; j0 < s; j0 += 16)
        for (Py_ssize_t d0 = 0; d0 < hd; d0 += 16) {
            vec16 m[16];
            for (int l = 0; l < 16; l++)
                m[l] = j0 + l < s ? load16(k + (j0 + l) * k_stride + d0) : (vec16){0};
            transpose16(m); /* m[dd]: dimension d0 + dd of the 16 keys */
            for (int dd = 0; dd < 16; dd += 2) {
                const float *t = cst + (d0 + dd) * sp + j0;
                const vec16 co = load16(t), si = load16(t + sp), re = m[dd], im = m[dd + 1];
                const vec16 turned_re = re * co - im * si, turned_im = re * si + im * co;
                memcpy(kt + (d0 + dd) * sp + j0, &turned_re, sizeof turned_re);
                memcpy(kt + (d0 + dd + 1) * sp + j0, &turned_im, sizeof turned_im);
            }
        }
}

HOT static void attention_loop(const float *q, const float *k, const float *v, float *out, const float *cs,
                               Py_ssize_t B, int s, int sq, Py_ssize_t heads, Py_ssize_t kv_heads, Py_ssize_t hd,
                               Py_ssize_t q_stride, Py_ssize_t k_stride, Py_ssize_t v_stride, Py_ssize_t out_stride,
                               float shift_above, float *work)
{
    const Py_ssize_t sp = (s + KEY_BLOCK - 1) / KEY_BLOCK * KEY_BLOCK, rep = heads / kv_heads, half = hd / 2;
    float *kt = work, *vt = kt + hd * sp, *qt = vt + hd * sp, *p = qt + QUERY_GROUP * hd, *cst = p + QUERY_GROUP * sp;
    for (Py_ssize_t d = 0; d < hd; d++) /* padding keys: finite scores, masked below */
        for (Py_ssize_t j = s; j < sp; j++)
            kt[d * sp + j] = 0.0f;
    for (Py_ssize_t d = 0; d < hd; d++) /* the turns transposed, as turn_keys16 reads them */
        for (Py_ssize_t j = 0; j < sp; j++)
            cst[d * sp + j] = j < s ? cs[j * hd + d] : 0.0f;
    for (Py_ssize_t b = 0; b < B; b++)
        for (Py_ssize_t g = 0; g < kv_heads; g++) {
            /* this head's rows of the next nonce, a nonce ahead (without, waiting for them took a
             * third of the time) */
            if (b + 1 < B)
                for (Py_ssize_t j = (b + 1) * s; j < (b + 2) * s; j++)
                    for (Py_ssize_t c = 0; c < hd; c += 16) {
                        __builtin_prefetch(k + j * k_stride + g * hd + c);
                        __builtin_prefetch(v + j * v_stride + g * hd + c);
                        if (j % s >= s - sq)
                            for (Py_ssize_t h = g * rep; h < (g + 1) * rep; h++)
                                __builtin_prefetch(q + j * q_stride + h * hd + c);
                    }
            if (hd % 16 == 0 && KEY_BLOCK == 16)
                turn_keys16(k + b * s * k_stride + g * hd, k_stride, s, hd, sp, cst, kt);
            else
                for (Py_ssize_t j = 0; j < s; j++) {
                    turn_pairs(k + (b * s + j) * k_stride + g * hd, cs + j * hd, qt, half); /* qt: free until the queries */
                    for (Py_ssize_t d = 0; d < hd; d++)
                        kt[d * sp + j] = qt[d];
                }
            for (Py_ssize_t j = 0; j < s; j++)
                copy_row(v + (b * s + j) * v_stride + g * hd, vt + j * hd, hd);
            for (Py_ssize_t h = g * rep; h < (g + 1) * rep; h++)
                for (int i0 = 0; i0 < sq; i0 += QUERY_GROUP) {
                    const int nq = sq - i0 < QUERY_GROUP ? sq - i0 : QUERY_GROUP;
                    const int first = s - sq + i0;  /* the group's first position */
                    const int seen = first + nq;    /* keys its last query sees */
                    const int m = (seen + KEY_BLOCK - 1) / KEY_BLOCK * KEY_BLOCK;
                    for (int u = 0; u < QUERY_GROUP; u++)
                        if (u < nq)
                            turn_pairs(q + (b * s + first + u) * q_stride + h * hd, cs + (Py_ssize_t)(first + u) * hd,
                                       qt + u * hd, half);
                        else
                            memset(qt + u * hd, 0, (size_t)hd * sizeof(float));
                    for (int jb = 0; jb < m; jb += KEY_BLOCK) {
                        vec16 acc[QUERY_GROUP] = {{0}};
                        for (Py_ssize_t d = 0; d < hd; d++) {
                            const vec16 kr = load16(kt + d * sp + jb);
                            for (int u = 0; u < QUERY_GROUP; u++)
                                acc[u] += qt[u * hd + d] * kr;
                        }
                        for (int u = 0; u < QUERY_GROUP; u++)
                            memcpy(p + u * sp + jb, &acc[u], sizeof acc[u]);
                    }
                    float total[QUERY_GROUP];
                    for (int u = 0; u < QUERY_GROUP; u++) {
                        float *row = p + u * sp;
                        const int n = u < nq ? first + u + 1 : 0;
                        float shift = n && needs_shift(row, n, m, shift_above) ? row_max(row, n) : 0.0f;
                        for (int j = 0; j < m; j++)
                            row[j] = float_of(bits_of(exp_f(row[j] - shift)) & -(uint32_t)(j < n));
                        total[u] = row_sum(row, m);
                    }
                    Py_ssize_t d0 = 0;
                    for (; d0 + 16 <= hd; d0 += 16) {
                        vec16 acc[QUERY_GROUP] = {{0}};
                        for (int j = 0; j < seen; j++) {
                            const vec16 vr = load16(vt + j * hd + d0);
                            for (int u = 0; u < QUERY_GROUP; u++)
                                acc[u] += p[u * sp + j] * vr;
                        }
                        for (int u = 0; u < nq; u++) {
                            acc[u] /= total[u];
                            memcpy(out + (b * s + first + u) * out_stride + h * hd + d0, &acc[u], sizeof acc[u]);
                        }
                    }
                    for (; d0 < hd; d0++)
                        for (int u = 0; u < nq; u++) {
                            float acc = 0.0f;
                            for (int j = 0; j < seen; j++)
                                acc += p[u * sp + j] * vt[j * hd + d0];
                            out[(b * s + first + u) * out_stride + h * hd + d0] = acc / total[u];
                        }
                }
        }
}

/* ----- matrix products ----- */

/* C = A·B for the kernel's products, B packed once per round (fused.py: pack) into panels of
 * GEMM_NR columns: panel p is K rows of GEMM_NR floats, columns p·GEMM_NR.., zero past the
 * matrix's last column. Why our own: numpy's BLAS packs the weight matrix again on every call,
 * zeroes C before it writes it, and leaves the norm, the gate and the residual add to passes of
 * their own; here the weights are packed once, and each GEMM_MR × GEMM_NR tile of C, while in
 * registers and L1, gets them:
 *   - scale: × r[row], the row's RMSNorm factor ((x·r)·W = r·(x·W)): no normalised copy of x;
 *   - then STORE it, ADD it to C (the residual), or GATE: with w1 and w3 interleaved half a panel at
 *     a time (pack_gate), t = na·b / (1 + e^na) from the tile's two halves, half a panel of t.
 * The micro-tile: GEMM_MR rows of A broadcast a float at a time and two vectors of B per k feed
 * 2·GEMM_MR multiply-adds into as many registers (16 of AVX-512's 32; 8 rows divide the preset's
 * row counts, 256, 512 and the 32 last rows; a strip past the last row computes and drops). Rows of A are read where they lie, lda apart: an 8-row strip is 8·K floats, from
 * L1/L2; B's panel (K·GEMM_NR floats) stays in L1/L2 while GEMM_ROWS rows of A pass it. AVX-512
 * only: with AVX2, 6 × 16 and 4 × 24 tiles were no faster than OpenBLAS's Haswell kernel with its
 * extra passes (kernel A/B 0.93–0.99), so numpy's matmul serves there. */
enum { GEMM_STORE = 0, GEMM_ADD = 1, GEMM_GATE = 2 };
#define GEMM_MR 8
#define GEMM_NR 32
#define GEMM_ROWS 192 /* rows of A per pass over B's panels: 192·K floats stay in L2 */

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_GEMM 1
__attribute__((target("avx512f,fma"))) static void gemm_loop(const float *a, Py_ssize_t lda, const float *bp,
                                                             Py_ssize_t panels, Py_ssize_t K, float *c,
                                                             Py_ssize_t ldc, Py_ssize_t out_cols, const float *r,
                                                             Py_ssize_t M, int mode)
{
    float tile[GEMM_MR * GEMM_NR] __attribute__((aligned(64)));
    const Py_ssize_t width = mode == GEMM_GATE ? GEMM_NR / 2 : GEMM_NR; /* columns of C a panel */
    for (Py_ssize_t i0 = 0; i0 < M; i0 += GEMM_ROWS)
        for (Py_ssize_t pn = 0; pn < panels; pn++) {
            const float *b = bp + pn * K * GEMM_NR;
            const Py_ssize_t cols = out_cols - pn * width < width ? out_cols - pn * width : width;
            for (Py_ssize_t i = i0; i < M && i < i0 + GEMM_ROWS; i += GEMM_MR) {
                const int mr = M - i < GEMM_MR ? (int)(M - i) : GEMM_MR;
                const float *ar[GEMM_MR];
                for (int u = 0; u < GEMM_MR; u++) /* rows past M repeat the last: read, never stored */
                    ar[u] = a + (i + (u < mr ? u : mr - 1)) * lda;
                vec16 acc[GEMM_MR][2];
                memset(acc, 0, sizeof acc);
                for (Py_ssize_t k = 0; k < K; k++) {
                    const vec16 b0 = load16(b + k * GEMM_NR), b1 = load16(b + k * GEMM_NR + 16);
                    for (int u = 0; u < GEMM_MR; u++) {
                        const vec16 x = (vec16)_mm512_set1_ps(ar[u][k]);
                        acc[u][0] += x * b0;
                        acc[u][1] += x * b1;
                    }
                }
                memcpy(tile, acc, sizeof tile);
                for (int u = 0; u < mr; u++) {
                    const float scale = r ? r[i + u] : 1.0f, *t = tile + u * GEMM_NR;
                    float *o = c + (i + u) * ldc + pn * width;
                    if (mode == GEMM_GATE)
                        for (Py_ssize_t l = 0; l < cols; l++) {
                            const float na = t[l] * scale, bl = t[l + GEMM_NR / 2] * scale;
                            o[l] = (na * bl) / (1.0f + exp_f(na));
                        }
                    else if (mode == GEMM_ADD)
                        for (Py_ssize_t l = 0; l < cols; l++)
                            o[l] += t[l] * scale;
                    else
                        for (Py_ssize_t l = 0; l < cols; l++)
                            o[l] = t[l] * scale;
                }
            }
        }
}

static int have_gemm(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
}
#else
static int have_gemm(void) { return 0; }
#endif

/* ----- argument checks ----- */

/* float32 rows: see _buffers.h */
static int check_span(const Py_buffer *b, const char *name, Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t stride)
{
    return check_items(b, name, rows, cols, stride, (Py_ssize_t)sizeof(float));
}

static PyObject *py_exp(PyObject *self, PyObject *args)
{
    Py_buffer x, out;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "y*w*n:exp", &x, &out, &n))
        return NULL;
    PyObject *res = NULL;
    if (check_span(&x, "x", 1, n, n) == 0 && check_span(&out, "out", 1, n, n) == 0) {
        Py_BEGIN_ALLOW_THREADS
        exp_loop(x.buf, out.buf, n);
        Py_END_ALLOW_THREADS
        res = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&x);
    PyBuffer_Release(&out);
    return res;
}

static PyObject *py_gate(PyObject *self, PyObject *args)
{
    PyObject *ab_obj, *t_obj;
    matrix ab = {0}, t = {0};
    if (!PyArg_ParseTuple(args, "OO:gate", &ab_obj, &t_obj))
        return NULL;
    PyObject *res = NULL;
    if (matrix_get(ab_obj, &ab, "ab", 0) < 0 || matrix_get(t_obj, &t, "out", 1) < 0)
        goto done;
    if (t.rows != ab.rows || ab.cols != 2 * t.cols)
        PyErr_Format(PyExc_ValueError, "ab (%zd, %zd) and out (%zd, %zd): need (rows, 2*hidden) and (rows, hidden)",
                     ab.rows, ab.cols, t.rows, t.cols);
    else {
        Py_BEGIN_ALLOW_THREADS
        gate_loop(ab.p, t.p, t.rows, t.cols, ab.stride, t.stride);
        Py_END_ALLOW_THREADS
        res = Py_NewRef(Py_None);
    }
done:
    matrix_release(&ab);
    matrix_release(&t);
    return res;
}

/* rmsnorm (out: x's shape) and rms_factors (out: a factor a row) */
static PyObject *rms_entry(PyObject *args, int factors)
{
    PyObject *x_obj, *out_obj;
    matrix x = {0}, out = {0};
    float eps;
    if (!PyArg_ParseTuple(args, factors ? "OOf:rms_factors" : "OOf:rmsnorm", &x_obj, &out_obj, &eps))
        return NULL;
    PyObject *res = NULL;
    if (matrix_get(x_obj, &x, "x", 0) < 0 ||
        (factors ? vector_get(out_obj, &out, "out", 1) : matrix_get(out_obj, &out, "out", 1)) < 0)
        goto done;
    if (factors && out.cols != x.rows)
        PyErr_Format(PyExc_ValueError, "out: need one factor for each of x's %zd rows, not %zd", x.rows, out.cols);
    else if (!factors && (out.rows != x.rows || out.cols != x.cols))
        PyErr_Format(PyExc_ValueError, "x (%zd, %zd) and out (%zd, %zd): need one shape", x.rows, x.cols, out.rows,
                     out.cols);
    else {
        Py_BEGIN_ALLOW_THREADS
        if (factors)
            rms_factors_loop(x.p, out.p, x.rows, x.cols, x.stride, eps);
        else
            rmsnorm_loop(x.p, out.p, x.rows, x.cols, x.stride, out.stride, eps);
        Py_END_ALLOW_THREADS
        res = Py_NewRef(Py_None);
    }
done:
    matrix_release(&x);
    matrix_release(&out);
    return res;
}

static PyObject *py_rmsnorm(PyObject *self, PyObject *args) { return rms_entry(args, 0); }

static PyObject *py_rms_factors(PyObject *self, PyObject *args) { return rms_entry(args, 1); }

/* a·b without overflow (both >= 0), or -1 */
static Py_ssize_t product(Py_ssize_t a, Py_ssize_t b)
{
    return (a < 0 || b < 0 || (b > 0 && a > PY_SSIZE_T_MAX / b)) ? -1 : a * b;
}

static PyObject *py_attention(PyObject *self, PyObject *args)
{
    PyObject *obj[5];
    matrix m[5]; /* q, k, v, out, cs */
    static const char *names[5] = {"q", "k", "v", "out", "turns"};
    Py_ssize_t B, kv_heads, sq;
    float shift_above;
    if (!PyArg_ParseTuple(args, "OOOOOnnnf:attention", &obj[0], &obj[1], &obj[2], &obj[3], &obj[4], &B, &kv_heads,
                          &sq, &shift_above))
        return NULL;
    PyObject *res = NULL;
    memset(m, 0, sizeof m);
    for (int i = 0; i < 5; i++)
        if (matrix_get(obj[i], &m[i], names[i], i == 3) < 0)
            goto done;
    const matrix *q = &m[0], *k = &m[1], *v = &m[2], *out = &m[3], *cs = &m[4];
    const Py_ssize_t rows = q->rows, hd = cs->cols, s = B > 0 ? rows / B : 0;
    if (cs->stride != hd || hd < 2 || hd % 2)
        PyErr_SetString(PyExc_ValueError, "turns: need a contiguous (positions, head_dim) table, head_dim even");
    else if (B < 1 || rows % B || s < 1 || kv_heads < 1 || k->cols != product(kv_heads, hd) || q->cols % k->cols)
        PyErr_Format(PyExc_ValueError, "q (%zd, %zd), k (%zd, %zd): need whole nonces of rows, kv_heads*%zd columns "
                     "of k and whole groups of heads in q", q->rows, q->cols, k->rows, k->cols, hd);
    else if (k->rows != rows || v->rows != rows || out->rows != rows || v->cols != k->cols || out->cols != q->cols)
        PyErr_Format(PyExc_ValueError, "q (%zd, %zd), k (%zd, %zd), v (%zd, %zd), out (%zd, %zd): need one row count, "
                     "v like k and out like q", q->rows, q->cols, k->rows, k->cols, v->rows, v->cols, out->rows,
                     out->cols);
    else if (s > cs->rows || s > INT_MAX / 2 || sq < 1 || sq > s)
        PyErr_Format(PyExc_ValueError, "%zd positions a nonce, %zd queries, turns for %zd: need 1 <= queries <= "
                     "positions <= turns", s, sq, cs->rows);
    else {
        const Py_ssize_t sp = (s + KEY_BLOCK - 1) / KEY_BLOCK * KEY_BLOCK,
                         work_floats = product(3 * hd + QUERY_GROUP, sp) + QUERY_GROUP * hd;
        /* hd and s are no larger than arrays that exist, so the work's size cannot overflow */
        float *work = PyMem_RawMalloc((size_t)work_floats * sizeof(float));
        if (work == NULL)
            PyErr_NoMemory();
        else {
            Py_BEGIN_ALLOW_THREADS
            attention_loop(q->p, k->p, v->p, out->p, cs->p, B, (int)s, (int)sq, q->cols / hd, kv_heads, hd, q->stride,
                           k->stride, v->stride, out->stride, shift_above, work);
            Py_END_ALLOW_THREADS
            PyMem_RawFree(work);
            res = Py_NewRef(Py_None);
        }
    }
done:
    for (int i = 0; i < 5; i++)
        matrix_release(&m[i]);
    return res;
}

static PyObject *py_gemm_isas(PyObject *self, PyObject *args)
{
    if (have_gemm())
        return Py_BuildValue("[(sn)]", "avx512", (Py_ssize_t)GEMM_NR);
    return PyList_New(0);
}

static PyObject *py_gemm(PyObject *self, PyObject *args)
{
    PyObject *a_obj, *c_obj, *r_obj;
    matrix a = {0}, c = {0}, r = {0};
    Py_buffer bp;
    Py_ssize_t panels;
    int mode, isa;
    if (!PyArg_ParseTuple(args, "Oy*OOnii:gemm", &a_obj, &bp, &c_obj, &r_obj, &panels, &mode, &isa))
        return NULL;
    PyObject *res = NULL;
    const int have_r = r_obj != Py_None;
    if (matrix_get(a_obj, &a, "a", 0) < 0 || matrix_get(c_obj, &c, "out", 1) < 0 ||
        (have_r && vector_get(r_obj, &r, "scale", 0) < 0))
        goto done;
    const Py_ssize_t nr = isa == 1 ? GEMM_NR : 0, width = mode == GEMM_GATE ? nr / 2 : nr, K = a.cols;
    const Py_ssize_t packed = product(product(panels, K), nr);
    if (nr == 0 || !have_gemm())
        PyErr_SetString(PyExc_ValueError, "gemm: this processor has no loop for that instruction set");
    else if (mode < GEMM_STORE || mode > GEMM_GATE || K < 1 || panels < 1 || packed < 0 ||
             c.cols > product(panels, width) || c.cols <= product(panels - 1, width))
        PyErr_Format(PyExc_ValueError, "gemm: a (%zd, %zd) and out (%zd, %zd) do not fit %zd panels (mode %d)", a.rows,
                     K, c.rows, c.cols, panels, mode);
    else if (c.rows != a.rows)
        PyErr_Format(PyExc_ValueError, "a (%zd, %zd) and out (%zd, %zd): need one row count", a.rows, K, c.rows,
                     c.cols);
    else if (have_r && r.cols != a.rows)
        PyErr_Format(PyExc_ValueError, "scale: need one factor for each of a's %zd rows, not %zd", a.rows, r.cols);
    else if (check_span(&bp, "packed", 1, packed, packed) == 0) {
        const float *rv = have_r ? r.p : NULL;
        Py_BEGIN_ALLOW_THREADS
#ifdef HAVE_GEMM
        gemm_loop(a.p, a.stride, bp.buf, panels, K, c.p, c.stride, c.cols, rv, a.rows, mode);
#endif
        Py_END_ALLOW_THREADS
        res = Py_NewRef(Py_None);
    }
done:
    matrix_release(&a);
    matrix_release(&c);
    matrix_release(&r);
    PyBuffer_Release(&bp);
    return res;
}

static PyMethodDef methods[] = {
    {"exp", py_exp, METH_VARARGS, "exp(x, out, n): out[i] = e^x[i], float32."},
    {"gate", py_gate, METH_VARARGS,
     "gate(ab, out): out[i,j] = na*b / (1 + exp(na)), na = ab[i,j], b = ab[i,hidden+j]; 2-D float32 arrays."},
    {"rmsnorm", py_rmsnorm, METH_VARARGS, "rmsnorm(x, out, eps): out = x / sqrt(mean(x^2) + eps) per row."},
    {"rms_factors", py_rms_factors, METH_VARARGS,
     "rms_factors(x, out, eps): out[i] = 1 / sqrt(mean(x[i]^2) + eps), out a float32 vector."},
    {"attention", py_attention, METH_VARARGS,
     "attention(q, k, v, out, turns, batch, kv_heads, sq, shift_above): causal attention with RoPE of the last sq "
     "positions of each nonce, rows nonce-major."},
    {"gemm_isas", py_gemm_isas, METH_NOARGS, "gemm_isas(): [(instruction set, panel width)] this processor runs gemm in, widest first."},
    {"gemm", py_gemm, METH_VARARGS,
     "gemm(a, packed, out, scale, panels, mode, isa): out (=, +=, gated) a x packed, rows scaled by scale (or "
     "None); see _fused.c."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fused", "The PoC CPU kernel's elementwise passes, float32 (see fused.py).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__fused(void) { return PyModule_Create(&module); }
