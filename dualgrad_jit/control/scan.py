"""``dj.scan`` and its helpers ``dj.map``, ``dj.reduce``, ``dj.foldl``, ``dj.foldr``.

Theano's loop: ``fn`` is called with, in order, one slice of each sequence, the previous
value of each recurrent output, then the non-sequences, and returns the step's outputs:

    for t in range(n_steps):
        out_t = fn(*[seq[t] for seq in sequences], *previous, *non_sequences)

``outputs_info`` gives one entry per output of ``fn``: the initial value of a recurrent
output, or None for an output that is not fed back.  The result stacks each output over
the steps (first axis = steps): ``(outputs, updates)``, a single output bare.  ``n_steps``
defaults to the length of the shortest sequence; ``go_backwards`` walks the sequences
from their end (outputs stay in the order they were computed).

Three ways in, one loop:

- symbolic values (``T``): ``fn`` is called once on placeholders of one step's types and
  its recipe becomes the body of a ``Scan`` equation when the compiled function is built
  (a symbolic ``n_steps`` is read when the function is called: the compiled function is
  specialised on its value, like a slice bound);
- inside traced code (``dj.jit``, or any active tracer): ``fn`` is traced once into the
  body of a ``Scan`` equation, not unrolled;
- eagerly: ``fn`` runs step by step on the tape, and the results are stacked.

``truncate_gradient=k`` backpropagates through the last k steps only (truncated BPTT);
``checkpoint=k`` makes the backward store every k-th state and recompute the others.
"""

import builtins
import collections
import contextlib
import functools

from dualgrad import functions as F
from dualgrad._config import no_backprop_mode
from dualgrad.core import tape
from dualgrad.core.aval import ShapedArray, aval_of
from dualgrad.core.variable import Variable
from dualgrad.errors import DTypeError, ShapeError
from dualgrad.ops import index

from ..tensor.evaluate import Evaluator, walk
from ..tensor.type import TensorType
from ..tensor.variable import TensorVariable, apply_function, as_tensor_variable, placeholder
from ..vjp import CompiledGraph
from .body import as_array_value, trace_body
from .scan_op import Scan, apply_scan

Options = collections.namedtuple("Options", "go_backwards truncate_gradient checkpoint")


def scan(fn, sequences=None, outputs_info=None, non_sequences=None, n_steps=None,
         truncate_gradient=-1, go_backwards=False, checkpoint=None, mode=None, name=None,
         profile=False, allow_gc=None, strict=False, return_list=False):
    """Theano's ``scan`` (see the module docstring); returns ``(outputs, updates)``.

    >>> import numpy as np, dualgrad_jit as dj, dualgrad_jit.tensor as T
    >>> k, A = T.iscalar('k'), T.vector('A')
    >>> result, updates = dj.scan(lambda prior, A: prior * A, outputs_info=T.ones_like(A),
    ...                           non_sequences=A, n_steps=k)
    >>> power = dj.function([A, k], result[-1], updates=updates)
    >>> power(np.arange(4.0), 3)
    array([ 0.,  1.,  8., 27.])
    """
    seqs = [_sequence(s) for s in _as_list(sequences)]
    infos = [_initial(i) for i in _as_list(outputs_info)]
    consts = _as_list(non_sequences)
    options = _options(go_backwards, truncate_gradient, checkpoint)
    values = seqs + [i for i in infos if i is not None] + consts + [n_steps]
    if any(isinstance(v, TensorVariable) for v in values):
        outputs, updates = _symbolic_scan(fn, seqs, infos, consts, n_steps, options)
    elif tape.TRACER is not None:
        outputs, updates = _traced_scan(fn, seqs, infos, consts, n_steps, options)
    else:
        outputs, updates = _eager_scan(fn, seqs, infos, consts, n_steps, options)
    if len(outputs) == 1 and not return_list:
        return outputs[0], updates
    return outputs, updates


