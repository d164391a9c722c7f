"""The training loop: stop triggers, extension order and triggers, errors, updater."""

import numpy
import pytest

import dualgrad as dg
import dualgrad.links as L
from dualgrad import datasets, iterators, optimizers, training
from dualgrad.training import extensions


def toy_data(n=12, seed=0):
    rng = numpy.random.RandomState(seed)
    x = rng.rand(n, 3).astype(numpy.float32)
    t = (x.sum(axis=1) > 1.5).astype(numpy.int32)
    return datasets.TupleDataset(x, t)


def make_trainer(out, stop=(2, "epoch"), n=12, batch_size=4, lr=0.5, shuffle=False):
    """A tiny classifier, SGD and a trainer; ``n / batch_size`` iterations per epoch."""
    numpy.random.seed(0)
    model = L.Classifier(L.Linear(3, 2))
    optimizer = optimizers.SGD(lr=lr).setup(model)
    it = iterators.SerialIterator(toy_data(n), batch_size, shuffle=shuffle)
    updater = training.StandardUpdater(it, optimizer)
    return training.Trainer(updater, stop, out=str(out)), model


def recorder(calls, label, **attributes):
    def extension(trainer):
        calls.append((label, trainer.updater.iteration))

    for name, value in attributes.items():
        setattr(extension, name, value)
    return extension


# -- stopping ------------------------------------------------------------------------
def test_epoch_stop_trigger_runs_whole_epochs(tmp_path):
    trainer, _ = make_trainer(tmp_path, stop=(2, "epoch"))
    trainer.run()
    assert trainer.updater.iteration == 6
    assert trainer.updater.epoch == 2
    assert trainer.updater.epoch_detail == 2.0


def test_iteration_stop_trigger_stops_mid_epoch(tmp_path):
    trainer, _ = make_trainer(tmp_path, stop=(5, "iteration"))
    trainer.run()
    assert trainer.updater.iteration == 5
    assert trainer.updater.epoch == 1


def test_training_lowers_the_loss_and_reports_it_as_main(tmp_path):
    trainer, model = make_trainer(tmp_path, stop=(1, "iteration"), n=12, batch_size=12)
    trainer.run()
    first = trainer.observation["main/loss"]
    trainer, model = make_trainer(tmp_path, stop=(40, "iteration"), n=12, batch_size=12)
    trainer.run()
    assert sorted(trainer.observation) == ["main/accuracy", "main/loss"]
    assert trainer.observation["main/loss"] < first


def test_run_creates_the_output_directory_and_records_elapsed_time(tmp_path):
    out = tmp_path / "nested" / "result"
    trainer, _ = make_trainer(out, stop=(1, "iteration"))
    with pytest.raises(RuntimeError, match="run"):
        trainer.elapsed_time  # noqa: B018
    trainer.run()
    assert out.is_dir()
    assert trainer.elapsed_time > 0


def test_a_trainer_runs_once(tmp_path):
    trainer, _ = make_trainer(tmp_path, stop=(1, "iteration"))
    trainer.run()
    with pytest.raises(RuntimeError, match="load a snapshot"):
        trainer.run()


def test_a_model_child_reports_under_its_path(tmp_path):
    trainer, model = make_trainer(tmp_path, stop=(1, "iteration"))
    trainer.extend(lambda tr: dg.report({"norm": 1.0}, model.predictor), name="child")
    trainer.run()
    assert trainer.observation["main/predictor/norm"] == 1.0


# -- extensions: order, triggers, names -----------------------------------------------
def test_extensions_run_by_priority_then_registration_order(tmp_path):
    calls = []
    trainer, _ = make_trainer(tmp_path, stop=(1, "iteration"))
    trainer.extend(recorder(calls, "reader"), priority=training.PRIORITY_READER)
    trainer.extend(recorder(calls, "writer"), priority=training.PRIORITY_WRITER)
    trainer.extend(recorder(calls, "editor", priority=training.PRIORITY_EDITOR))
    trainer.extend(recorder(calls, "reader2"))  # default priority: READER
    trainer.run()
    assert [label for label, _ in calls] == ["writer", "editor", "reader", "reader2"]


