"""Stabilisation rules: golden before/after text, equal numbers where the original
formula is accurate, finite and accurate numbers where it is not."""

import textwrap

import numpy
import pytest

import dualgrad as dg
import dualgrad.functions as F
from dualgrad.ops import elementwise as ew
from dualgrad.ops import reduce
from dualgrad.ops.index import Gather, IndexInput
from dualgrad.ops.stable import SoftmaxCrossEntropy
from dualgrad_jit.ir import check_against, interpret, verify
from dualgrad_jit.passes import optimize

from .helpers import aval, record


def golden(text):
    return textwrap.dedent(text).strip("\n")


def stabilized(graph):
    """``graph`` after stabilisation and a cleanup, verified; the original unchanged."""
    before = str(graph)
    after = verify(optimize(graph, phases=("stabilize", "cleanup")))
    assert str(graph) == before
    return after


def run(graph, *arrays):
    with numpy.errstate(all="ignore"):  # the unstable originals overflow on purpose
        return interpret(graph, [numpy.asarray(a) for a in arrays])[0]


F64_3 = aval("float64", 3)


# -- log1p, expm1 -----------------------------------------------------------------------
def test_log_of_one_plus():
    graph = record(lambda x: ew.log(ew.add(1.0, x)), F64_3)
    assert str(graph) == golden("""
        { lambda %0:f64[3] ;
          %1:f64[3] = Add 1.0 %0
          %2:f64[3] = Log %1
         } -> (%2)
    """)
    after = stabilized(graph)
    assert str(after) == golden("""
        { lambda %0:f64[3] ;
          %1:f64[3] = Log1p %0
         } -> (%1)
    """)
    check_against(graph, after, [numpy.array([0.1, 1.0, 30.0])], rtol=1e-14)
    tiny = numpy.array([1e-20, -1e-17, 1e-10])
    assert run(graph, tiny)[0] == 0.0  # 1 + 1e-20 rounds to 1
    numpy.testing.assert_allclose(run(after, tiny), tiny, rtol=1e-9)


EXP_MINUS_ONE = {
    "sub": (lambda x: ew.sub(ew.exp(x), 1.0), "%2:f64[3] = Sub %1 1.0"),
    "add": (lambda x: ew.add(-1, ew.exp(x)), "%2:f64[3] = Add -1 %1"),
}


@pytest.mark.parametrize("form", sorted(EXP_MINUS_ONE))
def test_exp_minus_one(form):
    fn, last_line = EXP_MINUS_ONE[form]
    graph = record(fn, F64_3)
    assert str(graph) == golden(f"""
        {{ lambda %0:f64[3] ;
          %1:f64[3] = Exp %0
          {last_line}
         }} -> (%2)
    """)
    after = stabilized(graph)
    assert str(after) == golden("""
        { lambda %0:f64[3] ;
          %1:f64[3] = Expm1 %0
         } -> (%1)
    """)
    check_against(graph, after, [numpy.array([0.5, 2.0, -3.0])], rtol=1e-14)
    tiny = numpy.array([1e-20, -1e-18, 1e-12])
    assert run(graph, tiny)[0] == 0.0
    numpy.testing.assert_allclose(run(after, tiny), tiny, rtol=1e-9)


# -- softplus, log-sigmoid --------------------------------------------------------------
SOFTPLUS = """
    { lambda %0:f64[3] ;
      %1:f64[3] = Maximum %0 0.0
      %2:f64[3] = Abs %0
      %3:f64[3] = Neg %2
      %4:f64[3] = Exp %3
      %5:f64[3] = Log1p %4
      %6:f64[3] = Add %1 %5
     } -> (%6)
"""


ONE_PLUS_EXP = {
    "log": (lambda x: ew.log(ew.add(1.0, ew.exp(x))), """
        %2:f64[3] = Add 1.0 %1
        %3:f64[3] = Log %2"""),
    "log1p": (lambda x: ew.log1p(ew.exp(x)), """
        %2:f64[3] = Log1p %1"""),
}


