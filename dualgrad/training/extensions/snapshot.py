"""``snapshot`` / ``snapshot_object``: save the trainer (to resume) or any object to a file.

>>> from dualgrad.training import extensions
>>> ext = extensions.snapshot(filename='snapshot_epoch_{.updater.epoch}')
>>> ext.trigger, ext.priority
((1, 'epoch'), -100)
"""

import os

from ...serializers import save_npz
from .._files import atomic_path
from ..extension import make_extension

# After every other extension, so the saved state includes what they did this iteration.
PRIORITY_SNAPSHOT = -100


def snapshot(savefun=save_npz, filename="snapshot_iter_{.updater.iteration}", target=None):
    """An extension saving the whole trainer (or ``target``) into ``trainer.out``.

    ``filename`` is formatted with the trainer (``'{.updater.iteration}'``). Resume a
    training by building the same trainer and calling
    ``serializers.load_npz(path, trainer)`` before ``trainer.run()``: parameters,
    optimizer state, iterator position, extension states and elapsed time come back.
    Saving goes to a temporary file renamed into place, so an interrupted save never
    leaves a broken snapshot. Runs every epoch by default.
    """

    @make_extension(trigger=(1, "epoch"), priority=PRIORITY_SNAPSHOT)
    def snapshot(trainer):
        _save(trainer, trainer if target is None else target, filename, savefun)

    return snapshot


def snapshot_object(target, filename, savefun=save_npz):
    """An extension saving ``target`` (e.g. the model) as ``filename`` in ``trainer.out``.

    ``filename`` is formatted with the trainer, e.g. ``'model_epoch_{.updater.epoch}'``.
    """

    @make_extension(trigger=(1, "epoch"), priority=PRIORITY_SNAPSHOT)
    def snapshot_object(trainer):
        _save(trainer, target, filename, savefun)

    return snapshot_object


def _save(trainer, target, filename, savefun):
    name = filename.format(trainer)
    path = os.path.join(trainer.out, name)
    with atomic_path(path, suffix="_" + os.path.basename(name)) as temporary:
        savefun(temporary, target)
