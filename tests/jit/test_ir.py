"""The graph IR: building, canonical printing, verification and the reference interpreter."""

import dataclasses
import textwrap

import numpy
import pytest

import dualgrad as dg
import dualgrad.functions as F
from dualgrad.errors import DTypeError, ShapeError
from dualgrad.ops.elementwise import Add, Exp, Mul, Tanh
from dualgrad.ops.linalg import MatMul
from dualgrad.ops.reduce import Max, Sum
from dualgrad.ops.stable import LogSoftmax
from dualgrad_jit.ir import (
    Const,
    Equation,
    Graph,
    GraphBuilder,
    IRError,
    Var,
    check_against,
    interpret,
    print_graph,
    verify,
)

from .helpers import aval, record


def golden(text):
    return textwrap.dedent(text).strip("\n")


def mlp_layer_graph():
    b = GraphBuilder()
    x = b.add_input(aval("float32", 32, 784))
    w = b.add_input(aval("float32", 100, 784))
    h = b.apply(MatMul(transb=True), (x, w))
    return b.build([b.apply(Tanh(), (h,))])


# -- building and printing -----------------------------------------------------------
def test_builder_types_each_equation_with_infer():
    graph = mlp_layer_graph()
    assert [eq.op.name for eq in graph.equations] == ["MatMul", "Tanh"]
    assert graph.out_avals == (aval("float32", 32, 100),)
    assert print_graph(graph) == golden("""
        { lambda %0:f32[32,784], %1:f32[100,784] ;
          %2:f32[32,100] = MatMul{transa=False, transb=True} %0 %1
          %3:f32[32,100] = Tanh %2
         } -> (%3)
    """)
    assert str(graph) == print_graph(graph)


def test_printer_renumbers_vars_so_equal_graphs_print_equal():
    GraphBuilder().add_input(aval("float32", 1))  # shifts the ids the next builder gets
    first, second = mlp_layer_graph(), mlp_layer_graph()
    assert first.inputs[0].id != second.inputs[0].id
    assert str(first) == str(second)


def test_printer_shows_attributes_in_slot_order_and_constants_inline():
    b = GraphBuilder()
    x = b.add_input(aval("float32", 2, 3))
    m = b.apply(Max(axis=1, keepdims=True), (x,))
    s = b.apply(Sum(axis=(0, 1)), (b.apply(Mul(), (m, 0.5)),))
    small = b.apply(Add(), (x, numpy.arange(3, dtype="float32")))
    big = b.apply(Add(), (x, numpy.zeros((100, 2, 3), "float32")))
    strong = b.apply(Mul(), (x, numpy.float32(2.0)))
    graph = b.build([s, small, big, strong, 1])
    assert str(graph) == golden("""
        { lambda %0:f32[2,3] ;
          %1:f32[2,1] = Max{axis=1, keepdims=True, initial=None} %0
          %2:f32[2,1] = Mul %1 0.5
          %3:f32[] = Sum{axis=(0, 1), keepdims=False} %2
          %4:f32[2,3] = Add %0 [0.0,1.0,2.0]:f32[3]
          %5:f32[100,2,3] = Add %0 const#25ec9c9d:f32[100,2,3]
          %6:f32[2,3] = Mul %0 2.0:f32[]
         } -> (%3, %4, %5, %6, 1)
    """)


def test_apply_raises_the_ops_typed_errors():
    b = GraphBuilder()
    x = b.add_input(aval("float32", 2, 3))
    with pytest.raises(ShapeError, match="inner dimensions differ"):
        b.apply(MatMul(), (x, x))
    with pytest.raises(DTypeError, match="LogSoftmax"):
        b.apply(LogSoftmax(), (b.add_input(aval("int32", 2, 3)),))


def test_builder_rejects_vars_of_another_graph():
    other = GraphBuilder().add_input(aval("float32", 2))
    with pytest.raises(IRError, match="not made by this builder"):
        GraphBuilder().apply(Exp(), (other,))


def test_const_is_compared_by_value_and_cannot_change():
    source = numpy.array([1.0, 2.0])
    a, b = Const.of(source), Const.of(numpy.array([1.0, 2.0]))
    source[0] = 5.0
    assert a == b and hash(a) == hash(b)
    assert a.value[0] == 1.0 and not a.value.flags.writeable
    assert Const.of(1) != Const.of(1.0)
    assert Const.of(0.0) != Const.of(-0.0)
    assert Const.of(float("nan")) == Const.of(float("nan"))
    assert Const.of(2.0).aval.weak and not Const.of(numpy.float32(2.0)).aval.weak


def test_graphs_are_immutable():
    graph = mlp_layer_graph()
    with pytest.raises(dataclasses.FrozenInstanceError):
        graph.outputs = ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        graph.equations[0].op = Tanh()


# -- verification --------------------------------------------------------------------
def test_verify_accepts_built_graphs():
    graph = mlp_layer_graph()
    assert verify(graph) is graph