@pytest.mark.parametrize("form", sorted(ONE_PLUS_EXP))
def test_log_of_one_plus_exp(form):
    fn, tail = ONE_PLUS_EXP[form]
    graph = record(fn, F64_3)
    lines = ["%1:f64[3] = Exp %0"] + [line.strip() for line in tail.strip().splitlines()]
    result = lines[-1].split(":")[0]
    assert str(graph) == "\n".join(
        ["{ lambda %0:f64[3] ;"] + ["  " + line for line in lines] + [f" }} -> ({result})"]
    )
    after = stabilized(graph)
    assert str(after) == golden(SOFTPLUS)
    check_against(graph, after, [numpy.array([-3.0, 0.0, 5.0])], rtol=1e-14)
    extreme = numpy.array([1000.0, -1000.0, -30.0])
    assert numpy.isinf(run(graph, extreme)[0])
    exact = [1000.0, 0.0, numpy.log1p(numpy.exp(-30.0))]  # log(1 + 9e-14) loses 3 digits
    numpy.testing.assert_allclose(run(after, extreme), exact, rtol=1e-15)
    if form == "log":
        assert abs(run(graph, extreme)[2] / exact[2] - 1) > 1e-5


def test_softplus_as_f_emits_it_is_left_alone():
    graph = record(F.softplus, F64_3)
    assert str(stabilized(graph)) == golden(SOFTPLUS)


LOG_SIGMOID = """
    { lambda %0:f32[3] ;
      %1:f32[3] = Minimum %0 0.0
      %2:f32[3] = Abs %0
      %3:f32[3] = Neg %2
      %4:f32[3] = Exp %3
      %5:f32[3] = Log1p %4
      %6:f32[3] = Sub %1 %5
     } -> (%6)
"""


def test_log_of_sigmoid_as_f_emits_it():
    graph = record(lambda x: F.log(F.sigmoid(x)), aval("float32", 3))
    assert str(graph) == golden("""
        { lambda %0:f32[3] ;
          %1:f32[3] = Mul %0 0.5
          %2:f32[3] = Tanh %1
          %3:f32[3] = Mul %2 0.5
          %4:f32[3] = Add %3 0.5
          %5:f32[3] = Log %4
         } -> (%5)
    """)
    after = stabilized(graph)
    assert str(after) == golden(LOG_SIGMOID)
    check_against(graph, after, [numpy.array([-4.0, 0.5, 3.0], "float32")], rtol=1e-5)
    extreme = numpy.array([-1000.0, 1000.0, -50.0], "float32")
    assert run(graph, extreme)[0] == -numpy.inf
    numpy.testing.assert_allclose(run(after, extreme), [-1000.0, 0.0, -50.0], rtol=1e-6)


def test_log_of_sigmoid_as_one_over_one_plus_exp():
    graph = record(lambda x: ew.log(ew.div(1.0, ew.add(1.0, ew.exp(ew.neg(x))))),
                   aval("float32", 3))
    assert str(graph) == golden("""
        { lambda %0:f32[3] ;
          %1:f32[3] = Neg %0
          %2:f32[3] = Exp %1
          %3:f32[3] = Add 1.0 %2
          %4:f32[3] = Div 1.0 %3
          %5:f32[3] = Log %4
         } -> (%5)
    """)
    after = stabilized(graph)
    assert str(after) == golden(LOG_SIGMOID)
    check_against(graph, after, [numpy.array([-4.0, 0.5, 3.0], "float32")], rtol=1e-5)
    numpy.testing.assert_allclose(run(after, numpy.float32([-1000.0, 1000.0, 0.0])),
                                  [-1000.0, 0.0, -numpy.log(2.0)], rtol=1e-6)


# -- logsumexp, log_softmax -------------------------------------------------------------
def test_log_of_sum_of_exp():
    graph = record(lambda x: ew.log(reduce.sum(ew.exp(x), axis=1)), aval("float64", 2, 3))
    assert str(graph) == golden("""
        { lambda %0:f64[2,3] ;
          %1:f64[2,3] = Exp %0
          %2:f64[2] = Sum{axis=1, keepdims=False} %1
          %3:f64[2] = Log %2
         } -> (%3)
    """)
    after = stabilized(graph)
    assert str(after) == golden("""
        { lambda %0:f64[2,3] ;
          %1:f64[2] = LogSumExp{axis=1, keepdims=False} %0
         } -> (%1)
    """)
    x = numpy.array([[0.0, 1.0, 2.0], [-1.0, -2.0, 3.0]])
    check_against(graph, after, [x], rtol=1e-14)
    big = numpy.array([[1000.0, 1000.0, 0.0], [-1000.0, -1000.0, -2000.0]])
    assert numpy.isinf(run(graph, big)).all()
    numpy.testing.assert_allclose(run(after, big), [1000 + numpy.log(2), -1000 + numpy.log(2)])


