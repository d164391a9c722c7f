"""``dj.jit``: compile eager dualgrad code by tracing it, guarded.

The first call with a new signature runs the Python function eagerly while a tracer
records every op into a graph (so that call gives exactly eager's results and side
effects).  Later calls replay the optimised graph without running Python: explicit
inputs come from the arguments, state (parameters, optimizer state, running
statistics, captured arrays) is read again on every call, and state writes are applied
after the run.  Every place the Python code looked at data is a guard: a replay whose
guards do not hold is discarded (nothing is written back) and the function is traced
again for the new path.  ``DUALGRAD_DEBUG=1`` explains every retrace in one line.
"""

import functools
import sys
import warnings

import numpy

import dualgrad as dg
from dualgrad.core import tape
from dualgrad.core.variable import Variable
from dualgrad.ops import random as random_ops

from .executable import Executable
from .trace import Tracer, python_state
from .trace.traced_array import plain

MAX_VARIANTS = 8


class JitWarning(UserWarning):
    """A jit-compiled function stopped compiling (too many variants) and runs eagerly."""


def jit(fn=None, *, static_argnums=(), backend="auto", max_variants=MAX_VARIANTS, mode=None):
    """Compile ``fn`` (a function, a Link, or a whole training step) by tracing it.

    >>> import numpy as np, dualgrad as dg, dualgrad_jit as dj
    >>> f = dj.jit(lambda x: (x * x).sum())
    >>> float(f(np.arange(3.0)).array), float(f(np.arange(4.0)).array)
    (5.0, 14.0)

    ``mode``: ``'check'``, ``'nan_guard'`` or ``'profile'`` (see ``dualgrad_jit.modes``).
    """
    if fn is None:
        return functools.partial(jit, static_argnums=static_argnums, backend=backend,
                                 max_variants=max_variants, mode=mode)
    if mode is not None:
        from .modes import jit_with_mode

        return jit_with_mode(mode, fn, static_argnums, backend, max_variants)
    return JitFunction(fn, static_argnums, backend, max_variants)


