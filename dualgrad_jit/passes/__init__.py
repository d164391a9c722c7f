"""Graph-to-graph passes of compiled mode, and the pipeline running them in phases.

Every pass is a pure function ``Graph -> Graph``: the input graph is never changed
(graphs are immutable) and the same input always gives the same output.
"""

from .canonicalize import CANONICALIZE_RULES, canonicalize
from .cse import eliminate_common_subexpressions
from .dce import eliminate_dead_code
from .fold_constants import FOLD_LIMIT, fold_constants
from .pipeline import DEFAULT_PHASES, PHASES, cleanup, optimize, printing_trace
from .rules import apply_rules
from .specialize import SPECIALIZE_RULES, specialize
from .stabilize import STABILIZE_RULES, stabilize

__all__ = [
    "CANONICALIZE_RULES", "DEFAULT_PHASES", "FOLD_LIMIT", "PHASES", "SPECIALIZE_RULES",
    "STABILIZE_RULES", "apply_rules", "canonicalize", "cleanup",
    "eliminate_common_subexpressions", "eliminate_dead_code", "fold_constants", "optimize",
    "printing_trace", "specialize", "stabilize",
]  # fmt: skip
