/* gonka_tui.poc._draws: the PoC round's random numbers exactly as numpy draws them (§1.1.1 fixes
 * numpy's): SeedSequence of a list of 32-bit words, PCG64, the ziggurat's standard normals and
 * Generator.shuffle — the same bits, in compiled loops.
 *
 * Why: each nonce costs 8192 normals and a shuffle of 8192 logits. numpy spends 5.7 ns a normal and
 * 5 ns a swap there (a call through a function pointer per word, a branch on every sign, a
 * mispredicted branch on every rejected index); these loops 2.2 ns and 3.2 ns. The generator is
 * inlined, the sign is set without a branch, and the shuffle draws its indices ahead of its swaps,
 * rejecting without a branch.
 *
 * The ziggurat's tables come from the caller (gonka_tui/poc/draws.py learns them from numpy's own
 * Generator and checks the result against numpy's draws before anything uses it), so this file
 * holds the algorithms alone. Buffers come through the buffer protocol; every span is checked
 * against its buffer before it is touched, and the GIL is released around the loops.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "_buffers.h"

typedef unsigned __int128 u128;

/* ----- SeedSequence: a pool of 4 words, then 8 words of state (numpy's generate_state(4, uint64)) ----- */

#define SEED_POOL 4
#define SEED_INIT_A 0x43b0d7e5u
#define SEED_MULT_A 0x931e8875u
#define SEED_INIT_B 0x8b51f9ddu
#define SEED_MULT_B 0x58f38dedu
#define SEED_MIX_L 0xca01f9ddu
#define SEED_MIX_R 0x4973f715u
#define SEED_SHIFT 16

static uint32_t hashmix(uint32_t value, uint32_t *hash)
{
    value ^= *hash;
    *hash *= SEED_MULT_A;
    value *= *hash;
    return value ^ (value >> SEED_SHIFT);
}

static uint32_t mix(uint32_t x, uint32_t y)
{
    uint32_t r = SEED_MIX_L * x - SEED_MIX_R * y;
    return r ^ (r >> SEED_SHIFT);
}

static uint32_t word_at(const unsigned char *b, Py_ssize_t i) /* little-endian, as numpy's "<u4" */
{
    b += 4 * i;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* The 4 uint64 words PCG64 seeds itself from, for the entropy words e[0..n). */
static void seed_words(const unsigned char *e, Py_ssize_t n, uint64_t out[4])
{
    uint32_t pool[SEED_POOL], hash = SEED_INIT_A;
    for (int i = 0; i < SEED_POOL; i++)
        pool[i] = hashmix(i < n ? word_at(e, i) : 0u, &hash);
    for (int src = 0; src < SEED_POOL; src++)
        for (int dst = 0; dst < SEED_POOL; dst++)
            if (src != dst)
                pool[dst] = mix(pool[dst], hashmix(pool[src], &hash));
    for (Py_ssize_t src = SEED_POOL; src < n; src++)
        for (int dst = 0; dst < SEED_POOL; dst++)
            pool[dst] = mix(pool[dst], hashmix(word_at(e, src), &hash));
    uint32_t w[8], hb = SEED_INIT_B;
    for (int i = 0; i < 8; i++) {
        uint32_t v = pool[i % SEED_POOL] ^ hb;
        hb *= SEED_MULT_B;
        v *= hb;
        w[i] = v ^ (v >> SEED_SHIFT);
    }
    for (int i = 0; i < 4; i++)
        out[i] = (uint64_t)w[2 * i] | (uint64_t)w[2 * i + 1] << 32;
}

/* ----- PCG64 (XSL-RR 128/64): step, then output the new state ----- */

typedef struct {
    u128 state, inc;
} pcg64;

#define PCG_MULT (((u128)0x2360ed051fc65da4ULL << 64) | 0x4385df649fccf645ULL)

static inline uint64_t next64(pcg64 *g)
{
    g->state = g->state * PCG_MULT + g->inc;
    uint64_t x = (uint64_t)(g->state >> 64) ^ (uint64_t)g->state;
    unsigned rot = (unsigned)(g->state >> 122);
    return (x >> rot) | (x << ((64u - rot) & 63u));
}

static void pcg64_seed(pcg64 *g, const unsigned char *entropy, Py_ssize_t n)
{
    uint64_t w[4];
    seed_words(entropy, n, w);
    g->state = 0;
    g->inc = ((u128)w[2] << 64 | w[3]) << 1 | 1u;
    next64(g);
    g->state += (u128)w[0] << 64 | w[1];
    next64(g);
}

static inline double next_double(pcg64 *g) { return (double)(next64(g) >> 11) * (1.0 / 9007199254740992.0); }

/* ----- standard normals: the ziggurat of 256 layers on 52-bit magnitudes ----- */

/* w: a layer's width per unit of magnitude; f: the density at its edge; k: the magnitudes below
 * which a draw lies inside the layer's rectangle. Given by the caller (draws.py). */
typedef struct {
    double w[256], f[256];
    uint64_t k[256];
} ziggurat;

#define ZIGGURAT_BYTES ((Py_ssize_t)sizeof(ziggurat))
#define ZIG_R 3.6541528853610087963519472518     /* the base layer's edge */
#define ZIG_INV_R 0.27366123732975827203338247596 /* 1 / ZIG_R */

static inline double with_sign(double x, uint64_t negative)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    u ^= negative << 63;
    memcpy(&x, &u, sizeof u);
    return x;
}

