"""Property tests: ``dj.jit(f)(x) == f(x)`` on random programs and inputs.

A program is a list of instructions run on a value ``h`` that starts as the input ``x``:
elementwise ops, arithmetic with ``x`` or a second input ``y`` (broadcasting),
reductions, reshapes and transposes, and Python branches on the data
(``if float(F.sum(h).array) > c:`` / ``if F.max(h).item() < c:``) whose arms are further
instructions.  Each program computes ``h`` and, with ``dg.grad`` inside the function,
the gradients of ``sum(h * h)`` with respect to both inputs.

On several inputs (drawn, negated and scaled, so branches flip) the compiled function
must give eager's values and gradients, and it must be traced exactly once per distinct
path through the branches.
"""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import dualgrad as dg
import dualgrad.functions as F
import dualgrad_jit as dj

from .compiled_cases import BACKENDS

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

UNARY = {
    "tanh": F.tanh, "sin": F.sin, "sigmoid": F.sigmoid, "softplus": F.softplus,
    "square": F.square, "abs": F.absolute, "neg": lambda h: -h,
    "exp_tanh": lambda h: F.exp(F.tanh(h)), "relu": F.relu,
}  # fmt: skip
BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "max": F.maximum, "div": lambda a, b: a / (1.0 + b * b),
}  # fmt: skip
REDUCE = {"sum": F.sum, "mean": F.mean, "max": F.max}


# -- running a program --------------------------------------------------------------------------
def step(instruction, h, x, y, path):
    kind = instruction[0]
    if kind == "unary":
        return UNARY[instruction[1]](h)
    if kind == "affine":
        return h * instruction[1] + instruction[2]
    if kind == "binary":
        _, name, other, operand_first = instruction
        other = x if other == "x" else y
        return BINARY[name](other, h) if operand_first else BINARY[name](h, other)
    if kind == "reduce":
        _, name, axis, keepdims = instruction
        return REDUCE[name](h, axis=axis, keepdims=keepdims)
    if kind == "flatten":
        return F.reshape(h, (-1,))
    if kind == "transpose":
        return F.transpose(h)
    _, test, c, then, otherwise = instruction  # a branch on the data
    taken = float(F.sum(h).array) > c if test == "sum" else F.max(h).item() < c
    path.append(taken)
    for inner in then if taken else otherwise:
        h = step(inner, h, x, y, path)
    return h


def make_function(program, paths):
    """The program as a Python function; every call appends its branch path to ``paths``."""
    def f(x, y):
        path = []
        h = x
        for instruction in program:
            h = step(instruction, h, x, y, path)
        paths.append(tuple(path))
        gx, gy = dg.grad([F.sum(h * h)], [x, y])
        return h, gx, gy

    return f


# -- generating programs --------------------------------------------------------------------------
def _elementwise():
    return st.one_of(
        st.tuples(st.just("unary"), st.sampled_from(sorted(UNARY))),
        st.tuples(st.just("affine"), st.sampled_from([0.5, -1.5, 2.0]),
                  st.sampled_from([0.0, 0.25, -1.0])),
    )


@st.composite
def programs(draw, x_shape, y_shape):
    shape, program = x_shape, []
    for _ in range(draw(st.integers(1, 6))):
        options = ["elementwise", "branch", "branch", "binary"]
        if shape:
            options += ["reduce", "flatten", "transpose"]
        choice = draw(st.sampled_from(options))
        if choice == "elementwise":
            program.append(draw(_elementwise()))
        elif choice == "branch":
            arm = st.lists(_elementwise(), min_size=1, max_size=2).map(tuple)
            program.append(("branch", draw(st.sampled_from(["sum", "max"])),
                            draw(st.sampled_from([-0.5, 0.0, 0.5, 1.0])), draw(arm), draw(arm)))
        elif choice == "binary":
            other = draw(st.sampled_from(["x", "y"]))
            other_shape = x_shape if other == "x" else y_shape
            try:
                new_shape = np.broadcast_shapes(shape, other_shape)
            except ValueError:
                continue
            program.append(("binary", draw(st.sampled_from(sorted(BINARY))), other,
                            draw(st.booleans())))
            shape = new_shape
        elif choice == "reduce":
            axis = draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
            keepdims = draw(st.booleans())
            program.append(("reduce", draw(st.sampled_from(sorted(REDUCE))), axis, keepdims))
            shape = _reduced(shape, axis, keepdims)
        elif choice == "flatten":
            program.append(("flatten",))
            shape = (int(np.prod(shape)),)
        else:
            program.append(("transpose",))
            shape = shape[::-1]
    return program


def _reduced(shape, axis, keepdims):
    axes = range(len(shape)) if axis is None else [axis % len(shape)]
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


@st.composite
def cases(draw):
    x_shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    y_shape = tuple(draw(st.sampled_from([d, 1])) for d in x_shape)[draw(st.integers(0, 1)):]
    program = draw(programs(x_shape, y_shape))
    values = st.floats(-2.0, 2.0, allow_nan=False, width=64)
    xs = draw(st.lists(hnp.arrays(np.float64, x_shape, elements=values), min_size=2,
                       max_size=3))
    y = draw(hnp.arrays(np.float64, y_shape, elements=values))
    return program, xs, y


def _inputs(xs):
    """The drawn inputs plus negated, scaled and shifted ones (so branches flip), each
    twice (the second time every path has a variant)."""
    out = []
    for x in xs:
        out += [x, -x, x * 3.0 + 0.5, x - 1.5]
    return out + out


def _assert_close(got, want, what):
    if want is None:
        assert got is None, what
        return
    got, want = got.array, want.array
    assert got.shape == want.shape and got.dtype == want.dtype, what
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=what)


@SETTINGS
@given(cases())
def test_compiled_random_programs_equal_eager_with_gradients(case):
    for backend in BACKENDS:
        _check_with_gradients(case, backend)


def _check_with_gradients(case, backend):
    program, xs, y = case
    eager_paths, traced_paths = [], []
    eager = make_function(program, eager_paths)
    compiled = dj.jit(make_function(program, traced_paths), backend=backend)
    for x in _inputs(xs):
        want = eager(dg.Variable(x), dg.Variable(y))
        got = compiled(dg.Variable(x), dg.Variable(y))
        for name, g, w in zip(("h", "grad x", "grad y"), got, want):
            _assert_close(g, w, f"{name} of {program} on {backend}")
    distinct = len(set(eager_paths))
    assert compiled.stats["traces"] == distinct, (program, compiled.stats, set(eager_paths))
    assert sorted(set(traced_paths)) == sorted(set(eager_paths))
    assert compiled.stats["replays"] == len(eager_paths) - distinct


@SETTINGS
@given(cases())
def test_compiled_random_programs_without_gradients_equal_eager(case):
    """The same programs on plain arrays (no gradient wanted, forward only), on every
    backend."""
    for backend in BACKENDS:
        _check_without_gradients(case, backend)


def _check_without_gradients(case, backend):
    program, xs, y = case

    def forward(x, y):
        h, path = x, []
        for instruction in program:
            h = step(instruction, h, x, y, path)
        return h

    compiled = dj.jit(forward, backend=backend)
    for x in _inputs(xs):
        want = forward(dg.Variable(x, requires_grad=False), dg.Variable(y, requires_grad=False))
        _assert_close(compiled(x, y), want, str(program))
    assert compiled.stats["traces"] + compiled.stats["replays"] == len(_inputs(xs))
