/* gonka_tui.poc._draws: the PoC round's random numbers exactly as numpy draws them (§1.1.1 fixes
 * numpy's): SeedSequence of a list of 32-bit words, PCG64, the ziggurat's standard normals and
 * Generator.shuffle — the same bits, in compiled loops.
 *
 * Why: each nonce costs 8192 normals and a shuffle of 8192 logits. numpy spends 5.7 ns a normal and
 * 5 ns a swap there (a call through a function pointer per word, a branch on every sign, a
 * mispredicted branch on every rejected index). Here the generator is inlined, the sign is set
 * without a branch, the shuffle draws its indices ahead of its swaps and rejects without a branch,
 * and a batch's nonces are drawn four at a time, their generators' chains overlapping (inputs: a
 * normal of each in turn; distances: the words drawn ahead). A batch's distance sums x·t inside
 * the shuffle instead of writing the shuffled row and reading it again. Per nonce at the "cpu"
 * preset: 8192 normals in 16 µs, the shuffle and distance in 26 µs (one call a nonce: 18 and 33).
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

/* ----- a generator's words, some drawn ahead ----- */

/* Drawing one word waits on the last (a 128-bit multiply-add: 1.6 ns a word here); the words of
 * several generators drawn in one loop overlap (0.8 ns). So a batch of nonces gets its words drawn
 * ahead, STREAMS generators at a time (streams_ahead), and a stream past them draws WORDS_AHEAD at
 * a time from its generator alone: the words, and so the draws, are the same either way. */
#define WORDS_AHEAD 256
#define STREAMS 4
#define AHEAD_MAX 16384 /* words drawn ahead a stream: 128 KiB, STREAMS of them in L2 */

typedef struct {
    pcg64 g;
    uint64_t *w; /* room for max(AHEAD_MAX, WORDS_AHEAD) words */
    Py_ssize_t next, filled;
} stream;

static void stream_ahead(stream *s, Py_ssize_t n);

static inline uint64_t stream_next(stream *s)
{
    if (__builtin_expect(s->next == s->filled, 0))
        stream_ahead(s, WORDS_AHEAD);
    return s->w[s->next++];
}

static void stream_start(stream *s, uint64_t *room, const unsigned char *entropy, Py_ssize_t words)
{
    pcg64_seed(&s->g, entropy, words);
    s->w = room;
    s->next = s->filled = 0;
}

/* n words (≤ AHEAD_MAX) for one stream from its generator, held in a local while it runs (the
 * stream's own fields could alias the words stored, so the compiler would keep them in memory) */
static void stream_ahead(stream *s, Py_ssize_t n)
{
    pcg64 g = s->g;
    uint64_t *w = s->w;
    for (Py_ssize_t i = 0; i < n; i++)
        w[i] = next64(&g);
    s->g = g;
    s->next = 0;
    s->filled = n;
}

