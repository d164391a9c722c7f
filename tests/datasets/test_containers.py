"""TupleDataset, SubDataset, split_dataset(_random), TransformDataset, DatasetMixin."""

import numpy
import pytest

from dualgrad.dataset import DatasetMixin
from dualgrad.datasets import (
    SubDataset,
    TransformDataset,
    TupleDataset,
    split_dataset,
    split_dataset_random,
)
from dualgrad.errors import ShapeError


@pytest.fixture
def xy():
    x = numpy.arange(20, dtype=numpy.float32).reshape(10, 2)
    t = numpy.arange(10, dtype=numpy.int32) % 3
    return x, t


def test_tuple_dataset_int_index_gives_a_tuple(xy):
    x, t = xy
    data = TupleDataset(x, t)
    assert len(data) == 10
    example = data[4]
    assert isinstance(example, tuple) and len(example) == 2
    numpy.testing.assert_array_equal(example[0], x[4])
    assert example[1] == t[4]
    numpy.testing.assert_array_equal(data[-1][0], x[-1])


@pytest.mark.parametrize("index", [slice(2, 5), [2, 3, 4], numpy.array([2, 3, 4])])
def test_tuple_dataset_batch_index_gives_a_list_of_tuples(xy, index):
    x, t = xy
    batch = TupleDataset(x, t)[index]
    assert isinstance(batch, list) and len(batch) == 3
    for offset, (xi, ti) in enumerate(batch):
        numpy.testing.assert_array_equal(xi, x[2 + offset])
        assert ti == t[2 + offset]


def test_tuple_dataset_of_lists_and_three_items():
    data = TupleDataset([1, 2, 3], ["a", "b", "c"], numpy.zeros((3, 2)))
    assert data[1][:2] == (2, "b")
    assert [item[0] for item in data[::2]] == [1, 3]


def test_tuple_dataset_length_mismatch_is_a_typed_error(xy):
    x, t = xy
    with pytest.raises(ShapeError, match=r"different lengths \[10, 9\]"):
        TupleDataset(x, t[:9])
    with pytest.raises(ValueError):  # still a ValueError, as in Chainer
        TupleDataset(x, t[:9])
    with pytest.raises(ValueError, match="at least one"):
        TupleDataset()


def test_sub_dataset_reads_its_range_without_copying():
    base = list(range(100, 110))
    sub = SubDataset(base, 3, 7)
    assert len(sub) == 4
    assert [sub[i] for i in range(4)] == [103, 104, 105, 106]
    assert sub[-1] == 106 and sub[-4] == 103
    assert sub[1:3] == [104, 105]
    assert sub[[0, 3]] == [103, 106]
    assert list(sub) == [103, 104, 105, 106]
    for bad in (4, -5):
        with pytest.raises(IndexError):
            sub[bad]


def test_sub_dataset_with_order_reads_through_the_permutation():
    base = list("abcde")
    order = [4, 3, 2, 1, 0]
    assert list(SubDataset(base, 0, 2, order)) == ["e", "d"]
    assert list(SubDataset(base, 2, 5, order)) == ["c", "b", "a"]


def test_sub_dataset_rejects_bad_ranges_and_orders():
    with pytest.raises(ValueError, match="does not fit"):
        SubDataset(list(range(5)), 2, 6)
    with pytest.raises(ValueError, match="does not fit"):
        SubDataset(list(range(5)), -1, 3)
    with pytest.raises(ValueError, match="len\\(order\\) = 3"):
        SubDataset(list(range(5)), 0, 2, order=[0, 1, 2])


def test_split_dataset_cuts_in_two_views(xy):
    data = TupleDataset(*xy)
    first, second = split_dataset(data, 7)
    assert (len(first), len(second)) == (7, 3)
    numpy.testing.assert_array_equal(second[0][0], xy[0][7])
    empty, everything = split_dataset(data, 0)
    assert len(empty) == 0 and len(everything) == 10


def test_split_dataset_checks_its_argument():
    with pytest.raises(TypeError, match="int"):
        split_dataset(list(range(5)), 2.5)
    with pytest.raises(ValueError, match="outside 0..5"):
        split_dataset(list(range(5)), 6)
    with pytest.raises(ValueError, match="outside"):
        split_dataset(list(range(5)), -1)


def test_split_dataset_random_is_a_seeded_partition():
    data = list(range(50))
    train, valid = split_dataset_random(data, 40, seed=3)
    again_train, again_valid = split_dataset_random(data, 40, seed=3)
    assert list(train) == list(again_train) and list(valid) == list(again_valid)
    assert sorted(list(train) + list(valid)) == data
    assert list(train) != data[:40]  # actually shuffled
    other_train, _ = split_dataset_random(data, 40, seed=4)
    assert list(other_train) != list(train)


def test_split_dataset_random_matches_numpy_random_state_permutation():
    order = numpy.random.RandomState(0).permutation(8)
    first, second = split_dataset_random(list(range(8)), 5, seed=0)
    assert list(first) == order[:5].tolist() and list(second) == order[5:].tolist()


def test_transform_dataset_applies_on_access(xy):
    calls = []

    def flip(example):
        calls.append(1)
        x, t = example
        return x[::-1], t

    data = TransformDataset(TupleDataset(*xy), flip)
    assert len(data) == 10 and calls == []
    x, t = data[2]
    numpy.testing.assert_array_equal(x, xy[0][2][::-1])
    assert len(data[0:3]) == 3 and len(calls) == 4


def test_dataset_mixin_supports_int_slice_list_and_array_indices():
    class Cubes(DatasetMixin):
        def __len__(self):
            return 6

        def get_example(self, i):
            return int(i) ** 3

    cubes = Cubes()
    assert cubes[2] == 8
    assert cubes[::2] == [0, 8, 64]
    assert cubes[numpy.array([1, 5])] == [1, 125]
    with pytest.raises(NotImplementedError, match="get_example"):
        DatasetMixin().get_example(0)
