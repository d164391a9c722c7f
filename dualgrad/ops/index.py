"""Advanced indexing: gather with integer index arrays, and its transpose, scatter-add.

Index arrays are op *inputs* (integers, never differentiated), so the ops stay hashable
and a compiled graph can take new indices without recompiling.  A key template holds
the static part of the key (ints, slices, None, Ellipsis) and an ``IndexInput(k)``
where the ``k``-th index array goes.  ``get_item`` is the user entry point
(``Variable.__getitem__`` calls it): basic keys become the ``view.GetItem`` view,
anything with lists, integer or boolean arrays becomes ``Gather``.
"""

from dataclasses import dataclass

import numpy

from .. import scalar_ir as S  # noqa: N812 - the project-wide alias
from ..backend import get_array_module
from ..core.aval import ShapedArray, aval_of
from ..core.op import Op
from ..core.tape import apply
from ..core.variable import Variable
from ..errors import DTypeError, ShapeError
from ..lowering import IndexMap, LibraryCall, Source
from . import view


@dataclass(frozen=True)
class IndexInput:
    """Where index array ``position`` (the op's input ``position + 1``) sits in a key."""

    position: int

    def __repr__(self):
        return f"<index array {self.position}>"


def _is_advanced(entry):
    """Ints count as advanced entries once the key holds an array (numpy's rule)."""
    return isinstance(entry, (IndexInput, int))


def _normalize_template(op_name, template):
    template = template if isinstance(template, tuple) else (template,)
    return tuple(e if isinstance(e, IndexInput) else view.normalize_entry(op_name, e)
                 for e in template)


def _count_inputs(template):
    return sum(1 for e in template if isinstance(e, IndexInput))


def _broadcast_index_shapes(op_name, index_avals, avals):
    try:
        return tuple(numpy.broadcast_shapes(*(a.shape for a in index_avals)))
    except ValueError:
        raise ShapeError(
            op_name, "index arrays cannot be broadcast together", avals,
            hint="index arrays pair up elementwise: give them broadcastable shapes",
        ) from None


def _load_coord(entry, n, index_shape, block_start, block_ndim):
    """Input coordinate read from an index array (negative indices count from the end)."""
    lead = block_start + block_ndim - len(index_shape)
    at = tuple(S.const(0) if m == 1 else S.index(lead + j) for j, m in enumerate(index_shape))
    value = S.Expr("load", at, entry.position + 1)
    return S.where(S.call("lt", value, 0), value + n, value)


def _advanced_plan(op_name, template, shape, index_avals, avals):
    """``(out_shape, coords)`` of ``x[key]`` for numpy advanced indexing.

    The index arrays broadcast to a block of dims.  The block replaces the advanced
    entries where they stand when they are adjacent in the key, and goes first otherwise.
    """
    block = _broadcast_index_shapes(op_name, index_avals, avals)
    positions = [i for i, e in enumerate(template) if _is_advanced(e)]
    adjacent = positions == list(range(positions[0], positions[-1] + 1))
    out_shape = [] if adjacent else list(block)
    block_start = None if adjacent else 0
    coords = []
    for entry in view.expand_key(op_name, template, len(shape), avals):
        if entry is None:
            out_shape.append(1)
            continue
        axis, n = len(coords), shape[len(coords)]
        if isinstance(entry, slice):
            length, coord = view.slice_coord(entry, n, len(out_shape))
            out_shape.append(length)
        else:
            if block_start is None:
                block_start = len(out_shape)
                out_shape.extend(block)
            if isinstance(entry, IndexInput):
                index_shape = index_avals[entry.position].shape
                coord = _load_coord(entry, n, index_shape, block_start, len(block))
            else:
                coord = view.int_coord(op_name, entry, n, axis, avals)
        coords.append(coord)
    return tuple(out_shape), tuple(coords)


def _indexed_plan(op_name, template, shape, index_avals, avals):
    """The plan of indexing an array of ``shape`` with ``template``, checking the inputs."""
    expected = _count_inputs(template)
    if len(index_avals) != expected:
        raise ShapeError(op_name, f"the key takes {expected} index arrays, got "
                         f"{len(index_avals)}", avals)
    for a in index_avals:
        if a.dtype.kind not in "iu":
            raise DTypeError(
                op_name, f"index arrays must be integers, got {a.dtype}", avals,
                hint="cast with .astype('int64'); boolean masks go through x[mask]",
            )
    if not expected:
        return view.basic_plan(op_name, template, shape, avals)
    return _advanced_plan(op_name, template, shape, index_avals, avals)


def _fill_key(template, index_arrays):
    return tuple(index_arrays[e.position] if isinstance(e, IndexInput) else e for e in template)


