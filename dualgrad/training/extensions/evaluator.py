"""``Evaluator``: run the model over a validation set and report the mean metrics."""

import copy

from ... import reporter as reporter_module
from ..._config import no_backprop_mode, using_config
from ...dataset.convert import concat_examples
from ..extension import PRIORITY_WRITER, Extension
from ..updater import _call_with


class Evaluator(Extension):
    """Evaluate ``target`` on every batch of ``iterator``; report the means.

    Each call runs over the whole iterator from its start (reset, or a copy when it
    cannot be reset) with ``config.train = False`` and without recording the tape, so
    the evaluation neither changes parameters nor builds graphs. Values the target
    reports (``loss``, ``accuracy``) are averaged over batches and reported as
    ``'validation/main/loss'`` etc. (``'<extension name>/<observer name>/<key>'``).

    Args:
        iterator: a non-repeating iterator (``repeat=False``), or a dict with ``'main'``.
        target: the link to evaluate (observer name ``'main'``), or a dict of links.
        converter: ``converter(batch, device)`` as for ``StandardUpdater``.
        device: where batches go.
        eval_hook: called as ``eval_hook(evaluator)`` before each evaluation.
        eval_func: called with the converted batch instead of ``target``.

    Registered with a trainer it runs every epoch by default. ``evaluator()`` and
    ``evaluator.evaluate()`` also work on their own and return the dict of means; an
    evaluator that was never registered has no name, so its keys are ``'main/loss'``.
    """

    trigger = (1, "epoch")
    default_name = "validation"
    priority = PRIORITY_WRITER
    name = None

    def __init__(self, iterator, target, converter=concat_examples, device=None,
                 eval_hook=None, eval_func=None):
        self._iterators = dict(iterator) if isinstance(iterator, dict) else {"main": iterator}
        self._targets = dict(target) if isinstance(target, dict) else {"main": target}
        for it in self._iterators.values():
            if getattr(it, "repeat", False):
                raise ValueError(
                    "Evaluator needs an iterator that stops after one pass; create it with "
                    "repeat=False, e.g. SerialIterator(test, batch_size, repeat=False, "
                    "shuffle=False)"
                )
        self.converter = converter
        self.device = device
        self.eval_hook = eval_hook
        self.eval_func = eval_func

    def get_iterator(self, name):
        return self._iterators[name]

    def get_all_iterators(self):
        return dict(self._iterators)

    def get_target(self, name):
        return self._targets[name]

    def get_all_targets(self):
        return dict(self._targets)

    def __call__(self, trainer=None):
        """Evaluate and report the results to the current reporter (the trainer's)."""
        # As in Chainer, evaluate() runs under a reporter that knows the targets by
        # their prefixed names, so subclasses overriding evaluate() with report_scope
        # get 'validation/main/...' keys too.
        with self._make_reporter().scope({}), using_config("train", False):
            result = self.evaluate()
        reporter_module.report(result)
        return result

    def evaluate(self):
        """Run the evaluation; returns ``{'validation/main/loss': mean, ...}``."""
        if self.eval_hook is not None:
            self.eval_hook(self)
        reporter = self._make_reporter()
        summary = reporter_module.DictSummary()
        with using_config("train", False), no_backprop_mode():
            for batch in self._fresh_iterator():
                observation = {}
                with reporter.scope(observation):
                    in_arrays = self.converter(batch, self.device)
                    _call_with(self._eval_func(), None, in_arrays)
                summary.add(observation)
        return summary.compute_mean()

    def _eval_func(self):
        return self._targets["main"] if self.eval_func is None else self.eval_func

    def _make_reporter(self):
        prefix = "" if self.name is None else self.name + "/"
        reporter = reporter_module.Reporter()
        for name, target in self._targets.items():
            reporter.add_observer(prefix + name, target)
            reporter.add_observers(prefix + name, target.namedlinks(skipself=True))
        return reporter

    def _fresh_iterator(self):
        iterator = self._iterators["main"]
        if hasattr(iterator, "reset"):
            iterator.reset()
            return iterator
        return copy.copy(iterator)
