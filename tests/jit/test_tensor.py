"""dualgrad_jit.tensor: typed constructors, symbolic variables mirroring dg.Variable, and
every function computed symbolically (through dj.function) equal to eager."""

import numpy as np
import pytest

import dualgrad as dg
import dualgrad.functions as F
import dualgrad_jit as dj
import dualgrad_jit.tensor as T
from dualgrad.errors import ConcretizationError, DTypeError, ShapeError
from dualgrad.ops import elementwise as ew

RNG = np.random.default_rng(0)


def data(*shape, dtype="float64", positive=False):
    values = RNG.standard_normal(shape)
    if positive:
        values = np.abs(values) + 0.5
    return np.asarray(values, dtype=dtype)


def labels(n, classes):
    return RNG.integers(0, classes, n).astype(np.int32)


# -- constructors and types -------------------------------------------------------------------
@pytest.mark.parametrize("name, dtype, shape", [
    ("bscalar", "int8", ()), ("wvector", "int16", (None,)), ("irow", "int32", (1, None)),
    ("lcol", "int64", (None, 1)), ("fmatrix", "float32", (None, None)),
    ("dtensor3", "float64", (None,) * 3), ("ftensor4", "float32", (None,) * 4),
    ("dtensor5", "float64", (None,) * 5),
])
def test_typed_constructors(name, dtype, shape):
    x = getattr(T, name)("x")
    assert (x.dtype, x.type.shape, x.ndim, x.name) == (dtype, shape, len(shape), "x")
    assert x.type == getattr(T, name)
    assert x.broadcastable == tuple(d == 1 for d in shape)


def test_types_print_as_theano_does():
    assert repr(T.dscalar) == "TensorType(float64, scalar)"
    assert repr(T.fmatrix("x").type) == "TensorType(float32, matrix)"
    assert repr(T.drow().type) == "TensorType(float64, row)"
    assert repr(T.tensor("int32", shape=(None, 3)).type) == "TensorType(int32, shape=(?, 3))"
    assert repr(T.tensor("float64", (False, True)).type) == "TensorType(float64, col)"


def test_plurals():
    x, y = T.dscalars("x", "y")
    assert (x.name, y.name, x.type) == ("x", "y", T.dscalar)
    assert T.dmatrices("a").name == "a"  # one name: one variable, as in Theano
    assert [m.type for m in T.fmatrices(3)] == [T.fmatrix] * 3
    assert [v.dtype for v in T.vectors("u", "v")] == ["float64", "float64"]


def test_unprefixed_constructors_follow_floatx():
    assert T.matrix().dtype == "float64"
    dj.config.floatX = "float32"
    try:
        assert T.matrix().dtype == "float32"
        assert T.vector(dtype="int32").dtype == "int32"
        assert T.cast(T.iscalar(), "floatX").dtype == "float32"
    finally:
        dj.config.floatX = "float64"
    with pytest.raises(ValueError, match="floatX"):
        dj.config.floatX = "float16"


# -- symbolic variables ------------------------------------------------------------------------
def test_types_are_inferred_by_the_ops_themselves():
    x, W = T.dmatrix("x"), T.tensor("float64", shape=(784, 10))
    assert (x + 1).type == T.dmatrix
    assert T.dot(x, W).type == T.tensor("float64", shape=(None, 10)).type
    assert x.sum(axis=0).type == T.dvector
    assert x.sum().type == T.dscalar
    assert (T.fmatrix() * 2.0).dtype == "float32"  # Python numbers stay weak, as in eager
    assert (T.fmatrix() < 0).dtype == "bool"
    assert x.reshape((2, -1)).type.shape == (2, None)
    assert x.dimshuffle("x", 1, 0).broadcastable == (True, False, False)
    assert T.drow().dimshuffle(1).type == T.dvector  # dropping the broadcastable axis