/* A word of 64 bits: 8 for the layer, 1 for the sign, 52 for the magnitude (3 unused). Outside the
 * rectangle (0.7 % of draws) the wedge test or, in the base layer, the tail from Marsaglia's method
 * decide; a rejected draw starts again with a new word. */
static inline double normal(pcg64 *g, const ziggurat *z)
{
    for (;;) {
        const uint64_t r = next64(g);
        const int layer = (int)(r & 0xff);
        const uint64_t magnitude = (r >> 9) & 0x000fffffffffffffULL;
        const double x = with_sign((double)(int64_t)magnitude * z->w[layer], (r >> 8) & 1u);
        if (__builtin_expect(magnitude < z->k[layer], 1))
            return x;
        if (layer == 0) {
            for (;;) {
                const double xx = -ZIG_INV_R * log1p(-next_double(g));
                const double yy = -log1p(-next_double(g));
                if (yy + yy > xx * xx)
                    return with_sign(ZIG_R + xx, (magnitude >> 8) & 1u);
            }
        }
        if ((z->f[layer - 1] - z->f[layer]) * next_double(g) + z->f[layer] < exp(-0.5 * x * x))
            return x;
    }
}

static void normals_loop(pcg64 *g, const ziggurat *z, void *out, Py_ssize_t n, Py_ssize_t itemsize)
{
    if (itemsize == 8)
        for (Py_ssize_t i = 0; i < n; i++)
            ((double *)out)[i] = normal(g, z);
    else
        for (Py_ssize_t i = 0; i < n; i++)
            ((float *)out)[i] = (float)normal(g, z);
}

/* ----- Generator.shuffle: Fisher-Yates from the last item down, index j ≤ i by masked rejection ----- */

/* The 32-bit draws are the generator's 64-bit words, low half first (numpy's next_uint32 keeps the
 * high half for the next call); a fresh generator starts with none kept. */
#define WORDS_AHEAD 256 /* 64-bit words drawn at a time: the index loop does not wait on the generator */
#define INDICES_AHEAD 1024 /* indices drawn before their swaps: the swaps' loads then do not wait on the draws */

typedef struct {
    pcg64 *g;
    int next;
    uint32_t u[2 * WORDS_AHEAD];
} draws32;

static inline uint32_t next32(draws32 *w)
{
    if (__builtin_expect(w->next == 2 * WORDS_AHEAD, 0)) {
        for (int t = 0; t < WORDS_AHEAD; t++) {
            const uint64_t v = next64(w->g);
            w->u[2 * t] = (uint32_t)v;
            w->u[2 * t + 1] = (uint32_t)(v >> 32);
        }
        w->next = 0;
    }
    return w->u[w->next++];
}

