"""Reading, at a conversion point, what the user's code does next with the value.

``if float(loss.array) > 0:`` compiles to ``CALL float; LOAD_CONST 0; COMPARE_OP >``:
when the converted value is consumed by exactly such a comparison against a constant,
the guard only needs the comparison's outcome, so the compiled variant serves every
value on the same side.  Anything else keeps an exact-value guard (always sound).
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
    following = [i for i in instructions[index + 1:index + 8] if i.opname not in _SKIP]
    if len(following) < 2 or following[0].opname != "LOAD_CONST":
        return None
    constant = following[0].argval
    if following[1].opname != "COMPARE_OP" or isinstance(constant, bool):
        return None
    if not isinstance(constant, (int, float)):
        return None
    name = _OPS.get(following[1].argval)
    return None if name is None else (name, constant)


@functools.lru_cache(maxsize=256)
def _instructions(code):
    return list(dis.get_instructions(code))


def _index_at(instructions, offset):
    for position, instruction in enumerate(instructions):
        if instruction.offset == offset:
            return position
    return None
