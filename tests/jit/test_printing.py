"""dj.pp and dj.debugprint: expressions and graphs a user can read."""

import io
import textwrap

import numpy as np

import dualgrad_jit as dj
import dualgrad_jit.tensor as T
from dualgrad_jit.printing import debugprint, pp


def test_pp_infix_and_function_names():
    x, y = T.dscalars("x", "y")
    m = T.dmatrix("m")
    assert dj.pp(x + y) == "(x + y)"
    assert pp(T.exp(x)) == "exp(x)"
    assert pp(1 / (1 + T.exp(-x))) == "(1 / (1 + exp((-x))))"
    assert pp((x - y) ** 2 * 0.5) == "(((x - y) ** 2) * 0.5)"
    assert pp(m[0, 1:3]) == "m[0, 1:3]"
    assert pp(m.sum(axis=1)) == "sum(m, axis=1)"
    assert pp(T.nnet.softmax(m)) == "softmax(m, axis=-1)"
    assert pp(m.reshape((m.shape[0], -1))) == "reshape(m, (m.shape[0], -1))"
    assert pp(m.dimshuffle("x", 0, 1)) == "m.dimshuffle('x', 0, 1)"
    assert pp(dj.grad(x * y, [x, y])[1]) == "grad((x * y), y)"


def test_pp_shows_unnamed_variables_by_type_and_small_constants_by_value():
    v = T.dvector()
    assert pp(v * 2) == "(<TensorType(float64, vector)> * 2)"
    assert pp(T.constant([1, 2]) + v) == "([1, 2] + <TensorType(float64, vector)>)"
    assert pp(dj.shared(np.zeros(3), name="w") - v) == "(w - <TensorType(float64, vector)>)"
    assert str(T.dscalar("x") * 3) == "(x * 3)"


def test_debugprint_of_an_expression_shares_repeated_nodes():
    x, y = T.dscalars("x", "y")
    total = x + y
    total.name = "total"
    text = debugprint(total * T.exp(total), file="str")
    assert text == textwrap.dedent("""\
        mul [id A]
         |add [id B] 'total'
         | |x [id C]
         | |y [id D]
         |exp [id E]
           |add [id B] 'total'""")


def test_debugprint_of_a_function_shows_its_optimised_graph():
    x = T.dvector("x")
    f = dj.function([x], T.log(1 + x))
    assert "not compiled yet" in debugprint(f, file="str")
    f([0.5, 1.0])
    stream = io.StringIO()
    assert debugprint(f, file=stream) is stream
    assert stream.getvalue() == textwrap.dedent("""\
        { lambda %0:f64[2] ;
          %1:f64[2] = Log1p %0
         } -> (%1)
        """)