/* j[c] for items i, i − 1, …, down to 1 or until `room` are drawn; returns how many. Within one power
 * of two the mask (the smallest 2^b − 1 ≥ i) is fixed, and a rejected draw is kept without a branch:
 * the count does not move, so the next draw overwrites it. */
static int draw_indices(draws32 *w, uint32_t i, uint32_t *j, int room)
{
    int c = 0;
    while (i >= 1 && c < room) {
        const uint32_t mask = UINT32_MAX >> __builtin_clz(i), low = mask >> 1;
        while (i > low && c < room) {
            const uint32_t v = next32(w) & mask, take = v <= i;
            j[c] = v;
            c += (int)take;
            i -= take;
        }
    }
    return c;
}

#define SHUFFLE_LOOP(T)                                                                                          \
    static void shuffle_##T(pcg64 *g, T *d, Py_ssize_t n)                                                       \
    {                                                                                                            \
        draws32 w = {.g = g, .next = 2 * WORDS_AHEAD};                                                          \
        uint32_t j[INDICES_AHEAD];                                                                               \
        for (uint32_t i = n > 1 ? (uint32_t)(n - 1) : 0; i >= 1;) {                                             \
            const int c = draw_indices(&w, i, j, INDICES_AHEAD);                                                 \
            for (int k = 0; k < c; k++, i--) {                                                                   \
                const T a = d[i];                                                                                \
                d[i] = d[j[k]];                                                                                  \
                d[j[k]] = a;                                                                                     \
            }                                                                                                    \
        }                                                                                                        \
    }
SHUFFLE_LOOP(uint32_t)
SHUFFLE_LOOP(uint64_t)

/* ----- the distance of a nonce's shuffled logits, scaled to unit length, to the round's target ----- */

static double distance_loop(const float *x, const double *t, Py_ssize_t n)
{
    double s[8] = {0}, e[8] = {0};
    Py_ssize_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++)
            s[l] += (double)x[j + l] * (double)x[j + l];
    double total = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
    for (; j < n; j++)
        total += (double)x[j] * (double)x[j];
    const double norm = sqrt(total);
    for (j = 0; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++) {
            const double d = (double)x[j + l] / norm - t[j + l];
            e[l] += d * d;
        }
    double sum = ((e[0] + e[4]) + (e[1] + e[5])) + ((e[2] + e[6]) + (e[3] + e[7]));
    for (; j < n; j++) {
        const double d = (double)x[j] / norm - t[j];
        sum += d * d;
    }
    return sqrt(sum);
}

/* ----- entry points ----- */

static int check_entropy(const Py_buffer *e)
{
    if (e->len < 4 || e->len % 4 != 0) {
        PyErr_SetString(PyExc_ValueError, "entropy: need whole 32-bit words, at least one");
        return -1;
    }
    return 0;
}

static int check_itemsize(Py_ssize_t itemsize)
{
    if (itemsize != 4 && itemsize != 8) {
        PyErr_SetString(PyExc_ValueError, "itemsize: 4 (float32) or 8 (float64)");
        return -1;
    }
    return 0;
}

static PyObject *py_raw(PyObject *self, PyObject *args)
{
    Py_buffer e, out;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "y*w*n:raw", &e, &out, &n))
        return NULL;
    PyObject *res = NULL;
    if (check_entropy(&e) == 0 && check_items(&out, "out", 1, n, n, 8) == 0) {
        Py_BEGIN_ALLOW_THREADS
        pcg64 g;
        pcg64_seed(&g, e.buf, e.len / 4);
        for (Py_ssize_t i = 0; i < n; i++)
            ((uint64_t *)out.buf)[i] = next64(&g);
        Py_END_ALLOW_THREADS
        res = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&e);
    PyBuffer_Release(&out);
    return res;
}

