"""``Trainer``: the training loop, with extensions for everything around the update.

Each iteration: a fresh ``trainer.observation`` dict is made current for ``dg.report``,
``updater.update()`` runs one step (the model reports e.g. ``main/loss``), then every
extension whose trigger fires runs, highest priority first (ties in registration order).

>>> import numpy as np, dualgrad as dg, tempfile
>>> import dualgrad.links as L
>>> from dualgrad import datasets, iterators, optimizers, training
>>> x = np.random.rand(8, 3).astype(np.float32)
>>> t = (x.sum(axis=1) > 1.5).astype(np.int32)
>>> model = L.Classifier(L.Linear(3, 2))
>>> optimizer = optimizers.SGD(lr=0.1).setup(model)
>>> it = iterators.SerialIterator(datasets.TupleDataset(x, t), 4)
>>> updater = training.StandardUpdater(it, optimizer)
>>> trainer = training.Trainer(updater, (3, 'epoch'), out=tempfile.mkdtemp())
>>> trainer.run()
>>> updater.iteration, sorted(trainer.observation)
(6, ['main/accuracy', 'main/loss'])
"""

import inspect
import os
import sys
import time
import traceback

from .. import reporter as reporter_module
from . import extension as extension_module
from ._state import serialize_float
from .triggers import get_trigger

_get_time = time.perf_counter


class _ExtensionEntry:
    __slots__ = ("extension", "trigger", "priority", "call_before_training")

    def __init__(self, extension, trigger, priority, call_before_training):
        self.extension = extension
        self.trigger = trigger
        self.priority = priority
        self.call_before_training = call_before_training