def test_operators_and_methods_mirror_dg_variable():
    a, b = T.dmatrices("a", "b")
    exprs = [a + b, a - 2, 3 - a, a * b, a / b, 2 / a, a ** 2, 2 ** a, a @ b, -a, abs(a),
             a < b, a <= b, a > b, a >= b, T.eq(a, b), a[0], a[:, 1:], a.T, a.sum(axis=1),
             a.mean(), a.max(axis=0), a.min(), a.reshape((4,)), a.transpose(1, 0),
             a.astype("float32"), a.prod(axis=1), a.argmax(axis=1), a.flatten(),
             a.clip(-0.5, 0.5)]
    f = dj.function([a, b], exprs)
    x, y = data(2, 2), data(2, 2, positive=True)
    X, Y = dg.Variable(x), dg.Variable(y)
    eager = [X + Y, X - 2, 3 - X, X * Y, X / Y, 2 / X, X ** 2, 2 ** X, X @ Y, -X, abs(X),
             X < Y, X <= Y, X > Y, X >= Y, X == Y, X[0], X[:, 1:], X.T, X.sum(axis=1),
             X.mean(), X.max(axis=0), X.min(), X.reshape((4,)), X.transpose(1, 0),
             X.astype("float32"), F.prod(X, axis=1), F.argmax(X, axis=1), F.flatten(X),
             F.clip(X, -0.5, 0.5)]
    for got, want in zip(f(x, y), eager):
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want.array, rtol=1e-12)


def test_numpy_arrays_on_the_left_stay_symbolic():
    x = T.dvector("x")
    expr = np.array([1.0, 2.0]) * x
    np.testing.assert_array_equal(dj.function([x], expr)([3, 4]), [3, 8])


def test_dimshuffle_follows_theano():
    b = T.dvector("b")
    m = T.dtensor3("m")
    f = dj.function([b, m], [b.dimshuffle("x", 0, "x", "x"), m.dimshuffle(2, 0, 1),
                             m.dimshuffle(0, "x", 2, 1)])
    out = f(np.arange(3.0), np.zeros((2, 3, 4)))
    assert [o.shape for o in out] == [(1, 3, 1, 1), (4, 2, 3), (2, 1, 4, 3)]
    with pytest.raises(ShapeError, match="drops axis 0, which has size 2"):
        dj.function([m], m.dimshuffle(1, 2))(np.zeros((2, 3, 4)))


def test_symbolic_shape_serves_reshapes_and_arithmetic():
    x = T.dtensor3("x")
    flat = x.reshape((x.shape[0], -1))
    f = dj.function([x], [flat, x.shape, x.shape[1] * 2, T.zeros((x.shape[0], 2)),
                          x.size])
    out = f(np.ones((2, 3, 4)))
    assert out[0].shape == (2, 12)
    np.testing.assert_array_equal(out[1], [2, 3, 4])
    assert int(out[2]) == 6 and out[3].shape == (2, 2) and int(out[4]) == 24


def test_python_conversions_raise_concretization_errors_with_the_fix():
    x = T.dscalar("x")
    with pytest.raises(ConcretizationError, match="T.switch"):
        if x > 0:
            pass
    for convert in (float, int, len):
        with pytest.raises(ConcretizationError, match="dj.scan"):
            convert(x)
    with pytest.raises(ConcretizationError):
        np.asarray(x)
    with pytest.raises(TypeError, match="not iterable"):
        list(x)


def test_a_function_that_concretizes_fails_at_construction():
    def branchy(v):
        return v * 2 if float(F.sum(v).array) > 0 else v

    with pytest.raises(ConcretizationError):
        T.basic.symbolic(branchy)(T.dvector("x"))


def test_shape_errors_of_fully_known_shapes_come_at_construction_as_in_eager():
    a, b = T.tensor("float64", shape=(2, 3)), T.tensor("float64", shape=(4, 3))
    with pytest.raises(ShapeError, match="MatMul"):
        _ = a @ b


def test_shape_errors_of_free_shapes_come_at_call_time_naming_the_expression():
    a, b = T.dmatrices("a", "b")
    f = dj.function([a, b], T.dot(a, b))
    with pytest.raises(ShapeError, match="inner dimensions differ") as info:
        f(np.ones((2, 3)), np.ones((2, 3)))
    assert "dot(a, b)" in "\n".join(info.value.__notes__)


def test_dtype_errors_come_at_construction():
    with pytest.raises(DTypeError, match="labels must be integers"):
        T.basic.symbolic(F.softmax_cross_entropy)(T.dmatrix(), T.dvector())


def test_switch_is_where_and_t_functions_are_f_functions():
    x = T.dvector("x")
    assert T.exp(x).owner.fn is F.exp
    assert T.switch(x > 0, x, 0).owner.fn is F.where
    assert T.nnet.relu(x).owner.fn is F.relu
    assert (x + 1).owner.fn is ew.add
    f = dj.function([x], T.switch(x > 0, x, -x))
    np.testing.assert_array_equal(f([-1.0, 2.0]), [1.0, 2.0])


