/* gonka_tui.poc._fused: the CPU kernel's elementwise passes as single loops over float32 rows.
 *
 * Why: numpy runs each elementwise step as its own pass over memory, and its float32 exp is scalar
 * on AVX2 machines (~2.2 ns per element). Here each step (the FFN gate, the causal softmax, RMSNorm,
 * RoPE) is one loop that GCC -O3 vectorises, with an exp of our own that vectorises too. Optional:
 * gonka_tui/poc/fused.py falls back to numpy when this module is not built.
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

/* Three copies of each hot loop on x86-64 (AVX-512, AVX2 + FMA, and the baseline), chosen when the
 * module loads; target_clones needs GCC and glibc's ifunc. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__GLIBC__)
#define HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define HOT
#endif

/* ----- exp ----- */

static inline uint32_t bits_of(float f) { uint32_t u; memcpy(&u, &f, sizeof u); return u; }
static inline float float_of(uint32_t u) { float f; memcpy(&f, &u, sizeof f); return f; }

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
static inline float exp_f(float x)
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
static inline int needs_shift(const float *x, int n, int ncols, float t)
{
    int above = 0, some_not_below = 0;
    for (int j = 0; j < ncols; j++) {
        above |= (x[j] > t) & (j < n);
        some_not_below |= (x[j] >= -t) & (j < n);
    }
    return above | !some_not_below;
}

static inline float row_max(const float *x, Py_ssize_t n)
{
    float m = x[0];
    for (Py_ssize_t j = 1; j < n; j++)
        m = x[j] > m ? x[j] : m;
    return m;
}

/* A sum (of squares) over eight partial sums, so that it vectorises without -ffast-math. */
static inline float row_sum(const float *x, Py_ssize_t n, int squares)
{
    float s8[8] = {0};
    Py_ssize_t j = 0;
    if (squares) {
        for (; j + 8 <= n; j += 8)
            for (int l = 0; l < 8; l++)
                s8[l] += x[j + l] * x[j + l];
    } else {
        for (; j + 8 <= n; j += 8)
            for (int l = 0; l < 8; l++)
                s8[l] += x[j + l];
    }
    float s = ((s8[0] + s8[4]) + (s8[1] + s8[5])) + ((s8[2] + s8[6]) + (s8[3] + s8[7]));
    for (; j < n; j++)
        s += squares ? x[j] * x[j] : x[j];
    return s;
}

/* Causal softmax in place: row r holds query position q = r % sq of the last sq of s positions,
 * so it sees columns 0 … q + s − sq; the others become 0. The row max is subtracted only where
 * it is above `shift_above` or below −shift_above (softmax is the same for any shift; it only
 * keeps exp finite, and the total above 0: numpy's path shifts every row once any score is high).
 * Every pass runs over whole rows, masked columns too (their exp is dropped by an integer mask):
 * rows are short (seq_len), and ragged lengths would leave much of the work to scalar tails. */
HOT static void softmax_loop(float *x, Py_ssize_t nrows, int ncols, int sq, int s, float shift_above)
{
    int q = 0; /* 32-bit column indices: 64-bit ones make the column mask cost lane shuffles */
    for (Py_ssize_t r = 0; r < nrows; r++, q = q + 1 == sq ? 0 : q + 1) {
        float *row = x + r * ncols;
        int n = q + (s - sq) + 1;
        float shift = needs_shift(row, n, ncols, shift_above) ? row_max(row, n < ncols ? n : ncols) : 0.0f;
        for (int j = 0; j < ncols; j++)
            row[j] = float_of(bits_of(exp_f(row[j] - shift)) & -(uint32_t)(j < n));
        float total = row_sum(row, ncols, 0);
        for (int j = 0; j < ncols; j++)
            row[j] = row[j] / total;
    }
}

/* out = x · 1/sqrt(mean(x²) + eps), per row; float32 throughout, as numpy computes it. */
HOT static void rmsnorm_loop(const float *x, float *out, Py_ssize_t rows, Py_ssize_t dim, Py_ssize_t x_stride,
                             Py_ssize_t out_stride, float eps)
{
    float inv_dim = (float)(1.0 / (double)dim);
    for (Py_ssize_t i = 0; i < rows; i++) {
        const float *xi = x + i * x_stride;
        float *o = out + i * out_stride;
        float v = row_sum(xi, dim, 1) * inv_dim + eps;
        float r = 1.0f / sqrtf(v);
        for (Py_ssize_t j = 0; j < dim; j++)
            o[j] = xi[j] * r;
    }
}

