"""L.Classifier: label splitting, loss, accuracy, reporting."""

import numpy
import pytest

import dualgrad.functions as F
import dualgrad.links as L
from dualgrad import reporter as reporter_module


def data():
    x = numpy.random.randn(6, 3).astype(numpy.float32)
    t = numpy.array([0, 1, 1, 0, 1, 0], numpy.int32)
    return x, t


def test_loss_and_accuracy_match_the_functions():
    model = L.Classifier(L.Linear(3, 2))
    x, t = data()
    loss = model(x, t)
    y = model.predictor(x)
    assert model.loss is loss
    numpy.testing.assert_allclose(loss.array, F.softmax_cross_entropy(y, t).array, rtol=1e-6)
    numpy.testing.assert_allclose(model.y.array, y.array)
    expected_accuracy = (y.array.argmax(axis=1) == t).mean()
    assert float(model.accuracy.array) == pytest.approx(expected_accuracy)


def test_loss_backpropagates_into_the_predictor():
    model = L.Classifier(L.Linear(3, 2))
    model(*data()).backward()
    assert model.predictor.W.grad is not None and model.predictor.W.grad.any()
    assert [path for path, _ in model.namedparams()] == ["/predictor/W", "/predictor/b"]


def test_reports_loss_and_accuracy_under_the_observer_name():
    model = L.Classifier(L.Linear(3, 2))
    reporter = reporter_module.Reporter()
    reporter.add_observer("main", model)
    observation = {}
    with reporter.scope(observation):
        model(*data())
    assert sorted(observation) == ["main/accuracy", "main/loss"]
    assert observation["main/loss"] == pytest.approx(float(model.loss.array))


def test_compute_accuracy_false_skips_accuracy():
    model = L.Classifier(L.Linear(3, 2))
    model.compute_accuracy = False
    reporter = reporter_module.Reporter()
    reporter.add_observer("main", model)
    observation = {}
    with reporter.scope(observation):
        model(*data())
    assert model.accuracy is None and list(observation) == ["main/loss"]


def test_label_key_position_and_keyword():
    def predictor(t_unused=None, x=None):
        return x

    x, t = data()
    first = L.Classifier(lambda x: x, label_key=0)
    numpy.testing.assert_allclose(first(t, x).array, F.softmax_cross_entropy(x, t).array)
    by_name = L.Classifier(predictor, label_key="t")
    numpy.testing.assert_allclose(by_name(x=x, t=t).array,
                                  F.softmax_cross_entropy(x, t).array)
    with pytest.raises(ValueError, match="out of bounds"):
        L.Classifier(lambda x: x, label_key=2)(x, t)
    with pytest.raises(ValueError, match="label key"):
        L.Classifier(predictor, label_key="t")(x=x)
    with pytest.raises(TypeError, match="label_key"):
        L.Classifier(predictor, label_key=1.0)


def test_custom_loss_and_accuracy_functions():
    model = L.Classifier(L.Linear(3, 1), lossfun=F.mean_squared_error,
                         accfun=lambda y, t: F.mean_absolute_error(y, t))
    x = numpy.random.randn(4, 3).astype(numpy.float32)
    t = numpy.zeros((4, 1), numpy.float32)
    loss = model(x, t)
    y = model.y.array
    assert float(loss.array) == pytest.approx(float((y ** 2).mean()), rel=1e-5)
    assert float(model.accuracy.array) == pytest.approx(float(abs(y).mean()), rel=1e-5)
