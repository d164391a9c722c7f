"""Walking the arguments of a recipe node: symbolic variables may sit anywhere in them.

``T.concatenate([a, b])`` has its variables in a list, ``x[i:j]`` in a slice,
``x.reshape((n, -1))`` in a tuple: these helpers find and replace them at any depth.
"""


def is_symbolic(value):
    from .variable import TensorVariable

    return isinstance(value, TensorVariable)


def map_structure(value, leaf, where=None):
    """``value`` with every symbolic variable ``v`` replaced by ``leaf(v, where)``, where
    ``where`` names the container holding ``v``: None (an argument itself, or a keyword
    argument's value), 'tuple', 'list' or 'slice'."""
    if is_symbolic(value):
        return leaf(value, where)
    if isinstance(value, tuple):
        return tuple(map_structure(v, leaf, "tuple") for v in value)
    if isinstance(value, list):
        return [map_structure(v, leaf, "list") for v in value]
    if isinstance(value, slice):
        return slice(*(map_structure(v, leaf, "slice") for v in (value.start, value.stop,
                                                                  value.step)))
    if isinstance(value, dict):
        return {k: map_structure(v, leaf, where) for k, v in value.items()}
    return value


def map_arguments(args, kwargs, leaf):
    """``map_structure`` over a call's positional and keyword arguments (each argument
    is at the top level, not inside a tuple)."""
    return (tuple(map_structure(a, leaf) for a in args),
            {k: map_structure(v, leaf) for k, v in kwargs.items()})


def wants_number(where):
    """Whether a value at ``where`` is read by Python as a number: a size in a shape
    tuple, a bound of a slice, an index in a key (lists hold arrays to join)."""
    return where in ("tuple", "slice")


def symbolic_leaves(value):
    """The symbolic variables in ``value``, in order (repeats kept)."""
    found = []
    map_structure(value, lambda v, where: found.append(v))
    return found


def any_leaf(value, predicate):
    """Whether some non-container part of ``value`` satisfies ``predicate``."""
    if isinstance(value, (tuple, list)):
        return any(any_leaf(v, predicate) for v in value)
    if isinstance(value, slice):
        return any(any_leaf(v, predicate) for v in (value.start, value.stop, value.step))
    if isinstance(value, dict):
        return any(any_leaf(v, predicate) for v in value.values())
    return predicate(value)