/* RoPE: the pairs (x₂ᵢ, x₂ᵢ₊₁) of every head rotated by the angle of (position, i), as the complex
 * product (a + ib)(cos + i·sin). Row r has position pos0 + r / per_pos; each row holds `heads`
 * heads of `half` pairs; cs holds (cos, sin) pairs, `half` per position. */
HOT static void rope_loop(const float *src, float *dst, const float *cs, Py_ssize_t rows, Py_ssize_t heads,
                          Py_ssize_t half, Py_ssize_t src_stride, Py_ssize_t dst_stride, Py_ssize_t per_pos,
                          Py_ssize_t pos0)
{
    for (Py_ssize_t r = 0; r < rows; r++) {
        const float *t = cs + (pos0 + r / per_pos) * 2 * half;
        const float *x = src + r * src_stride;
        float *y = dst + r * dst_stride;
        for (Py_ssize_t h = 0; h < heads; h++, x += 2 * half, y += 2 * half)
            for (Py_ssize_t i = 0; i < half; i++) {
                float a = x[2 * i], b = x[2 * i + 1], c = t[2 * i], s = t[2 * i + 1];
                y[2 * i] = a * c - b * s;
                y[2 * i + 1] = a * s + b * c;
            }
    }
}

/* ----- argument checks ----- */

/* A buffer holds `rows` rows of `cols` floats, `stride` floats apart, from its start. */
static int check_span(const Py_buffer *b, const char *name, Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t stride)
{
    if (rows < 0 || cols < 0 || stride < cols) {
        PyErr_Format(PyExc_ValueError, "%s: need rows >= 0, cols >= 0 and a row stride >= cols", name);
        return -1;
    }
    if ((uintptr_t)b->buf % _Alignof(float) != 0) {
        PyErr_Format(PyExc_ValueError, "%s: the buffer is not aligned for float32", name);
        return -1;
    }
    if (rows == 0 || cols == 0)
        return 0;
    Py_ssize_t room = b->len / (Py_ssize_t)sizeof(float);
    /* (rows − 1)·stride + cols ≤ room, without overflow */
    if (cols > room || rows - 1 > (room - cols) / stride) { /* stride >= cols > 0 here */
        PyErr_Format(PyExc_ValueError, "%s: the buffer holds %zd floats, fewer than %zd rows of %zd, %zd apart",
                     name, room, rows, cols, stride);
        return -1;
    }
    return 0;
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
    Py_buffer ab, t;
    Py_ssize_t rows, hidden, ab_stride, t_stride;
    if (!PyArg_ParseTuple(args, "y*w*nnnn:gate", &ab, &t, &rows, &hidden, &ab_stride, &t_stride))
        return NULL;
    PyObject *res = NULL;
    if (hidden < 0 || hidden > PY_SSIZE_T_MAX / 2)
        PyErr_SetString(PyExc_ValueError, "hidden: out of range");
    else if (check_span(&ab, "ab", rows, 2 * hidden, ab_stride) == 0 &&
             check_span(&t, "t", rows, hidden, t_stride) == 0) {
        Py_BEGIN_ALLOW_THREADS
        gate_loop(ab.buf, t.buf, rows, hidden, ab_stride, t_stride);
        Py_END_ALLOW_THREADS
        res = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&ab);
    PyBuffer_Release(&t);
    return res;
}

static PyObject *py_softmax(PyObject *self, PyObject *args)
{
    Py_buffer x;
    Py_ssize_t nrows, ncols, sq, s;
    float shift_above = 30.0f;
    if (!PyArg_ParseTuple(args, "w*nnnn|f:softmax", &x, &nrows, &ncols, &sq, &s, &shift_above))
        return NULL;
    PyObject *res = NULL;
    if (sq < 1 || s < sq || s > INT_MAX / 2 || ncols > INT_MAX)
        PyErr_SetString(PyExc_ValueError, "need 1 <= sq <= s < 2^30 and ncols < 2^31");
    else if (check_span(&x, "x", nrows, ncols, ncols) == 0) {
        Py_BEGIN_ALLOW_THREADS
        softmax_loop(x.buf, nrows, (int)ncols, (int)sq, (int)s, shift_above);
        Py_END_ALLOW_THREADS
        res = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&x);
    return res;
}