def _check_bounds(op, template, shape, arrays):
    """Raise a ShapeError naming the first index array entry outside its axis."""
    avals = [aval_of(a) for a in arrays]
    op.infer(*avals)  # wrong counts, dtypes or shapes explain themselves first
    index_arrays = arrays[1:]
    axis = 0
    for entry in view.expand_key(op.name, template, len(shape), avals):
        if entry is None:
            continue
        if isinstance(entry, IndexInput):
            n = shape[axis]
            index = index_arrays[entry.position]
            bad = (index < -n) | (index >= n)
            if bool(bad.any()):
                value = int(index[bad].ravel()[0])
                raise ShapeError(
                    op.name,
                    f"index {value} is out of bounds for axis {axis} with size {n} "
                    f"(index array {entry.position}, shape {tuple(index.shape)})",
                    avals, hint=f"indices along axis {axis} must lie in [{-n}, {n})",
                )
        axis += 1


class Gather(Op):
    """``y = x[key]`` where the key holds integer index arrays (numpy advanced indexing).

    Inputs are ``(x, *index_arrays)``.  Several output elements may read the same input
    element, so the VJP adds them up: ``gx = scatter_add(gy, x.shape, key)``.
    """

    __slots__ = ("key_template",)
    save = "inputs"

    def __init__(self, key_template):
        self.key_template = _normalize_template(self.name, key_template)

    def infer(self, x, *index_avals):
        plan = _indexed_plan(self.name, self.key_template, x.shape, index_avals,
                             (x, *index_avals))
        return ShapedArray(plan[0], x.dtype)

    def forward(self, xp, x, *index_arrays):
        key = _fill_key(self.key_template, index_arrays)
        if xp is not numpy:  # cupy wraps out-of-range indices around instead of raising
            _check_bounds(self, self.key_template, x.shape, (x, *index_arrays))
            return x[key]
        try:
            return x[key]
        except IndexError:
            _check_bounds(self, self.key_template, x.shape, (x, *index_arrays))
            raise

    def backward(self, gy, inputs, y, need):
        x, index_arrays = inputs[0], inputs[1:]
        gx = apply(ScatterAdd(x.shape, self.key_template), (gy, *index_arrays))
        return (gx,) + (None,) * len(index_arrays)

    def lower(self, x, *index_avals):
        _, coords = _indexed_plan(self.name, self.key_template, x.shape, index_avals,
                                  (x, *index_avals))
        return IndexMap((Source(0, coords),))


def _add_at(xp, out, key, values):
    """``out[key] += values`` with repeated indices accumulating (``numpy.add.at``)."""
    add_at = getattr(xp.add, "at", None)
    if add_at is not None:
        add_at(out, key, values)
        return
    import cupyx

    cupyx.scatter_add(out, key, values)


def _key_params(template):
    """The key as hashable plain data for a library call."""
    params = []
    for e in template:
        if isinstance(e, slice):
            params.append(("slice", e.start, e.stop, e.step))
        elif isinstance(e, IndexInput):
            params.append(("input", e.position))
        else:
            params.append(e)
    return tuple(params)


class ScatterAdd(Op):
    """``y = zeros(shape); y[key] += gy`` with repeated indices accumulating.

    Inputs are ``(gy, *index_arrays)``; ``gy`` broadcasts to the shape of
    ``zeros(shape)[key]``.  The transpose of ``GetItem`` and ``Gather``, so its VJP is
    the gather of the gradient: ``g_gy = ggy[key]``.
    """

    __slots__ = ("shape", "key_template")
    save = "inputs"

    def __init__(self, shape, key_template):
        self.shape = tuple(int(n) for n in shape)
        self.key_template = _normalize_template(self.name, key_template)

    def infer(self, gy, *index_avals):
        avals = (gy, *index_avals)
        indexed, _ = _indexed_plan(self.name, self.key_template, self.shape, index_avals, avals)
        try:
            fits = numpy.broadcast_shapes(gy.shape, indexed) == indexed
        except ValueError:
            fits = False
        if not fits:
            raise ShapeError(
                self.name, f"values of shape {gy.shape} do not fit the indexed shape {indexed} "
                f"of an array of shape {self.shape}", avals,
                hint="the values must broadcast to the shape that zeros(shape)[key] has",
            )
        return ShapedArray(self.shape, gy.dtype)

    def forward(self, xp, gy, *index_arrays):
        out = xp.zeros(self.shape, dtype=gy.dtype)
        key = _fill_key(self.key_template, index_arrays)
        if not index_arrays:  # a basic key never selects an element twice
            out[key] = gy
            return out
        if xp is not numpy:
            _check_bounds(self, self.key_template, self.shape, (gy, *index_arrays))
            _add_at(xp, out, key, gy)
            return out
        try:
            numpy.add.at(out, key, gy)
        except IndexError:
            _check_bounds(self, self.key_template, self.shape, (gy, *index_arrays))
            raise
        return out

    def backward(self, ggy, inputs, y, need):
        index_arrays = inputs[1:]
        if not need[0]:
            return (None,) * len(inputs)
        if index_arrays:
            g = apply(Gather(self.key_template), (ggy, *index_arrays))
        else:
            g = apply(view.GetItem(self.key_template), (ggy,))
        return (g,) + (None,) * len(index_arrays)

    def lower(self, gy, *index_avals):
        return LibraryCall("scatter_add", (("shape", self.shape),
                                           ("key", _key_params(self.key_template))))


