"""Specialisation: replace general ops by cheaper ones for particular constants.

``pow`` with a small constant exponent becomes multiplications, a square root or a
division, which every backend evaluates faster than the general ``exp(b * log(a))``
(and which, unlike it, also work for negative bases).  Rules fire only for a scalar
constant exponent and when the result keeps the base's shape and dtype.
"""

from dualgrad.ops.elementwise import Div, Mul, Pow, Sqrt

from .rules import apply_rules, is_float, same_type, scalar_value


def _base_for_exponent(eq, exponent):
    """The base of ``eq = pow(base, exponent)``, when typed like the result; else None."""
    if not isinstance(eq.op, Pow):
        return None
    held = scalar_value(eq.inputs[1])
    if held is None or isinstance(held, bool) or held != exponent:
        return None
    return same_type(eq.inputs[0], eq)


def power_of_one(eq, builder):
    """``pow(x, 1) -> x``: exact."""
    return _base_for_exponent(eq, 1)


def power_of_two(eq, builder):
    """``pow(x, 2) -> x * x``: exact (both are the square rounded once)."""
    x = _base_for_exponent(eq, 2)
    return builder.apply(Mul(), (x, x)) if x is not None else None


def power_of_three(eq, builder):
    """``pow(x, 3) -> (x * x) * x``: two roundings instead of one, so within 2 ulps of
    the exact cube (relative error at most ``2 eps``); no overflow before the result
    itself overflows."""
    x = _base_for_exponent(eq, 3)
    return builder.apply(Mul(), (builder.apply(Mul(), (x, x)), x)) if x is not None else None


def power_of_minus_one(eq, builder):
    """``pow(x, -1) -> 1 / x``: exact (both are the reciprocal rounded once); floats
    only (integers cannot take negative powers)."""
    x = _base_for_exponent(eq, -1)
    if x is None or not is_float(x):
        return None
    return builder.apply(Div(), (1.0, x))


def power_of_half(eq, builder):
    """``pow(x, 0.5) -> sqrt(x)``: sqrt is correctly rounded, pow need not be.  They
    differ only at ``x = -0.0`` (pow gives +0.0, sqrt -0.0: equal values) and
    ``x = -inf`` (pow gives +inf, sqrt NaN); floats only."""
    x = _base_for_exponent(eq, 0.5)
    if x is None or not is_float(x):
        return None
    return builder.apply(Sqrt(), (x,))


SPECIALIZE_RULES = (power_of_one, power_of_two, power_of_three, power_of_minus_one,
                    power_of_half)


def specialize(graph, on_fire=None):
    """The graph with ``pow`` by small constant exponents specialised (``SPECIALIZE_RULES``).

    >>> import numpy
    >>> from dualgrad.ops.elementwise import Pow
    >>> from dualgrad_jit.ir import GraphBuilder
    >>> b = GraphBuilder()
    >>> x = b.add_input(numpy.zeros(3, 'float32'))
    >>> print(specialize(b.build([b.apply(Pow(), (x, 2))])))
    { lambda %0:f32[3] ;
      %1:f32[3] = Mul %0 %0
     } -> (%1)
    """
    return apply_rules(graph, SPECIALIZE_RULES, on_fire)
