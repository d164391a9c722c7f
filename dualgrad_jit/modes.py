"""Execution modes of ``dj.jit``: check, NaN guard, profile.

``dj.jit(f, mode=...)`` takes a mode name or a mode object:

- ``'check'`` / ``Check(rtol=, atol=)``: every replay is followed by the eager Python
  function on the same inputs and state; every output and every state write (parameters,
  gradients, optimizer state, the random stream) must agree, else ``CheckError`` names the
  first one that differs.  The state eager left behind is kept.
- ``'nan_guard'`` / ``NanGuard()``: the first graph node whose output holds NaN or Inf
  although its inputs are finite raises ``NonFiniteNodeError``, naming the equation as
  ``print_graph`` prints it and the user source line of the op (the traced call is
  checked by eager's own debug check).
- ``'profile'`` / ``Profile()``: the time of every node is recorded over the replays;
  ``f.profile()`` gives a table of op, count, total time and share, slowest first.

>>> import numpy as np, dualgrad_jit as dj
>>> f = dj.jit(lambda x: x * 2.0, mode='check')
>>> [float(f(np.ones(1)).array[0]) for _ in range(2)]
[2.0, 2.0]
"""

import dataclasses
import time

import numpy

import dualgrad as dg
from dualgrad.core.variable import Variable
from dualgrad.errors import DualgradError, NonFiniteError
from dualgrad.ops import random as random_ops

from .ir import print_graph
from .jit import JitFunction


class CheckError(DualgradError, AssertionError):
    """Check mode: a compiled replay and the eager function disagree.

    ``output`` names what differs (``result[0]``, ``state Parameter 'W'``...)."""

    def __init__(self, message, output):
        super().__init__(message)
        self.output = output


class NonFiniteNodeError(NonFiniteError):
    """NaN-guard mode: ``equation`` (its text) first produced NaN/Inf from finite inputs."""

    def __init__(self, message, equation, source):
        super().__init__(message)
        self.equation = equation
        self.source = source


@dataclasses.dataclass(frozen=True)
class Check:
    """Check mode; tolerances default per dtype (see ``TOLERANCES``)."""

    rtol: float = None
    atol: float = None


@dataclasses.dataclass(frozen=True)
class NanGuard:
    """NaN-guard mode."""


@dataclasses.dataclass(frozen=True)
class Profile:
    """Profile mode."""


MODES = {"check": Check, "nan_guard": NanGuard, "profile": Profile}

# (rtol, atol) per float dtype: rewrites (log1p, softplus...) may round differently.
TOLERANCES = {"float16": (1e-2, 1e-3), "float32": (1e-4, 1e-6), "float64": (1e-7, 1e-12)}


def jit_with_mode(mode, fn, static_argnums=(), backend="auto", max_variants=8):
    """The ``JitFunction`` of ``mode`` (a name of ``MODES`` or a mode object)."""
    if isinstance(mode, str):
        if mode not in MODES:
            raise ValueError(f"unknown jit mode {mode!r}; the modes are {', '.join(MODES)}")
        mode = MODES[mode]()
    kind = {Check: CheckedFunction, NanGuard: NanGuardFunction, Profile: ProfiledFunction}
    cls = kind.get(type(mode))
    if cls is None:
        raise TypeError(f"mode must be one of {', '.join(MODES)} or a mode object, got {mode!r}")
    compiled = cls(fn, static_argnums, backend, max_variants)
    compiled.mode = mode
    return compiled


# -- check --------------------------------------------------------------------------------------
class CheckedFunction(JitFunction):
    """``dj.jit(f, mode='check')``: each replay is compared with an eager run."""

    mode = Check()

    def __call__(self, *args):
        replays = self.stats["replays"]
        snapshot = _Snapshot(self._written_state(args))
        result = super().__call__(*args)
        if self.stats["replays"] == replays:
            return result  # traced or eager: that call was eager already
        compiled_state = _Snapshot(snapshot.targets)
        snapshot.restore()
        expected = self.fn(*[self._as_argument(i, a) for i, a in enumerate(args)])
        eager_state = _Snapshot(snapshot.targets)
        self._compare(_leaves(result, "result"), _leaves(expected, "result"))
        self._compare(compiled_state.items(), eager_state.items())
        return result

    def _written_state(self, args):
        targets, grads = [], []
        for executable in self._variants.get(self._signature(args), []):
            targets += [t for t in executable.writes if all(t is not u for u in targets)]
            grads += [p for p, _ in executable.grads if all(p is not q for q in grads)]
        return targets, grads

    def _compare(self, compiled, eager):
        compiled, eager = list(compiled), list(eager)
        if [name for name, _ in compiled] != [name for name, _ in eager]:
            raise CheckError(
                f"check mode: {self._name} returned {[n for n, _ in compiled]} compiled but "
                f"{[n for n, _ in eager]} eagerly", "structure")
        for (name, got), (_, want) in zip(compiled, eager):
            why = _difference(got, want, self.mode)
            if why is not None:
                raise CheckError(
                    f"check mode: {name} of {self._name} differs between the compiled replay "
                    f"and eager: {why}. Where a rewrite stabilised an expression that "
                    "overflows eagerly (log(1 + exp(x))), eager is the inaccurate one; "
                    "otherwise please report the graph (print the variant)", name)


