"""The primitive op set, one module per family, and the Variable operators built on it."""

from . import elementwise, reduce, view  # noqa: F401  (registers the op classes)
from .operators import install_variable_operators

install_variable_operators()
