"""``IfElse``: a lazy conditional, each branch a sub-graph; and ``dj.ifelse``.

    y = then(x_1 .. x_n)   if cond   else   else_(x_1 .. x_n)

Only the branch taken runs (an untaken branch that would divide by zero, or take the log
of a negative number, costs nothing and warns of nothing).  Both branches take the same
operands and give the same shape and dtype.

Gradient: ``d/dx_k = IfElse(cond, VJP_then_k, VJP_else_k)(x, gy)``: the VJP of the
branch taken (zero where that branch does not read ``x_k``), itself a lazy conditional
over two graphs derived from the branches, so it is differentiable again.  ``cond`` gets
no gradient.  ``T.switch`` / ``F.where`` stay the elementwise select, which computes both
sides.
"""

import dataclasses
import functools

import numpy

from dualgrad import functions as F
from dualgrad.backend import get_array_module
from dualgrad.core import tape
from dualgrad.core.aval import ShapedArray, aval_of
from dualgrad.core.op import Op
from dualgrad.core.variable import Variable
from dualgrad.errors import DTypeError, ShapeError
from dualgrad.lowering import Composite
from dualgrad.ops import elementwise as ew

from ..tensor.evaluate import Evaluator, walk
from ..tensor.type import TensorType
from ..tensor.variable import TensorVariable, apply_function, as_tensor_variable
from ..vjp import CompiledGraph, replay, trace_graph, vjp_of
from .body import check_avals, insert_inputs, run_body, select_output, trace_body


class IfElse(Op):
    """``then_fn(*operands)`` if ``cond`` else ``else_fn(*operands)``: the operands are
    the inputs after ``cond`` (a 0-d array of any dtype, read as a truth value); both
    graphs take them all and have one output each (see the module docstring)."""

    __slots__ = ("then_fn", "else_fn")
    save = "inputs"
    host_step = True  # compiled backends branch, not run the select of both sides

    def __init__(self, then_fn, else_fn):
        for name, fn in (("then", then_fn), ("else", else_fn)):
            if len(fn.graph.outputs) != 1:
                raise ValueError(f"the {name} branch must have one output, it has "
                                 f"{len(fn.graph.outputs)}")
        if then_fn.in_avals != else_fn.in_avals:
            raise ValueError("both branches must take the same operands")
        a, b = then_fn.out_avals[0], else_fn.out_avals[0]
        if tuple(a.shape) != tuple(b.shape) or a.dtype != b.dtype:
            raise ShapeError("IfElse", f"the branches give {a.dtype}{list(a.shape)} and "
                             f"{b.dtype}{list(b.shape)}; both must give the same",
                             hint="cast or reshape one branch so that both agree")
        self.then_fn = then_fn
        self.else_fn = else_fn

    def infer(self, cond, *avals):
        if cond.shape != ():
            raise ShapeError(self.name, f"the condition must be a scalar, got shape "
                             f"{cond.shape}", (cond,) + avals,
                             hint="reduce it first (e.g. (x > 0).all() is not a thing here: "
                             "use F.max / F.min), or choose elementwise with T.switch")
        check_avals(self.name, avals, self.then_fn.in_avals, lambda p: f"operand {p + 1}")
        out = self.then_fn.out_avals[0]
        return ShapedArray(out.shape, out.dtype)

    def forward(self, xp, cond, *operands):
        taken = self.then_fn if bool(cond) else self.else_fn
        y = run_body(taken, list(operands), xp)[0]
        if any(y is x for x in operands):  # the branch returned an operand: a fresh copy
            y = y.copy()
        return y

    def backward(self, gy, inputs, y, need):
        cond, operands = inputs[0], tuple(inputs[1:])
        aval = self.then_fn.out_avals[0]
        if gy.dtype != aval.dtype:  # a starting gradient may come in another dtype
            gy = ew.cast(gy, aval.dtype)
        wanted = tuple(bool(n) and aval_of(x).dtype.kind in "fc"
                       for n, x in zip(need[1:], operands))
        grads = [None]
        for k, want in enumerate(wanted):
            if not want:
                grads.append(None)
                continue
            op = IfElse(branch_vjp(self.then_fn, wanted, k), branch_vjp(self.else_fn, wanted, k))
            grads.append(tape.apply(op, (cond,) + operands + (gy,)))
        return tuple(grads)

    def lower(self, cond, *avals):
        return Composite(functools.partial(_select, self))


