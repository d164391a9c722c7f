"""Generated input gathering for ``Executable`` replays.

A replay reads every graph input (its arguments, state arrays, gradients) and checks
each against the shape and dtype it was traced with.  Interpreted source by source,
that costs about a microsecond an input, as much as a small kernel.  ``compile_gather``
writes the reads and checks of one executable as one straight-line Python function,
the way ``dataclasses`` writes an ``__init__``: a few times cheaper.

The generated function gives the list of arrays, or None as soon as anything is not
the common case (an input that is not a C-contiguous numpy array of exactly the traced
shape and dtype, a gradient that is gone).  Its arrays therefore need no more checking
before compiled code reads them.  The caller then gathers the interpreted way, which
handles every other case (a list argument, a device array) and explains a mismatch, so
the generated code never decides an error.  Its source is kept (``.source``) to be
read.
"""

import numpy

from dualgrad.core.variable import Variable


def compile_gather(sources, avals, name="gather"):
    """A function ``gather(args) -> [array] | None`` for the graph inputs ``sources``
    (``('arg', position)`` or ``('state', StateRead)``) traced as ``avals``."""
    namespace = {"ndarray": numpy.ndarray, "Variable": Variable}
    lines, checks = [f"def {name}(args):"], []
    for k, ((kind, where), aval) in enumerate(zip(sources, avals)):
        lines += _read(k, kind, where, namespace)
        dtype = numpy.dtype(aval.dtype)
        namespace[f"s{k}"], namespace[f"d{k}"] = tuple(aval.shape), dtype
        namespace[f"c{k}"] = _c_strides(aval.shape, dtype.itemsize)
        checks.append(f"type(x{k}) is ndarray and x{k}.shape == s{k} and x{k}.dtype is d{k}"
                      f" and x{k}.strides == c{k}")
    names = ", ".join(f"x{k}" for k in range(len(sources)))
    test = " and\n            ".join(checks) or "True"
    lines += [f"    if ({test}):", f"        return [{names}]", "    return None"]
    source = "\n".join(lines) + "\n"
    exec(compile(source, f"<dualgrad_jit {name}>", "exec"), namespace)  # noqa: S102
    function = namespace[name]
    function.source = source
    return function


def _c_strides(shape, itemsize):
    """The strides of a C-contiguous array of ``shape`` (as numpy gives a new one)."""
    strides, step = [], itemsize
    for size in reversed(shape):
        strides.append(step)
        step *= max(size, 1)
    return tuple(reversed(strides))


def _read(k, kind, where, namespace):
    """The lines binding ``x{k}`` to the input's current array."""
    if kind == "arg":  # an array, or a Variable holding one
        return [f"    x{k} = args[{where}]",
                f"    if isinstance(x{k}, Variable):", f"        x{k} = x{k}._array"]
    if where.kind == "argument_grad":  # the gradient of an argument (a position)
        return [f"    g{k} = args[{where.owner}]._grad_var",
                f"    if g{k} is None:", "        return None", f"    x{k} = g{k}._array"]
    namespace[f"o{k}"] = where.owner
    if where.kind == "array":
        return [f"    x{k} = o{k}._array"]
    if where.kind == "grad":
        return [f"    g{k} = o{k}._grad_var",
                f"    if g{k} is None:", "        return None", f"    x{k} = g{k}._array"]
    return [f"    x{k} = o{k}"]  # 'raw': the array itself