static PyObject *py_rmsnorm(PyObject *self, PyObject *args)
{
    Py_buffer x, out;
    Py_ssize_t rows, dim, x_stride, out_stride;
    float eps;
    if (!PyArg_ParseTuple(args, "y*w*nnnnf:rmsnorm", &x, &out, &rows, &dim, &x_stride, &out_stride, &eps))
        return NULL;
    PyObject *res = NULL;
    if (check_span(&x, "x", rows, dim, x_stride) == 0 && check_span(&out, "out", rows, dim, out_stride) == 0) {
        Py_BEGIN_ALLOW_THREADS
        rmsnorm_loop(x.buf, out.buf, rows, dim, x_stride, out_stride, eps);
        Py_END_ALLOW_THREADS
        res = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&x);
    PyBuffer_Release(&out);
    return res;
}

static PyObject *py_rope(PyObject *self, PyObject *args)
{
    Py_buffer src, dst, cs;
    Py_ssize_t rows, heads, half, src_stride, dst_stride, per_pos, pos0, positions;
    if (!PyArg_ParseTuple(args, "y*w*y*nnnnnnnn:rope", &src, &dst, &cs, &rows, &heads, &half, &src_stride,
                          &dst_stride, &per_pos, &pos0, &positions))
        return NULL;
    PyObject *res = NULL;
    if (heads < 0 || half < 0 || (half > 0 && heads > PY_SSIZE_T_MAX / 2 / half) || per_pos < 1 || pos0 < 0 ||
        rows < 0 || positions < 0 || half > PY_SSIZE_T_MAX / 2)
        PyErr_SetString(PyExc_ValueError, "rope: dimensions out of range");
    else if (rows > 0 && (pos0 + (rows - 1) / per_pos >= positions))
        PyErr_SetString(PyExc_ValueError, "rope: more positions than the table holds");
    else if (check_span(&src, "src", rows, 2 * half * heads, src_stride) == 0 &&
             check_span(&dst, "dst", rows, 2 * half * heads, dst_stride) == 0 &&
             check_span(&cs, "cs", positions, 2 * half, 2 * half) == 0) {
        Py_BEGIN_ALLOW_THREADS
        rope_loop(src.buf, dst.buf, cs.buf, rows, heads, half, src_stride, dst_stride, per_pos, pos0);
        Py_END_ALLOW_THREADS
        res = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&src);
    PyBuffer_Release(&dst);
    PyBuffer_Release(&cs);
    return res;
}

static PyMethodDef methods[] = {
    {"exp", py_exp, METH_VARARGS, "exp(x, out, n): out[i] = e^x[i], float32."},
    {"gate", py_gate, METH_VARARGS,
     "gate(ab, t, rows, hidden, ab_stride, t_stride): t[i,j] = na*b / (1 + exp(na)), na = ab[i,j], "
     "b = ab[i,hidden+j]."},
    {"softmax", py_softmax, METH_VARARGS,
     "softmax(x, nrows, ncols, sq, s, shift_above=30): causal softmax in place over contiguous rows; row r is "
     "query position r % sq of the last sq of s positions."},
    {"rmsnorm", py_rmsnorm, METH_VARARGS,
     "rmsnorm(x, out, rows, dim, x_stride, out_stride, eps): out = x / sqrt(mean(x^2) + eps) per row."},
    {"rope", py_rope, METH_VARARGS,
     "rope(src, dst, cs, rows, heads, half, src_stride, dst_stride, per_pos, pos0, positions): rotate pairs "
     "by (cos, sin) of position pos0 + row // per_pos."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fused", "The PoC CPU kernel's elementwise passes, float32 (see fused.py).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__fused(void) { return PyModule_Create(&module); }