def _select(op, cond, *operands):
    """Both branches and an elementwise select: the eager (not lazy) equivalent."""
    then, other = (_branch_value(fn, operands) for fn in (op.then_fn, op.else_fn))
    return F.where(ew.not_equal(cond, 0), then, other)


def _branch_value(fn, operands):
    (value,) = replay(tape.TRACER, fn.graph, operands)
    if value is None:  # the branch is a constant
        const = fn.graph.outputs[0]
        value = numpy.asarray(const.value, const.aval.dtype)
    return value


@functools.lru_cache(maxsize=256)
def branch_vjp(fn, wanted, k):
    """The graph ``(x..., gy) -> d/dx_k`` of branch ``fn`` (zeros when it does not read
    ``x_k``), for the VJP of ``IfElse``."""
    vjp = vjp_of(fn, 0, wanted)
    if k in vjp.positions:
        return CompiledGraph(select_output(vjp.fn.graph, vjp.positions.index(k)))
    avals = fn.in_avals + fn.out_avals

    def zeros(*args):
        from ..tensor.functions import zeros_like

        return zeros_like(args[k])

    return CompiledGraph(trace_graph(zeros, *avals))


# -- building ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Branches:
    """Two traced branches: graphs taking ``n_shared`` operands then their own captures."""

    then_graph: object
    then_captures: list
    else_graph: object
    else_captures: list
    n_shared: int
    several: bool


def traced_branches(then_fn, else_fn, operands):
    """Both Python branch functions traced on the operands' avals (``Branches``)."""
    avals = [aval_of(x) for x in operands]
    then_graph, then_caps, several = trace_body(then_fn, avals, "then branch")
    else_graph, else_caps, several_else = trace_body(else_fn, avals, "else branch")
    if several != several_else or len(then_graph.outputs) != len(else_graph.outputs):
        raise ShapeError("ifelse", f"the branches return {len(then_graph.outputs)} and "
                         f"{len(else_graph.outputs)} values; both must return the same number",
                         hint="return the same structure from both branches")
    return Branches(then_graph, then_caps, else_graph, else_caps, len(operands), several)


def branch_op(branches, index):
    """The ``IfElse`` for output ``index``; its operands after ``cond`` are the shared
    ones, then the then-branch's captures, then the else-branch's."""
    then_avals = [aval_of(c) for c in branches.then_captures]
    else_avals = [aval_of(c) for c in branches.else_captures]
    then_graph = select_output(branches.then_graph, index)
    then_graph = insert_inputs(then_graph, len(then_graph.inputs), else_avals)
    else_graph = insert_inputs(select_output(branches.else_graph, index), branches.n_shared,
                               then_avals)
    return IfElse(CompiledGraph(then_graph), CompiledGraph(else_graph))


def apply_branches(cond, operands, branches):
    """The outputs of the lazy conditional over ``branches`` (one ``IfElse`` equation
    each): a list when the branches returned several values, else one value."""
    extra = tuple(branches.then_captures) + tuple(branches.else_captures)
    results = [tape.apply(branch_op(branches, index), (cond,) + tuple(operands) + extra)
               for index in range(len(branches.then_graph.outputs))]
    return results if branches.several else results[0]