def map(fn, sequences, non_sequences=None, truncate_gradient=-1,  # noqa: A001 - Theano's name
        go_backwards=False, mode=None, name=None):
    """``fn`` applied to each slice of the sequences: ``scan`` with no recurrence.

    >>> import numpy as np, dualgrad_jit as dj
    >>> squares, _ = dj.map(lambda x: x * x, np.arange(3.0))
    >>> squares.array
    array([0., 1., 4.])
    """
    return scan(fn, sequences=sequences, outputs_info=None, non_sequences=non_sequences,
                truncate_gradient=truncate_gradient, go_backwards=go_backwards)


def reduce(fn, sequences, outputs_info, non_sequences=None, go_backwards=False,  # noqa: A001
           mode=None, name=None):
    """The last value of each output of ``scan`` (Python's ``reduce`` over the slices).

    >>> import numpy as np, dualgrad_jit as dj
    >>> total, _ = dj.reduce(lambda x, acc: acc + x, np.arange(4.0), np.array(0.0))
    >>> total.array
    array(6.)
    """
    outputs, updates = scan(fn, sequences=sequences, outputs_info=outputs_info,
                            non_sequences=non_sequences, go_backwards=go_backwards,
                            return_list=True)
    lasts = [out[-1] for out in outputs]
    return (lasts[0] if len(lasts) == 1 else lasts), updates


def foldl(fn, sequences, outputs_info, non_sequences=None, mode=None, name=None):
    """``reduce`` from the first slice to the last."""
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=False)


def foldr(fn, sequences, outputs_info, non_sequences=None, mode=None, name=None):
    """``reduce`` from the last slice to the first."""
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=True)


# -- arguments ---------------------------------------------------------------------------------
def _as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _sequence(entry):
    if isinstance(entry, dict):
        taps = entry.get("taps", [0])
        if list(taps) != [0]:
            raise NotImplementedError(
                f"scan: sequence taps {taps} are not supported (only [0]); pass shifted "
                "copies of the sequence instead (seq[1:] and seq[:-1])")
        return entry["input"]
    return entry


def _initial(entry):
    if isinstance(entry, dict):
        taps = entry.get("taps", [-1])
        if list(taps) != [-1]:
            raise NotImplementedError(
                f"scan: output taps {taps} are not supported (only [-1]); carry older values "
                "as extra recurrent outputs instead")
        return entry["initial"]
    return entry


def _options(go_backwards, truncate_gradient, checkpoint):
    truncate = int(truncate_gradient)
    if checkpoint is not None and int(checkpoint) < 1:
        raise ValueError(f"scan: checkpoint must be a number of steps >= 1, got {checkpoint}")
    if checkpoint is not None and truncate > 0:
        raise ValueError("scan: truncate_gradient and checkpoint cannot be combined; a "
                         "truncated backward stores only the last steps already")
    return Options(bool(go_backwards), truncate, None if checkpoint is None else int(checkpoint))


def count_steps(n_steps, lengths):
    """The number of steps: ``n_steps`` (at most the shortest sequence), else the length
    of the shortest sequence."""
    if n_steps is None:
        if not lengths:
            raise ValueError("scan needs sequences or n_steps to know how many steps to run")
        return builtins.min(lengths)
    n = int(n_steps)
    if n < 0:
        raise ValueError(f"scan: n_steps must be >= 0, got {n}")
    if lengths and n > builtins.min(lengths):
        raise ShapeError("scan", f"n_steps={n} but a sequence has only "
                         f"{builtins.min(lengths)} entries",
                         hint="give sequences at least n_steps long, or fewer steps")
    return n


def trim(sequence, n, go_backwards):
    """The ``n`` entries of ``sequence`` the loop reads: the first ones, or the last ones
    when walking backwards."""
    length = aval_of(sequence).shape[0]
    if length == n:
        return sequence
    key = slice(length - n, None) if go_backwards else slice(0, n)
    if isinstance(sequence, Variable) or tape.TRACER is not None:
        return index.get_item(sequence, key)
    return as_array_value(sequence)[key]  # numpy or cupy: it stays on its device