def test_extension_triggers_decide_when_extensions_run(tmp_path):
    calls = []
    trainer, _ = make_trainer(tmp_path, stop=(2, "epoch"))  # 3 iterations per epoch
    trainer.extend(recorder(calls, "every2"), trigger=(2, "iteration"))
    trainer.extend(recorder(calls, "epoch", trigger=(1, "epoch")))
    trainer.extend(recorder(calls, "half"), trigger=(0.5, "epoch"))
    trainer.extend(recorder(calls, "all"))
    trainer.run()
    at = {label: [i for name, i in calls if name == label] for label, _ in calls}
    assert at["every2"] == [2, 4, 6]
    assert at["epoch"] == [3, 6]
    assert at["half"] == [2, 3, 5, 6]  # 0.67, 1.0, 1.67, 2.0 cross a multiple of 0.5
    assert at["all"] == [1, 2, 3, 4, 5, 6]


def test_make_extension_sets_the_defaults_the_trainer_uses(tmp_path):
    calls = []

    @training.make_extension(trigger=(3, "iteration"), priority=training.PRIORITY_WRITER)
    def every_third(trainer):
        calls.append(trainer.updater.iteration)

    trainer, _ = make_trainer(tmp_path, stop=(2, "epoch"))
    trainer.extend(every_third)
    trainer.run()
    assert calls == [3, 6]
    assert trainer.get_extension("every_third") is every_third


def test_repeated_names_get_suffixes_and_unknown_names_raise(tmp_path):
    trainer, _ = make_trainer(tmp_path)
    trainer.extend(extensions.LogReport())
    trainer.extend(extensions.LogReport())
    assert isinstance(trainer.get_extension("LogReport_1"), extensions.LogReport)
    with pytest.raises(ValueError, match="LogReport_1"):
        trainer.get_extension("Missing")
    with pytest.raises(ValueError, match="reserved"):
        trainer.extend(lambda tr: None, name="training")
    with pytest.raises(TypeError, match="unexpected keyword"):
        trainer.extend(lambda tr: None, invoke_before_training=True)


def test_lifecycle_hooks_and_call_before_training(tmp_path):
    events = []

    class Watcher(training.Extension):
        def initialize(self, trainer):
            events.append(("initialize", trainer.updater.iteration))

        def __call__(self, trainer):
            events.append(("call", trainer.updater.iteration))

        def finalize(self, trainer=None):
            events.append(("finalize", trainer.updater.iteration))

    trainer, _ = make_trainer(tmp_path, stop=(2, "iteration"))
    assert trainer.is_before_training
    trainer.extend(Watcher(), call_before_training=True)
    trainer.run()
    assert events == [("initialize", 0), ("call", 0), ("call", 1), ("call", 2),
                      ("finalize", 2)]
    assert not trainer.is_before_training


# -- errors ------------------------------------------------------------------------
def test_an_exception_in_the_loop_is_reraised_after_finalizing(tmp_path, capsys):
    events = []

    class Failing(training.Extension):
        def __call__(self, trainer):
            if trainer.updater.iteration == 3:
                raise ZeroDivisionError("boom at 3")

        def on_error(self, trainer, exc, tb):
            events.append(("on_error", type(exc).__name__))

        def finalize(self):  # Chainer's older signature is still called
            events.append(("finalize", None))

    trainer, _ = make_trainer(tmp_path, stop=(10, "iteration"))
    trainer.extend(Failing())
    with pytest.raises(ZeroDivisionError, match="boom at 3"):
        trainer.run()
    assert trainer.updater.iteration == 3
    assert events == [("on_error", "ZeroDivisionError"), ("finalize", None)]
    assert "Exception in main training loop" in capsys.readouterr().err


def test_loop_exception_message_can_be_silenced(tmp_path, capsys):
    trainer, _ = make_trainer(tmp_path, stop=(10, "iteration"))

    def fail(trainer):
        raise KeyError("missing")

    trainer.extend(fail)
    with pytest.raises(KeyError):
        trainer.run(show_loop_exception_msg=False)
    assert capsys.readouterr().err == ""
