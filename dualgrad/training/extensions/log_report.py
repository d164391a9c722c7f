"""``LogReport``: average the observations over an interval and keep them as a JSON log."""

import json
import os

from ... import reporter as reporter_module
from .._files import atomic_path
from .._state import serialize_json
from ..extension import Extension
from ..triggers import get_trigger


class LogReport(Extension):
    """Accumulate ``trainer.observation`` each iteration; at each ``trigger`` append
    the means, with ``epoch``, ``iteration`` and ``elapsed_time``, to ``log``.

    Args:
        keys: the observation keys to keep (default all).
        trigger: when to close an entry (default every epoch).
        postprocess: ``postprocess(entry)`` may edit an entry before it is stored.
        filename: name of the JSON file written into ``trainer.out`` at every entry
            (formatted with the entry, e.g. ``'log_{epoch}'``); ``None`` writes nothing.

    The file is replaced atomically, so a reader never sees half a log. ``PrintReport``
    and ``PlotReport`` read ``log`` (a list of dicts).
    """

    def __init__(self, keys=None, trigger=(1, "epoch"), postprocess=None, filename="log",
                 **kwargs):
        if "log_name" in kwargs:  # Chainer's older spelling
            filename = kwargs.pop("log_name")
        if kwargs:
            raise TypeError(f"LogReport got unexpected keyword arguments {sorted(kwargs)}")
        self._keys = keys
        self._trigger = get_trigger(trigger)
        self._postprocess = postprocess
        self._log_name = filename
        self._log = []
        self._summary = reporter_module.DictSummary()

    def __call__(self, trainer):
        observation = trainer.observation
        if self._keys is None:
            self._summary.add(observation)
        else:
            self._summary.add({k: observation[k] for k in self._keys if k in observation})
        if not self._trigger(trainer):
            return
        entry = {name: float(value) for name, value in self._summary.compute_mean().items()}
        updater = trainer.updater
        entry["epoch"] = updater.epoch
        entry["iteration"] = updater.iteration
        entry["elapsed_time"] = trainer.elapsed_time
        if self._postprocess is not None:
            self._postprocess(entry)
        self._log.append(entry)
        if self._log_name is not None:
            path = os.path.join(trainer.out, self._log_name.format(**entry))
            write_json_atomically(path, self._log)
        self._summary = reporter_module.DictSummary()

    @property
    def log(self):
        """The entries so far: a list of dicts of floats."""
        return self._log

    def serialize(self, serializer):
        if hasattr(self._trigger, "serialize"):
            self._trigger.serialize(serializer["_trigger"])
        if hasattr(self._summary, "serialize"):
            self._summary.serialize(serializer["_summary"])
        self._log = serialize_json(serializer, "_log", self._log)


def write_json_atomically(path, value):
    """Write ``value`` as JSON to a temporary file beside ``path``, then rename it over."""
    with atomic_path(path) as temporary, open(temporary, "w") as f:
        json.dump(value, f, indent=4)
