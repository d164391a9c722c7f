"""``observe_value`` / ``observe_lr``: put a value computed from the trainer into the log."""

from ..extension import PRIORITY_WRITER, make_extension


def observe_value(observation_key, target_func):
    """An extension storing ``target_func(trainer)`` as ``observation[observation_key]``.

    Runs every epoch by default, before the extensions that read the observation.
    """

    @make_extension(trigger=(1, "epoch"), priority=PRIORITY_WRITER)
    def observe_value(trainer):
        trainer.observation[observation_key] = target_func(trainer)

    return observe_value


def observe_lr(optimizer_name="main", observation_key="lr"):
    """Record the learning rate (``optimizer.lr``) of the named optimizer as ``'lr'``."""
    return observe_value(
        observation_key,
        lambda trainer: trainer.updater.get_optimizer(optimizer_name).lr,
    )