static PyObject *py_normals(PyObject *self, PyObject *args)
{
    Py_buffer e, z, out;
    Py_ssize_t n, itemsize;
    if (!PyArg_ParseTuple(args, "y*y*w*nn:normals", &e, &z, &out, &n, &itemsize))
        return NULL;
    PyObject *res = NULL;
    if (z.len != ZIGGURAT_BYTES)
        PyErr_Format(PyExc_ValueError, "tables: need %zd bytes (w, f as float64, k as uint64, 256 each)",
                     ZIGGURAT_BYTES);
    else if (check_entropy(&e) == 0 && check_itemsize(itemsize) == 0 && check_items(&z, "tables", 1, 768, 768, 8) == 0 &&
             check_items(&out, "out", 1, n, n, itemsize) == 0) {
        Py_BEGIN_ALLOW_THREADS
        pcg64 g;
        pcg64_seed(&g, e.buf, e.len / 4);
        normals_loop(&g, z.buf, out.buf, n, itemsize);
        Py_END_ALLOW_THREADS
        res = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&e);
    PyBuffer_Release(&z);
    PyBuffer_Release(&out);
    return res;
}

static int check_shuffle(const Py_buffer *d, Py_ssize_t n, Py_ssize_t itemsize)
{
    if (n > (Py_ssize_t)UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "shuffle: at most 2^32 - 1 items (numpy draws 64-bit indices past that)");
        return -1;
    }
    return check_itemsize(itemsize) || check_items(d, "data", 1, n, n, itemsize);
}

static PyObject *py_shuffle(PyObject *self, PyObject *args)
{
    Py_buffer e, d;
    Py_ssize_t n, itemsize;
    if (!PyArg_ParseTuple(args, "y*w*nn:shuffle", &e, &d, &n, &itemsize))
        return NULL;
    PyObject *res = NULL;
    if (check_entropy(&e) == 0 && check_shuffle(&d, n, itemsize) == 0) {
        Py_BEGIN_ALLOW_THREADS
        pcg64 g;
        pcg64_seed(&g, e.buf, e.len / 4);
        if (itemsize == 8)
            shuffle_uint64_t(&g, d.buf, n);
        else
            shuffle_uint32_t(&g, d.buf, n);
        Py_END_ALLOW_THREADS
        res = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&e);
    PyBuffer_Release(&d);
    return res;
}

static PyObject *py_distance(PyObject *self, PyObject *args)
{
    Py_buffer e, x, t;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "y*w*y*n:distance", &e, &x, &t, &n))
        return NULL;
    PyObject *res = NULL;
    if (n < 1)
        PyErr_SetString(PyExc_ValueError, "distance: need at least one logit");
    else if (check_entropy(&e) == 0 && check_shuffle(&x, n, 4) == 0 && check_items(&t, "target", 1, n, n, 8) == 0) {
        double dist;
        Py_BEGIN_ALLOW_THREADS
        pcg64 g;
        pcg64_seed(&g, e.buf, e.len / 4);
        shuffle_uint32_t(&g, x.buf, n);
        dist = distance_loop(x.buf, t.buf, n);
        Py_END_ALLOW_THREADS
        res = PyFloat_FromDouble(dist);
    }
    PyBuffer_Release(&e);
    PyBuffer_Release(&x);
    PyBuffer_Release(&t);
    return res;
}

static PyMethodDef methods[] = {
    {"raw", py_raw, METH_VARARGS,
     "raw(entropy, out, n): out[:n] (uint64) = PCG64(SeedSequence(entropy words, little-endian uint32)).random_raw(n)."},
    {"normals", py_normals, METH_VARARGS,
     "normals(entropy, tables, out, n, itemsize): out[:n] = standard normals of that generator, as numpy's "
     "Generator draws them, stored as float32 (itemsize 4) or float64 (8); tables: the ziggurat's (draws.py)."},
    {"shuffle", py_shuffle, METH_VARARGS,
     "shuffle(entropy, data, n, itemsize): data[:n] shuffled in place as numpy's Generator.shuffle does."},
    {"distance", py_distance, METH_VARARGS,
     "distance(entropy, logits, target, n): float32 logits[:n] shuffled in place by that generator, then "
     "|logits / |logits| - target| in float64."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_draws", "The PoC round's random numbers, bit for bit numpy's (see draws.py).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__draws(void) { return PyModule_Create(&module); }
