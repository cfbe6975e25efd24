/* The compiled PoC modules' one check of a buffer argument (included by _fused.c and _draws.c). */
#ifndef GONKA_POC_BUFFERS_H
#define GONKA_POC_BUFFERS_H
#include <Python.h>
#include <stdint.h>

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

#endif
