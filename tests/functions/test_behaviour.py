"""What F promises beyond values: the API surface, typed errors, training-mode behaviour,
in-place running statistics, gradients at kinks, and accepted input kinds."""

import numpy
import pytest

import dualgrad as dg
import dualgrad.functions as F
from dualgrad.ops import random

REQUIRED = [  # the F list of the API contract, plus the extras promised
    "relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus", "exp", "log", "log1p", "expm1",
    "sqrt", "square", "absolute", "sin", "cos", "clip", "maximum", "minimum", "where",
    "softmax", "log_softmax", "logsumexp", "softmax_cross_entropy", "sigmoid_cross_entropy",
    "mean_squared_error", "accuracy", "linear", "matmul", "batch_matmul", "convolution_2d",
    "deconvolution_2d", "max_pooling_2d", "average_pooling_2d", "dropout", "embed_id",
    "batch_normalization", "layer_normalization", "concat", "stack", "split_axis", "reshape",
    "transpose", "swapaxes", "broadcast_to", "expand_dims", "squeeze", "flatten", "get_item",
    "sum", "mean", "max", "min", "argmax", "prod", "lstm", "cast", "erf", "sign", "floor",
    "gelu", "hard_sigmoid", "selu", "identity", "tile", "repeat", "fixed_batch_normalization",
]


def test_every_required_name_is_a_documented_function():
    missing = [name for name in REQUIRED if not callable(getattr(F, name, None))]
    assert not missing, f"dualgrad.functions lacks {missing}"
    for name in F.__all__:
        function = getattr(F, name)
        assert function.__doc__ and ">>>" in function.__doc__, f"F.{name} has no example"


# -- inputs of every kind ----------------------------------------------------------------


def test_functions_return_variables_for_arrays_and_scalars():
    assert isinstance(F.exp(0.0), dg.Variable)
    assert F.exp(0.0).array == 1.0
    for y in (F.relu(numpy.array([-1.0, 1.0])), F.broadcast_to(numpy.ones(3), (3,)),
              F.cast(numpy.ones(2), "float64"), F.reshape(numpy.ones(2), (2,)),
              F.identity(numpy.ones(2))):
        assert isinstance(y, dg.Variable)
        assert not y.requires_grad


def test_python_scalars_keep_float32():
    x = numpy.ones(3, numpy.float32)
    for y in (F.clip(x, 0.0, 0.5), F.leaky_relu(x), F.softplus(x, beta=2.0), F.mean(x),
              F.maximum(x, 2.0), F.selu(x), F.hard_sigmoid(x), F.elu(x, alpha=0.5)):
        assert y.dtype == numpy.float32


# -- typed errors that teach the fix ------------------------------------------------------


def test_mean_squared_error_refuses_broadcasting():
    with pytest.raises(dg.ShapeError, match=r"mean_squared_error.*\(3,\) and \(3, 1\)"):
        F.mean_squared_error(numpy.ones(3), numpy.ones((3, 1)))
    with pytest.raises(dg.ShapeError):
        F.mean_absolute_error(numpy.ones(3), numpy.ones(4))


def test_linear_names_the_expected_weight_layout():
    with pytest.raises(dg.ShapeError, match=r"linear.*\(out, in\)") as info:
        F.linear(numpy.ones((4, 3)), numpy.ones((3, 2)))
    assert "fix:" in str(info.value)


@pytest.mark.parametrize("call, error", [
    (lambda: F.softmax_cross_entropy(numpy.ones((2, 3)), numpy.array([0.0, 1.0])),
     dg.DTypeError),
    (lambda: F.softmax_cross_entropy(numpy.ones((2, 3)), numpy.array([0, 1, 2])),
     dg.ShapeError),
    (lambda: F.sigmoid_cross_entropy(numpy.ones((2, 3)), numpy.ones((2, 2), numpy.int32)),
     dg.ShapeError),
    (lambda: F.softmax_cross_entropy(numpy.ones((2, 3)), numpy.array([0, 1]), reduce="sum"),
     ValueError),
    (lambda: F.log_softmax(numpy.ones(3), axis=1), dg.ShapeError),
    (lambda: F.logsumexp(numpy.ones(3, numpy.int32)), dg.DTypeError),
    (lambda: F.squeeze(numpy.ones((2, 3)), axis=1), dg.ShapeError),
    (lambda: F.split_axis(numpy.ones((2, 5)), 2, axis=1), dg.ShapeError),
    (lambda: F.expand_dims(numpy.ones(2), 3), dg.ShapeError),
    (lambda: F.lstm(numpy.ones((2, 3)), numpy.ones((2, 8))), dg.ShapeError),
    (lambda: F.embed_id(numpy.array([0.5]), numpy.ones((2, 3))), dg.DTypeError),
    (lambda: F.batch_normalization(numpy.ones((4, 3)), numpy.ones(2), numpy.zeros(2)),
     dg.ShapeError),
    (lambda: F.layer_normalization(numpy.ones((4, 3)), numpy.ones(4), numpy.zeros(4)),
     dg.ShapeError),
    (lambda: F.accuracy(numpy.ones((4, 3)), numpy.ones(3, numpy.int32)), dg.ShapeError),
    (lambda: F.batch_matmul(numpy.ones(3), numpy.ones((3, 1, 1))), dg.ShapeError),
    (lambda: F.dropout(numpy.ones(3), ratio=1.0), ValueError),
    (lambda: F.softmax_cross_entropy(numpy.ones((2, 3)), numpy.array([0, 3])), dg.OpError),
    (lambda: F.softmax_cross_entropy(numpy.ones((2, 3)), numpy.array([0, -2])), dg.OpError),
])
def test_bad_inputs_raise_typed_errors(call, error):
    with pytest.raises(error):
        call()


