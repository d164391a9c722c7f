"""Harness cases for the views (dualgrad/ops/view.py): reshape, broadcast_to, transpose,
basic indexing, constant padding and concatenation."""

import numpy

from dualgrad.ops import index, view

from .harness import OpCase


def one_input(*shapes):
    def samples(rng, dtype):
        return [(rng.standard_normal(s).astype(dtype),) for s in shapes]

    return samples


def several_inputs(*shape_groups):
    def samples(rng, dtype):
        return [tuple(rng.standard_normal(s).astype(dtype) for s in group)
                for group in shape_groups]

    return samples


def reshape_case(name, shape, new_shape):
    return OpCase(
        view.Reshape, lambda x: view.reshape(x, new_shape),
        lambda x: numpy.reshape(x, new_shape), one_input(shape), name=f"Reshape-{name}",
    )


def broadcast_case(name, shape, target):
    return OpCase(
        view.BroadcastTo, lambda x: view.broadcast_to(x, target),
        lambda x: numpy.broadcast_to(x, target), one_input(shape), name=f"BroadcastTo-{name}",
    )


def transpose_case(name, shape, axes):
    return OpCase(
        view.Transpose, lambda x: view.transpose(x, axes),
        lambda x: numpy.transpose(x, axes), one_input(shape), name=f"Transpose-{name}",
    )


def getitem_case(name, shape, key):
    """``x[key]`` through ``index.get_item`` (the entry point of ``Variable.__getitem__``)."""
    return OpCase(
        view.GetItem, lambda x: index.get_item(x, key), lambda x: x[key], one_input(shape),
        name=f"GetItem-{name}",
    )


def pad_case(name, shape, pad_width, value=0.0):
    return OpCase(
        view.Pad, lambda x: view.pad(x, pad_width, constant_values=value),
        lambda x: numpy.pad(x, pad_width, constant_values=value) if x.ndim else x.copy(),
        one_input(shape), name=f"Pad-{name}",
    )


def concat_case(name, shapes, axis):
    return OpCase(
        view.Concat, lambda *xs: view.concat(xs, axis=axis),
        lambda *xs: numpy.concatenate(xs, axis=axis), several_inputs(shapes),
        name=f"Concat-{name}",
    )


CASES = [
    reshape_case("merge", (3, 4), (2, 6)),
    reshape_case("infer", (2, 3, 4), (4, -1)),
    reshape_case("0d", (), (1, 1)),
    reshape_case("to-0d", (1, 1), ()),
    reshape_case("size0", (0, 3), (3, 0)),
    broadcast_case("inner", (3, 1), (2, 3, 4)),
    broadcast_case("0d", (), (2, 3)),
    broadcast_case("size0", (1, 3), (0, 3)),
    transpose_case("reverse", (2, 3, 4), None),
    transpose_case("perm", (2, 3, 4), (1, 2, 0)),
    transpose_case("negative", (2, 3, 4), (-1, 0, 1)),
    transpose_case("0d", (), None),
    transpose_case("size0", (0, 3), (1, 0)),
    OpCase(view.Transpose, lambda x: view.swapaxes(x, 0, -1),
           lambda x: numpy.swapaxes(x, 0, -1), one_input((2, 3, 4)), name="Transpose-swapaxes"),
    getitem_case("int", (4, 3), 2),
    getitem_case("negative-int", (4, 3), (-1, -3)),
    getitem_case("scalar", (4, 3), (1, 2)),
    getitem_case("slices", (5, 6), (slice(1, 4), slice(None, None, 2))),
    getitem_case("negative-step", (5, 6), (slice(None, None, -1), slice(4, 0, -2))),
    getitem_case("ellipsis", (2, 3, 4), (Ellipsis, 1)),
    getitem_case("ellipsis-mid", (2, 3, 4), (0, Ellipsis, slice(1, 3))),
    getitem_case("newaxis", (3, 4), (None, slice(None), None, 1)),
    getitem_case("0d-newaxis", (), (None, Ellipsis)),
    getitem_case("0d-empty", (), ()),
    getitem_case("size0", (0, 3), (slice(None), 1)),
    getitem_case("empty-slice", (4, 3), slice(3, 1)),
    pad_case("int", (2, 3), 1),
    pad_case("pairs", (2, 3), ((1, 0), (0, 2)), value=1.5),
    pad_case("one-pair", (3,), (2, 1), value=-1.0),
    pad_case("0d", (), ()),
    pad_case("size0", (0, 2), 1),
    concat_case("default-axis", ((2, 3), (2, 1)), 1),
    concat_case("axis0", ((1, 3), (2, 3), (3, 3)), 0),
    concat_case("negative-axis", ((2, 1, 2), (2, 1, 3)), -1),
    concat_case("size0", ((2, 0), (2, 3)), 1),
    concat_case("single", ((2, 3),), 0),
]
