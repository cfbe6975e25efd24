/* The compiled PoC modules' one check of a buffer argument (included by _fused.c and _draws.c). */
#ifndef GONKA_POC_BUFFERS_H
#define GONKA_POC_BUFFERS_H
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* The buffer holds `rows` rows of `cols` items of `itemsize` bytes, `stride` items apart, from its
 * start, and its start is aligned for them. */
static int check_items(const Py_buffer *b, const char *name, Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t stride,
                       Py_ssize_t itemsize)
{
    if (rows < 0 || cols < 0 || stride < cols) {
        PyErr_Format(PyExc_ValueError, "%s: need rows >= 0, cols >= 0 and a row stride >= cols", name);
        return -1;
    }
    if ((uintptr_t)b->buf % (uintptr_t)itemsize != 0) {
        PyErr_Format(PyExc_ValueError, "%s: the buffer is not aligned for items of %zd bytes", name, itemsize);
        return -1;
    }
    if (rows == 0 || cols == 0)
        return 0;
    Py_ssize_t room = b->len / itemsize;
    /* (rows − 1)·stride + cols ≤ room, without overflow */
    if (cols > room || rows - 1 > (room - cols) / stride) { /* stride >= cols > 0 here */
        PyErr_Format(PyExc_ValueError, "%s: the buffer holds %zd items, fewer than %zd rows of %zd, %zd apart", name,
                     room, rows, cols, stride);
        return -1;
    }
    return 0;
}

/* A 2-D float32 array argument taken with its strides (numpy's arrays and their row and column
 * slices, not copied): `rows` rows of `cols` floats, the floats of a row adjacent, rows `stride`
 * floats apart (stride >= cols, so rows never overlap). The exporter guarantees every element lies
 * in its memory, so no span is checked against a length. */
typedef struct {
    Py_buffer view;
    float *p;
    Py_ssize_t rows, cols, stride;
} matrix;

static int float32_format(const char *f)
{
    if (f == NULL)
        return 1; /* PyBUF_FORMAT asked: NULL means unsigned bytes, refused by itemsize below */
    if (f[0] == '@' || f[0] == '=' || f[0] == '<')
        f++;
    return f[0] == 'f' && f[1] == '\0';
}

/* A float32 array of `ndim` dimensions (2, or 1: a vector, held as a matrix of one row): 0 with the
 * view held (release with matrix_release), or -1 with an exception and nothing held. */
static int float32_get(PyObject *obj, matrix *m, const char *name, int writable, int ndim)
{
    memset(m, 0, sizeof *m);
    if (PyObject_GetBuffer(obj, &m->view, PyBUF_STRIDES | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0)) < 0) {
        m->view.obj = NULL;
        return -1;
    }
    const Py_buffer *v = &m->view;
    const Py_ssize_t f = (Py_ssize_t)sizeof(float);
    const char *why = NULL;
    if (v->ndim != ndim)
        why = ndim == 2 ? "need a 2-D array" : "need a vector";
    else if (v->itemsize != f || !float32_format(v->format))
        why = "need float32";
    else if ((uintptr_t)v->buf % sizeof(float) != 0)
        why = "not aligned for float32";
    else {
        m->rows = ndim == 2 ? v->shape[0] : 1;
        m->cols = v->shape[ndim - 1];
        m->stride = m->cols;
        if (m->cols > 1 && v->strides[ndim - 1] != f)
            why = ndim == 2 ? "need contiguous rows (a column stride of one float)" : "need adjacent floats";
        else if (m->rows > 1) {
            if (v->strides[0] < 0 || v->strides[0] % f != 0 || v->strides[0] / f < m->cols)
                why = "need rows in order, a whole number of floats apart, not overlapping";
            else
                m->stride = v->strides[0] / f;
        }
    }
    if (why != NULL) {
        PyErr_Format(PyExc_ValueError, "%s: %s", name, why);
        PyBuffer_Release(&m->view);
        m->view.obj = NULL;
        return -1;
    }
    m->p = v->buf;
    return 0;
}

static int matrix_get(PyObject *obj, matrix *m, const char *name, int writable)
{
    return float32_get(obj, m, name, writable, 2);
}

static int vector_get(PyObject *obj, matrix *m, const char *name, int writable)
{
    return float32_get(obj, m, name, writable, 1);
}

static void matrix_release(matrix *m)
{
    if (m->view.obj != NULL)
        PyBuffer_Release(&m->view);
    m->view.obj = NULL;
}

#endif