# -- the loop from a step function -------------------------------------------------------------
def build_loop(step, seqs, inits, consts, n, recurrent, n_outputs, options):
    """The outputs (in ``step``'s order) of a ``Scan`` over ``step(*rows, *states,
    *consts)``, which returns ``n_outputs`` values; those at ``recurrent`` are fed back."""
    rows = [ShapedArray(tuple(aval_of(s).shape[1:]), aval_of(s).dtype) for s in seqs]
    avals = rows + [aval_of(v) for v in inits] + [aval_of(v) for v in consts]
    others = [i for i in range(n_outputs) if i not in recurrent]

    def ordered(*args):
        outs = _outputs_of(step(*args))
        if len(outs) != n_outputs:
            raise ValueError(f"scan: fn returned {len(outs)} outputs but outputs_info has "
                             f"{n_outputs} entries; give one entry per output (None for "
                             "outputs that are not fed back)")
        return tuple(outs[i] for i in list(recurrent) + others)

    graph, captures, _ = trace_body(ordered, avals)
    for position, (state, i) in enumerate(zip(inits, recurrent)):
        _check_state(i, aval_of(state), graph.outputs[position].aval)
    op = Scan(CompiledGraph(graph), len(seqs), len(inits), n, options.go_backwards,
              truncate_gradient=options.truncate_gradient, checkpoint=options.checkpoint)
    results = apply_scan(op, list(seqs) + list(inits) + list(consts) + list(captures))
    ordered_results = [None] * n_outputs
    for i, value in zip(list(recurrent) + others, results):
        ordered_results[i] = value
    return ordered_results


def _outputs_of(result):
    if isinstance(result, dict) or (isinstance(result, tuple) and len(result) == 2
                                    and isinstance(result[1], dict)):
        raise NotImplementedError(
            "scan: fn returned updates; updates of shared variables inside the loop are not "
            "supported (random draws through dj.RandomStreams are handled by scan itself)")
    return list(result) if isinstance(result, (tuple, list)) else [result]


def _check_state(i, init, out):
    if tuple(init.shape) != tuple(out.shape):
        raise ShapeError("scan", f"output {i} of fn has shape {tuple(out.shape)} but its "
                         f"initial value (outputs_info[{i}]) has shape {tuple(init.shape)}",
                         hint="a recurrent output must keep the shape of its initial value")
    if init.dtype != out.dtype:
        raise DTypeError("scan", f"output {i} of fn is {out.dtype} but its initial value "
                         f"(outputs_info[{i}]) is {init.dtype}",
                         hint=f"cast one of them, e.g. (...).astype('{init.dtype}')")


def _recurrent(infos):
    """The positions of the recurrent outputs (those given an initial value)."""
    return tuple(i for i, info in enumerate(infos) if info is not None)


# -- eagerly --------------------------------------------------------------------------------
def _eager_scan(fn, seqs, infos, consts, n_steps, options):
    seqs = [as_array_value(s) for s in seqs]  # device arrays stay device arrays
    n = count_steps(n_steps, [aval_of(s).shape[0] for s in seqs])
    seqs = [trim(s, n, options.go_backwards) for s in seqs]
    recurrent = _recurrent(infos)
    states = [as_array_value(infos[i]) for i in recurrent]
    kept = None
    for t in range(n):
        row = n - 1 - t if options.go_backwards else t
        cut = 0 < options.truncate_gradient < n - t
        with no_backprop_mode() if cut else contextlib.nullcontext():
            outs = _outputs_of(fn(*[s[row] for s in seqs], *states, *consts))
        if kept is None:
            kept = [[] for _ in outs]
            _check_counts(infos, len(outs))
        states = [outs[i] for i in recurrent]
        for values, value in zip(kept, outs):
            values.append(value)
    if kept is None:
        return _empty_outputs(fn, seqs, infos, consts, recurrent), collections.OrderedDict()
    return [F.stack(values, axis=0) for values in kept], collections.OrderedDict()


