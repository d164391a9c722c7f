"""Errors of the compiled face (the shared ones live in ``dualgrad.errors``)."""

from dualgrad.errors import ConcretizationError, DualgradError, TracerLeakError


class CompileError(DualgradError, RuntimeError):
    """A graph cannot be compiled for the requested backend."""


__all__ = ["CompileError", "ConcretizationError", "TracerLeakError"]
