"""StandardUpdater (how batches reach the loss) and the triggers."""

import numpy
import pytest

import dualgrad.links as L
from dualgrad import iterators, optimizers, serializers, training
from dualgrad.training import triggers
from tests.training.test_trainer import make_trainer, toy_data


class FakeUpdater:
    """Progress values a trigger reads, set by hand."""

    def __init__(self, iteration=0, epoch_detail=0.0, previous_epoch_detail=None):
        self.iteration = iteration
        self.epoch_detail = epoch_detail
        self.previous_epoch_detail = previous_epoch_detail


class FakeTrainer:
    def __init__(self):
        self.updater = FakeUpdater()
        self.observation = {}

    def step(self, iteration, epoch_detail, observation=None):
        self.updater.previous_epoch_detail = self.updater.epoch_detail
        self.updater.iteration = iteration
        self.updater.epoch_detail = epoch_detail
        self.observation = observation or {}


def fire_pattern(trigger, steps):
    trainer = FakeTrainer()
    fired = []
    for iteration, epoch_detail in steps:
        trainer.step(iteration, epoch_detail)
        if trigger(trainer):
            fired.append(iteration)
    return fired


# -- updater ------------------------------------------------------------------------
def test_updater_passes_tuples_positionally_and_dicts_by_keyword():
    seen = []

    def loss_tuple(x, t):
        seen.append(("tuple", x.shape, t.shape))
        return model(x, t)

    def loss_dict(x=None, t=None):
        seen.append(("dict", x.shape, t.shape))
        return model(x, t)

    model = L.Classifier(L.Linear(3, 2))
    data = toy_data(8)
    it = iterators.SerialIterator(data, 4, shuffle=False)
    optimizer = optimizers.SGD().setup(model)
    training.StandardUpdater(it, optimizer, loss_func=loss_tuple).update()

    def to_dict(batch, device):
        return {"x": numpy.stack([b[0] for b in batch]), "t": numpy.stack([b[1] for b in batch])}

    updater = training.StandardUpdater(it, optimizer, converter=to_dict, loss_func=loss_dict)
    updater.update()
    assert seen == [("tuple", (4, 3), (4,)), ("dict", (4, 3), (4,))]
    assert updater.iteration == 1
    assert updater.get_iterator("main") is it
    assert updater.get_optimizer("main") is optimizer
    assert updater.get_all_optimizers() == {"main": optimizer}


def test_updater_progress_follows_the_main_iterator_and_counts_optimizer_epochs():
    model = L.Classifier(L.Linear(3, 2))
    optimizer = optimizers.SGD().setup(model)
    it = iterators.SerialIterator(toy_data(8), 4, shuffle=False)
    updater = training.StandardUpdater(it, optimizer)
    assert updater.previous_epoch_detail is None
    updater.update()
    assert (updater.iteration, updater.epoch, updater.epoch_detail) == (1, 0, 0.5)
    assert not updater.is_new_epoch
    updater.update()
    assert (updater.epoch, updater.is_new_epoch, updater.previous_epoch_detail) == (1, True, 0.5)
    assert optimizer.epoch == 1


def test_loss_scale_gives_the_same_update_as_no_scaling(tmp_path):
    results = []
    for scale in (None, 1024.0):
        numpy.random.seed(0)
        model = L.Classifier(L.Linear(3, 2))
        optimizer = optimizers.SGD(lr=0.1).setup(model)
        it = iterators.SerialIterator(toy_data(8), 4, shuffle=False)
        updater = training.StandardUpdater(it, optimizer, loss_scale=scale)
        updater.update()
        results.append(model.predictor.W.array.copy())
    numpy.testing.assert_allclose(results[0], results[1], rtol=1e-6)


def test_updater_requires_a_main_entry():
    model = L.Classifier(L.Linear(3, 2))
    it = iterators.SerialIterator(toy_data(8), 4)
    with pytest.raises(KeyError, match="'main'"):
        training.StandardUpdater({"train": it}, optimizers.SGD().setup(model))


