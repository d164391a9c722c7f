"""Passes: DCE, CSE, constant folding, canonicalisation, specialisation, the pipeline.

Every rewrite rule has a golden before/after test and a numerical check that the
rewritten graph computes what the original does (stabilisation: test_stabilize.py).
"""

import textwrap

import numpy
import pytest

import dualgrad as dg
from dualgrad.ops import elementwise as ew
from dualgrad.ops import linalg, reduce, view
from dualgrad.ops.elementwise import Exp, Mul, Neg, Tanh
from dualgrad.ops.index import Gather, IndexInput
from dualgrad.ops.random import RandomUniform
from dualgrad.ops.view import BroadcastTo
from dualgrad_jit.ir import GraphBuilder, IRError, check_against, interpret, verify
from dualgrad_jit.passes import (
    DEFAULT_PHASES,
    apply_rules,
    eliminate_common_subexpressions,
    eliminate_dead_code,
    fold_constants,
    optimize,
)

from .helpers import aval, record


def golden(text):
    return textwrap.dedent(text).strip("\n")


def rewritten(graph, phase):
    """``graph`` after ``phase`` and a cleanup, verified; the original stays unchanged."""
    before = str(graph)
    after = verify(optimize(graph, phases=(phase, "cleanup")))
    assert str(graph) == before
    return after


def samples(*shape, dtype="float64", positive=False):
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal(shape)
    return (numpy.abs(x) + 0.1 if positive else x).astype(dtype)


# -- DCE, CSE, folding -------------------------------------------------------------------
def test_dead_code_goes_and_inputs_stay():
    b = GraphBuilder()
    x = b.add_input(aval("float32", 3))
    b.add_input(aval("float32", 3))  # unused, but part of the signature
    b.apply(Exp(), (x,))
    graph = b.build([b.apply(Tanh(), (x,))])
    assert str(eliminate_dead_code(graph)) == golden("""
        { lambda %0:f32[3], %1:f32[3] ;
          %2:f32[3] = Tanh %0
         } -> (%2)
    """)


def test_common_subexpressions_are_computed_once_with_constants_compared_by_value():
    def f(x):
        a, b = ew.mul(x, 2.0), ew.mul(x, 2.0)
        c, d = ew.add(x, numpy.ones(3)), ew.add(x, numpy.ones(3))
        s0, s1 = reduce.sum(a, axis=0), reduce.sum(b, axis=0)
        return ew.add(ew.add(s0, s1), ew.add(c, d)), reduce.sum(x, axis=None)

    graph = record(f, aval("float64", 3))
    assert str(eliminate_common_subexpressions(graph)) == golden("""
        { lambda %0:f64[3] ;
          %1:f64[3] = Mul %0 2.0
          %2:f64[3] = Add %0 [1.0,1.0,1.0]:f64[3]
          %3:f64[] = Sum{axis=0, keepdims=False} %1
          %4:f64[] = Add %3 %3
          %5:f64[3] = Add %2 %2
          %6:f64[3] = Add %4 %5
          %7:f64[] = Sum{axis=None, keepdims=False} %0
         } -> (%6, %7)
    """)
    check_against(graph, eliminate_common_subexpressions(graph), [samples(3)])


def test_constant_chains_fold_to_their_values():
    def f(x):
        return ew.mul(x, ew.exp(ew.add(numpy.array([0.0, 1.0]), 0.0)))

    graph = record(f, aval("float64", 2))
    assert str(graph) == golden("""
        { lambda %0:f64[2] ;
          %1:f64[2] = Add [0.0,1.0]:f64[2] 0.0
          %2:f64[2] = Exp %1
          %3:f64[2] = Mul %0 %2
         } -> (%3)
    """)
    folded = verify(optimize(graph, phases=("fold", "dce")))
    assert str(folded) == golden("""
        { lambda %0:f64[2] ;
          %1:f64[2] = Mul %0 [1.0,2.718281828459045]:f64[2]
         } -> (%1)
    """)
    check_against(graph, folded, [samples(2)])


def test_folding_leaves_big_results_and_random_draws_alone():
    b = GraphBuilder()
    big = b.apply(BroadcastTo((1000, 1000)), (numpy.float32(0.0),))
    draw = b.apply(RandomUniform((2,), "float32", 1, 0), ())
    graph = b.build([big, draw])
    assert str(fold_constants(graph)) == str(graph)


def test_folding_leaves_failing_equations_for_run_time():
    b = GraphBuilder()
    out_of_bounds = b.apply(Gather((IndexInput(0),)), (numpy.zeros(3), numpy.array([5])))
    graph = b.build([out_of_bounds])
    assert str(fold_constants(graph)) == str(graph)  # raises when run, as eagerly