def _check_counts(infos, n_outputs):
    if infos and len(infos) != n_outputs:
        raise ValueError(f"scan: fn returned {n_outputs} outputs but outputs_info has "
                         f"{len(infos)} entries; give one per output (None for outputs that "
                         "are not fed back)")


def _empty_outputs(fn, seqs, infos, consts, recurrent):
    """The outputs of a loop of 0 steps: empty stacks of the shapes ``fn`` gives, on
    the device of the loop's operands."""
    from .scan_grad import zeros

    rows = [ShapedArray(tuple(aval_of(s).shape[1:]), aval_of(s).dtype) for s in seqs]
    avals = rows + [aval_of(infos[i]) for i in recurrent] + [aval_of(c) for c in consts]
    graph, _, _ = trace_body(lambda *args: tuple(_outputs_of(fn(*args))), avals)
    operands = list(seqs) + [infos[i] for i in recurrent] + list(consts)
    return [zeros((0,) + tuple(v.aval.shape), v.aval.dtype, *operands) for v in graph.outputs]


# -- inside a trace ----------------------------------------------------------------------------
def _traced_scan(fn, seqs, infos, consts, n_steps, options):
    seqs = [as_array_value(s) for s in seqs]
    n = count_steps(n_steps, [aval_of(s).shape[0] for s in seqs])
    seqs = [trim(s, n, options.go_backwards) for s in seqs]
    recurrent = _recurrent(infos)
    inits = [as_array_value(infos[i]) for i in recurrent]
    consts = [as_array_value(c) for c in consts]
    n_outputs = len(infos) if infos else _count_outputs(fn, seqs, inits, consts)
    outputs = build_loop(fn, seqs, inits, consts, n, recurrent, n_outputs, options)
    return outputs, collections.OrderedDict()


def _count_outputs(fn, seqs, inits, consts):
    rows = [ShapedArray(tuple(aval_of(s).shape[1:]), aval_of(s).dtype) for s in seqs]
    avals = rows + [aval_of(v) for v in inits] + [aval_of(c) for c in consts]
    graph, _, _ = trace_body(lambda *args: tuple(_outputs_of(fn(*args))), avals)
    return len(graph.outputs)