def test_updater_state_round_trips_through_a_snapshot(tmp_path):
    trainer, _ = make_trainer(tmp_path, stop=(5, "iteration"))
    trainer.run()
    path = str(tmp_path / "updater.npz")
    serializers.save_npz(path, trainer.updater)
    fresh, _ = make_trainer(tmp_path)
    serializers.load_npz(path, fresh.updater)
    assert fresh.updater.iteration == 5
    assert fresh.updater.epoch_detail == trainer.updater.epoch_detail


# -- triggers -----------------------------------------------------------------------
def test_get_trigger_builds_interval_triggers_and_passes_callables():
    trigger = triggers.get_trigger((10, "iteration"))
    assert isinstance(trigger, triggers.IntervalTrigger)
    assert trigger.get_training_length() == (10, "iteration")
    assert triggers.get_trigger(len) is len
    assert triggers.get_trigger(None)(FakeTrainer()) is False
    with pytest.raises(TypeError, match=r"\(1, 'epoch'\)"):
        triggers.get_trigger(5)
    with pytest.raises(ValueError, match="'epoch' or 'iteration'"):
        triggers.IntervalTrigger(1, "epochs")


def test_interval_trigger_counts_iterations_even_when_asked_rarely():
    steps = [(i, i / 4) for i in range(1, 13)]
    assert fire_pattern(triggers.IntervalTrigger(3, "iteration"), steps) == [3, 6, 9, 12]
    assert fire_pattern(triggers.IntervalTrigger(1, "epoch"), steps) == [4, 8, 12]
    assert fire_pattern(triggers.IntervalTrigger(1, "epoch"), steps[1::3]) == [5, 8]
    assert fire_pattern(triggers.IntervalTrigger(3, "iteration"), steps[1::2]) == [4, 6, 10, 12]


def test_manual_schedule_trigger_fires_at_the_listed_points():
    steps = [(i, i / 4) for i in range(1, 13)]
    trigger = triggers.ManualScheduleTrigger([2, 7], "iteration")
    assert fire_pattern(trigger, steps) == [2, 7]
    assert trigger.finished
    trigger = triggers.ManualScheduleTrigger(1.5, "epoch")
    assert fire_pattern(trigger, steps) == [6]


def test_max_and_min_value_triggers_fire_on_a_new_best_interval_mean():
    values = [0.5, 0.7, 0.6, 0.9]  # one value per epoch
    fired = {"max": [], "min": []}
    max_trigger = triggers.MaxValueTrigger("acc", (1, "epoch"))
    min_trigger = triggers.MinValueTrigger("acc", (1, "epoch"))
    trainer = FakeTrainer()
    for epoch, value in enumerate(values, start=1):
        trainer.step(epoch, float(epoch), {"acc": value})
        if max_trigger(trainer):
            fired["max"].append(epoch)
        if min_trigger(trainer):
            fired["min"].append(epoch)
    assert fired == {"max": [1, 2, 4], "min": [1]}
    assert max_trigger.best_value == 0.9


def test_best_value_trigger_names_a_missing_key():
    trainer = FakeTrainer()
    trainer.step(1, 1.0, {"loss": 1.0})
    with pytest.raises(KeyError, match="validation/main/loss"):
        triggers.MinValueTrigger("validation/main/loss")(trainer)


def test_trigger_state_survives_serialization(tmp_path):
    trigger = triggers.MaxValueTrigger("acc", (1, "epoch"))
    trainer = FakeTrainer()
    trainer.step(1, 1.0, {"acc": 0.8})
    assert trigger(trainer)
    path = str(tmp_path / "trigger.npz")
    serializers.save_npz(path, trigger)
    restored = triggers.MaxValueTrigger("acc", (1, "epoch"))
    serializers.load_npz(path, restored)
    assert restored.best_value == 0.8
    trainer.step(2, 2.0, {"acc": 0.7})
    assert not restored(trainer)
