"""LogReport, PrintReport, ProgressBar, PlotReport and FailOnNonNumber as a user sees them."""

import io
import json
import os
import re
import sys

import numpy
import pytest

import dualgrad as dg
from dualgrad.training import extensions
from dualgrad.training.extensions import plot_report as plot_report_module
from tests.training.test_trainer import make_trainer

ANSI = re.compile(r"\x1b\[[0-9]*[A-Z]")


def reporting(values_by_iteration):
    """An extension reporting ``values_by_iteration[i]`` at iteration ``i`` (writer)."""

    def report_values(trainer):
        dg.report(values_by_iteration[trainer.updater.iteration])

    report_values.priority = 300
    return report_values


# -- LogReport ----------------------------------------------------------------------
def test_log_report_writes_interval_means_to_a_json_file(tmp_path):
    trainer, _ = make_trainer(tmp_path, stop=(2, "epoch"))  # 3 iterations per epoch
    trainer.extend(reporting({i: {"x": float(i)} for i in range(1, 7)}))
    log_report = extensions.LogReport()
    trainer.extend(log_report)
    trainer.run()
    with open(tmp_path / "log") as f:
        log = json.load(f)
    assert log == log_report.log
    assert [entry["x"] for entry in log] == [2.0, 5.0]  # means of 1..3 and 4..6
    assert [(entry["epoch"], entry["iteration"]) for entry in log] == [(1, 3), (2, 6)]
    assert {"main/loss", "main/accuracy", "elapsed_time"} <= set(log[0])
    assert 0 < log[0]["elapsed_time"] <= log[1]["elapsed_time"]
    assert sorted(os.listdir(tmp_path)) == ["log"]  # no temporary files left behind


def test_log_report_keys_trigger_postprocess_and_filename(tmp_path):
    trainer, _ = make_trainer(tmp_path, stop=(4, "iteration"))

    def add_double(entry):
        entry["double"] = 2 * entry["main/loss"]

    trainer.extend(extensions.LogReport(keys=["main/loss"], trigger=(2, "iteration"),
                                        postprocess=add_double, filename="log_{iteration}"))
    trainer.run()
    assert sorted(os.listdir(tmp_path)) == ["log_2", "log_4"]
    with open(tmp_path / "log_4") as f:
        log = json.load(f)
    assert len(log) == 2
    assert set(log[0]) == {"main/loss", "double", "epoch", "iteration", "elapsed_time"}
    assert log[1]["double"] == 2 * log[1]["main/loss"]


def test_log_report_without_filename_writes_nothing(tmp_path):
    trainer, _ = make_trainer(tmp_path, stop=(1, "epoch"))
    log_report = extensions.LogReport(filename=None)
    trainer.extend(log_report)
    trainer.run()
    assert os.listdir(tmp_path) == []
    assert len(log_report.log) == 1


# -- PrintReport --------------------------------------------------------------------
def test_print_report_prints_a_header_and_one_row_per_log_entry(tmp_path):
    out = io.StringIO()
    trainer, _ = make_trainer(tmp_path, stop=(2, "epoch"))
    trainer.extend(reporting({i: {"x": float(i)} for i in range(1, 7)}))
    trainer.extend(extensions.LogReport())
    trainer.extend(extensions.PrintReport(["epoch", "iteration", "x", "absent"], out=out))
    trainer.run()
    lines = ANSI.sub("", out.getvalue()).splitlines()
    assert lines[0].split() == ["epoch", "iteration", "x", "absent"]
    assert lines[0].index("iteration") == 12  # columns are at least 10 wide, 2 apart
    assert [line.split() for line in lines[1:]] == [["1", "3", "2"], ["2", "6", "5"]]


def test_print_report_can_own_its_log_report(tmp_path):
    out = io.StringIO()
    trainer, _ = make_trainer(tmp_path, stop=(1, "epoch"))
    trainer.extend(extensions.PrintReport(["epoch"], log_report=extensions.LogReport(),
                                          out=out))
    trainer.run()
    assert ANSI.sub("", out.getvalue()).split() == ["epoch", "1"]