def test_theano_dot_semantics():
    v, w, m, t = T.dvector(), T.dvector(), T.dmatrix(), T.dtensor3()
    f = dj.function([v, w, m, t], [T.dot(v, w), T.dot(m, v), T.dot(v, m.T), T.dot(m, m.T),
                                   T.dot(t, w)])
    a, b, c, d = data(3), data(3), data(2, 3), data(2, 4, 3)
    out = f(a, b, c, d)
    for got, want in zip(out, [a @ b, c @ a, a @ c.T, c @ c.T, d @ b]):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    assert out[0].shape == ()


# -- every function, symbolically and eagerly -------------------------------------------------
CASES = [
    ("exp", F.exp, [data(3, 4)], {}),
    ("log", F.log, [data(3, 4, positive=True)], {}),
    ("log1p", F.log1p, [data(3, positive=True)], {}),
    ("sqrt", F.sqrt, [data(3, positive=True)], {}),
    ("tanh", F.tanh, [data(3, 4)], {}),
    ("sin", F.sin, [data(5)], {}),
    ("erf", F.erf, [data(5)], {}),
    ("sigmoid", F.sigmoid, [data(3, 4)], {}),
    ("relu", F.relu, [data(3, 4)], {}),
    ("leaky_relu", F.leaky_relu, [data(3, 4)], {"slope": 0.1}),
    ("elu", F.elu, [data(3, 4)], {}),
    ("softplus", F.softplus, [data(3, 4)], {}),
    ("softmax", F.softmax, [data(3, 4)], {}),
    ("log_softmax", F.log_softmax, [data(3, 4)], {}),
    ("logsumexp", F.logsumexp, [data(3, 4)], {"axis": 1}),
    ("square", F.square, [data(4)], {}),
    ("maximum", F.maximum, [data(3, 4), data(4)], {}),
    ("where", F.where, [data(3) > 0, data(3), data(3)], {}),
    ("clip", F.clip, [data(6)], {"x_min": -0.5, "x_max": 0.5}),
    ("sum", F.sum, [data(2, 3, 4)], {"axis": (0, 2)}),
    ("mean", F.mean, [data(2, 3)], {"axis": 1, "keepdims": True}),
    ("max", F.max, [data(2, 3)], {"axis": 0}),
    ("prod", F.prod, [data(2, 3)], {"axis": 1}),
    ("argmax", F.argmax, [data(2, 3)], {"axis": 1}),
    ("matmul", F.matmul, [data(2, 3), data(3, 4)], {}),
    ("batch_matmul", F.batch_matmul, [data(2, 3, 4), data(2, 4, 5)], {}),
    ("linear", F.linear, [data(5, 3), data(4, 3), data(4)], {}),
    ("convolution_2d", F.convolution_2d, [data(2, 3, 6, 6), data(4, 3, 3, 3)],
     {"stride": 2, "pad": 1}),
    ("deconvolution_2d", F.deconvolution_2d, [data(1, 2, 3, 3), data(2, 3, 2, 2)], {}),
    ("max_pooling_2d", F.max_pooling_2d, [data(1, 2, 4, 4)], {"ksize": 2}),
    ("average_pooling_2d", F.average_pooling_2d, [data(1, 2, 4, 4)], {"ksize": 2}),
    ("reshape", F.reshape, [data(2, 6)], {"shape": (3, 4)}),
    ("transpose", F.transpose, [data(2, 3, 4)], {"axes": (2, 0, 1)}),
    ("swapaxes", F.swapaxes, [data(2, 3)], {"axis1": 0, "axis2": 1}),
    ("broadcast_to", F.broadcast_to, [data(3)], {"shape": (2, 3)}),
    ("expand_dims", F.expand_dims, [data(3)], {"axis": 0}),
    ("squeeze", F.squeeze, [data(1, 3, 1)], {}),
    ("flatten", F.flatten, [data(2, 3)], {}),
    ("get_item", F.get_item, [data(4, 5)], {"slices": (slice(1, 3), [0, 2, 4])}),
    ("tile", F.tile, [data(2, 3)], {"reps": (2, 1)}),
    ("repeat", F.repeat, [data(3)], {"repeats": 2}),
    ("pad", F.pad, [data(2, 3)], {"pad_width": 1}),
    ("cast", F.cast, [data(3)], {"typ": "float32"}),
    ("softmax_cross_entropy", F.softmax_cross_entropy, [data(4, 3), labels(4, 3)], {}),
    ("sigmoid_cross_entropy", F.sigmoid_cross_entropy,
     [data(4, 3), labels(12, 2).reshape(4, 3)], {}),
    ("mean_squared_error", F.mean_squared_error, [data(3, 2), data(3, 2)], {}),
    ("accuracy", F.accuracy, [data(4, 3), labels(4, 3)], {}),
    ("embed_id", F.embed_id, [labels(5, 4), data(4, 3)], {}),
    ("layer_normalization", F.layer_normalization, [data(3, 4), data(4), data(4)], {}),
    ("fixed_batch_normalization", F.fixed_batch_normalization,
     [data(4, 3), data(3), data(3), data(3), data(3, positive=True)], {}),
    ("lstm", F.lstm, [data(2, 3), data(2, 12)], {}),
]
# Sizes the placeholders declare (free otherwise, except sizes 1, which Theano's types
# carry as broadcastable): lstm needs its 4H = 4 * H relation.
DECLARED = {"lstm": [(None, 3), (None, 12)]}


