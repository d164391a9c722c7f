"""Printing symbolic expressions (``pp``) and graphs (``debugprint``), Theano style.

>>> import dualgrad_jit.tensor as T
>>> x, y = T.dscalars('x', 'y')
>>> pp(x + y), pp(T.exp(-x) * 2)
('(x + y)', '(exp((-x)) * 2)')
"""

import sys

import numpy

from dualgrad.ops import elementwise as ew
from dualgrad.ops import index

from .tensor.evaluate import walk
from .tensor.structure import is_symbolic

INFIX = {ew.add: "+", ew.sub: "-", ew.mul: "*", ew.div: "/", ew.power: "**"}
SMALL = 8  # constants up to this many elements print by value


def pp(variable, limit=None):
    """The expression computing ``variable``: infix for ``+ - * / **``, function names
    otherwise; leaves print as their names (or their type when unnamed).  With
    ``limit``, each sub-expression longer than ``limit`` characters is cut (shared
    sub-expressions print once per use, so text can grow fast)."""
    texts = {}
    for v in walk([variable]):
        text = _render(v, texts)
        if limit is not None and len(text) > limit:
            text = text[: limit - 3] + "..."
        texts[id(v)] = text
    return texts[id(variable)]


def _render(variable, texts):
    if variable.owner is None:
        return _leaf(variable)
    node = variable.owner

    def show(value):
        return _show(value, texts)

    args = [show(a) for a in node.args]
    special = _special(node, variable.index, args)
    if special is not None:
        return special
    if node.fn in INFIX and len(args) == 2 and not node.kwargs:
        text = f"({args[0]} {INFIX[node.fn]} {args[1]})"
    elif node.fn is ew.neg:
        text = f"(-{args[0]})"
    elif node.fn is index.get_item:
        text = f"{args[0]}[{_key(node.args[1], texts)}]"
    else:
        args += [f"{k}={show(v)}" for k, v in node.kwargs.items()]
        text = f"{node.name}({', '.join(args)})"
    return f"{text}[{variable.index}]" if node.several else text


def _special(node, position, args):
    """Steps printed as written: ``x.shape``, ``x.dimshuffle(...)``, ``grad(cost, x)``."""
    from .gradient import gradients, jacobians
    from .tensor import functions as TF

    if node.fn is TF.shape_of:
        return f"{args[0]}.shape"
    if node.fn is TF.dimshuffle:
        return f"{args[0]}.dimshuffle{args[1]}"
    if node.fn in (gradients, jacobians):
        wrt = node.args[1][position]
        cost = args[0] if node.args[0] is not None else "known_grads"
        return f"{node.name}({cost}, {_show_variable(wrt)})"
    return None


def _show_variable(variable):
    return pp(variable)


def _leaf(variable):
    if variable.name:
        return variable.name
    if variable.kind == "constant":
        data = variable.data
        if data.size <= SMALL:
            return str(data[()]) if data.ndim == 0 else numpy.array2string(data, separator=", ")
    return f"<{variable.type}>"


def _show(value, texts):
    if is_symbolic(value):
        return texts[id(value)]
    if isinstance(value, tuple):
        inner = ", ".join(_show(v, texts) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v, texts) for v in value) + "]"
    if isinstance(value, slice):
        return _slice(value, texts)
    return repr(value)


def _slice(value, texts):
    parts = ["" if p is None else _show(p, texts) for p in (value.start, value.stop, value.step)]
    return ":".join(parts[:2]) + (f":{parts[2]}" if parts[2] else "")


def _key(key, texts):
    entries = key if isinstance(key, tuple) else (key,)
    shown = ["..." if e is Ellipsis else _show(e, texts) for e in entries]
    return ", ".join(shown)


# -- debugprint -------------------------------------------------------------------------------
def debugprint(obj, file=None):
    """Print ``obj``: a symbolic variable (or a list of them) as a tree, one node a line,
    each with an id (a node seen before prints once, then by id only); a compiled
    function as the optimised graph of its latest call.  ``file='str'`` returns the
    text instead of printing it.

    >>> import dualgrad_jit.tensor as T
    >>> x, y = T.dscalars('x', 'y')
    >>> print(debugprint(T.exp(x + y), file='str'))
    exp [id A]
     |add [id B]
       |x [id C]
       |y [id D]
    """
    text = _debug_text(obj)
    if file == "str":
        return text
    out = sys.stdout if file is None else file
    print(text, file=out)
    return out


def _debug_text(obj):
    from .symbolic_function import Function

    if isinstance(obj, Function):
        if obj.last is not None:
            return str(obj.last.graph)
        trees = _trees(obj.outputs)
        return (f"{obj.name} is not compiled yet (shapes bind at the first call); its "
                f"outputs:\n{trees}")
    variables = list(obj) if isinstance(obj, (list, tuple)) else [obj]
    return _trees(variables)


def _trees(variables):
    ids, lines = {}, []
    for variable in variables:
        _tree(variable, ids, lines)
    return "\n".join(lines)


def _tree(root, ids, lines):
    stack = [(root, "", "")]  # (variable, prefix of its line, prefix of its children)
    while stack:
        variable, prefix, below = stack.pop()
        seen = id(variable) in ids
        if not seen:
            ids[id(variable)] = _letters(len(ids))
        lines.append(f"{prefix}{_header(variable)} [id {ids[id(variable)]}]"
                     + (f" '{variable.name}'" if variable.name and variable.owner else ""))
        if seen or variable.owner is None:
            continue
        children = variable.owner.inputs
        for position in reversed(range(len(children))):
            last = position == len(children) - 1
            stack.append((children[position], below + " |", below + ("  " if last else " |")))


def _header(variable):
    if variable.owner is None:
        return _leaf(variable)
    node = variable.owner
    name = node.name if node.fn not in INFIX else node.fn.__name__
    return f"{name}.{variable.index}" if node.several else name


def _letters(number):
    text = ""
    while True:
        text = chr(ord("A") + number % 26) + text
        number //= 26
        if number == 0:
            return text


__all__ = ["debugprint", "pp"]