def test_print_report_names_a_wrong_log_report(tmp_path):
    trainer, _ = make_trainer(tmp_path, stop=(1, "iteration"))
    trainer.extend(extensions.PrintReport(["epoch"], log_report=42, out=io.StringIO()))
    with pytest.raises(TypeError, match="LogReport"):
        trainer.run(show_loop_exception_msg=False)


# -- ProgressBar --------------------------------------------------------------------
def test_progress_bar_draws_bars_percentages_speed_and_eta(tmp_path):
    out = io.StringIO()  # not a terminal: the drawings still arrive, one after another
    trainer, _ = make_trainer(tmp_path, stop=(2, "epoch"))  # 6 iterations
    trainer.extend(extensions.ProgressBar(update_interval=2, bar_length=10, out=out))
    trainer.run()
    text = out.getvalue()
    assert "\x1b[4A" in text  # the cursor goes back up to redraw in place
    plain = ANSI.sub("", text)
    assert "     total [###.......]  33.33%" in plain
    assert "this epoch [######....]  66.67%" in plain
    assert "     total [##########] 100.00%" in plain
    assert "         6 iter, 2 epoch / 2 epochs" in plain
    assert plain.count("     total [") == 3  # iterations 2, 4, 6
    etas = re.findall(r"([\d.e+]+) iters/sec\. Estimated time to finish: (\d+:\d\d:\d\d\.\d{3})",
                      plain)
    assert len(etas) == 2  # the first drawing has no speed measured yet
    assert all(float(speed) > 0 for speed, _ in etas)
    assert text.endswith("\x1b[J")  # finalize erases the bar


def test_progress_bar_needs_a_length_it_can_know(tmp_path):
    trainer, _ = make_trainer(tmp_path, stop=lambda trainer: trainer.updater.iteration >= 2)
    trainer.extend(extensions.ProgressBar(out=io.StringIO()))
    with pytest.raises(TypeError, match="training_length"):
        trainer.run(show_loop_exception_msg=False)
    out = io.StringIO()
    trainer, _ = make_trainer(tmp_path, stop=lambda trainer: trainer.updater.iteration >= 4)
    trainer.extend(extensions.ProgressBar((4, "iteration"), update_interval=1, out=out))
    trainer.run()
    assert "100.00%" in out.getvalue()


# -- PlotReport ---------------------------------------------------------------------
def test_plot_report_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    trainer, _ = make_trainer(tmp_path, stop=(2, "epoch"))
    trainer.extend(extensions.PlotReport(["main/loss", "main/accuracy"], "iteration",
                                         file_name="loss.png"))
    trainer.run()
    data = (tmp_path / "loss.png").read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 1000
    assert os.listdir(tmp_path) == ["loss.png"]
    assert extensions.PlotReport.available()


def test_plot_report_without_matplotlib_warns_once_and_draws_nothing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes it unimportable
    monkeypatch.setattr(plot_report_module, "_warned_unavailable", False)
    with pytest.warns(UserWarning, match="pip install matplotlib"):
        assert not extensions.PlotReport.available()
    plot = extensions.PlotReport(["main/loss"])  # no second warning
    trainer, _ = make_trainer(tmp_path, stop=(1, "epoch"))
    trainer.extend(plot)
    trainer.run()
    assert os.listdir(tmp_path) == []


# -- FailOnNonNumber ----------------------------------------------------------------
def test_fail_on_nonnumber_names_the_diverged_parameter(tmp_path):
    trainer, model = make_trainer(tmp_path, stop=(5, "iteration"))

    def poison(trainer):
        if trainer.updater.iteration == 2:
            model.predictor.b.array[1] = numpy.nan

    trainer.extend(poison, priority=300)
    trainer.extend(extensions.FailOnNonNumber())
    with pytest.raises(RuntimeError, match=r"/predictor/b .*NaN \(1 of 2 values\)") as info:
        trainer.run(show_loop_exception_msg=False)
    assert isinstance(info.value, dg.NonFiniteError)
    assert "learning rate" in str(info.value)
    assert trainer.updater.iteration == 2


def test_fail_on_nonnumber_stays_quiet_while_training_is_finite(tmp_path):
    trainer, _ = make_trainer(tmp_path, stop=(2, "epoch"))
    trainer.extend(extensions.FailOnNonNumber())
    trainer.run()
    assert trainer.updater.iteration == 6
