"""Process-wide configuration: the one place that reads environment variables.

``dg.config`` is a plain object rather than a thread-local: reading
``config.enable_backprop`` sits on the per-op hot path, and a plain attribute
read is the cheapest there is. ``using_config`` restores the old value on exit.
"""

import contextlib
import os


def _debug_from_env():
    value = os.environ.get("DUALGRAD_DEBUG", "0").strip()
    try:
        return int(value)
    except ValueError:
        return 1 if value.lower() in ("true", "yes", "on") else 0


def env_int(name, default):
    """An integer environment setting (``default`` when unset or not a number)."""
    try:
        return int(os.environ[name])
    except (KeyError, ValueError):
        return default


def env_str(name, default):
    return os.environ.get(name, default)


def cache_dir():
    """Directory of the on-disk compile caches: ``$DUALGRAD_CACHE_DIR``, else
    ``~/.cache/dualgrad``.  Read at each call, so subprocesses and tests can redirect it."""
    value = os.environ.get("DUALGRAD_CACHE_DIR", "").strip()
    if value:
        return os.path.abspath(os.path.expanduser(value))
    return os.path.join(os.path.expanduser("~"), ".cache", "dualgrad")


class Config:
    """Global switches.

    - ``train``: links such as dropout and batch normalisation behave as in training.
    - ``enable_backprop``: ops record nodes on the tape.
    - ``debug``: check every op's output against its ``infer`` and raise on the first
      NaN/Inf produced forward or backward. Set by ``DUALGRAD_DEBUG=1`` (levels 1..3).
    """

    __slots__ = ("train", "enable_backprop", "debug")

    def __init__(self):
        self.train = True
        self.enable_backprop = True
        self.debug = _debug_from_env()

    def __repr__(self):
        items = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"dg.config({items})"


config = Config()


@contextlib.contextmanager
def using_config(name, value):
    """Temporarily set ``dg.config.<name>``.

    >>> import dualgrad as dg
    >>> with dg.using_config('train', False):
    ...     dg.config.train
    False
    """
    if name not in Config.__slots__:
        raise AttributeError(
            f"dg.config has no setting {name!r}; known settings: {', '.join(Config.__slots__)}"
        )
    old = getattr(config, name)
    setattr(config, name, value)
    try:
        yield
    finally:
        setattr(config, name, old)


def no_backprop_mode():
    """Run ops without recording the tape (inference, parameter updates)."""
    return using_config("enable_backprop", False)


def force_backprop_mode():
    """Record the tape even inside ``no_backprop_mode``."""
    return using_config("enable_backprop", True)
