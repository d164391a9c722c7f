"""Chainer's ``training.updaters`` spelling: ``training.updaters.StandardUpdater``."""

from .updater import StandardUpdater, Updater

__all__ = ["StandardUpdater", "Updater"]