def test_folding_keeps_infinities_quietly():
    b = GraphBuilder()
    graph = fold_constants(b.build([b.apply(ew.Log(), (numpy.zeros(2),))]))
    assert str(graph) == golden("""
        { lambda ;
         } -> ([-inf,-inf]:f64[2])
    """)


# -- canonicalisation: golden before/after and numbers for each rule ---------------------
def _broadcast_twice(x):
    return dg.apply(BroadcastTo((4, 2, 3)), (dg.apply(BroadcastTo((2, 3)), (x,)),))


CANONICAL_CASES = {
    "multiply_by_one": (lambda x: ew.mul(1, ew.mul(x, 1.0)), (2, 3), """
        %1:f64[2,3] = Mul %0 1.0
        %2:f64[2,3] = Mul 1 %1""", "", "%0"),
    "add_zero": (lambda x: ew.add(0, ew.add(x, 0.0)), (2, 3), """
        %1:f64[2,3] = Add %0 0.0
        %2:f64[2,3] = Add 0 %1""", "", "%0"),
    "subtract_zero": (lambda x: ew.sub(x, 0.0), (2, 3), """
        %1:f64[2,3] = Sub %0 0.0""", "", "%0"),
    "divide_by_one": (lambda x: ew.div(x, 1), (2, 3), """
        %1:f64[2,3] = Div %0 1""", "", "%0"),
    "double_negation": (lambda x: ew.neg(ew.neg(x)), (2, 3), """
        %1:f64[2,3] = Neg %0
        %2:f64[2,3] = Neg %1""", "", "%0"),
    "negation_of_quotient": (lambda x: ew.neg(ew.div(x, 4)), (2, 3), """
        %1:f64[2,3] = Div %0 4
        %2:f64[2,3] = Neg %1""", """
        %1:f64[2,3] = Neg %0
        %2:f64[2,3] = Div %1 4""", "%2"),
    "reshape_of_reshape": (lambda x: view.reshape(view.reshape(x, (6,)), (3, 2)), (2, 3), """
        %1:f64[6] = Reshape{shape=(6,)} %0
        %2:f64[3,2] = Reshape{shape=(3, 2)} %1""", """
        %1:f64[3,2] = Reshape{shape=(3, 2)} %0""", "%1"),
    "reshape_to_same_shape": (lambda x: view.reshape(view.reshape(x, (6,)), (2, 3)), (2, 3), """
        %1:f64[6] = Reshape{shape=(6,)} %0
        %2:f64[2,3] = Reshape{shape=(2, 3)} %1""", "", "%0"),
    "identity_transpose": (lambda x: view.transpose(view.transpose(x, (1, 2, 0)), (2, 0, 1)),
                           (2, 3, 4), """
        %1:f64[3,4,2] = Transpose{axes=(1, 2, 0)} %0
        %2:f64[2,3,4] = Transpose{axes=(2, 0, 1)} %1""", "", "%0"),
    "transpose_of_transpose": (lambda x: view.transpose(view.transpose(x, (1, 2, 0)), (1, 0, 2)),
                               (2, 3, 4), """
        %1:f64[3,4,2] = Transpose{axes=(1, 2, 0)} %0
        %2:f64[4,3,2] = Transpose{axes=(1, 0, 2)} %1""", """
        %1:f64[4,3,2] = Transpose{axes=(2, 1, 0)} %0""", "%1"),
    "transpose_into_matmul": (lambda x: linalg.matmul(view.transpose(x, (1, 0)), x), (2, 3), """
        %1:f64[3,2] = Transpose{axes=(1, 0)} %0
        %2:f64[3,3] = MatMul{transa=False, transb=False} %1 %0""", """
        %1:f64[3,3] = MatMul{transa=True, transb=False} %0 %0""", "%1"),
    "broadcast_to_same_shape": (lambda x: dg.apply(BroadcastTo((2, 3)), (x,)), (2, 3), """
        %1:f64[2,3] = BroadcastTo{shape=(2, 3)} %0""", "", "%0"),
    "broadcast_of_broadcast": (_broadcast_twice, (3,), """
        %1:f64[2,3] = BroadcastTo{shape=(2, 3)} %0
        %2:f64[4,2,3] = BroadcastTo{shape=(4, 2, 3)} %1""", """
        %1:f64[4,2,3] = BroadcastTo{shape=(4, 2, 3)} %0""", "%1"),
}


