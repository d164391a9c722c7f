"""Seed 002's "Looping in Theano" example and Theano's polynomial-by-scan example, run
after renaming only (``theano`` -> ``dualgrad_jit``, ``theano.tensor`` ->
``dualgrad_jit.tensor``), then the "scan is smart enough" claim checked on the graph."""

# The seeds' code is kept as written:
# ruff: noqa: I001, E731, E501

import numpy
import numpy as np


def test_002_power_by_scan(capsys):
    import dualgrad_jit as theano
    import dualgrad_jit.tensor as T

    k = T.iscalar("k")
    A = T.vector("A")

    # Symbolic description of the result
    result, updates = theano.scan(fn=lambda prior_result, A: prior_result * A,
                                  outputs_info=T.ones_like(A),
                                  non_sequences=A,
                                  n_steps=k)

    # We only care about A**k, but scan has provided us with A**1 through A**k.
    # Discard the values that we don't care about. Scan is smart enough to
    # notice this and not waste memory saving them.
    final_result = result[-1]

    # compiled function that returns A**k
    power = theano.function(inputs=[A,k], outputs=final_result, updates=updates)

    print(power(range(10),2))
    print(power(range(10),4))

    printed = capsys.readouterr().out
    assert printed == (f"{np.arange(10.0) ** 2}\n{np.arange(10.0) ** 4}\n")
    # Smart enough: the loop keeps its last value alone (no step axis in its type).
    graph = power.graph(range(10), 4)
    loops = [eq for eq in graph.equations if eq.op.name == "Scan"]
    assert len(loops) == 1
    assert loops[0].op.keep == (0,) and loops[0].out.aval.shape == (10,)
    assert not any(eq.op.name == "GetItem" for eq in graph.equations)


def test_002_power_by_scan_is_one_loop_not_unrolled():
    import dualgrad_jit as theano
    import dualgrad_jit.tensor as T

    k = T.iscalar("k")
    A = T.vector("A")
    result, updates = theano.scan(fn=lambda prior_result, A: prior_result * A,
                                  outputs_info=T.ones_like(A), non_sequences=A, n_steps=k)
    power = theano.function(inputs=[A, k], outputs=result[-1], updates=updates)
    for steps in (1, 7, 30):
        graph = power.graph(range(3), steps)
        assert [eq.op.name for eq in graph.equations] == ["Scan"]
        assert graph.equations[0].op.n_steps == steps
        np.testing.assert_allclose(power(range(3), steps), np.arange(3.0) ** steps)


def test_theano_polynomial_by_scan(capsys):
    import dualgrad_jit as theano
    import dualgrad_jit.tensor as T

    coefficients = theano.tensor.vector("coefficients")
    x = T.scalar("x")

    max_coefficients_supported = 10000

    # Generate the components of the polynomial
    components, updates = theano.scan(fn=lambda coefficient, power, free_variable: coefficient * (free_variable ** power),
                                      outputs_info=None,
                                      sequences=[coefficients, theano.tensor.arange(max_coefficients_supported)],
                                      non_sequences=x)
    # Sum them up
    polynomial = components.sum()

    # Compile a function
    calculate_polynomial = theano.function(inputs=[coefficients, x], outputs=polynomial)

    # Test
    test_coefficients = numpy.asarray([1, 0, 2], dtype=numpy.float32)
    test_value = 3
    print(calculate_polynomial(test_coefficients, test_value))
    print(1.0 * (3 ** 0) + 0.0 * (3 ** 1) + 2.0 * (3 ** 2))

    assert capsys.readouterr().out == "19.0\n19.0\n"
    # The loop runs over the shortest sequence: 3 steps, not 10000.
    graph = calculate_polynomial.graph(test_coefficients, test_value)
    (loop,) = [eq for eq in graph.equations if eq.op.name == "Scan"]
    assert loop.op.n_steps == 3
