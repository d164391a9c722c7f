"""Reading, at a conversion point, what the user's code does next with the value.

``if float(loss.array) > 0:`` compiles to ``CALL float; LOAD_CONST 0; COMPARE_OP >``:
when the converted value is consumed by exactly such a comparison against a constant,
the guard only needs the comparison's outcome, so the compiled variant serves every
value on the same side.  A comparison with a variable (``> threshold``: a local, a
closure cell or a global) is read the same way, with the variable's value now: like
every Python value the trace reads, it is baked into the variant (globals and closure
values are guarded by ``python_state``).  Anything else keeps an exact-value guard
(always sound).
"""

import dis
import functools
import os
import sys

from dualgrad.errors import _PACKAGE_DIRS

_OPS = {"<": "__lt__", "<=": "__le__", ">": "__gt__", ">=": "__ge__", "==": "__eq__",
        "!=": "__ne__"}
_SKIP = ("CACHE", "EXTENDED_ARG", "PRECALL")


def comparison_after_conversion():
    """``(comparison name, constant)`` if the innermost user frame compares the value it
    is converting with a constant right away, else None."""
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIRS):
        frame = frame.f_back
    if frame is None:
        return None
    instructions = _instructions(frame.f_code)
    index = _index_at(instructions, frame.f_lasti)
    if index is None:
        return None
    if instructions[index].opname == "PRECALL":
        # Python 3.11 runs a specialised call (``float(x)``) inside its PRECALL, so the
        # frame stands there: the conversion's result comes out of the CALL after it.
        calls = [i for i, ins in enumerate(instructions[index:index + 4], index)
                 if ins.opname == "CALL"]
        if not calls:
            return None
        index = calls[0]
    following = [i for i in instructions[index + 1:index + 8] if i.opname not in _SKIP]
    if len(following) < 2 or following[1].opname != "COMPARE_OP":
        return None
    constant = _operand_value(frame, following[0])
    if isinstance(constant, bool):
        return None
    if not isinstance(constant, (int, float)):
        return None
    name = _OPS.get(following[1].argval)
    return None if name is None else (name, constant)


_MISSING = object()


def _operand_value(frame, instruction):
    """The value the instruction pushes, for constants and plain variable loads."""
    name = instruction.argval
    if instruction.opname == "LOAD_CONST":
        return name
    if instruction.opname in ("LOAD_FAST", "LOAD_DEREF", "LOAD_CLASSDEREF"):
        return frame.f_locals.get(name, _MISSING)
    if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
        value = frame.f_globals.get(name, _MISSING)
        if value is _MISSING:
            value = frame.f_builtins.get(name, _MISSING)
        return value
    return _MISSING


@functools.lru_cache(maxsize=256)
def _instructions(code):
    return list(dis.get_instructions(code))


def _index_at(instructions, offset):
    for position, instruction in enumerate(instructions):
        if instruction.offset == offset:
            return position
    return None