LOG_SOFTMAX = """
    { lambda %0:f32[2,3] ;
      %1:f32[2,3] = LogSoftmax{axis=1} %0
     } -> (%1)
"""


def _naive_log_softmax(x):
    e = ew.exp(x)
    return ew.log(ew.div(e, reduce.sum(e, axis=-1, keepdims=True)))


SOFTMAXES = {
    "F.softmax": (lambda x: F.log(F.softmax(x)), """
        %1:f32[2,1] = Max{axis=1, keepdims=True, initial=None} %0
        %2:f32[2,3] = Sub %0 %1
        %3:f32[2,3] = Exp %2
        %4:f32[2,1] = Sum{axis=1, keepdims=True} %3
        %5:f32[2,3] = Div %3 %4
        %6:f32[2,3] = Log %5""", "%6"),
    "unshifted": (_naive_log_softmax, """
        %1:f32[2,3] = Exp %0
        %2:f32[2,1] = Sum{axis=-1, keepdims=True} %1
        %3:f32[2,3] = Div %1 %2
        %4:f32[2,3] = Log %3""", "%4"),
}


@pytest.mark.parametrize("form", sorted(SOFTMAXES))
def test_log_of_softmax(form):
    fn, body, result = SOFTMAXES[form]
    graph = record(fn, aval("float32", 2, 3))
    lines = [line.strip() for line in body.strip().splitlines()]
    assert str(graph) == "\n".join(
        ["{ lambda %0:f32[2,3] ;"] + ["  " + line for line in lines] + [f" }} -> ({result})"]
    )
    after = stabilized(graph)
    assert str(after) == golden(LOG_SOFTMAX)
    x = numpy.array([[0.0, 1.0, 2.0], [-1.0, 0.5, 3.0]], "float32")
    check_against(graph, after, [x], rtol=1e-6)
    wide = numpy.array([[0.0, 1000.0, -1000.0], [0.0, 0.0, 0.0]], "float32")
    assert not numpy.isfinite(run(graph, wide)).all()
    numpy.testing.assert_allclose(run(after, wide)[0], [-1000.0, 0.0, -2000.0])


def test_softmax_over_several_axes_is_not_a_log_softmax():
    def f(x):
        e = ew.exp(x)
        return ew.log(ew.div(e, reduce.sum(e, axis=None, keepdims=True)))

    graph = record(f, aval("float32", 2, 3))
    assert "LogSoftmax" not in str(stabilized(graph))


# -- cross entropy ----------------------------------------------------------------------
def pick(log_p, t):
    rows = numpy.arange(log_p.shape[0])
    return dg.apply(Gather((IndexInput(0), IndexInput(1))), (log_p, rows, t))


CROSS_ENTROPY_FORMS = {
    "-mean(pick)": lambda x, t: ew.neg(F.mean(pick(F.log(F.softmax(x)), t))),
    "mean(-pick)": lambda x, t: F.mean(ew.neg(pick(F.log_softmax(x), t))),
    "-sum(pick)/N": lambda x, t: ew.div(ew.neg(F.sum(pick(F.log(F.softmax(x)), t))), 4),
}
XT = (aval("float32", 4, 3), aval("int32", 4))


def test_hand_written_cross_entropy_as_recorded():
    assert str(record(CROSS_ENTROPY_FORMS["-mean(pick)"], *XT)) == golden("""
        { lambda %0:f32[4,3], %1:i32[4] ;
          %2:f32[4,1] = Max{axis=1, keepdims=True, initial=None} %0
          %3:f32[4,3] = Sub %0 %2
          %4:f32[4,3] = Exp %3
          %5:f32[4,1] = Sum{axis=1, keepdims=True} %4
          %6:f32[4,3] = Div %4 %5
          %7:f32[4,3] = Log %6
          %8:f32[4] = Gather{key_template=(<index array 0>, <index array 1>)} %7 [0,1,2,3]:i64[4] %1
          %9:f32[] = Sum{axis=None, keepdims=False} %8
          %10:f32[] = Div %9 4
          %11:f32[] = Neg %10
         } -> (%11)
    """)


