"""The bundled 8x8 handwritten digits: shapes, ranges, labels and the fixed split."""

import sys

import numpy
import pytest

from dualgrad.datasets import MissingDependencyError, TupleDataset, get_digits

pytest.importorskip("sklearn")

N_IMAGES = 1797


def _arrays(dataset):
    xs, ts = zip(*dataset[:])
    return numpy.stack(xs), numpy.array(ts)


def test_default_split_sizes_dtypes_and_shapes():
    train, test = get_digits()
    assert isinstance(train, TupleDataset)
    assert (len(train), len(test)) == (1438, 359)
    x, t = train[0]
    assert x.shape == (64,) and x.dtype == numpy.float32
    assert t.dtype == numpy.int32


@pytest.mark.parametrize("ndim, shape", [(1, (64,)), (2, (8, 8)), (3, (1, 8, 8))])
def test_ndim_picks_the_image_layout(ndim, shape):
    train, _ = get_digits(ndim=ndim)
    assert train[0][0].shape == shape
    # The layouts hold the same pixels in the same order.
    flat, _ = get_digits(ndim=1)
    numpy.testing.assert_array_equal(train[5][0].reshape(-1), flat[5][0])


def test_pixels_are_scaled_to_zero_scale_and_are_real_images():
    train, test = get_digits(scale=255.0)
    x, _ = _arrays(train)
    assert x.min() == 0.0 and x.max() == 255.0
    # Real handwriting: the border columns are mostly empty, the centre mostly inked.
    images = x.reshape(-1, 8, 8)
    assert images[:, :, 0].mean() < images[:, :, 3:5].mean() / 5
    unit, _ = get_digits()
    assert _arrays(unit)[0].max() == 1.0


def test_ten_classes_appear_in_both_splits_with_balanced_counts():
    train, test = get_digits()
    _, t_train = _arrays(train)
    _, t_test = _arrays(test)
    assert set(t_train.tolist()) == set(range(10)) == set(t_test.tolist())
    counts = numpy.bincount(numpy.concatenate([t_train, t_test]), minlength=10)
    assert counts.sum() == N_IMAGES
    assert counts.min() >= 170 and counts.max() <= 190


def test_split_is_deterministic_and_a_partition():
    first_train, first_test = get_digits(withlabel=False)
    again_train, again_test = get_digits(withlabel=False)
    numpy.testing.assert_array_equal(first_train, again_train)
    numpy.testing.assert_array_equal(first_test, again_test)
    other_train, _ = get_digits(withlabel=False, seed=1)
    assert not numpy.array_equal(other_train, first_train)
    assert len(first_train) + len(first_test) == N_IMAGES


def test_withlabel_false_test_ratio_and_dtypes():
    train, test = get_digits(withlabel=False, test_ratio=0.5, dtype=numpy.float64)
    assert isinstance(train, numpy.ndarray) and train.dtype == numpy.float64
    assert (len(train), len(test)) == (899, 898)  # round(898.5) == 898
    _, test_set = get_digits(label_dtype=numpy.int64)
    assert test_set[0][1].dtype == numpy.int64


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="ndim"):
        get_digits(ndim=4)
    with pytest.raises(ValueError, match="test_ratio"):
        get_digits(test_ratio=1.0)


def test_missing_scikit_learn_says_which_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(MissingDependencyError, match=r"dualgrad\[datasets\]"):
        get_digits()
    with pytest.raises(ImportError):
        get_digits()