# -- training-mode behaviour ----------------------------------------------------------------


def test_dropout_is_the_identity_outside_training():
    x = dg.Variable(numpy.arange(6.0))
    with dg.using_config("train", False):
        y = F.dropout(x, 0.9)
    numpy.testing.assert_array_equal(y.array, x.array)


def test_dropout_scales_survivors_and_replays_from_the_stream_state():
    x = dg.Variable(numpy.ones((100, 100), numpy.float32))
    state = random.get_state()
    y = F.dropout(x, ratio=0.25)
    kept = y.array != 0
    assert y.dtype == numpy.float32
    numpy.testing.assert_allclose(y.array[kept], 1.0 / 0.75)
    assert abs(kept.mean() - 0.75) < 0.02
    F.sum(y).backward()
    numpy.testing.assert_allclose(x.grad, y.array)  # d(x * mask)/dx = mask

    random.set_state(state)
    numpy.testing.assert_array_equal(F.dropout(x, ratio=0.25).array, y.array)
    again = F.dropout(x, ratio=0.25)
    assert not numpy.array_equal(again.array, y.array)  # the stream moved on


def test_dropout_reuses_a_returned_mask():
    x = numpy.ones((4, 5))
    y, mask = F.dropout(x, 0.5, return_mask=True)
    numpy.testing.assert_array_equal(F.dropout(x * 2, 0.5, mask=mask).array, 2 * y.array)


def test_batch_normalization_updates_running_statistics_in_place():
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((8, 3, 2, 2))
    mean, var = numpy.full(3, 0.5), numpy.full(3, 2.0)
    old_mean, old_var = mean.copy(), var.copy()
    F.batch_normalization(x, numpy.ones(3), numpy.zeros(3), running_mean=mean,
                          running_var=var, decay=0.8)
    m = 8 * 2 * 2
    numpy.testing.assert_allclose(mean, 0.8 * old_mean + 0.2 * x.mean(axis=(0, 2, 3)))
    unbiased = x.var(axis=(0, 2, 3)) * m / (m - 1)
    numpy.testing.assert_allclose(var, 0.8 * old_var + 0.2 * unbiased)


def test_fixed_batch_normalization_with_running_stats_matches_training_output_in_the_limit():
    x = numpy.random.default_rng(1).standard_normal((6, 4))
    mean, var = x.mean(axis=0), x.var(axis=0)
    train = F.batch_normalization(x, numpy.ones(4), numpy.zeros(4))
    fixed = F.fixed_batch_normalization(x, numpy.ones(4), numpy.zeros(4), mean, var)
    numpy.testing.assert_allclose(fixed.array, train.array, atol=1e-12)


# -- gradients where the function has a kink or ignores inputs --------------------------------


def _grad_at(function, value):
    x = dg.Variable(numpy.array([value]))
    F.sum(function(x)).backward()
    return float(x.grad[0])


def test_gradients_at_kinks_follow_chainer():
    assert _grad_at(F.relu, 0.0) == 0.0
    assert _grad_at(lambda x: F.elu(x, alpha=0.5), 0.0) == 0.5
    assert _grad_at(F.softplus, 0.0) == 0.5  # sigmoid(0)
    assert _grad_at(F.sigmoid, 0.0) == 0.25
    assert _grad_at(lambda x: F.clip(x, 0.0, 1.0), 1.0) == 1.0


def test_ignored_labels_and_ids_get_no_gradient():
    x = dg.Variable(numpy.random.default_rng(2).standard_normal((3, 4)))
    F.softmax_cross_entropy(x, numpy.array([1, -1, 2])).backward()
    assert numpy.all(x.grad[1] == 0.0)
    numpy.testing.assert_allclose(x.grad.sum(axis=1), 0.0, atol=1e-12)

    W = dg.Variable(numpy.ones((3, 2)))
    F.sum(F.embed_id(numpy.array([2, -1, 2]), W, ignore_label=-1)).backward()
    numpy.testing.assert_array_equal(W.grad, [[0, 0], [0, 0], [2, 2]])


def test_accuracy_is_a_value_without_gradient():
    y = dg.Variable(numpy.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]))
    acc = F.accuracy(y, numpy.array([1, 1, -1]), ignore_label=-1)
    assert isinstance(acc, dg.Variable)
    assert acc.creator is None and not acc.requires_grad
    assert float(acc.array) == 0.5
    everything_ignored = F.accuracy(y, numpy.array([-1, -1, -1]), ignore_label=-1)
    assert float(everything_ignored.array) == 0.0


def test_lstm_uses_chainers_interleaved_gate_layout():
    hidden = 3
    x = numpy.zeros((1, 4 * hidden))
    x[0, 0::4] = 10.0  # a: tanh -> ~1
    x[0, 1::4] = 10.0  # i: open
    x[0, 2::4] = -10.0  # f: closed
    x[0, 3::4] = 10.0  # o: open
    c, h = F.lstm(numpy.full((1, hidden), 5.0), x)
    numpy.testing.assert_allclose(c.array, 1.0, atol=1e-3)
    numpy.testing.assert_allclose(h.array, numpy.tanh(1.0), atol=1e-3)
