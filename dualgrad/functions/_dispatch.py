"""Letting ``F`` functions take symbolic variables (compiled mode) as well as arrays.

The symbolic front end (``dualgrad_jit.tensor``) registers its variable type and a
handler here; a public ``F`` function called with one of those variables among its
arguments (directly or inside a list/tuple, as ``F.concat`` takes them) hands the call
to the handler, which records it as a step of a symbolic expression.  Without a
registered front end the check costs one truth test.
"""

import functools

SYMBOLIC_TYPES = ()
_HANDLER = [None]


def register_symbolic(types, handler):
    """Route calls with arguments of ``types`` to ``handler(function, args, kwargs)``
    (``function`` is the public ``F`` function that was called)."""
    global SYMBOLIC_TYPES
    SYMBOLIC_TYPES = tuple(types)
    _HANDLER[0] = handler


def _is_symbolic(value):
    if isinstance(value, SYMBOLIC_TYPES):
        return True
    if isinstance(value, (list, tuple)):
        return any(isinstance(v, SYMBOLIC_TYPES) for v in value)
    return False


def accepting_symbolic(fn):
    """``fn``, also callable on symbolic variables (see the module docstring)."""

    @functools.wraps(fn)
    def dispatching(*args, **kwargs):
        if SYMBOLIC_TYPES and (any(map(_is_symbolic, args))
                               or any(map(_is_symbolic, kwargs.values()))):
            return _HANDLER[0](dispatching, args, kwargs)
        return fn(*args, **kwargs)

    dispatching.eager = fn
    return dispatching
