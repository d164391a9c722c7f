"""``PlotReport``: plot reported values against epoch or iteration into an image file."""

import importlib.util
import os
import warnings

from ... import reporter as reporter_module
from .._files import atomic_path
from .._state import serialize_json
from ..extension import Extension
from ..triggers import get_trigger

_warned_unavailable = False


def _matplotlib_available():
    global _warned_unavailable
    if importlib.util.find_spec("matplotlib") is not None:
        return True
    if not _warned_unavailable:
        _warned_unavailable = True
        warnings.warn(
            "matplotlib is not installed, so PlotReport will plot nothing; install it with "
            "`pip install matplotlib`",
            stacklevel=3,
        )
    return False


class PlotReport(Extension):
    """Plot the means of ``y_keys`` at every ``trigger`` and save to ``file_name``.

    The figure (one line per key, against ``x_key`` = ``'epoch'`` or ``'iteration'``)
    is rewritten into ``trainer.out`` each time, through matplotlib's Agg renderer
    (no display needed; pyplot's global state is not touched). Without matplotlib
    this warns once and does nothing; ``PlotReport.available()`` tells beforehand.
    ``postprocess(figure, axes, summary)`` may edit the figure before it is saved.
    """

    def __init__(self, y_keys, x_key="epoch", trigger=(1, "epoch"), postprocess=None,
                 file_name="plot.png", marker="x", grid=True, **kwargs):
        if "filename" in kwargs:  # Chainer's later spelling
            file_name = kwargs.pop("filename")
        if kwargs:
            raise TypeError(f"PlotReport got unexpected keyword arguments {sorted(kwargs)}")
        if x_key not in ("epoch", "iteration"):
            raise ValueError(f"PlotReport x_key must be 'epoch' or 'iteration', got {x_key!r}")
        self._available = _matplotlib_available()
        self._y_keys = (y_keys,) if isinstance(y_keys, str) else tuple(y_keys)
        self._x_key = x_key
        self._trigger = get_trigger(trigger)
        self._postprocess = postprocess
        self._file_name = file_name
        self._marker = marker
        self._grid = grid
        self._data = {key: [] for key in self._y_keys}
        self._summary = reporter_module.DictSummary()

    @classmethod
    def available(cls):
        """Whether matplotlib can be imported (warns once if not)."""
        return _matplotlib_available()

    def __call__(self, trainer):
        if not self._available:
            return
        observation = trainer.observation
        self._summary.add({k: observation[k] for k in self._y_keys if k in observation})
        if not self._trigger(trainer):
            return
        stats = self._summary.compute_mean()
        x = trainer.updater.epoch if self._x_key == "epoch" else trainer.updater.iteration
        for key in self._y_keys:
            if key in stats:
                self._data[key].append((x, float(stats[key])))
        self._draw(os.path.join(trainer.out, self._file_name), self._summary)
        self._summary = reporter_module.DictSummary()

    def _draw(self, path, summary):
        from matplotlib.figure import Figure  # heavy: only when a plot is drawn

        figure = Figure()
        axes = figure.add_subplot(111)
        axes.set_xlabel(self._x_key)
        if self._grid:
            axes.grid()
        for key in self._y_keys:
            points = self._data[key]
            if points:
                xs, ys = zip(*points)
                axes.plot(xs, ys, marker=self._marker, label=key)
        if not axes.has_data():
            return
        if self._postprocess is not None:
            self._postprocess(figure, axes, summary)
        legend = axes.legend(bbox_to_anchor=(1.05, 1), loc=2, borderaxespad=0.0)
        _save_figure(figure, path, legend)

    def serialize(self, serializer):
        if hasattr(self._trigger, "serialize"):
            self._trigger.serialize(serializer["_trigger"])
        data = serialize_json(serializer, "_plot_" + self._file_name, self._data)
        self._data = {key: [tuple(point) for point in data.get(key, [])]
                      for key in self._y_keys}


def _save_figure(figure, path, legend):
    extension = os.path.splitext(path)[1]
    with atomic_path(path, suffix=extension) as temporary:
        figure.savefig(temporary, bbox_extra_artists=(legend,), bbox_inches="tight")