@pytest.mark.parametrize("form", sorted(CROSS_ENTROPY_FORMS))
def test_cross_entropy_of_picked_log_softmax(form):
    graph = record(CROSS_ENTROPY_FORMS[form], *XT)
    after = verify(optimize(graph))
    assert str(after) == golden("""
        { lambda %0:f32[4,3], %1:i32[4] ;
          %2:f32[] = SoftmaxCrossEntropy{normalize=False, ignore_label=-4, reduce='mean'} %0 %1
         } -> (%2)
    """)
    rng = numpy.random.default_rng(0)
    x, t = rng.standard_normal((4, 3)).astype("float32"), numpy.array([0, 2, 1, 2], "int32")
    check_against(graph, after, [x, t], rtol=1e-6)
    numpy.testing.assert_allclose(run(after, x, t), F.softmax_cross_entropy(x, t).array,
                                  rtol=1e-6)
    wide = x * 1e4
    if form != "mean(-pick)":  # the others take the log of a softmax that underflows
        assert not numpy.isfinite(run(graph, wide, t))
    numpy.testing.assert_allclose(run(after, wide, t), F.softmax_cross_entropy(wide, t).array,
                                  rtol=1e-6)


def test_per_row_cross_entropy():
    graph = record(lambda x, t: ew.neg(pick(F.log_softmax(x), t)), *XT)
    assert str(graph) == golden("""
        { lambda %0:f32[4,3], %1:i32[4] ;
          %2:f32[4,3] = LogSoftmax{axis=1} %0
          %3:f32[4] = Gather{key_template=(<index array 0>, <index array 1>)} %2 [0,1,2,3]:i64[4] %1
          %4:f32[4] = Neg %3
         } -> (%4)
    """)
    after = stabilized(graph)
    assert str(after) == golden("""
        { lambda %0:f32[4,3], %1:i32[4] ;
          %2:f32[4] = SoftmaxCrossEntropy{normalize=False, ignore_label=-4, reduce='no'} %0 %1
         } -> (%2)
    """)
    x, t = numpy.float32([[1, 2, 3], [0, 0, 0], [5, -5, 0], [1, 1, 9]]), numpy.int32([2, 0, 1, 1])
    check_against(graph, after, [x, t], rtol=1e-6)


def test_picking_other_rows_is_not_a_cross_entropy():
    def shuffled(x, t):
        rows = numpy.array([1, 0, 2, 3])
        return ew.neg(dg.apply(Gather((IndexInput(0), IndexInput(1))),
                               (F.log_softmax(x), rows, t)))

    assert "SoftmaxCrossEntropy" not in str(optimize(record(shuffled, *XT)))


def test_mean_of_per_row_cross_entropy_is_the_mean_cross_entropy():
    def f(x, t):
        return F.mean(F.softmax_cross_entropy(x, t, reduce="no"))

    graph = record(f, *XT)
    after = verify(optimize(graph))
    assert str(after) == golden("""
        { lambda %0:f32[4,3], %1:i32[4] ;
          %2:f32[] = SoftmaxCrossEntropy{normalize=False, ignore_label=-1, reduce='mean'} %0 %1
         } -> (%2)
    """)
    x, t = numpy.float32([[1, 2, 3], [0, 0, 0], [5, -5, 0], [1, 1, 9]]), numpy.int32([2, -1, 1, 1])
    check_against(graph, after, [x, t], rtol=1e-6)


def test_batch_mean_of_per_pixel_cross_entropy():
    def f(x, t):
        return ew.div(F.sum(F.softmax_cross_entropy(x, t, reduce="no")), 2)

    graph = record(f, aval("float32", 2, 3, 2, 2), aval("int32", 2, 2, 2))
    after = verify(optimize(graph))
    assert [eq.op for eq in after.equations] == [
        SoftmaxCrossEntropy(normalize=False, ignore_label=-1, reduce="mean")
    ]
    rng = numpy.random.default_rng(1)
    x, t = rng.standard_normal((2, 3, 2, 2)).astype("float32"), rng.integers(0, 3, (2, 2, 2))
    check_against(graph, after, [x, t.astype("int32")], rtol=1e-6)
    per_pixel_mean = record(lambda x, t: F.mean(F.softmax_cross_entropy(x, t, reduce="no")),
                            aval("float32", 2, 3, 2, 2), aval("int32", 2, 2, 2))
    assert "Div" in str(optimize(per_pixel_mean))  # divides by 8, not by the batch size