class _Snapshot:
    """Copies of the state a replay may write, to put back and to compare."""

    def __init__(self, targets):
        self.targets = targets
        writes, grads = targets
        self.arrays = [_copy(_array_of(t)) for t in writes]
        self.grads = [(p._grad_var, _copy(p.grad)) for p in grads]
        self.rng = random_ops.get_state()

    def restore(self):
        writes, grads = self.targets
        for target, saved in zip(writes, self.arrays):
            _put(target, saved)
        for param, (grad_var, saved) in zip(grads, self.grads):
            param._grad_var = grad_var
            if grad_var is not None and saved is not None:
                grad_var._array[...] = saved
        random_ops.set_state(self.rng)

    def items(self):
        writes, grads = self.targets
        for target, array in zip(writes, self.arrays):
            yield f"state {_name_of(target)}", array
        for param, (_, array) in zip(grads, self.grads):
            yield f"gradient of {_name_of(param)}", array
        yield "random stream state", numpy.array(self.rng, dtype=object)


def _array_of(target):
    if isinstance(target, Variable):
        return target._array
    if hasattr(target, "shape") and not hasattr(target, "array"):
        return target
    return target.array


def _put(target, saved):
    current = _array_of(target)
    if current is not None and saved is not None and current.shape == saved.shape:
        current[...] = saved
    elif isinstance(target, Variable):
        target._array = saved
    else:
        target.array = saved


def _copy(array):
    return None if array is None else array.copy()


def _name_of(target):
    name = getattr(target, "name", None)
    return f"{type(target).__name__}{' ' + repr(name) if name else ''}"


def _leaves(value, path):
    """``(path, leaf)`` for every leaf of a returned structure (arrays for Variables)."""
    if isinstance(value, (tuple, list)):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}[{key!r}]")
    else:
        yield path, value._array if isinstance(value, Variable) else value


def _difference(got, want, mode):
    """None when ``got`` (compiled) matches ``want`` (eager); else why not, in words."""
    if got is None or want is None or not hasattr(want, "shape"):
        same = got is want if got is None or want is None else _same_python(got, want)
        return None if same else f"{got!r} versus {want!r}"
    got, want = numpy.asarray(got), numpy.asarray(want)
    if got.shape != want.shape or got.dtype != want.dtype:
        return f"{got.dtype}{list(got.shape)} versus {want.dtype}{list(want.shape)}"
    if got.dtype.kind not in "fc":
        bad = got != want
    else:
        rtol, atol = TOLERANCES.get(got.dtype.name, TOLERANCES["float64"])
        rtol = rtol if mode.rtol is None else mode.rtol
        atol = atol if mode.atol is None else mode.atol
        bad = ~numpy.isclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
    if not bad.any():
        return None
    where = tuple(int(i) for i in numpy.argwhere(bad)[0])
    return (f"{int(bad.sum())} of {bad.size} elements differ, first at {list(where)}: "
            f"{got[where]!r} compiled versus {want[where]!r} eager")


def _same_python(got, want):
    try:
        return bool(got == want)
    except (TypeError, ValueError):
        return got is want


# -- NaN guard --------------------------------------------------------------------------------
class NanGuardFunction(JitFunction):
    """``dj.jit(f, mode='nan_guard')``: the first node producing NaN/Inf is named."""

    mode = NanGuard()

    def __call__(self, *args):
        signature = self._signature(args)
        for executable in self._variants.get(signature, []):
            executable.on_value = _NanWatch(self, executable, args)
        rng = random_ops.get_state()
        try:
            with numpy.errstate(all="ignore"):  # the watch reports, not numpy's warnings
                return super().__call__(*args)
        except NonFiniteNodeError:
            random_ops.set_state(rng)  # the failed replay drew nothing
            raise

    def _trace(self, signature, args, state=None):
        # The traced call runs eagerly: eager debug mode names the first NaN there.
        with dg.using_config("debug", dg.config.debug or 1):
            return super()._trace(signature, args, state)