def _program(shape, body, result):
    dims = ",".join(str(n) for n in shape)
    lines = [f"{{ lambda %0:f64[{dims}] ;"]
    lines += ["  " + line.strip() for line in textwrap.dedent(body).strip("\n").splitlines()]
    return "\n".join(lines + [f" }} -> ({result})"])


@pytest.mark.parametrize("rule", sorted(CANONICAL_CASES))
def test_canonicalize_rule(rule):
    fn, shape, before, after, result = CANONICAL_CASES[rule]
    graph = record(fn, aval("float64", *shape))
    last = before.strip().splitlines()[-1].split()[0].split(":")[0]
    assert str(graph) == _program(shape, before, last)
    optimized = rewritten(graph, "canonicalize")
    assert str(optimized) == _program(shape, after, result)
    x = samples(*shape)
    x.flat[:3] = [numpy.nan, numpy.inf, -0.0]
    with numpy.errstate(invalid="ignore"):  # inf * 0 inside a product
        check_against(graph, optimized, [x], rtol=0)


def test_only_transposes_of_the_last_two_axes_fold_into_a_product():
    """A batched product's flags transpose each matrix, not the batch axes: moving a
    batch axis must stay a Transpose; swapping the last two (also under a flag) folds."""
    def product(x):
        swapped = view.transpose(x, (0, 2, 1))
        moved = view.transpose(x, (1, 0, 2))
        return linalg.matmul(moved, view.transpose(swapped, (0, 2, 1)), transb=True)

    graph = record(product, aval("float64", 2, 2, 2))
    optimized = rewritten(graph, "canonicalize")
    ops = [type(eq.op).__name__ for eq in optimized.equations]
    assert ops == ["Transpose", "MatMul"]
    assert optimized.equations[0].op.axes == (1, 0, 2)
    product_op = optimized.equations[1].op
    assert (product_op.transa, product_op.transb) == (False, True)
    assert optimized.equations[1].inputs[1] is optimized.inputs[0]
    check_against(graph, optimized, [samples(2, 2, 2)], rtol=0)


def test_a_transposed_product_read_once_comes_out_transposed():
    """``(op(A) op(B))ᵀ = op(B)ᵀ op(A)ᵀ``: the product is made in the layout its
    transpose wants.  A product also read untransposed keeps its Transpose (else two
    products would run)."""
    def once(a, b):
        return view.transpose(linalg.matmul(a, b, transa=True), (1, 0))

    graph = record(once, aval("float64", 4, 2), aval("float64", 4, 3))
    optimized = rewritten(graph, "canonicalize")
    assert str(optimized) == golden("""
        { lambda %0:f64[4,2], %1:f64[4,3] ;
          %2:f64[3,2] = MatMul{transa=True, transb=False} %1 %0
         } -> (%2)""")
    a, b = samples(4, 2), samples(4, 3) + 1
    check_against(graph, optimized, [a, b], rtol=1e-15)

    def twice(a, b):
        product = linalg.matmul(a, b, transa=True)
        return view.transpose(product, (1, 0)), product

    graph = record(twice, aval("float64", 4, 2), aval("float64", 4, 3))
    ops = [type(eq.op).__name__ for eq in rewritten(graph, "canonicalize").equations]
    assert ops == ["MatMul", "Transpose"]


def test_canonicalize_keeps_identities_that_change_the_dtype():
    graph = record(lambda x: ew.mul(x, 1.0), aval("int32", 3))
    assert str(rewritten(graph, "canonicalize")) == str(graph)  # int * 1.0 is float64


# -- specialisation ---------------------------------------------------------------------
SPECIALIZE_CASES = {
    "power_of_one": (1, "", "%0"),
    "power_of_two": (2, "%1:f32[5] = Mul %0 %0", "%1"),
    "power_of_three": (3, """
        %1:f32[5] = Mul %0 %0
        %2:f32[5] = Mul %1 %0""", "%2"),
    "power_of_minus_one": (-1, "%1:f32[5] = Div 1.0 %0", "%1"),
    "power_of_half": (0.5, "%1:f32[5] = Sqrt %0", "%1"),
}


@pytest.mark.parametrize("rule", sorted(SPECIALIZE_CASES))
def test_specialize_rule(rule):
    exponent, after, result = SPECIALIZE_CASES[rule]
    graph = record(lambda x: ew.power(x, exponent), aval("float32", 5))
    assert str(graph) == golden(f"""
        {{ lambda %0:f32[5] ;
          %1:f32[5] = Pow %0 {exponent!r}
         }} -> (%1)
    """)
    body = "\n".join("  " + line.strip() for line in after.strip().splitlines())
    expected = "{ lambda %0:f32[5] ;\n" + (body + "\n" if body else "") + f" }} -> ({result})"
    optimized = rewritten(graph, "specialize")
    assert str(optimized) == expected
    check_against(graph, optimized, [samples(5, dtype="float32", positive=True)], rtol=1e-6)
    with numpy.errstate(invalid="ignore"):  # negative ** 0.5 is NaN on both sides
        check_against(graph, optimized, [-samples(5, dtype="float32", positive=True)], rtol=1e-6)


