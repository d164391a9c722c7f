"""dualgrad_jit: compiled mode (Theano-style symbolic functions and ``dj.jit``).

Not available yet: this package is a placeholder so that the name is reserved and
importable. Compiled mode (the tracer, graph IR, passes and the LLVM/CUDA backends
described in the design) will land in a later release; until then use the eager
library, ``dualgrad``.
"""

__all__ = []
