"""Trainer extensions: callables the trainer runs after updates, in priority order.

An extension is any callable ``extension(trainer)``. Optional attributes tell the trainer
how to run it: ``trigger`` (when; default ``(1, 'iteration')``), ``priority`` (higher runs
first), ``default_name``; optional methods ``initialize(trainer)`` (before the loop),
``finalize(trainer)`` (after it, also on error), ``on_error(trainer, exc, tb)`` and
``serialize(serializer)`` (state saved in snapshots).

>>> from dualgrad.training import make_extension
>>> @make_extension(trigger=(1, 'epoch'))
... def say_epoch(trainer):
...     print('epoch', trainer.updater.epoch)
>>> say_epoch.trigger, say_epoch.default_name
((1, 'epoch'), 'say_epoch')
"""

#: Extensions that add values to the observation (Evaluator) run first...
PRIORITY_WRITER = 300
#: ...then those that edit reported values...
PRIORITY_EDITOR = 200
#: ...then those that only read them (LogReport, PrintReport, ProgressBar).
PRIORITY_READER = 100


class Extension:
    """Base class of extensions with state or set-up.

    Subclasses override ``__call__(trainer)``; the class attributes ``trigger`` and
    ``priority`` are the defaults the trainer uses when ``extend`` does not give them.
    """

    trigger = (1, "iteration")
    priority = PRIORITY_READER
    name = None

    @property
    def default_name(self):
        """The name ``trainer.extend`` registers the extension under: its class name."""
        return type(self).__name__

    def __call__(self, trainer):
        raise NotImplementedError(
            f"{type(self).__name__} must define __call__(self, trainer)"
        )

    def initialize(self, trainer):
        """Called once before the training loop (also after resuming from a snapshot)."""

    def finalize(self, trainer=None):
        """Called once after the training loop, also when it stops with an error."""

    def on_error(self, trainer, exc, tb):
        """Called when the training loop raises ``exc``, before ``finalize``."""

    def serialize(self, serializer):
        """Save or load the state that a resumed training needs."""


def make_extension(trigger=None, default_name=None, priority=None, finalizer=None,
                   initializer=None, on_error=None):
    """Decorator turning a function ``f(trainer)`` into an extension.

    It only sets attributes on the function: ``trigger`` (default ``(1, 'iteration')``),
    ``priority`` (default ``PRIORITY_READER``), ``default_name`` (default the function's
    name), ``finalize``, ``initialize`` and ``on_error``.
    """
    if trigger is None:
        trigger = Extension.trigger
    if priority is None:
        priority = Extension.priority

    def decorator(ext):
        ext.trigger = trigger
        ext.default_name = default_name or ext.__name__
        ext.priority = priority
        ext.finalize = finalizer
        ext.initialize = initializer
        ext.on_error = on_error
        return ext

    return decorator
