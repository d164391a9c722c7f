"""The training loop: ``Trainer``, updaters, triggers and extensions (Chainer's API).

>>> from dualgrad import training
>>> from dualgrad.training import extensions
>>> sorted(n for n in ('Trainer', 'StandardUpdater', 'Extension') if hasattr(training, n))
['Extension', 'StandardUpdater', 'Trainer']
"""

from . import extensions, triggers, updaters
from .extension import (
    PRIORITY_EDITOR,
    PRIORITY_READER,
    PRIORITY_WRITER,
    Extension,
    make_extension,
)
from .trainer import Trainer
from .triggers import get_trigger
from .updater import StandardUpdater, Updater

__all__ = [
    "PRIORITY_EDITOR", "PRIORITY_READER", "PRIORITY_WRITER", "Extension", "StandardUpdater",
    "Trainer", "Updater", "extensions", "get_trigger", "make_extension", "triggers",
    "updaters",
]  # fmt: skip