def test_verify_names_the_equation_with_a_wrong_aval():
    x = Var(0, aval("float32", 3))
    bad = Equation(Exp(), (x,), Var(1, aval("float32", 2)))
    with pytest.raises(IRError, match=r"equation 0 `%1:f32\[2\] = Exp %0`.*infers f32\[3\]"):
        verify(Graph((x,), (bad,), (bad.out,)))


def test_verify_catches_use_before_definition():
    x = Var(0, aval("float32", 3))
    first = Equation(Exp(), (x,), Var(1, x.aval))
    second = Equation(Tanh(), (first.out,), Var(2, x.aval))
    with pytest.raises(IRError, match="equation 0 .* used before it is defined"):
        verify(Graph((x,), (second, first), (second.out,)))


def test_verify_catches_redefinition_and_undefined_outputs():
    x = Var(0, aval("float32", 3))
    redefine = Equation(Exp(), (x,), Var(0, x.aval))
    with pytest.raises(IRError, match="redefines"):
        verify(Graph((x,), (redefine,), (x,)))
    with pytest.raises(IRError, match="output 0"):
        verify(Graph((x,), (), (Var(7, x.aval),)))


# -- the reference interpreter -------------------------------------------------------
def mlp(x, W1, b1, W2, b2, t):
    h = F.tanh(F.linear(x, W1, b1))
    return F.softmax_cross_entropy(F.linear(h, W2, b2), t), h


def test_interpreter_equals_eager_dualgrad_on_an_mlp():
    rng = numpy.random.default_rng(0)
    args = [rng.standard_normal(s).astype("float32") for s in ((4, 3), (5, 3), (5,), (2, 5), (2,))]
    args.append(numpy.array([0, 1, 1, 0], "int32"))
    graph = verify(record(mlp, *(aval(a.dtype, *a.shape) for a in args)))
    loss, hidden = interpret(graph, args)
    eager_loss, eager_hidden = mlp(*(dg.Variable(a) for a in args))
    numpy.testing.assert_array_equal(loss, eager_loss.array)
    numpy.testing.assert_array_equal(hidden, eager_hidden.array)
    assert loss.dtype == numpy.float32 and loss.shape == ()


def test_interpreter_reports_arguments_that_do_not_fit():
    graph = mlp_layer_graph()
    with pytest.raises(IRError, match="takes 2 inputs, got 1"):
        interpret(graph, [numpy.zeros((32, 784), "float32")])
    with pytest.raises(IRError, match=r"argument 1 is f64\[100,784\].*f32\[100,784\]"):
        interpret(graph, [numpy.zeros((32, 784), "float32"), numpy.zeros((100, 784))])


def test_interpreter_returns_constant_and_input_outputs():
    b = GraphBuilder()
    x = b.add_input(aval("float64", 2))
    out = interpret(b.build([x, 2.5]), [numpy.ones(2)])
    numpy.testing.assert_array_equal(out[0], [1.0, 1.0])
    assert out[1] == 2.5


def test_interpreter_shows_every_intermediate():
    seen = []
    interpret(mlp_layer_graph(), [numpy.zeros((32, 784), "float32"),
                                  numpy.zeros((100, 784), "float32")],
              on_value=lambda eq, value: seen.append((eq.op.name, value.shape)))
    assert seen == [("MatMul", (32, 100)), ("Tanh", (32, 100))]


def test_check_against_finds_a_difference():
    b = GraphBuilder()
    x = b.add_input(aval("float64", 2))
    doubled, tripled = b.build([b.apply(Mul(), (x, 2.0))]), b.build([b.apply(Mul(), (x, 3.0))])
    check_against(doubled, doubled, [numpy.ones(2)])
    with pytest.raises(AssertionError, match="output 0 differs"):
        check_against(doubled, tripled, [numpy.ones(2)])


def test_inline_calls_one_graph_from_another():
    layer = mlp_layer_graph()
    b = GraphBuilder()
    x, w = b.add_input(aval("float32", 32, 784)), b.add_input(aval("float32", 100, 784))
    (y,) = b.inline(layer, (x, w))
    graph = verify(b.build([b.apply(Exp(), (y,))]))
    assert [eq.op.name for eq in graph.equations] == ["MatMul", "Tanh", "Exp"]
    with pytest.raises(IRError, match=r"input 1 of the inlined graph is f32\[100,784\], got"):
        b.inline(layer, (x, numpy.float32(1.0)))


def test_constants_must_be_numbers():
    with pytest.raises(TypeError, match="cannot make a graph constant of str"):
        Const.of("tanh")


def test_verify_catches_operands_that_are_not_values():
    x = Var(0, aval("float64", 3))
    raw = Equation(Mul(), (x, 2.0), Var(1, x.aval))
    with pytest.raises(IRError, match=r"equation 0 `%1:f64\[3\] = Mul %0 <2.0>`: operand 1"):
        verify(Graph((x,), (raw,), (raw.out,)))
