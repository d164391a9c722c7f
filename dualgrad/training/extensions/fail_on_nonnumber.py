"""``FailOnNonNumber``: stop training as soon as a parameter becomes NaN or Inf."""

from ...backend import get_array_module
from ...errors import NonFiniteError
from ..extension import Extension


class DivergenceError(NonFiniteError, RuntimeError):
    """A parameter (or its gradient) stopped being a finite number: training diverged.

    A ``RuntimeError`` too, as Chainer's FailOnNonNumber raised one.
    """


class FailOnNonNumber(Extension):
    """Raise ``DivergenceError`` naming the first parameter that holds NaN or Inf.

    Checked after every update (``check_grad=True`` also checks gradients). Catching the
    divergence at once saves running the rest of the training on garbage.
    """

    def __init__(self, check_grad=True):
        self._check_grad = check_grad

    def __call__(self, trainer):
        iteration = trainer.updater.iteration
        for opt_name, optimizer in trainer.updater.get_all_optimizers().items():
            for path, param in optimizer.target.namedparams(include_uninit=False):
                _check(param.array, "parameter", opt_name, path, iteration)
                if self._check_grad and param.grad is not None:
                    _check(param.grad, "gradient of", opt_name, path, iteration)


def _check(array, what, opt_name, path, iteration):
    xp = get_array_module(array)
    finite = xp.isfinite(array)
    if bool(finite.all()):
        return
    bad = int(array.size - int(finite.sum()))
    kinds = []
    if bool(xp.isnan(array).any()):
        kinds.append("NaN")
    if bool(xp.isinf(array).any()):
        kinds.append("Inf")
    raise DivergenceError(
        f"FailOnNonNumber: the {what} {path} of optimizer {opt_name!r}'s model holds "
        f"{' and '.join(kinds)} ({bad} of {array.size} values) after iteration {iteration}; "
        "training diverged. Fix: lower the learning rate, add "
        "optimizer_hooks.GradientClipping, or rerun with DUALGRAD_DEBUG=1 to find the "
        "first op that produced a NaN/Inf"
    )