/* n words ahead for each of k streams: STREAMS generators stepped in one loop where there are as many */
static void streams_ahead(stream *s, int k, Py_ssize_t n)
{
    if (k != STREAMS) {
        for (int u = 0; u < k; u++)
            stream_ahead(&s[u], n);
        return;
    }
    pcg64 a = s[0].g, b = s[1].g, c = s[2].g, d = s[3].g;
    uint64_t *wa = s[0].w, *wb = s[1].w, *wc = s[2].w, *wd = s[3].w;
    for (Py_ssize_t i = 0; i < n; i++) {
        wa[i] = next64(&a);
        wb[i] = next64(&b);
        wc[i] = next64(&c);
        wd[i] = next64(&d);
    }
    s[0].g = a;
    s[1].g = b;
    s[2].g = c;
    s[3].g = d;
    for (int u = 0; u < STREAMS; u++) {
        s[u].next = 0;
        s[u].filled = n;
    }
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

/* n float32 normals for each of STREAMS generators, a normal of each in turn: each generator's
 * words wait on its last one, the four chains overlap. Generators in locals: see stream_ahead. */
static void normals4(pcg64 *g, const ziggurat *z, float *out[STREAMS], Py_ssize_t n)
{
    pcg64 a = g[0], b = g[1], c = g[2], d = g[3];
    float *oa = out[0], *ob = out[1], *oc = out[2], *od = out[3];
    for (Py_ssize_t i = 0; i < n; i++) {
        oa[i] = (float)normal(&a, z);
        ob[i] = (float)normal(&b, z);
        oc[i] = (float)normal(&c, z);
        od[i] = (float)normal(&d, z);
    }
}

/* ----- Generator.shuffle: Fisher-Yates from the last item down, index j ≤ i by masked rejection ----- */

/* The 32-bit draws are the generator's 64-bit words, low half first (numpy's next_uint32 keeps the
 * high half for the next call); a fresh generator starts with none kept. */
#define INDICES_AHEAD 1024 /* indices drawn before their swaps: the swaps' loads then do not wait on the draws */

typedef struct {
    stream *s;
    int next, end;
    uint32_t u[2 * WORDS_AHEAD];
} draws32;

/* The stream's next words (up to WORDS_AHEAD, those drawn ahead first), as 32-bit halves */
static void refill32(draws32 *w)
{
    stream *s = w->s;
    if (s->next == s->filled)
        stream_ahead(s, WORDS_AHEAD);
    const Py_ssize_t n = s->filled - s->next < WORDS_AHEAD ? s->filled - s->next : WORDS_AHEAD;
    const uint64_t *src = s->w + s->next;
    for (Py_ssize_t t = 0; t < n; t++) {
        w->u[2 * t] = (uint32_t)src[t];
        w->u[2 * t + 1] = (uint32_t)(src[t] >> 32);
    }
    s->next += n;
    w->next = 0;
    w->end = (int)(2 * n);
}

/* j[c] for items i, i − 1, …, down to 1 or until `room` are drawn; returns how many. Within one power
 * of two the mask (the smallest 2^b − 1 ≥ i) is fixed, and a rejected draw is kept without a branch:
 * the count does not move, so the next draw overwrites it. The position in w->u is a local: stores
 * to j (uint32_t, like an int) would otherwise make the compiler reload it from memory every draw,
 * a store-to-load wait on each (1.5 → 0.5 ns a draw). */
static int draw_indices(draws32 *w, uint32_t i, uint32_t *j, int room)
{
    int c = 0, next = w->next, end = w->end;
    const uint32_t *u = w->u;
    while (i >= 1 && c < room) {
        const uint32_t mask = UINT32_MAX >> __builtin_clz(i), low = mask >> 1;
        while (i > low && c < room) {
            if (__builtin_expect(next == end, 0)) {
                refill32(w);
                next = 0;
                end = w->end;
            }
            const uint32_t v = u[next++] & mask, take = v <= i;
            j[c] = v;
            c += (int)take;
            i -= take;
        }
    }
    w->next = next;
    return c;
}

/* The 64-bit words a shuffle of n items takes on average: item i takes (mask + 1)/(i + 1) draws of
 * 32 bits; with 1/8 more, and a few, a stream seldom runs past the words drawn for it ahead. */
static Py_ssize_t shuffle_words(Py_ssize_t n)
{
    double draws = 0.0;
    for (Py_ssize_t i = 1; i < n; i++)
        draws += (double)((UINT32_MAX >> __builtin_clz((uint32_t)i)) + 1.0) / (double)(i + 1);
    const double words = draws / 2.0 * 1.125 + 64.0;
    return words > AHEAD_MAX ? AHEAD_MAX : (Py_ssize_t)words;
}

#define SHUFFLE_LOOP(T)                                                                                          \
    static void shuffle_##T(stream *s, T *d, Py_ssize_t n)                                                      \
    {                                                                                                            \
        draws32 w = {.s = s};                                                                                    \
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

/* |x/|x| − t| over x shuffled, from |x|² (the shuffle does not change it), |t|² and x·t:
 * |x/|x| − t|² = 1 − 2·(x·t)/|x| + |t|², in float64. The shuffle of x fixes item i for good at its
 * swap (later swaps touch items below i), so x·t is summed in the shuffle's loop — the shuffled
 * row is never written out, nor read again. Four partial sums keep the adds from waiting on each
 * other. x is the caller's scratch copy: it is left in no useful order. */
static double squares64(const float *x, Py_ssize_t n)
{
    double s[8] = {0};
    Py_ssize_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++)
            s[l] += (double)x[j + l] * (double)x[j + l];
    double total = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
    for (; j < n; j++)
        total += (double)x[j] * (double)x[j];
    return total;
}

static double shuffled_distance(stream *s, float *x, const double *t, double t_squares, Py_ssize_t n)
{
    const double x_squares = squares64(x, n);
    draws32 w = {.s = s};
    uint32_t j[INDICES_AHEAD];
    double dot[4] = {0};
    for (uint32_t i = n > 1 ? (uint32_t)(n - 1) : 0; i >= 1;) {
        const int c = draw_indices(&w, i, j, INDICES_AHEAD);
        int k = 0;
        for (; k + 4 <= c; k += 4, i -= 4)
            for (int l = 0; l < 4; l++) {
                const uint32_t at = i - (uint32_t)l, from = j[k + l];
                const float item = x[from]; /* what lands at `at`: x[at] goes where it was */
                x[from] = x[at];
                dot[l] += (double)item * t[at];
            }
        for (; k < c; k++, i--) {
            const float item = x[j[k]];
            x[j[k]] = x[i];
            dot[0] += (double)item * t[i];
        }
    }
    dot[0] += (double)x[0] * t[0];
    const double xt = (dot[0] + dot[2]) + (dot[1] + dot[3]);
    return sqrt(1.0 - 2.0 * xt / sqrt(x_squares) + t_squares);
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

/* The ziggurat's tables as draws.py hands them over: w, f (float64) and k (uint64), 256 each */
static int check_tables(const Py_buffer *z)
{
    if (z->len != ZIGGURAT_BYTES) {
        PyErr_Format(PyExc_ValueError, "tables: need %zd bytes (w, f as float64, k as uint64, 256 each)",
                     ZIGGURAT_BYTES);
        return -1;
    }
    return check_items(z, "tables", 1, 768, 768, 8);
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
    if (check_tables(&z) == 0 && check_entropy(&e) == 0 && check_itemsize(itemsize) == 0 &&
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
        uint64_t room[WORDS_AHEAD];
        stream g;
        stream_start(&g, room, e.buf, e.len / 4);
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

/* A batch's seeds: `seeds` entropies of `words` 32-bit words each, one after another. */
static int check_seeds(const Py_buffer *e, Py_ssize_t words, Py_ssize_t *seeds)
{
    if (words < 1 || e->len % 4 != 0 || (e->len / 4) % words != 0) {
        PyErr_SetString(PyExc_ValueError, "entropies: need whole seeds of `words` 32-bit words (words >= 1)");
        return -1;
    }
    *seeds = e->len / 4 / words;
    return 0;
}

static PyObject *py_inputs(PyObject *self, PyObject *args)
{
    Py_buffer e, z, out;
    Py_ssize_t words, n, seeds = 0;
    if (!PyArg_ParseTuple(args, "y*ny*w*n:inputs", &e, &words, &z, &out, &n))
        return NULL;
    PyObject *res = NULL;
    if (check_tables(&z) == 0 && check_seeds(&e, words, &seeds) == 0 && check_items(&out, "out", seeds, n, n, 4) == 0) {
        Py_BEGIN_ALLOW_THREADS
        pcg64 g[STREAMS];
        for (Py_ssize_t b0 = 0; b0 < seeds; b0 += STREAMS) {
            const int k = seeds - b0 < STREAMS ? (int)(seeds - b0) : STREAMS;
            float *o[STREAMS];
            for (int u = 0; u < k; u++) {
                pcg64_seed(&g[u], (const unsigned char *)e.buf + (b0 + u) * words * 4, words);
                o[u] = (float *)out.buf + (b0 + u) * n;
            }
            if (k == STREAMS)
                normals4(g, z.buf, o, n);
            else
                for (int u = 0; u < k; u++)
                    normals_loop(&g[u], z.buf, o[u], n, 4);
        }
        Py_END_ALLOW_THREADS
        res = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&e);
    PyBuffer_Release(&z);
    PyBuffer_Release(&out);
    return res;
}

static PyObject *py_distances(PyObject *self, PyObject *args)
{
    Py_buffer e, t, out;
    PyObject *x_obj;
    matrix x = {0};
    Py_ssize_t words, seeds = 0;
    if (!PyArg_ParseTuple(args, "y*nOy*w*:distances", &e, &words, &x_obj, &t, &out))
        return NULL;
    PyObject *res = NULL;
    uint64_t *room = NULL;
    float *row = NULL;
    if (check_seeds(&e, words, &seeds) < 0 || matrix_get(x_obj, &x, "logits", 0) < 0)
        goto done;
    const Py_ssize_t n = x.cols;
    if (x.rows != seeds)
        PyErr_Format(PyExc_ValueError, "logits: need a row for each of the %zd seeds, not %zd", seeds, x.rows);
    else if (n < 1 || n > (Py_ssize_t)UINT32_MAX)
        PyErr_SetString(PyExc_ValueError, "logits: need 1 to 2^32 - 1 of them a row (numpy draws 64-bit indices past that)");
    else if (check_items(&t, "target", 1, n, n, 8) == 0 && check_items(&out, "out", 1, seeds, seeds, 8) == 0) {
        room = PyMem_RawMalloc(STREAMS * AHEAD_MAX * sizeof(uint64_t));
        row = PyMem_RawMalloc((size_t)n * sizeof(float));
        if (room == NULL || row == NULL)
            PyErr_NoMemory();
        else {
            const double *target = t.buf;
            double *dist = out.buf;
            Py_BEGIN_ALLOW_THREADS
            double t_squares = 0.0;
            for (Py_ssize_t j = 0; j < n; j++)
                t_squares += target[j] * target[j];
            const Py_ssize_t ahead = shuffle_words(n);
            stream st[STREAMS];
            for (Py_ssize_t b0 = 0; b0 < seeds; b0 += STREAMS) {
                const int k = seeds - b0 < STREAMS ? (int)(seeds - b0) : STREAMS;
                for (int u = 0; u < k; u++)
                    stream_start(&st[u], room + u * AHEAD_MAX, (const unsigned char *)e.buf + (b0 + u) * words * 4,
                                 words);
                streams_ahead(st, k, ahead);
                for (int u = 0; u < k; u++) {
                    memcpy(row, x.p + (b0 + u) * x.stride, (size_t)n * sizeof(float));
                    dist[b0 + u] = shuffled_distance(&st[u], row, target, t_squares, n);
                }
            }
            Py_END_ALLOW_THREADS
            res = Py_NewRef(Py_None);
        }
    }
done:
    PyMem_RawFree(room);
    PyMem_RawFree(row);
    matrix_release(&x);
    PyBuffer_Release(&e);
    PyBuffer_Release(&t);
    PyBuffer_Release(&out);
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
    {"inputs", py_inputs, METH_VARARGS,
     "inputs(entropies, words, tables, out, n): for each seed of `words` words in entropies, n standard normals "
     "(float32) into out, one seed's after another."},
    {"distances", py_distances, METH_VARARGS,
     "distances(entropies, words, logits, target, out): for each seed (`words` words) and float32 row of logits, "
     "|row shuffled by that generator / |row| - target| in float64 into out; logits are not changed."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_draws", "The PoC round's random numbers, bit for bit numpy's (see draws.py).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__draws(void) { return PyModule_Create(&module); }
