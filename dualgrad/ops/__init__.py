"""The primitive op set, one module per family, and the Variable operators built on it."""

from . import (  # noqa: F401  (importing registers the op classes)
    conv,
    elementwise,
    index,
    linalg,
    random,
    reduce,
    stable,
    view,
)
from .operators import install_variable_operators

install_variable_operators()