class _NanWatch:
    """``on_value`` of one replay: raises at the first node making NaN/Inf from finite."""

    def __init__(self, function, executable, args):
        self.function, self.executable = function, executable
        self.index = 0
        self.bad = set()  # ids of Vars holding NaN/Inf
        inputs, why = executable._gather(args)
        if why is None:
            self.bad = {var.id for var, array in zip(executable.graph.inputs, inputs)
                        if not _finite(array)}

    def __call__(self, eq, array):
        index, self.index = self.index, self.index + 1
        if _finite(array):
            return
        self.bad.add(eq.out.id)
        if any(getattr(x, "id", None) in self.bad for x in eq.inputs):
            return  # propagated from an earlier node or an input
        if any(not _finite(getattr(x, "value", 0.0)) for x in eq.inputs):
            return  # a constant operand is NaN/Inf already
        self._raise(index, eq)

    def _raise(self, index, eq):
        graph = self.executable.graph
        text = print_graph(graph).splitlines()[index + 1].strip()
        lines = self.executable.lines or {}
        source = lines.get(eq.out.id, "")
        where = source or "(no source line: the node was made by a graph rewrite)"
        raise NonFiniteNodeError(
            f"{eq.op.name} produced NaN or Inf from finite inputs at node {index} of the "
            f"compiled graph of {self.function._name}:\n  {text}\n  at {where}\n"
            "  fix: check the op's domain (log of <= 0, division by zero, overflow); "
            "stable forms exist: F.log_softmax, F.logsumexp, F.softplus",
            text, source)


def _finite(array):
    array = numpy.asarray(array)
    return array.dtype.kind not in "fc" or bool(numpy.isfinite(array).all())


# -- profile ----------------------------------------------------------------------------------
class ProfiledFunction(JitFunction):
    """``dj.jit(f, mode='profile')``: time per node over the replays; see ``profile()``."""

    mode = Profile()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._timers = []

    def __call__(self, *args):
        for timer in self._timers:
            timer.start()
        return super().__call__(*args)

    def _trace(self, signature, args, state=None):
        result = super()._trace(signature, args, state)
        timer = _NodeTimer(self._variants[signature][0])
        self._variants[signature][0].on_value = timer
        self._timers.append(timer)
        return result

    def profile(self, by="op"):
        """A ``ProfileTable`` of the replays so far: per op (``by='op'``) or per node
        (``by='node'``, the equation text), slowest first."""
        if by not in ("op", "node"):
            raise ValueError(f"by must be 'op' or 'node', got {by!r}")
        totals = {}
        for timer in self._timers:
            for label, count, seconds in timer.rows(by):
                row = totals.setdefault(label, [0, 0.0])
                row[0] += count
                row[1] += seconds
        return ProfileTable(self._name, by, totals, self.stats["replays"])


class _NodeTimer:
    """``on_value`` timing each node from the end of the previous one (the first node of
    a run also pays for reading the inputs)."""

    def __init__(self, executable):
        self.executable = executable
        n = len(executable.graph.equations)
        self.seconds = [0.0] * n
        self.counts = [0] * n
        self.index = 0
        self.clock = time.perf_counter()

    def start(self):
        self.index = 0
        self.clock = time.perf_counter()

    def __call__(self, eq, array):
        now = time.perf_counter()
        index = self.index
        if index < len(self.seconds):
            self.seconds[index] += now - self.clock
            self.counts[index] += 1
        self.index = index + 1
        self.clock = time.perf_counter()

    def rows(self, by):
        graph = self.executable.graph
        texts = print_graph(graph).splitlines()[1:-1] if by == "node" else None
        for index, eq in enumerate(graph.equations):
            if self.counts[index]:
                label = eq.op.name if by == "op" else texts[index].strip()
                yield label, self.counts[index], self.seconds[index]


class ProfileTable:
    """Rows ``(label, count, total seconds, share)``, slowest first; prints as a table."""

    def __init__(self, name, by, totals, replays):
        self.name, self.by, self.replays = name, by, replays
        grand = sum(seconds for _, seconds in totals.values()) or 1.0
        self.rows = sorted(
            ((label, count, seconds, seconds / grand) for label, (count, seconds) in
             totals.items()), key=lambda row: (-row[2], row[0]))

    def __str__(self):
        width = max([len(self.by)] + [len(row[0]) for row in self.rows])
        lines = [f"profile of {self.name} over {self.replays} replays",
                 f"{self.by:<{width}}  {'count':>7}  {'total ms':>10}  {'share':>6}"]
        for label, count, seconds, share in self.rows:
            lines.append(f"{label:<{width}}  {count:>7}  {seconds * 1e3:>10.3f}  "
                         f"{share:>6.1%}")
        return "\n".join(lines)

    __repr__ = __str__


__all__ = ["Check", "CheckError", "NanGuard", "NonFiniteNodeError", "Profile", "ProfileTable",
           "jit_with_mode"]
