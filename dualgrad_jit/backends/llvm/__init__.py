"""The CPU backend: kernels -> LLVM IR -> machine code (llvmlite), with a disk cache.

>>> import numpy as np
>>> from dualgrad_jit.kernel import ir as K
>>> from dualgrad_jit.backends.llvm import compile_kernels
>>> x = K.read(0, K.index(0), "float32")
>>> kernel = K.Kernel("twice", (K.Buffer("float32", 4), K.Buffer("float32", 4)), (4,),
...                   (K.Store(1, K.index(0), K.call("add", x, x)),))
>>> compiled = compile_kernels([kernel], cache=None)
>>> a, out = np.arange(4, dtype=np.float32), np.zeros(4, np.float32)
>>> compiled.run("twice", [a, out])
>>> out
array([0., 2., 4., 6.], dtype=float32)
"""

from .cache import ObjectCache
from .compiler import (
    KERNEL_TYPE,
    STATS,
    CompiledModule,
    buffer_table,
    compile_ir,
    compile_kernels,
    host_target,
    optimize,
)
from .render import DEFAULT_FASTMATH, FastMath, render_module

__all__ = [
    "DEFAULT_FASTMATH", "KERNEL_TYPE", "STATS", "CompiledModule", "FastMath", "ObjectCache",
    "buffer_table", "compile_ir", "compile_kernels", "host_target", "optimize",
    "render_module",
]  # fmt: skip
