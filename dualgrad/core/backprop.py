"""The backward engine: a heap of nodes ordered by rank; no recursion, no sets.

Gradients are routed by creator node, never by Variable identity, so an output saved
for backward can be re-wrapped in a fresh Variable and still carry gradients back
into its creator (that is what makes double backprop work without reference cycles).
"""

import heapq

from .._config import config, using_config
from ..backend import get_array_module
from ..errors import BackwardError, NonFiniteError, ShapeError
from . import tape
from .abstract import AbstractArray
from .variable import Variable, make_output

_SECOND_TIME = (
    "backward() through {name} a second time: the graph behind it was freed by the first "
    "backward(). Pass retain_graph=True to the first call to backward through it again; for "
    "truncated backpropagation through time, call loss.unchain_backward() after backward() "
    "and build the next segment from the (now cut) state"
)


def _initial_grad(var, grad=None):
    if grad is None and var._grad_var is not None and var.creator is not None:
        grad = var._grad_var  # set by the user (y.grad = ...) or kept by retain_grad
    if grad is not None:
        grad = grad if isinstance(grad, Variable) else Variable(grad, requires_grad=False)
        if tuple(grad.shape) != tuple(var.shape):
            raise BackwardError(
                f"the starting gradient has shape {tuple(grad.shape)} but the variable it "
                f"starts from has shape {tuple(var.shape)}: they must be equal"
            )
        return grad
    if var.size != 1:
        raise BackwardError(
            f"backward() from a variable of shape {tuple(var.shape)} needs a starting gradient: "
            "reduce it to a scalar first (e.g. loss = F.sum(y)) "
            "or set y.grad = xp.ones_like(y.array)"
        )
    array = var._array
    ones = get_array_module(array).ones(array.shape, dtype=array.dtype)
    return make_output(ones, None, False)


def backward(var, retain_grad=False, enable_double_backprop=False, retain_graph=False):
    """Accumulate d(var)/d(leaf) into every leaf's ``.grad`` (see ``Variable.backward``)."""
    if var.creator is None:
        if var._unchained:
            raise BackwardError(
                "backward() on a variable whose graph was cut by unchain_backward()/unchain(): "
                "call backward() before cutting the graph"
            )
        if not var.requires_grad:
            raise BackwardError(
                "backward() on a variable that has no graph: it was computed under "
                "no_backprop_mode(), from inputs that need no gradient, or is an integer array"
            )
        var._grad_var = _initial_grad(var)
        return
    _run(
        [(var, _initial_grad(var))],
        retain_grad=retain_grad,
        double=enable_double_backprop,
        retain_graph=retain_graph or enable_double_backprop,
        targets=None,
    )


def grad(outputs, inputs, grad_outputs=None, enable_double_backprop=False, retain_graph=False):
    """Gradients of ``outputs`` with respect to ``inputs``, leaving every ``.grad`` alone.

    Returns a list of Variables (None where an input does not depend on the outputs).

    >>> import numpy as np, dualgrad as dg
    >>> x = dg.Variable(np.array(3.0))
    >>> y = x * x * x
    >>> gx, = dg.grad([y], [x], enable_double_backprop=True)
    >>> gx.array, dg.grad([gx], [x])[0].array
    (array(27.), array(18.))
    """
    outputs = [outputs] if isinstance(outputs, Variable) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Variable) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    starts = [(y, _initial_grad(y, gy)) for y, gy in zip(outputs, grad_outputs)]
    targets = {}
    for x in inputs:
        targets[id(x)] = None
    found = _run(
        starts,
        retain_grad=False,
        double=enable_double_backprop,
        retain_graph=retain_graph or enable_double_backprop,
        targets=(inputs, targets),
    )
    return [found.get(id(x)) for x in inputs]


def _accumulate(old, new):
    return new if old is None else old + new


def _run(starts, retain_grad, double, retain_graph, targets):
    """Walk the graph from ``starts`` ([(variable, gradient)]).

    Without ``targets`` leaf gradients accumulate into ``.grad``; with
    ``targets=(variables, found)`` they are returned in ``found`` instead.
    A node waiting in the heap holds its accumulated output gradient in ``node.grad``.
    """
    heap = []
    found = {}
    # ids of gradient arrays someone else may hold; a leaf given one gets its own copy
    handed_out = {id(gx._array) for _, gx in starts}
    target_nodes = {}
    if targets is not None:
        for x in targets[0]:
            if x.creator is not None:
                target_nodes.setdefault(id(x.creator), []).append(x)
    debug = config.debug
    push = heapq.heappush
    pop = heapq.heappop
    order = 0
    try:
        with using_config("enable_backprop", double):
            work = starts
            while True:
                # Route the gradients produced by the last node (or the starting ones).
                for x, gx in work:
                    creator = x.creator
                    if creator is None:
                        _deliver_to_leaf(x, gx, targets, found, handed_out)
                    elif creator.grad is None:
                        creator.grad = gx
                        push(heap, (-creator.rank, order, creator))
                        order += 1
                    else:
                        creator.grad = creator.grad + gx
                if not heap:
                    break
                node = pop(heap)[2]
                gy = node.grad
                node.grad = None
                if target_nodes and id(node) in target_nodes:
                    for x in target_nodes[id(node)]:
                        found[id(x)] = _as_dtype(gy, x.dtype)
                if node.released:
                    raise BackwardError(_SECOND_TIME.format(name=node.op.name))
                if retain_grad:
                    out = node.output_ref()
                    if out is not None:
                        out._grad_var = _as_dtype(gy, out.dtype)
                        handed_out.add(id(gy._array))
                work = _backward_node(node, gy, debug)
                if not retain_graph:
                    _release(node)
    finally:
        for entry in heap:  # only non-empty when backward failed part-way
            entry[2].grad = None
    return found