def _placeholders(arrays, name=None):
    shapes = DECLARED.get(name) or [tuple(1 if d == 1 else None for d in a.shape)
                                    for a in arrays]
    return [T.tensor(a.dtype, shape=shape) for a, shape in zip(arrays, shapes)]


def _eager(fn, arrays, kwargs):
    out = fn(*[dg.Variable(a) for a in arrays], **kwargs)
    return [o.array for o in out] if isinstance(out, tuple) else [out.array]


@pytest.mark.parametrize("name, fn, arrays, kwargs", CASES, ids=[c[0] for c in CASES])
def test_symbolic_equals_eager(name, fn, arrays, kwargs):
    inputs = _placeholders(arrays, name)
    out = T.basic.symbolic(fn)(*inputs, **kwargs)
    outs = list(out) if isinstance(out, tuple) else [out]
    got = dj.function(inputs, outs)(*arrays)
    want = _eager(fn, arrays, kwargs)
    for g, w, o in zip(got, want, outs):
        assert g.shape == w.shape and g.dtype == w.dtype
        assert o.dtype in (None, str(w.dtype)) and o.ndim in (None, w.ndim)
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


DIFFERENTIABLE = [c for c in CASES if c[0] not in ("argmax", "accuracy", "where", "cast")]


@pytest.mark.parametrize("name, fn, arrays, kwargs", DIFFERENTIABLE,
                         ids=[c[0] for c in DIFFERENTIABLE])
def test_symbolic_gradients_equal_eager_gradients(name, fn, arrays, kwargs):
    inputs = _placeholders(arrays, name)
    out = T.basic.symbolic(fn)(*inputs, **kwargs)
    first = out[0] if isinstance(out, tuple) else out
    weights = np.linspace(-1.0, 1.0, int(np.prod(_eager(fn, arrays, kwargs)[0].shape)))
    cost = (first * weights.reshape(_eager(fn, arrays, kwargs)[0].shape)).sum()
    wrt = [v for v, a in zip(inputs, arrays) if a.dtype.kind == "f"]
    got = dj.function(inputs, dj.grad(cost, wrt))(*arrays)
    variables = [dg.Variable(a) for a in arrays]
    eager_out = fn(*variables, **kwargs)
    eager_first = eager_out[0] if isinstance(eager_out, tuple) else eager_out
    eager_cost = F.sum(eager_first * weights.reshape(eager_first.shape))
    want = dg.grad([eager_cost], [v for v in variables if v.dtype.kind == "f"])
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w.array, rtol=1e-10, atol=1e-12)


