"""The standard trainer extensions (Chainer's names and keywords).

``trainer.extend(extensions.LogReport())`` and friends: LogReport keeps a JSON log,
PrintReport prints it as a table, ProgressBar draws progress, Evaluator reports
validation metrics, snapshot/snapshot_object save state, PlotReport draws curves,
FailOnNonNumber stops diverged training, observe_value/observe_lr log values and
ExponentialShift/LinearShift schedule hyperparameters.
"""

from .evaluator import Evaluator
from .fail_on_nonnumber import DivergenceError, FailOnNonNumber
from .log_report import LogReport
from .plot_report import PlotReport
from .print_report import PrintReport
from .progress_bar import ProgressBar
from .shift import ExponentialShift, LinearShift
from .snapshot import snapshot, snapshot_object
from .value_observation import observe_lr, observe_value

__all__ = [
    "DivergenceError", "Evaluator", "ExponentialShift", "FailOnNonNumber", "LinearShift",
    "LogReport", "PlotReport", "PrintReport", "ProgressBar", "observe_lr", "observe_value",
    "snapshot", "snapshot_object",
]  # fmt: skip