# -- user entry points ---------------------------------------------------------------------


def _is_array_entry(entry):
    if isinstance(entry, (list, tuple, Variable, numpy.ndarray)):
        return True
    return type(entry).__module__.startswith("cupy") and hasattr(entry, "shape")


def _as_index_array(entry, xp):
    """An index entry as an array (Variables of integers stay Variables, for tracing)."""
    if isinstance(entry, Variable):
        return entry if entry.dtype.kind != "b" else entry.array
    array = xp.asarray(entry)
    if isinstance(entry, (list, tuple)) and array.size == 0 and array.dtype.kind == "f":
        array = array.astype(numpy.intp)  # numpy reads ``x[[]]`` as an empty integer index
    return array


def _consumed(entry, is_array):
    """How many axes of the indexed array one (converted) entry selects along."""
    if entry is None or entry is Ellipsis:
        return 0
    return entry.ndim if is_array and entry.dtype.kind == "b" else 1


def _check_mask(op_name, entries, is_array, position, shape, avals):
    """A boolean mask must have the shape of the axes it selects from."""
    mask = entries[position]
    avals = (*avals, aval_of(mask))
    if mask.ndim == 0:
        raise DTypeError(op_name, "a 0-d boolean index is not supported", avals,
                         hint="use None to add an axis, or index with a boolean array")
    counts = [_consumed(e, a) for e, a in zip(entries, is_array)]
    if any(e is Ellipsis for e in entries[:position]):
        start = len(shape) - mask.ndim - sum(counts[position + 1:])
    else:
        start = sum(counts[:position])
    covered = tuple(shape[start:start + mask.ndim]) if start >= 0 else ()
    if covered != tuple(mask.shape):
        raise ShapeError(
            op_name, f"boolean index of shape {tuple(mask.shape)} does not match axes "
            f"{start}..{start + mask.ndim - 1} (sizes {covered}) of shape {tuple(shape)}", avals,
            hint="a mask must have exactly the shape of the axes it selects from",
        )


def split_key(op_name, key, shape, xp, avals=()):
    """``(template, index_arrays)``: ``key`` with every array entry replaced by an
    ``IndexInput``; boolean masks become their ``nonzero()`` integer arrays.  A key
    without arrays comes back as it is (the op normalizes it)."""
    entries = key if isinstance(key, tuple) else (key,)
    is_array = [_is_array_entry(e) for e in entries]
    if not any(is_array):
        return entries, ()
    entries = tuple(_as_index_array(e, xp) if a else e for e, a in zip(entries, is_array))
    template, arrays = [], []
    for position, entry in enumerate(entries):
        if not is_array[position]:
            template.append(view.normalize_entry(op_name, entry))
            continue
        if entry.dtype.kind == "b":
            _check_mask(op_name, entries, is_array, position, shape, avals)
            parts = xp.nonzero(entry)
        else:
            parts = (entry,)
        for part in parts:
            template.append(IndexInput(len(arrays)))
            arrays.append(part)
    return tuple(template), tuple(arrays)


def get_item(x, key):
    """``x[key]`` with numpy's semantics, differentiable.

    Basic keys (ints, slices with any step, None, Ellipsis) give a ``GetItem`` view;
    keys holding lists or integer arrays give a ``Gather``.  A boolean mask is turned
    into integer indices with ``nonzero()`` first, so the output shape depends on the
    mask's values (a compiled graph cannot fix it in advance; prefer ``where``).

    >>> import numpy as np
    >>> x = np.arange(12.0).reshape(3, 4)
    >>> get_item(x, (slice(None, None, -1), [0, 0, 3])).array.tolist()
    [[8.0, 8.0, 11.0], [4.0, 4.0, 7.0], [0.0, 0.0, 3.0]]
    """
    template, arrays = split_key("Gather", key, x.shape, get_array_module(x), (x,))
    if not arrays:
        return apply(view.GetItem(template), (x,))
    return apply(Gather(template), (x, *arrays))


def scatter_add(gy, shape, key):
    """``zeros(shape)`` with ``gy`` added at ``key``; repeated indices accumulate
    (``numpy.add.at``).  The transpose of ``get_item(x, key)`` for ``x`` of ``shape``.

    >>> import numpy as np
    >>> scatter_add(np.ones(3), (2,), ([1, 1, 0],)).array.tolist()
    [1.0, 2.0]
    """
    shape = (shape,) if isinstance(shape, (int, numpy.integer)) else tuple(shape)
    template, arrays = split_key("ScatterAdd", key, shape, get_array_module(gy), (gy,))
    return apply(ScatterAdd(shape, template), (gy, *arrays))
