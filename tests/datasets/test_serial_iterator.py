"""SerialIterator: Chainer's epoch bookkeeping, shuffling, stopping and resuming."""

import numpy
import pytest

from dualgrad.dataset import Iterator
from dualgrad.iterators import OrderSampler, SerialIterator, ShuffleOrderSampler


class DictSaver:
    """The saving side of the serializer protocol, storing numpy values like an npz file."""

    def __init__(self, target=None, path=""):
        self.target = {} if target is None else target
        self.path = path

    def __getitem__(self, key):
        return DictSaver(self.target, f"{self.path}{key}/")

    def __call__(self, key, value):
        self.target[self.path + key] = numpy.array(value)  # copies
        return value


class DictLoader:
    """The loading side: arrays are filled in place, other values are returned."""

    def __init__(self, source, path=""):
        self.source = source
        self.path = path

    def __getitem__(self, key):
        return DictLoader(self.source, f"{self.path}{key}/")

    def __call__(self, key, value):
        stored = self.source[self.path + key]  # KeyError when missing, as npz does
        if isinstance(value, numpy.ndarray):
            value[...] = stored
            return value
        return stored


def test_ordered_repeat_wraps_the_last_batch_into_the_next_epoch():
    it = SerialIterator(list(range(5)), 2, shuffle=False)
    assert it.epoch == 0 and it.epoch_detail == 0.0 and it.previous_epoch_detail is None
    expected = [
        ([0, 1], 0, False, 0.4, 0.0),
        ([2, 3], 0, False, 0.8, 0.4),
        ([4, 0], 1, True, 1.2, 0.8),
        ([1, 2], 1, False, 1.6, 1.2),
        ([3, 4], 2, True, 2.0, 1.6),
        ([0, 1], 2, False, 2.4, 2.0),
    ]
    for batch, epoch, new_epoch, detail, previous in expected:
        assert it.next() == batch
        assert (it.epoch, it.is_new_epoch) == (epoch, new_epoch)
        assert it.epoch_detail == pytest.approx(detail)
        assert it.previous_epoch_detail == pytest.approx(previous)


def test_batch_larger_than_the_dataset_spans_several_epochs():
    it = SerialIterator([10, 11, 12], 7, shuffle=False)
    assert it.next() == [10, 11, 12, 10, 11, 12, 10]
    assert (it.epoch, it.current_position, it.is_new_epoch) == (2, 1, True)


def test_no_repeat_stops_after_one_epoch_with_a_short_last_batch():
    it = SerialIterator(list(range(5)), 2, repeat=False, shuffle=False)
    assert list(it) == [[0, 1], [2, 3], [4]]
    assert it.epoch == 1 and it.is_new_epoch
    with pytest.raises(StopIteration):
        it.next()
    it.reset()
    assert it.next() == [0, 1]


def test_no_repeat_exact_division_and_shuffled_pass_covers_everything():
    it = SerialIterator(list(range(6)), 3, repeat=False)
    batches = list(it)
    assert [len(batch) for batch in batches] == [3, 3]
    assert sorted(batches[0] + batches[1]) == list(range(6))


def test_shuffled_epochs_are_permutations_and_follow_the_numpy_seed():
    def first_epochs(seed):
        numpy.random.seed(seed)
        it = SerialIterator(list(range(8)), 4)  # shuffle is the default when repeating
        return [it.next() + it.next() for _ in range(3)]

    epochs = first_epochs(1)
    assert all(sorted(epoch) == list(range(8)) for epoch in epochs)
    assert epochs[0] != epochs[1] or epochs[1] != epochs[2]  # a new order each epoch
    assert first_epochs(1) == epochs
    assert first_epochs(2) != epochs


def test_serialize_resumes_exactly_where_the_snapshot_was_taken():
    data = list(range(7))
    numpy.random.seed(5)
    it = SerialIterator(data, 3)
    for _ in range(4):
        it.next()
    saved = {}
    it.serialize(DictSaver(saved))
    assert set(saved) == {"current_position", "epoch", "is_new_epoch", "order",
                          "previous_epoch_detail"}
    numpy.random.seed(11)
    continued = [it.next() for _ in range(5)]

    numpy.random.seed(99)  # a different first order, replaced by the snapshot's
    resumed = SerialIterator(data, 3)
    resumed.serialize(DictLoader(saved))
    assert (resumed.epoch, resumed.current_position) == (1, 5)
    assert resumed.epoch_detail == pytest.approx(it.epoch_detail - 15 / 7)
    numpy.random.seed(11)
    assert [resumed.next() for _ in range(5)] == continued


def test_serialize_without_previous_epoch_detail_reconstructs_it():
    it = SerialIterator(list(range(10)), 4, shuffle=False)
    it.next()
    it.next()
    saved = {}
    it.serialize(DictSaver(saved))
    del saved["previous_epoch_detail"]
    resumed = SerialIterator(list(range(10)), 4, shuffle=False)
    resumed.serialize(DictLoader(saved))
    assert resumed.previous_epoch_detail == pytest.approx(0.4)
    assert resumed.next() == [8, 9, 0, 1]


def test_reset_returns_to_the_start():
    it = SerialIterator(list(range(5)), 2, shuffle=False)
    it.next()
    it.next()
    it.next()
    it.reset()
    assert (it.epoch, it.current_position, it.is_new_epoch) == (0, 0, False)
    assert it.previous_epoch_detail is None
    assert it.next() == [0, 1]


def test_custom_order_sampler_and_argument_checks():
    class Reverse(OrderSampler):
        def __call__(self, current_order, current_position):
            return numpy.arange(len(current_order))[::-1]

    it = SerialIterator(list("abcd"), 3, order_sampler=Reverse())
    assert it.next() == ["d", "c", "b"]
    assert it.next() == ["a", "d", "c"]
    with pytest.raises(ValueError, match="order_sampler"):
        SerialIterator([1, 2], 1, shuffle=True, order_sampler=Reverse())
    with pytest.raises(ValueError, match="batch_size"):
        SerialIterator([1, 2], 0)


def test_order_sampler_must_keep_the_length():
    calls = []

    def shrinking(order, position):
        calls.append(position)
        return numpy.arange(len(order) - len(calls) + 1)

    it = SerialIterator([1, 2, 3], 2, order_sampler=shrinking)
    assert it.next() == [1, 2]
    with pytest.raises(ValueError, match="length must not change"):
        it.next()


def test_shuffle_order_sampler_uses_a_given_random_state():
    sampler = ShuffleOrderSampler(numpy.random.RandomState(0))
    expected = numpy.random.RandomState(0).permutation(6)
    numpy.testing.assert_array_equal(sampler(numpy.arange(6), 0), expected)


def test_empty_dataset():
    it = SerialIterator([], 2, repeat=False)
    with pytest.raises(StopIteration):
        it.next()
    with pytest.raises(ValueError, match="non-empty"):
        SerialIterator([], 2).next()


def test_iterator_base_class_protocol():
    finalized = []

    class Countdown(Iterator):
        def __init__(self):
            self.n = 2

        def __next__(self):
            if self.n == 0:
                raise StopIteration
            self.n -= 1
            return [self.n]

        def finalize(self):
            finalized.append(True)

    with Countdown() as it:
        assert it.next() == [1]
        assert list(it) == [[0]]
    assert finalized == [True]
    with pytest.raises(NotImplementedError, match="__next__"):
        next(Iterator())