class JitFunction:
    """A traced function with its cache of compiled variants (see the module docstring)."""

    def __init__(self, fn, static_argnums=(), backend="auto", max_variants=MAX_VARIANTS):
        if isinstance(static_argnums, int):
            static_argnums = (static_argnums,)
        self.fn = fn
        self.static_argnums = tuple(static_argnums)
        self.backend = backend
        self.max_variants = max_variants
        self._variants = {}  # signature -> list of Executable (most recently used first)
        self._eager = {}  # signature -> reason the signature runs eagerly
        self._state_memo = python_state.Memo()  # the last walk of the Python state
        self._changes_python = {}  # signature -> Python state its last trace changed
        self._warned = False  # the variant limit warns once per function
        self.stats = {"traces": 0, "replays": 0, "guard_failures": 0, "eager_calls": 0}
        functools.update_wrapper(self, fn, updated=())

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self, obj)

    # -- calling -----------------------------------------------------------------------
    def __call__(self, *args):
        signature = self._signature(args)
        if signature in self._eager:
            return self._call_eagerly(args)
        variants = self._variants.setdefault(signature, [])
        state = python_state.snapshot(self.fn, args, self.static_argnums, self._state_memo)
        failures = []
        for index, executable in enumerate(variants):
            why = python_state.mismatch(getattr(executable, "python_state", {}), state)
            done, result, why = (False, None, why) if why else executable.run(args)
            if done:
                self.stats["replays"] += 1
                if index:
                    variants.insert(0, variants.pop(index))
                return result
            failures.append(why)
        if failures:
            self.stats["guard_failures"] += 1
            _explain(f"retrace {self._name}: {failures[0]}")
        if sum(map(len, self._variants.values())) >= self.max_variants:
            last = failures[0] if failures else f"new signature {signature[0]}"
            reason = (f"{self._name} needed more than {self.max_variants} traced variants "
                      f"(last: {last}); it now runs eagerly for calls no compiled variant "
                      "serves. Data-dependent Python control flow that changes on every call "
                      "cannot be compiled: use F.where / dj.ifelse; for many input shapes, "
                      "pad to a few sizes")
            self._eager[signature] = reason
            if not self._warned:
                self._warned = True
                warnings.warn(reason, JitWarning, stacklevel=2)
            else:
                _explain(reason)
            return self._call_eagerly(args)
        result = self._trace(signature, args, state)
        self._explain_trace(signature)  # (outside _trace: modes may trace in debug mode)
        return result

    def _call_eagerly(self, args):
        """Run the Python function as a traced call would see its arguments."""
        self.stats["eager_calls"] += 1
        return self.fn(*[self._as_argument(i, a) for i, a in enumerate(args)])

    def _as_argument(self, index, arg):
        if index in self.static_argnums or not _is_array_like(arg) or isinstance(arg, Variable):
            return arg
        return Variable(numpy.asarray(arg) if not hasattr(arg, "shape") else arg,
                        requires_grad=False)

    def _trace(self, signature, args, state=None):
        self.stats["traces"] += 1
        tracer = Tracer()
        traced_args = [self._bind_argument(tracer, i, a) for i, a in enumerate(args)]
        key, start = random_ops.get_state()
        previous = tape.set_tracer(tracer)
        try:
            result = self.fn(*traced_args)
        finally:
            tape.set_tracer(previous)
        drawn = (random_ops.get_state()[1] - start) & random_ops.MASK64
        executable = Executable.from_trace(
            tracer, result, self._explicit_positions(args), backend=self.backend,
            name=self._name, rng=(start, drawn) if drawn else None, arrays=args,
        )
        if executable.backend != "numpy":
            executable.runner()  # compile now: the first call pays it, replays never do
        # Python values the code read were baked in: a replay needs them unchanged.
        read = {id(r.owner) for r, _ in tracer.state_reads if r.kind == "array"}
        executable.python_state = python_state.stable_part(
            state or {}, python_state.snapshot(self.fn, args, self.static_argnums), read)
        self._keep_unless_it_changes_python_state(signature, executable)
        return plain(result)

    def _keep_unless_it_changes_python_state(self, signature, executable):
        """Cache ``executable`` unless its traced call changed Python state itself.

        A replay does not run the Python code, so state the code changes (a counter it
        advances, an attribute it sets) would silently stop changing.  Lazy
        initialisation does this once, so a first such trace is just not kept; when the
        next trace changes Python state again, the signature runs eagerly, with a warning.
        """
        changed = executable.python_state.changed
        if not changed:
            self._changes_python.pop(signature, None)
            self._variants[signature].insert(0, executable)
            return
        if signature not in self._changes_python:
            self._changes_python[signature] = changed
            _explain(f"not keeping the trace of {self._name}: the call changed Python state "
                     f"({', '.join(changed[:3])}); tracing again on the next call")
            return
        reason = (f"{self._name} changes Python state on every call ({', '.join(changed[:3])})"
                  "; a compiled replay would not, so it runs eagerly for this signature. "
                  "Keep values that change in arrays (a Variable written with "
                  "dualgrad.core.state.assign) or pass them as arguments")
        self._eager[signature] = reason
        warnings.warn(reason, JitWarning, stacklevel=4)

    def _explain_trace(self, signature):
        variants = self._variants[signature]
        if not variants:
            return  # the trace was not kept (see _keep_unless_it_changes_python_state)
        executable = variants[0]
        _explain(f"traced {self._name} for {signature[0]}: variant {len(variants)}, "
                 f"{len(executable.graph.equations)} ops, {len(executable.guards)} guards")

    def _bind_argument(self, tracer, index, arg):
        if index in self.static_argnums or not _is_array_like(arg):
            return arg
        if isinstance(arg, Variable):
            tracer.add_input(arg._array)
            tracer.watch_argument(index, arg)
            return arg
        # NOTE: a raw array argument is handed to the function as a Variable (needing no
        # gradient), so that arithmetic on it is recorded instead of computed by numpy
        # behind the tracer's back.
        variable = self._as_argument(index, arg)
        tracer.add_input(variable._array)
        return variable

    def _explicit_positions(self, args):
        return [i for i, a in enumerate(args)
                if i not in self.static_argnums and _is_array_like(a)]

    # -- the cache key -------------------------------------------------------------------
    def _signature(self, args):
        parts = []
        for index, arg in enumerate(args):
            if index in self.static_argnums:
                parts.append(("static", _hashable(arg)))
            elif type(arg) is numpy.ndarray:  # (the common case, first)
                parts.append((arg.dtype.str, arg.shape, False))
            elif _is_array_like(arg):
                array = arg._array if isinstance(arg, Variable) else arg
                if not hasattr(array, "shape"):
                    array = numpy.asarray(array)
                requires = isinstance(arg, Variable) and (
                    arg.requires_grad, arg._grad_var is not None)
                parts.append((array.dtype.str, tuple(array.shape), requires))
            else:
                parts.append(("python", type(arg).__name__, _hashable(arg)))
        config = (dg.config.train, dg.config.enable_backprop)
        return (tuple(parts), config)

    @property
    def _name(self):
        return getattr(self.fn, "__qualname__", None) or type(self.fn).__name__

    def variants(self, *args):
        """The compiled variants for the signature of ``args`` (for inspection)."""
        return list(self._variants.get(self._signature(args), []))


def _is_array_like(x):
    if isinstance(x, (Variable, numpy.ndarray)):
        return True
    return type(x).__module__.startswith("cupy") or isinstance(x, (list, range))


def _hashable(value):
    try:
        hash(value)
        return value
    except TypeError:
        return repr(value)


def _explain(message):
    if dg.config.debug:
        print(f"[dualgrad_jit] {message}", file=sys.stderr)


__all__ = ["JitFunction", "JitWarning", "jit"]
