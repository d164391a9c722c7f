"""Library code: compiled functions that do not depend on any graph.

The matrix products (``gemm``), the sequence runner (``sequence``) and the thread
pool's worker and dispatcher (``parallel``) are the same machine code for every
program on a given CPU, as a BLAS is.  They are compiled once per machine, at install
time when ``make`` runs ``python -m dualgrad_jit.backends.llvm.library``, into the
*library directory* (``DUALGRAD_LIBRARY_DIR``, by default ``share/dualgrad/llvm`` under
the Python environment's prefix), so that the first program a fresh process compiles
pays only for its own kernels.

``load`` looks in the library directory, then in the user's object cache; a function
missing from both (another CPU, a newer code generator, an installation without the
build step) is compiled on first use and stored in the user's cache.  Every object is
verified on load like any cached kernel (``cache.ObjectCache``).
"""

import os
import sys
import threading

_LOADED = {}
_LOCK = threading.RLock()


def library_dir():
    return os.environ.get("DUALGRAD_LIBRARY_DIR") or os.path.join(sys.prefix, "share",
                                                                  "dualgrad", "llvm")


def load(text, names, render):
    """The ``CompiledModule`` of library code described by ``text`` (what the code
    depends on besides the target and the code generator) defining ``names``;
    ``render()`` gives its LLVM IR when it must be compiled."""
    from .cache import ObjectCache
    from .compiler import compile_ir, load_object

    with _LOCK:
        key = _key(text)
        if key not in _LOADED:
            for cache in (ObjectCache(library_dir()), ObjectCache()):
                data = cache.load(key)
                if data is not None:
                    _LOADED[key] = load_object(data, names, render, {}, from_cache=True)
                    break
            else:
                _LOADED[key] = compile_ir(render(), names, {}, cache=ObjectCache(), key=key)
        return _LOADED[key]


def build(directory=None):
    """Compile every library function for this CPU into ``directory`` (default: the
    library directory); returns the number of objects written."""
    from .cache import ObjectCache
    from .compiler import compile_ir, host_target
    from .gemm import every_kernel
    from .parallel import library_source
    from .sequence import library_source as sequence_source

    cache = ObjectCache(directory or library_dir())
    written = 0
    for text, names, render in [*every_kernel(host_target().features), sequence_source(),
                                library_source()]:
        key = _key(text)
        if cache.load(key) is None:
            compile_ir(render(), names, {}, cache=cache, key=key)
            written += 1
    return written


def _key(text):
    """The object-cache key of library code: its text, the code generator, the target."""
    from .cache import cache_key
    from .compiler import generator_version, host_target

    return cache_key("library", text, generator_version(), host_target().description())


def main():
    import importlib.util

    if importlib.util.find_spec("llvmlite") is None:
        print("llvmlite is not installed: no library code to build")
        return 0
    written = build()
    print(f"dualgrad library code in {library_dir()}: {written} object(s) compiled")
    return 0


if __name__ == "__main__":
    sys.exit(main())