# -- symbolically ------------------------------------------------------------------------------
class _Spec:
    """The loop's recipe, built when ``scan`` is called: placeholders of one step, the
    outputs of ``fn`` on them, the outside values the recipe reads (``captured``), and
    the random states it advances (``hidden``: shared variables with a default update)."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


def _symbolic_scan(fn, seqs, infos, consts, n_steps, options):
    seqs = [as_tensor_variable(s) for s in seqs]
    consts = [c if isinstance(c, (TensorVariable, Variable)) else as_tensor_variable(c)
              for c in consts]
    row_types = [_row_type(s) for s in seqs]
    seq_ph = [placeholder(t, name=f"{s.name}[t]" if s.name else None)
              for t, s in zip(row_types, seqs)]
    recurrent = _recurrent(infos)
    inits = [as_tensor_variable(infos[i]) for i in recurrent]
    state_ph = [placeholder(v.type, name=f"{v.name}[t-1]" if v.name else None) for v in inits]
    outputs = [as_tensor_variable(o) for o in _outputs_of(fn(*seq_ph, *state_ph, *consts))]
    _check_counts(infos, len(outputs))
    for i, init in zip(recurrent, inits):
        _check_state_types(i, init, outputs[i])
    stops = seq_ph + state_ph
    # Random states read in the loop advance at every step: they become loop states.
    hidden = [v for v in walk(outputs, stops) if getattr(v, "default_update", None) is not None]
    captured = captured_values(outputs + [h.default_update for h in hidden], stops + hidden)
    spec = _Spec(seq_ph=seq_ph, state_ph=state_ph, hidden=hidden, outputs=outputs,
                 captured=captured, recurrent=recurrent, options=options)
    steps = None if isinstance(n_steps, TensorVariable) else n_steps
    types = [_stacked_type(o.type, steps) for o in outputs] + \
        [_stacked_type(h.type, steps) for h in hidden]
    step_arg = () if n_steps is None else (n_steps,)
    results = apply_function(functools.partial(_evaluate, spec),
                             (seqs, inits, list(hidden), list(captured), step_arg),
                             label="scan", types=types, several=True)
    updates = collections.OrderedDict(
        (h, last[-1]) for h, last in zip(hidden, results[len(outputs):]))
    return list(results[:len(outputs)]), updates


def captured_values(outputs, stops):
    """The variables outside the loop that the recipe of ``outputs`` reads (computed
    once, outside, and passed in): those it uses that do not depend on ``stops`` (the
    step's placeholders).  Constants stay inside."""
    order = walk(outputs, stops)
    inside = {id(v) for v in stops}
    for v in order:
        if v.owner is not None and any(id(d) in inside for d in v.owner.inputs):
            inside.add(id(v))
    found, seen = [], set()

    def add(v):
        if id(v) not in inside and id(v) not in seen and v.kind != "constant":
            seen.add(id(v))
            found.append(v)

    for v in order:
        if id(v) in inside and v.owner is not None:
            for d in v.owner.inputs:
                add(d)
    for v in outputs:
        add(v)
    return found


def _row_type(sequence):
    if not sequence.type.known:
        return TensorType(None, shape=None)
    if sequence.ndim == 0:
        raise ShapeError("scan", f"the sequence {sequence!r} is a scalar; sequences are "
                         "iterated over their first axis", hint="pass an array of rank >= 1")
    return TensorType(sequence.dtype, shape=sequence.type.shape[1:])


def _stacked_type(ttype, steps):
    if not ttype.known:
        return ttype
    return TensorType(ttype.dtype, shape=(steps if isinstance(steps, int) else None,)
                      + tuple(ttype.shape))


def _check_state_types(i, init, out):
    if not (init.type.known and out.type.known):
        return
    if init.dtype != out.dtype:
        raise DTypeError("scan", f"output {i} of fn is {out.type} but its initial value "
                         f"{init!r} is {init.type}",
                         hint=f"cast one of them, e.g. (...).astype('{init.dtype}')")
    if init.ndim != out.ndim:
        raise ShapeError("scan", f"output {i} of fn is {out.type} but its initial value "
                         f"{init!r} is {init.type}",
                         hint="a recurrent output must keep the shape of its initial value")


def _evaluate(spec, seqs, inits, hidden, captured, steps):
    """Run at trace time (once the shapes are known): the recipe of one step becomes
    the body of a ``Scan`` equation."""
    options = spec.options
    seqs = [as_array_value(s) for s in seqs]
    n = count_steps(steps[0] if steps else None, [aval_of(s).shape[0] for s in seqs])
    seqs = [trim(s, n, options.go_backwards) for s in seqs]
    states = [as_array_value(v) for v in inits] + list(hidden)
    dynamic = [(v, value) for v, value in zip(spec.captured, captured)
               if isinstance(value, Variable)]
    static = {v: value for v, value in zip(spec.captured, captured)
              if not isinstance(value, Variable)}
    stops = spec.seq_ph + spec.state_ph + spec.hidden + [v for v, _ in dynamic]
    targets = spec.outputs + [h.default_update for h in spec.hidden]
    n_user = len(spec.outputs)
    recurrent = tuple(spec.recurrent) + tuple(range(n_user, len(targets)))

    def step(*args):
        env = dict(static)
        env.update(zip(stops, args))
        return tuple(Evaluator(env).values(targets))

    consts = [value for _, value in dynamic]
    outputs = build_loop(step, seqs, states, consts, n, recurrent, len(targets), options)
    return tuple(outputs)


__all__ = ["build_loop", "captured_values", "count_steps", "foldl", "foldr", "map", "reduce",
           "scan"]
