"""observe_lr / observe_value and the hyperparameter schedules."""

import pytest

from dualgrad import serializers
from dualgrad.training import extensions
from tests.training.test_trainer import make_trainer


def test_exponential_shift_decays_lr_and_observe_lr_logs_it(tmp_path):
    trainer, _ = make_trainer(tmp_path, stop=(4, "epoch"), lr=0.8)  # 3 iterations per epoch
    trainer.extend(extensions.ExponentialShift("lr", 0.5, target=0.15), trigger=(1, "epoch"))
    trainer.extend(extensions.observe_lr())
    log_report = extensions.LogReport()
    trainer.extend(log_report)
    trainer.run()
    # observe_lr (a writer) records the rate used during the epoch, before the shift.
    assert [entry["lr"] for entry in log_report.log] == [0.8, 0.4, 0.2, 0.15]
    assert trainer.updater.get_optimizer("main").lr == 0.15


def test_linear_shift_interpolates_between_the_end_points(tmp_path):
    trainer, _ = make_trainer(tmp_path, stop=(6, "iteration"))
    seen = []
    trainer.extend(extensions.LinearShift("lr", (0.1, 0.5), (1, 5)))
    trainer.extend(extensions.observe_value("lr_now", lambda tr: tr.updater.get_optimizer(
        "main").lr), trigger=(1, "iteration"))
    trainer.extend(lambda tr: seen.append(round(tr.observation["lr_now"], 6)), name="read")
    trainer.run()
    assert seen == [0.1, 0.1, 0.2, 0.3, 0.4, 0.5]


def test_a_resumed_schedule_continues_where_it_stopped(tmp_path):
    trainer, _ = make_trainer(tmp_path / "a", stop=(2, "epoch"), lr=0.8)
    trainer.extend(extensions.ExponentialShift("lr", 0.5), trigger=(1, "epoch"))
    trainer.run()
    path = str(tmp_path / "snapshot")
    serializers.save_npz(path, trainer)

    resumed, _ = make_trainer(tmp_path / "b", stop=(3, "epoch"), lr=0.8)
    resumed.extend(extensions.ExponentialShift("lr", 0.5), trigger=(1, "epoch"))
    serializers.load_npz(path, resumed)
    resumed.run()
    assert resumed.updater.get_optimizer("main").lr == pytest.approx(0.1)


def test_exponential_shift_rejects_a_negative_rate():
    with pytest.raises(ValueError, match="non-negative"):
        extensions.ExponentialShift("lr", -0.5)
