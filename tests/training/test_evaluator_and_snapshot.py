"""Evaluator (validation metrics) and snapshots (resuming gives the same training)."""

import os

import numpy
import pytest

import dualgrad as dg
import dualgrad.functions as F
import dualgrad.links as L
from dualgrad import iterators, reporter, serializers
from dualgrad.dataset import concat_examples
from dualgrad.training import extensions
from tests.training.test_trainer import make_trainer, toy_data


def params_of(model):
    return {path: param.array.copy() for path, param in model.namedparams()}


# -- Evaluator ----------------------------------------------------------------------
def test_evaluator_reports_validation_means_without_touching_parameters(tmp_path):
    trainer, model = make_trainer(tmp_path, stop=(1, "epoch"))
    test = toy_data(10, seed=1)
    test_iter = iterators.SerialIterator(test, 4, repeat=False, shuffle=False)
    evaluator = extensions.Evaluator(test_iter, model)
    trainer.extend(evaluator)
    trainer.run()
    observed = trainer.observation
    assert {"validation/main/loss", "validation/main/accuracy"} <= set(observed)

    # The same numbers by hand: the mean over batches (4, 4, 2) of each batch's loss.
    x, t = concat_examples(test[:])
    with dg.no_backprop_mode():
        losses = [float(F.softmax_cross_entropy(model.predictor(x[i:i + 4]), t[i:i + 4]).array)
                  for i in (0, 4, 8)]
    assert observed["validation/main/loss"] == pytest.approx(numpy.mean(losses), rel=1e-6)

    before = params_of(model)
    again = evaluator()  # a second run starts from the beginning of the iterator again
    assert again["validation/main/loss"] == pytest.approx(observed["validation/main/loss"])
    for path, value in params_of(model).items():
        assert numpy.array_equal(value, before[path]), path


def test_evaluator_runs_in_test_mode_without_recording_the_tape(tmp_path):
    seen = []

    class Probe(L.Classifier):
        def forward(self, x, t):
            seen.append((dg.config.train, dg.config.enable_backprop))
            return super().forward(x, t)

    model = Probe(L.Linear(3, 2))
    test_iter = iterators.SerialIterator(toy_data(6), 3, repeat=False, shuffle=False)
    hooks = []
    result = extensions.Evaluator(test_iter, model, eval_hook=hooks.append).evaluate()
    assert seen == [(False, False), (False, False)]
    assert len(hooks) == 1
    assert sorted(result) == ["main/accuracy", "main/loss"]  # unregistered: no name prefix
    assert dg.config.train and dg.config.enable_backprop


def test_evaluator_rejects_a_repeating_iterator():
    model = L.Classifier(L.Linear(3, 2))
    with pytest.raises(ValueError, match="repeat=False"):
        extensions.Evaluator(iterators.SerialIterator(toy_data(6), 3), model)


def test_evaluator_eval_func_replaces_the_target(tmp_path):
    model = L.Classifier(L.Linear(3, 2))
    calls = []

    def eval_func(x, t):
        calls.append(x.shape)
        dg.report({"custom": 1.5}, model)

    test_iter = iterators.SerialIterator(toy_data(6), 4, repeat=False, shuffle=False)
    result = extensions.Evaluator(test_iter, model, eval_func=eval_func)()
    assert calls == [(4, 3), (2, 3)]
    assert result == {"main/custom": 1.5}


def test_a_chainer_style_evaluate_override_reports_under_the_validation_prefix(tmp_path):
    class MeanOutput(extensions.Evaluator):
        def evaluate(self):
            model = self.get_target("main")
            summary = reporter.DictSummary()
            iterator = self.get_iterator("main")
            iterator.reset()
            for batch in iterator:
                observation = {}
                with reporter.report_scope(observation):
                    x, _ = concat_examples(batch)
                    reporter.report({"mean_out": model.predictor(x).array.mean()}, model)
                summary.add(observation)
            return summary.compute_mean()

    trainer, model = make_trainer(tmp_path, stop=(1, "epoch"))
    test_iter = iterators.SerialIterator(toy_data(6), 3, repeat=False, shuffle=False)
    trainer.extend(MeanOutput(test_iter, model))
    trainer.run()
    assert "validation/main/mean_out" in trainer.observation


# -- snapshots ----------------------------------------------------------------------
def add_usual_extensions(trainer, model):
    test_iter = iterators.SerialIterator(toy_data(10, seed=1), 5, repeat=False, shuffle=False)
    trainer.extend(extensions.Evaluator(test_iter, model))
    trainer.extend(extensions.LogReport())
    trainer.extend(extensions.snapshot(), trigger=(4, "iteration"))


def test_resuming_from_a_snapshot_equals_uninterrupted_training(tmp_path):
    # 3 iterations per epoch; the snapshot at iteration 4 is in the middle of epoch 2.
    full_dir, part_dir, resumed_dir = tmp_path / "full", tmp_path / "part", tmp_path / "resumed"
    full, full_model = make_trainer(full_dir, stop=(4, "epoch"), lr=0.3)
    add_usual_extensions(full, full_model)
    full.run()

    part, _ = make_trainer(part_dir, stop=(5, "iteration"), lr=0.3)
    add_usual_extensions(part, part.updater.get_optimizer("main").target)
    part.run()
    assert sorted(os.listdir(part_dir)) == ["log", "snapshot_iter_4"]

    resumed, resumed_model = make_trainer(resumed_dir, stop=(4, "epoch"), lr=0.3)
    add_usual_extensions(resumed, resumed_model)
    serializers.load_npz(str(part_dir / "snapshot_iter_4"), resumed)
    assert resumed.updater.iteration == 4
    assert resumed.updater.get_optimizer("main").t == 4
    resumed.run()

    assert resumed.updater.iteration == full.updater.iteration == 12
    full_params = params_of(full_model)
    for path, value in params_of(resumed_model).items():
        assert numpy.array_equal(value, full_params[path]), path  # bitwise
    strip = [{k: v for k, v in entry.items() if k != "elapsed_time"}
             for entry in full.get_extension("LogReport").log]
    resumed_log = resumed.get_extension("LogReport").log
    assert [{k: v for k, v in e.items() if k != "elapsed_time"} for e in resumed_log] == strip
    assert resumed_log[0]["elapsed_time"] < resumed.elapsed_time


def test_snapshot_object_saves_a_loadable_model(tmp_path):
    trainer, model = make_trainer(tmp_path, stop=(2, "epoch"))
    trainer.extend(extensions.snapshot_object(model, "model_epoch_{.updater.epoch}"))
    trainer.run()
    assert sorted(os.listdir(tmp_path)) == ["model_epoch_1", "model_epoch_2"]
    loaded = L.Classifier(L.Linear(3, 2))
    serializers.load_npz(str(tmp_path / "model_epoch_2"), loaded)
    for path, value in params_of(loaded).items():
        assert numpy.array_equal(value, params_of(model)[path]), path


def test_snapshot_accepts_another_save_function(tmp_path):
    saved = []

    def savefun(path, target):
        with open(path, "w") as f:
            f.write(str(target.updater.iteration))
        saved.append(path)

    trainer, _ = make_trainer(tmp_path, stop=(2, "epoch"))
    trainer.extend(extensions.snapshot(savefun=savefun, filename="it{.updater.iteration}"))
    trainer.run()
    assert sorted(os.listdir(tmp_path)) == ["it3", "it6"]
    assert (tmp_path / "it6").read_text() == "6"
