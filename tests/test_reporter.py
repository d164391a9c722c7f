"""Reporter, report / report_scope, Summary and DictSummary (Chainer semantics)."""

import json

import numpy
import pytest

import dualgrad as dg
from dualgrad import reporter as reporter_module
from dualgrad.link import Chain, Link
from dualgrad.reporter import (
    DictSummary,
    Reporter,
    Summary,
    get_current_reporter,
    report,
    report_scope,
)


class Model(Chain):
    def __init__(self):
        super().__init__()
        with self.init_scope():
            self.encoder = Link()
            self.decoder = Link()


class DictSaver:
    def __init__(self, target=None, path=""):
        self.target = {} if target is None else target
        self.path = path

    def __getitem__(self, key):
        return DictSaver(self.target, f"{self.path}{key}/")

    def __call__(self, key, value):
        self.target[self.path + key] = numpy.array(value)
        return value


class DictLoader:
    def __init__(self, source, path=""):
        self.source = source
        self.path = path

    def __getitem__(self, key):
        return DictLoader(self.source, f"{self.path}{key}/")

    def __call__(self, key, value):
        stored = self.source[self.path + key]
        if isinstance(value, numpy.ndarray):
            value[...] = stored
            return value
        return stored


def test_values_are_named_after_the_registered_observer():
    model = Model()
    reporter = Reporter()
    reporter.add_observer("main", model)
    reporter.add_observers("main", model.namedlinks(skipself=True))
    observation = {}
    with reporter.scope(observation):
        report({"loss": 0.25, "accuracy": 0.5}, model)
        report({"norm": 3.0}, model.encoder)
        report({"lr": 0.1})  # no observer: the key is used as is
    assert observation == {"main/loss": 0.25, "main/accuracy": 0.5,
                           "main/encoder/norm": 3.0, "lr": 0.1}


def test_variables_are_stored_detached():
    x = dg.Variable(numpy.array([1.0, 2.0], dtype=numpy.float32))
    loss = (x * x).sum()
    vector = x * 2
    reporter = Reporter()
    observation = {}
    with reporter.scope(observation):
        report({"loss": loss, "vector": vector})
    assert type(observation["loss"]) is float and observation["loss"] == 5.0
    assert isinstance(observation["vector"], numpy.ndarray)
    numpy.testing.assert_array_equal(observation["vector"], [2.0, 4.0])


def test_unregistered_observer_is_an_error_that_names_the_fix():
    reporter = Reporter()
    with reporter.scope({}), pytest.raises(KeyError, match="add_observer"):
        report({"loss": 1.0}, object())


def test_report_outside_any_scope_does_nothing():
    report({"loss": 1.0})  # a model may report unconditionally
    with pytest.raises(RuntimeError, match="no reporter is active"):
        get_current_reporter()


def test_scopes_nest_and_restore_the_previous_observation():
    reporter = Reporter()
    outer, inner = {}, {}
    with reporter.scope(outer):
        assert get_current_reporter() is reporter
        report({"a": 1})
        with report_scope(inner):
            report({"b": 2})
        report({"c": 3})
    assert outer == {"a": 1, "c": 3} and inner == {"b": 2}
    assert reporter.observation == {}
    assert reporter_module._reporters == []


def test_with_reporter_makes_it_current():
    first, second = Reporter(), Reporter()
    with first, second:
        assert get_current_reporter() is second
        report({"x": 1})
    assert second.observation == {"x": 1} and first.observation == {}


def test_summary_weighted_mean_and_std():
    summary = Summary()
    summary.add(1.0)
    summary.add(3.0, weight=3)
    assert summary.compute_mean() == pytest.approx(2.5)
    mean, std = summary.make_statistics()
    assert mean == pytest.approx(2.5)
    assert std == pytest.approx(numpy.sqrt((1 * 1.5**2 + 3 * 0.5**2) / 4))
    constant = Summary()
    for _ in range(3):
        constant.add(0.1)
    assert 0.0 <= constant.make_statistics()[1] < 1e-6  # never NaN from rounding
    with_variables = Summary()
    with_variables.add(dg.Variable(numpy.float32(2.0)))
    assert with_variables.compute_mean() == 2.0


def test_dict_summary_averages_scalars_and_skips_arrays():
    summary = DictSummary()
    summary.add({"loss": 1.0, "image": numpy.zeros((2, 2)), "acc": numpy.float32(0.5)})
    summary.add({"loss": dg.Variable(numpy.float32(3.0)), "acc": (1.0, 3)})
    mean = summary.compute_mean()
    assert set(mean) == {"loss", "acc"}
    assert mean["loss"] == pytest.approx(2.0)
    assert mean["acc"] == pytest.approx((0.5 + 3.0) / 4)
    stats = summary.make_statistics()
    assert set(stats) == {"loss", "loss.std", "acc", "acc.std"}
    assert stats["loss.std"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="not a scalar"):
        summary.add({"loss": (1.0, numpy.ones(2))})


def test_dict_summary_serialize_round_trip_replaces_the_keys():
    summary = DictSummary()
    summary.add({"loss": 1.0, "acc": 0.25})
    summary.add({"loss": 2.0, "acc": 0.75})
    saved = {}
    summary.serialize(DictSaver(saved))
    assert json.loads(str(saved["_names"])) == ["loss", "acc"]

    restored = DictSummary()
    restored.add({"stale": 9.0})
    restored.serialize(DictLoader(saved))
    assert restored.compute_mean() == pytest.approx({"loss": 1.5, "acc": 0.5})
    restored.add({"loss": 6.0})
    assert restored.compute_mean()["loss"] == pytest.approx(3.0)