def _release(node):
    """Free the arrays ``node`` holds for backward.  Its inputs become their creators,
    so the graph keeps its shape: ``unchain_backward()`` can still walk and cut it, and a
    second backward through it raises instead of computing with freed data."""
    node.released = True
    node.saved_output = None
    if node.op.saves_inputs:
        # An intermediate input is replaced by its creator (``Node.creator`` is the node
        # itself), a leaf stays (the user holds it), constants go.
        node.inputs = tuple([(x.creator or x) if isinstance(x, Variable) else None
                             for x in node.inputs])


def _deliver_to_leaf(x, gx, targets, found, handed_out):
    if targets is not None:
        if id(x) in targets[1]:
            found[id(x)] = _accumulate(found.get(id(x)), _as_dtype(gx, x.dtype))
        return
    if not x.requires_grad:
        return
    old = x._grad_var
    if old is not None:
        x._grad_var = old + gx
        return
    # NOTE: a leaf's .grad must own its memory, because optimizers and hooks update it in
    # place; gradients arrive as read-only broadcast views (the VJP of sum) or shared
    # with another leaf (the VJP of add), so those are copied.  A recorded gradient
    # (double backprop) keeps its graph instead.
    array = gx._array
    key = id(array)
    if (array.base is not None or key in handed_out) and gx.creator is None \
            and tape.TRACER is None:  # a traced run writes fresh arrays back anyway
        gx = make_output(array.copy(), None, False)
    handed_out.add(key)
    x._grad_var = gx


def _as_dtype(gx, dtype):
    """``gx`` in its variable's dtype (a starting gradient may come in another one)."""
    return gx if gx.dtype == dtype else _cast(gx, dtype)


def _backward_node(node, gy, debug):
    """Run one node's VJP; returns the ``(input, gradient)`` pairs to route on."""
    op = node.op
    y = make_output(node.saved_output, node, True) if op.saves_output else None
    try:
        gxs = op.backward(gy, node.inputs, y, node.need)
    except NonFiniteError as error:  # debug mode: an op inside this VJP made the NaN/Inf
        raise NonFiniteError(f"in the backward pass of {op.name}: {error}") from None
    work = []
    for x, gx, need in zip(node.inputs, gxs, node.need):
        if gx is None or not need:
            continue
        array = gx._array
        if array.shape != x.shape:
            gx = _fit_shape(op, gx, x)
            array = gx._array
        if array.dtype is not x.dtype and array.dtype != x.dtype:
            gx = _cast(gx, x.dtype)  # a float32 input gets a float32 gradient
        if debug:
            _check_finite(op, gx, x)
        work.append((x, gx))
    return work


def _fit_shape(op, gx, x):
    try:
        return _sum_to(gx, x.shape)
    except ShapeError:
        raise BackwardError(
            f"{op.name}.backward returned a gradient of shape {tuple(gx.shape)} for an "
            f"input of shape {tuple(x.shape)}; it must return a tuple with one gradient "
            "per input, each of its input's shape or of a shape broadcast from it"
        ) from None


def _check_finite(op, gx, x):
    if isinstance(gx._array, AbstractArray):
        return  # a symbolic gradient has no values yet
    if not bool(gx.xp.isfinite(gx._array).all()):
        raise NonFiniteError(
            f"the gradient computed by {op.name}.backward contains NaN or Inf "
            f"(input {tuple(x.shape)} {x.dtype})\n"
            "  fix: look for a NaN/Inf in the forward pass first (dg.config.debug checks it)"
        )


def _cast(gx, dtype):
    from ..ops.elementwise import cast

    return cast(gx, dtype)


def _sum_to(gx, shape):
    """Sum a broadcast gradient back to the input's ``shape`` (broadcasting's VJP)."""
    from ..ops.reduce import sum_to

    return sum_to(gx, shape)