# -- dj.ifelse ---------------------------------------------------------------------------------
def ifelse(condition, then_branch, else_branch, name=None):
    """``then_branch`` if ``condition`` else ``else_branch``, lazily (Theano's ifelse):
    only the branch taken is computed.  Branches are values or lists of values of the
    same types; a list gives a list.

    >>> import dualgrad_jit as dj, dualgrad_jit.tensor as T
    >>> a, b = T.dscalars('a', 'b')
    >>> f = dj.function([a, b], dj.ifelse(T.lt(a, b), a * 2, T.log(a - b)))
    >>> float(f(1.0, 3.0))          # log(-2) is never computed
    2.0
    """
    several = isinstance(then_branch, (list, tuple))
    thens = list(then_branch) if several else [then_branch]
    elses = list(else_branch) if isinstance(else_branch, (list, tuple)) else [else_branch]
    if len(thens) != len(elses):
        raise ValueError(f"ifelse: {len(thens)} values in the then branch, {len(elses)} in "
                         "the else branch; give both the same number")
    if _symbolic(condition, thens, elses):
        results = _symbolic_ifelse(condition, thens, elses)
    else:
        results = _eager_ifelse(condition, thens, elses)
    return list(results) if several else results[0]


def _symbolic(condition, thens, elses):
    return any(isinstance(v, TensorVariable) for v in [condition] + thens + elses)


def _eager_ifelse(condition, thens, elses):
    """Values already computed: pick one (an ``IfElse`` on identity branches while
    tracing, so a traced condition needs no guard)."""
    if tape.TRACER is None or not isinstance(condition, Variable):
        return thens if bool(condition) else elses
    operands = [_as_operand(v) for v in thens + elses]
    count = len(thens)

    def pick(offset):
        def branch(*args):
            return tuple(args[offset:offset + count])
        return branch

    branches = traced_branches(pick(0), pick(count), operands)
    return apply_branches(condition, operands, branches)


def _as_operand(value):
    if isinstance(value, Variable):
        return value
    # arrays stay on their device (numpy or cupy); numbers become numpy arrays
    return Variable(get_array_module(value).asarray(value), requires_grad=False)


class _Branches:
    """The recipes of both branches (kept out of sight of the recipe walker)."""

    def __init__(self, thens, elses, leaves):
        self.thens, self.elses, self.leaves = thens, elses, leaves


def _symbolic_ifelse(condition, thens, elses):
    thens = [as_tensor_variable(v) for v in thens]
    elses = [as_tensor_variable(v) for v in elses]
    for a, b in zip(thens, elses):
        _check_types(a, b)
    leaves = [v for v in walk(thens + elses) if v.owner is None and v.kind != "constant"]
    spec = _Branches(thens, elses, leaves)
    types = [_merged_type(a, b) for a, b in zip(thens, elses)]
    return apply_function(functools.partial(_evaluate_ifelse, spec),
                          (as_tensor_variable(condition), list(leaves)), label="ifelse",
                          types=types, several=True)


def _evaluate_ifelse(spec, condition, leaves):
    """Run at trace time: each branch's recipe traced into its own graph."""
    if not isinstance(condition, Variable):  # known once the shapes are bound
        chosen = spec.thens if bool(numpy.asarray(condition)) else spec.elses
        return tuple(Evaluator(dict(zip(spec.leaves, leaves))).values(chosen))
    operands = [_as_operand(v) for v in leaves]

    def evaluate(targets):
        def branch(*args):
            return tuple(Evaluator(dict(zip(spec.leaves, args))).values(targets))
        return branch

    branches = traced_branches(evaluate(spec.thens), evaluate(spec.elses), operands)
    return tuple(apply_branches(condition, operands, branches))


def _check_types(a, b):
    if not (a.type.known and b.type.known):
        return
    if a.dtype != b.dtype:
        raise DTypeError("ifelse", f"the branches have dtypes {a.dtype} and {b.dtype}",
                         hint="cast one branch: (...).astype('{a.dtype}')")
    if a.ndim != b.ndim:
        raise ShapeError("ifelse", f"the branches have ranks {a.ndim} and {b.ndim}",
                         hint="both branches must give values of the same shape")


def _merged_type(a, b):
    if not (a.type.known and b.type.known):
        return a.type if a.type.known else b.type
    shape = tuple(x if x == y else None for x, y in zip(a.type.shape, b.type.shape))
    return TensorType(a.dtype, shape=shape)


__all__ = ["IfElse", "apply_branches", "branch_vjp", "ifelse", "traced_branches"]
