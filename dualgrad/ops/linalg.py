"""Matrix products: batched ``matmul`` with numpy broadcasting of the batch dimensions.

The op takes the transposition flags itself (as BLAS ``gemm`` does), so its backward
is two more ``MatMul``s with flipped flags and no transpose copies.
"""

import numpy

from ..core.aval import ShapedArray, aval_of, result_dtype
from ..core.op import Op, check_arity
from ..core.tape import apply
from ..errors import ShapeError
from ..lowering import LibraryCall
from . import view


def _matrix_shape(shape, trans):
    """``(rows, cols)`` of the last two axes after the optional transposition."""
    rows, cols = shape[-2], shape[-1]
    return (cols, rows) if trans else (rows, cols)


class MatMul(Op):
    """``C = op(A) @ op(B)`` over the last two axes, ``op`` transposing where flagged;
    the leading (batch) axes broadcast as in numpy.  Both inputs have ndim >= 2.

    VJP, with ``A' = op(A)`` and ``B' = op(B)``: ``dA' = gC @ B'^T``, ``dB' = A'^T @ gC``;
    a flagged input gets the transpose of that, ``dA = B' @ gC^T`` / ``dB = gC^T @ A'``.
    Gradients come out with the broadcast batch shape; the engine sums them back.
    """

    __slots__ = ("transa", "transb")

    def __init__(self, transa=False, transb=False):
        self.transa = bool(transa)
        self.transb = bool(transb)

    def infer(self, *avals):
        check_arity(self, avals, 2)
        a, b = avals
        if a.ndim < 2 or b.ndim < 2:
            raise ShapeError(
                self.name, "needs inputs with at least 2 dimensions", avals,
                hint="use F.matmul, which takes 1-D inputs like numpy, or F.mul for scalars",
            )
        m, k = _matrix_shape(a.shape, self.transa)
        k_b, n = _matrix_shape(b.shape, self.transb)
        if k != k_b:
            raise ShapeError(
                self.name,
                f"inner dimensions differ: {a.shape}{'^T' if self.transa else ''} @ "
                f"{b.shape}{'^T' if self.transb else ''} contracts {k} with {k_b}",
                avals,
                hint="the last axis of a must match the second-to-last of b; transpose one "
                "(transa=True / transb=True or x.T) or reshape",
            )
        try:
            batch = numpy.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ShapeError(
                self.name,
                f"batch dimensions {a.shape[:-2]} and {b.shape[:-2]} cannot be broadcast",
                avals, hint="make the leading axes equal or 1 (reshape or expand_dims one input)",
            ) from None
        return ShapedArray(tuple(batch) + (m, n), result_dtype(self.name, avals))

    def forward(self, xp, a, b):
        if self.transa:
            a = xp.swapaxes(a, -1, -2)
        if self.transb:
            b = xp.swapaxes(b, -1, -2)
        return xp.matmul(a, b)

    def backward(self, gy, inputs, y, need):
        a, b = inputs
        ga = gb = None
        if need[0]:
            if self.transa:
                ga = apply(MatMul(self.transb, True), (b, gy))
            else:
                ga = apply(MatMul(False, not self.transb), (gy, b))
        if need[1]:
            if self.transb:
                gb = apply(MatMul(True, self.transa), (gy, a))
            else:
                gb = apply(MatMul(not self.transa, False), (a, gy))
        return ga, gb

    def lower(self, a, b):
        return LibraryCall("gemm", (("transa", self.transa), ("transb", self.transb)))


def matmul(a, b, transa=False, transb=False):
    """Matrix product as ``numpy.matmul``, with Chainer's ``transa``/``transb``.

    Inputs of ndim >= 2 are stacks of matrices whose batch axes broadcast.  A 1-D ``a``
    is a row vector and a 1-D ``b`` a column vector (the added axis is removed from the
    result); the flags leave 1-D inputs alone, as in Chainer.

    >>> import numpy as np
    >>> a, b = np.ones((2, 3)), np.ones((2, 3))
    >>> matmul(a, b, transb=True).array
    array([[3., 3.],
           [3., 3.]])
    >>> matmul(np.ones(3), np.ones((5, 3, 4))).shape
    (5, 4)
    """
    a_aval, b_aval = aval_of(a), aval_of(b)
    if a_aval.ndim == 0 or b_aval.ndim == 0:
        raise ShapeError(
            "MatMul", "cannot multiply 0-d (scalar) inputs as matrices", (a_aval, b_aval),
            hint="use F.mul (or *) to scale by a scalar",
        )
    if a_aval.ndim == 1:
        a, transa = view.reshape(a, (1,) + a_aval.shape), False
    if b_aval.ndim == 1:
        b, transb = view.reshape(b, b_aval.shape + (1,)), False
    y = apply(MatMul(transa, transb), (a, b))
    if a_aval.ndim == 1 or b_aval.ndim == 1:
        keep = y.shape[:-2]
        keep += () if a_aval.ndim == 1 else y.shape[-2:-1]
        keep += () if b_aval.ndim == 1 else y.shape[-1:]
        y = view.reshape(y, keep)
    return y