def test_specialize_leaves_integer_square_roots_alone():
    graph = record(lambda x: ew.power(x, 0.5), aval("int32", 3))
    assert str(rewritten(graph, "specialize")) == str(graph)


# -- the rule engine and the pipeline ---------------------------------------------------
def test_rules_that_undo_each_other_are_reported():
    def tanh_to_exp(eq, builder):
        return builder.apply(Exp(), eq.inputs) if isinstance(eq.op, Tanh) else None

    def exp_to_tanh(eq, builder):
        return builder.apply(Tanh(), eq.inputs) if isinstance(eq.op, Exp) else None

    graph = record(ew.tanh, aval("float32", 2))
    with pytest.raises(IRError, match="still fire after"):
        apply_rules(graph, [tanh_to_exp, exp_to_tanh])


def test_a_rule_changing_the_type_is_reported():
    def sum_everything(eq, builder):
        return builder.apply(reduce.Sum(), eq.inputs) if isinstance(eq.op, Neg) else None

    graph = record(ew.neg, aval("float32", 2))
    with pytest.raises(IRError, match=r"sum_everything replaced a f32\[2\] value by a f32\[\]"):
        apply_rules(graph, [sum_everything])


def _messy(x, y):
    z = ew.mul(ew.add(ew.power(x, 2), 0.0), 1.0)
    w = ew.log(ew.add(1.0, ew.exp(ew.mul(y, 1.0))))
    return ew.add(ew.add(z, w), ew.mul(ew.add(ew.power(x, 2), 0.0), 1.0))


def test_optimize_is_pure_deterministic_and_shows_each_phase():
    avals = (aval("float32", 3), aval("float32", 3))
    graph, again = record(_messy, *avals), record(_messy, *avals)
    before = str(graph)
    phases = []
    optimized = optimize(graph, trace=lambda name, g: phases.append((name, verify(g))))
    assert str(graph) == before
    assert str(optimize(again)) == str(optimized)
    assert [name for name, _ in phases] == list(DEFAULT_PHASES)
    assert str(optimized) == golden("""
        { lambda %0:f32[3], %1:f32[3] ;
          %2:f32[3] = Mul %0 %0
          %3:f32[3] = Maximum %1 0.0
          %4:f32[3] = Abs %1
          %5:f32[3] = Neg %4
          %6:f32[3] = Exp %5
          %7:f32[3] = Log1p %6
          %8:f32[3] = Add %3 %7
          %9:f32[3] = Add %2 %8
          %10:f32[3] = Add %9 %2
         } -> (%10)
    """)
    args = [samples(3, dtype="float32"), samples(3, dtype="float32")]
    check_against(graph, optimized, args, rtol=1e-6)


def test_optimize_names_every_rule_that_fires():
    fired = []
    optimize(record(_messy, aval("float32", 3), aval("float32", 3)),
             on_fire=lambda phase, rule, eq: fired.append((phase, rule, eq.op.name)))
    assert fired == [
        ("canonicalize", "add_zero", "Add"), ("canonicalize", "multiply_by_one", "Mul"),
        ("canonicalize", "multiply_by_one", "Mul"),
        ("stabilize", "log_of_one_plus_exp", "Log"), ("specialize", "power_of_two", "Pow"),
    ]


def test_unknown_phases_are_named():
    with pytest.raises(ValueError, match="unknown phase 'fuse'"):
        optimize(record(ew.neg, aval("float32", 2)), phases=("fuse",))


def test_printing_trace_prints_every_phase(capsys):
    from dualgrad_jit.passes import printing_trace

    optimize(record(ew.neg, aval("float32", 2)), phases=("dce", "cse"), trace=printing_trace())
    err = capsys.readouterr().err
    assert "-- after dce --" in err and "-- after cse --" in err and "Neg %0" in err


def test_interpreting_an_optimized_graph_gives_the_eager_result():
    x = samples(3, dtype="float32")
    graph = optimize(record(lambda v: ew.mul(ew.power(v, 2), 1.0), aval("float32", 3)))
    numpy.testing.assert_allclose(interpret(graph, [x])[0], x**2, rtol=1e-6)
    assert Mul() in [eq.op for eq in graph.equations]