class Trainer:
    """Runs ``updater.update()`` until ``stop_trigger`` fires, calling extensions.

    Args:
        updater: an ``Updater`` (usually ``StandardUpdater``).
        stop_trigger: ``(n, 'epoch')``, ``(n, 'iteration')`` or any trigger; ``None``
            trains until interrupted.
        out: directory for logs, plots and snapshots (created by ``run``).
        extensions: extensions to register with their default settings.

    The models of the updater's optimizers are registered with ``trainer.reporter``
    under the optimizers' names (``'main'``; child links as ``'main/l1'``), so values a
    model reports appear as ``'main/loss'``. ``serialize`` saves everything a resumed
    training needs: ``load_npz(snapshot_path, trainer)`` then ``run()`` continues.
    """

    def __init__(self, updater, stop_trigger=None, out="result", extensions=None):
        self.updater = updater
        self.stop_trigger = get_trigger(stop_trigger)
        self.observation = {}
        self.out = out
        self.reporter = reporter_module.Reporter()
        for name, optimizer in updater.get_all_optimizers().items():
            self.reporter.add_observer(name, optimizer.target)
            self.reporter.add_observers(name, optimizer.target.namedlinks(skipself=True))
        self._extensions = {}
        self._done = False
        self._start_at = None
        self._snapshot_elapsed_time = 0.0
        self._final_elapsed_time = None
        updater.connect_trainer(self)
        for ext in extensions or ():
            self.extend(ext)

    # -- state ----------------------------------------------------------------------
    @property
    def elapsed_time(self):
        """Seconds of training so far, including the time before a resumed snapshot."""
        if self._done:
            return self._final_elapsed_time
        if self._start_at is None:
            raise RuntimeError("elapsed_time is only known once trainer.run() has started")
        return self._elapsed_at(_get_time())

    def _elapsed_at(self, now):
        if self._done:
            return self._final_elapsed_time
        if self._start_at is None:
            return self._snapshot_elapsed_time
        return now - self._start_at + self._snapshot_elapsed_time

    @property
    def is_before_training(self):
        """True until the first update (also False after resuming a started training)."""
        return self.updater.iteration == 0

    # -- extensions -----------------------------------------------------------------
    def extend(self, extension, name=None, trigger=None, priority=None, **kwargs):
        """Register ``extension``.

        ``name`` defaults to the extension's ``name``/``default_name``/``__name__``; a
        repeated name gets a suffix ``_1``, ``_2``... ``trigger`` defaults to the
        extension's ``trigger`` attribute, else every iteration. ``priority`` defaults to
        the extension's ``priority``, else ``PRIORITY_READER``. The keyword
        ``call_before_training=True`` also runs it once before the first update.
        """
        call_before_training = bool(kwargs.pop("call_before_training", False))
        if kwargs:
            raise TypeError(
                f"Trainer.extend got unexpected keyword arguments {sorted(kwargs)}; "
                "it takes name, trigger, priority and call_before_training"
            )
        name = name or _extension_name(extension)
        if name == "training":
            raise ValueError("'training' is reserved and cannot name an extension")
        if trigger is None:
            trigger = getattr(extension, "trigger", (1, "iteration"))
        if priority is None:
            priority = getattr(extension, "priority", extension_module.PRIORITY_READER)
        unique = name
        ordinal = 0
        while unique in self._extensions:
            ordinal += 1
            unique = f"{name}_{ordinal}"
        extension.name = unique
        self._extensions[unique] = _ExtensionEntry(
            extension, get_trigger(trigger), priority, call_before_training
        )

    def get_extension(self, name):
        """The extension registered as ``name``."""
        if name not in self._extensions:
            raise ValueError(
                f"no extension named {name!r}; registered: {sorted(self._extensions)}"
            )
        return self._extensions[name].extension

    # -- the loop -------------------------------------------------------------------
    def run(self, show_loop_exception_msg=True):
        """Train until the stop trigger fires. A trainer runs once; resume with a new one."""
        if self._done:
            raise RuntimeError(
                "this trainer has already run; to train further, build a new Trainer and "
                "load a snapshot into it with serializers.load_npz(path, trainer)"
            )
        os.makedirs(self.out, exist_ok=True)
        # sorted() is stable, so equal priorities keep their registration order.
        entries = sorted(self._extensions.values(), key=lambda e: e.priority, reverse=True)
        self._start_at = _get_time()
        for entry in entries:
            initialize = getattr(entry.extension, "initialize", None)
            if initialize:
                initialize(self)
        try:
            self._before_training(entries)
            self._loop(entries)
        except Exception as error:
            if show_loop_exception_msg:
                _print_loop_exception(error)
            self._call_error_handlers(entries, error)
            raise
        finally:
            for entry in entries:
                finalize = getattr(entry.extension, "finalize", None)
                if finalize:
                    _call_finalize(finalize, self)
            self.updater.finalize()
        self._final_elapsed_time = self.elapsed_time
        self._done = True

    def _before_training(self, entries):
        self.observation = {}
        with self.reporter.scope(self.observation):
            for entry in entries:
                if entry.call_before_training:
                    entry.extension(self)

    def _loop(self, entries):
        update = self.updater.update
        while not self.stop_trigger(self):
            self.observation = {}
            with self.reporter.scope(self.observation):
                update()
                for entry in entries:
                    if entry.trigger(self):
                        entry.extension(self)

    def _call_error_handlers(self, entries, error):
        # Every handler runs; a failing handler is reported, never hides the loop's error.
        tb = error.__traceback__
        for entry in entries:
            handler = getattr(entry.extension, "on_error", None)
            if not handler:
                continue
            try:
                handler(self, error, tb)
            except Exception as handler_error:
                sys.stderr.write(f"Exception in error handler of {entry.extension.name}: "
                                 f"{handler_error!r}\n")

    # -- snapshots ------------------------------------------------------------------
    def serialize(self, serializer):
        """Save/load the updater, the stop trigger, extensions and their triggers."""
        self.updater.serialize(serializer["updater"])
        if hasattr(self.stop_trigger, "serialize"):
            self.stop_trigger.serialize(serializer["stop_trigger"])
        states = serializer["extensions"]
        triggers = serializer["extension_triggers"]
        for name, entry in self._extensions.items():
            if hasattr(entry.extension, "serialize"):
                entry.extension.serialize(states[name])
            if hasattr(entry.trigger, "serialize"):
                entry.trigger.serialize(triggers[name])
        # Saving returns the value given and loading the stored one; restarting the
        # clock at ``now`` makes one line right for both directions.
        now = _get_time()
        self._snapshot_elapsed_time = serialize_float(
            serializer, "_snapshot_elapsed_time", self._elapsed_at(now)
        )
        if self._start_at is not None:
            self._start_at = now


def _extension_name(extension):
    for attribute in ("name", "default_name", "__name__"):
        name = getattr(extension, attribute, None)
        if name is not None:
            return name
    raise TypeError(
        f"cannot name the extension {extension!r}: pass trainer.extend(..., name='...')"
    )


def _call_finalize(finalize, trainer):
    """Chainer's extensions define ``finalize()`` or ``finalize(trainer)``; call either."""
    try:
        takes_trainer = len(inspect.signature(finalize).parameters) > 0
    except (TypeError, ValueError):
        takes_trainer = True
    if takes_trainer:
        finalize(trainer)
    else:
        finalize()


def _print_loop_exception(error):
    # Printed before finalizers run: if one of them hangs, the cause is already visible.
    err = sys.stderr
    err.write(f"Exception in main training loop: {error!r}\n")
    err.write("Traceback (most recent call last):\n")
    traceback.print_tb(sys.exc_info()[2], file=err)
    err.write("Will finalize trainer extensions and updater before reraising the exception.\n")
