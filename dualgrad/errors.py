"""The typed errors of dualgrad.  Each message names the op, what it was given and the fix."""

import os
import sys

_PACKAGE_DIRS = tuple(
    os.path.dirname(os.path.abspath(__file__)) + suffix for suffix in (os.sep, "_jit" + os.sep)
)


def user_source_line():
    """``'file.py:12: code'`` for the innermost frame outside dualgrad, or ``''``."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(_PACKAGE_DIRS) and "importlib" not in filename:
            return _describe_frame(frame)
        frame = frame.f_back
    return ""


def _describe_frame(frame):
    import linecache

    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    where = f"{frame.f_code.co_filename}:{frame.f_lineno}"
    return f"{where}: {line}" if line else where


class DualgradError(Exception):
    """Base class of every error dualgrad raises on purpose."""


class OpError(DualgradError):
    """An op was given inputs it cannot take.

    The message names the op, the inputs' shapes and dtypes, the user's source line
    and, when given, what to do instead.
    """

    def __init__(self, op_name, message, avals=(), hint=None):
        self.op_name = op_name
        self.avals = tuple(avals)
        self.source = user_source_line()
        parts = [f"{op_name}: {message}"]
        if self.avals:
            parts.append("  inputs: " + ", ".join(describe_aval(a) for a in self.avals))
        if self.source:
            parts.append("  at " + self.source)
        if hint:
            parts.append("  fix: " + hint)
        super().__init__("\n".join(parts))


class ShapeError(OpError, ValueError):
    """Input shapes do not fit the op (broadcasting, axes, matmul inner sizes...)."""


class DTypeError(OpError, TypeError):
    """Input dtypes do not fit the op (integer where a float is required...)."""


class BackwardError(DualgradError, RuntimeError):
    """``backward()`` cannot run: no graph, graph already freed, or no starting gradient."""


class NonFiniteError(DualgradError, FloatingPointError):
    """Debug mode found the first NaN or Inf an op produced."""


class DeviceError(DualgradError, RuntimeError):
    """Arrays live on different devices, or the device's library is not installed."""


def describe_aval(aval):
    """``float32[3,4]`` for an array-like or abstract value; ``2.0 (python float)`` for scalars."""
    shape = getattr(aval, "shape", None)
    dtype = getattr(aval, "dtype", None)
    if shape is None or dtype is None:
        return f"{aval!r} (python {type(aval).__name__})"
    if getattr(aval, "weak", False):  # a Python scalar: it takes the other inputs' dtype
        return "python " + {"b": "bool", "i": "int", "u": "int", "c": "complex"}.get(
            dtype.kind, "float"
        )
    dims = ",".join(str(d) for d in shape)
    return f"{dtype}[{dims}]"


class ConcretizationError(DualgradError, TypeError):
    """Traced or symbolic code asked for a concrete Python value that does not exist yet
    (``bool(x > 0)`` on a symbolic ``x``).  The message says what to use instead."""


class TracerLeakError(DualgradError, RuntimeError):
    """A value from a finished trace was used outside it."""