# -- T and T.nnet functions with Theano's semantics ----------------------------------------------
def test_t_functions():
    a, b = T.dmatrices("a", "b")
    n = T.iscalar("n")
    f = dj.function([a, b, n], [
        T.concatenate([a, b]), T.concatenate([a, b], axis=1), T.stack([a, b]),
        T.stack(a, b), T.ones_like(a), T.zeros_like(a, dtype="int32"),
        T.arange(a.shape[0]) * 2, T.sqr(a), T.maximum(a, 0), T.minimum(a, 0),
        T.cast(a, "int32"), T.sgn(a), T.mean(a, axis=0), T.max(a), T.prod(a, axis=1),
        T.argmax(a, axis=0), T.reshape(a, (-1,)), T.flatten(a), T.transpose(a),
        T.clip(a, -1, 1), T.switch(T.lt(a, b), a, b),
    ], on_unused_input="ignore")
    x, y = data(2, 3), data(2, 3)
    out = f(x, y, 3)
    want = [np.concatenate([x, y]), np.concatenate([x, y], 1), np.stack([x, y]),
            np.stack([x, y]), np.ones_like(x), np.zeros((2, 3), np.int32),
            np.arange(2) * 2, x * x, np.maximum(x, 0), np.minimum(x, 0), x.astype(np.int32),
            np.sign(x), x.mean(0), x.max(), x.prod(1), x.argmax(0), x.reshape(-1),
            x.reshape(-1), x.T, np.clip(x, -1, 1), np.where(x < y, x, y)]
    for got, expected in zip(out, want):
        np.testing.assert_allclose(got, expected, rtol=1e-12)
        assert got.dtype == expected.dtype
    # a size that is data (an input), not a shape, cannot size an arange
    with pytest.raises(ConcretizationError):
        dj.function([n], T.arange(n))(3)


def true_convolution(x, w, pad=(0, 0), stride=(1, 1)):
    """Theano's conv2d by definition: sum over c, i, j of x[n, c, y + i, x + j] times
    the flipped filter w[k, c, kh - 1 - i, kw - 1 - j]."""
    x = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    kh, kw = w.shape[2:]
    flipped = w[:, :, ::-1, ::-1]
    rows = (x.shape[2] - kh) // stride[0] + 1
    cols = (x.shape[3] - kw) // stride[1] + 1
    out = np.zeros((x.shape[0], w.shape[0], rows, cols))
    for r in range(rows):
        for c in range(cols):
            patch = x[:, :, r * stride[0]:r * stride[0] + kh, c * stride[1]:c * stride[1] + kw]
            out[:, :, r, c] = np.einsum("nchw,kchw->nk", patch, flipped)
    return out


@pytest.mark.parametrize("border_mode, pad", [("valid", (0, 0)), ("full", (2, 1)),
                                              ("half", (1, 1)), ((1, 1), (1, 1))])
def test_conv2d_is_a_true_convolution(border_mode, pad):
    x, w = T.dtensor4("x"), T.dtensor4("w")
    f = dj.function([x, w], T.nnet.conv2d(x, w, border_mode=border_mode, subsample=(1, 2)))
    images, filters = data(2, 3, 6, 5), data(4, 3, 3, 2)
    np.testing.assert_allclose(f(images, filters),
                               true_convolution(images, filters, pad, (1, 2)), rtol=1e-10)
    with pytest.raises(ShapeError, match="filter_shape says"):
        dj.function([x, w], T.nnet.conv2d(x, w, filter_shape=(4, 3, 5, 5)))(images, filters)


def test_nnet_functions():
    x, p = T.dmatrices("x", "p")
    t = T.ivector("t")
    f = dj.function([x, p, t], [
        T.nnet.softmax(x), T.nnet.sigmoid(x), T.nnet.relu(x), T.nnet.relu(x, alpha=0.1),
        T.nnet.softplus(x), T.nnet.categorical_crossentropy(T.nnet.softmax(x), t),
        T.nnet.categorical_crossentropy(T.nnet.softmax(x), p),
        T.nnet.binary_crossentropy(T.nnet.sigmoid(x), p),
    ])
    logits, target = data(3, 4), np.full((3, 4), 0.25)
    labels_ = np.array([0, 3, 1], np.int32)
    out = f(logits, target, labels_)
    soft = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    sig = 1 / (1 + np.exp(-logits))
    want = [soft, sig, np.maximum(logits, 0), np.where(logits > 0, logits, 0.1 * logits),
            np.log1p(np.exp(logits)), -np.log(soft[np.arange(3), labels_]),
            -(target * np.log(soft)).sum(1),
            -(target * np.log(sig) + (1 - target) * np.log(1 - sig))]
    for got, expected in zip(out, want):
        np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_t_grad_is_dj_grad():
    x = T.dscalar("x")
    assert T.grad is dj.grad
    assert dj.function([x], T.grad(x ** 2, x))(3.0) == 6.0
