"""Chainer's module path for the variable classes: ``dualgrad.variable.Variable``.

The classes live in ``dualgrad.core.variable``; this module re-exports them so that code
written against ``chainer.variable`` ports by renaming the package.
"""

from .core.variable import Parameter, Variable, as_array, as_variable

__all__ = ["Parameter", "Variable", "as_array", "as_variable"]
