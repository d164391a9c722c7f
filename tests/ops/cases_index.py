"""Harness cases for advanced indexing (dualgrad/ops/index.py): Gather and ScatterAdd.

Index arrays stay raw integer arrays in the samples, so the harness never differentiates
them; repeated indices check that gradients (and ScatterAdd) accumulate.
"""

import numpy

from dualgrad.ops import index

from .harness import OpCase


def with_indices(shape, *index_arrays):
    """Samples ``(x, *index_arrays)`` with ``x`` random of ``shape``."""

    def samples(rng, dtype):
        arrays = tuple(numpy.asarray(a, dtype=numpy.int64) for a in index_arrays)
        return [(rng.standard_normal(shape).astype(dtype), *arrays)]

    return samples


def gather_case(name, shape, template, *index_arrays):
    """``x[key]`` where ``template`` holds ``"i"`` wherever the next index array goes."""

    def key_of(arrays):
        arrays = iter(arrays)
        return tuple(next(arrays) if e == "i" else e for e in template)

    return OpCase(
        index.Gather, lambda x, *ia: index.get_item(x, key_of(ia)),
        lambda x, *ia: x[key_of(ia)], with_indices(shape, *index_arrays),
        name=f"Gather-{name}",
    )


def _scatter_reference(shape, template):
    def ref(gy, *ia):
        arrays = iter(ia)
        key = tuple(next(arrays) if e == "i" else e for e in template)
        out = numpy.zeros(shape, gy.dtype)
        numpy.add.at(out, key, gy)
        return out

    return ref


def scatter_case(name, shape, values_shape, template, *index_arrays):
    def key_of(arrays):
        arrays = iter(arrays)
        return tuple(next(arrays) if e == "i" else e for e in template)

    return OpCase(
        index.ScatterAdd, lambda gy, *ia: index.scatter_add(gy, shape, key_of(ia)),
        _scatter_reference(shape, template), with_indices(values_shape, *index_arrays),
        name=f"ScatterAdd-{name}",
    )


def masked(rng, dtype):
    x = rng.standard_normal((3, 4)).astype(dtype)
    return [(x, numpy.array([[True, False, True, True], [False] * 4, [True, False, False, True]]))]


CASES = [
    gather_case("rows", (5, 3), ("i",), [4, 0, 0, 2]),
    gather_case("negative", (5, 3), ("i",), [-1, -5, 2]),
    gather_case("columns", (4, 5), (slice(None), "i"), [[0, 4], [4, 4]]),
    gather_case("pair", (3, 4), ("i", "i"), [0, 2, 2], [3, 1, 1]),
    gather_case("broadcast", (3, 4), ("i", "i"), [[0], [2]], [1, 3, 3]),
    gather_case("split", (2, 3, 4), ("i", slice(None), "i"), [0, 1, 1], [3, 0, 3]),
    gather_case("int-advanced", (2, 3, 4), (1, slice(None), "i"), [2, 2, 0]),
    gather_case("reversed-rows", (4, 3), (slice(None, None, -1), "i"), [[0, 2], [1, 1]]),
    gather_case("newaxis-ellipsis", (2, 3, 4), (None, Ellipsis, "i"), [[3, 0], [1, 1]]),
    gather_case("0d-index", (4, 3), ("i", slice(1, None)), 2),
    gather_case("size0", (4, 3), ("i",), numpy.zeros((0,), numpy.int64)),
    gather_case("size0-x", (0, 3), (slice(None), "i"), [2, 0]),
    OpCase(index.Gather, lambda x, m: index.get_item(x, m), lambda x, m: x[m], masked,
           name="Gather-mask"),
    scatter_case("duplicates", (4, 3), (5, 3), ("i",), [1, 3, 1, 1, 0]),
    scatter_case("columns", (2, 5), (2, 4), (slice(None), "i"), [4, 4, -1, 0]),
    scatter_case("broadcast-values", (4, 3), (3,), ("i",), [2, 2]),
    scatter_case("pair", (3, 3), (4,), ("i", "i"), [0, 2, 0, 0], [1, 1, 1, -3]),
    scatter_case("basic", (4, 3), (2,), (slice(1, 3), 2)),
    scatter_case("size0", (4, 3), (0, 3), ("i",), numpy.zeros((0,), numpy.int64)),
]
