"""Compile rendered LLVM IR for the host CPU and load the machine code into this process.

``optimize`` runs LLVM's new pass manager at O3 with loop and SLP vectorisation, for a
target machine describing the host CPU and all its features.  ``emit_object`` turns the
optimised module into an object file (the unit the disk cache stores); ``load_object``
maps an object file into a fresh MCJIT execution engine after checking that every
symbol it needs from outside (libm functions, compiler-rt helpers) exists in this
process, and returns a ``CompiledModule`` of ctypes function pointers.  ctypes releases
the GIL for the duration of each call.
"""

import ctypes
import ctypes.util
import struct
import threading

import llvmlite
import llvmlite.binding as llvm

from ...errors import CompileError
from .cache import ObjectCache, cache_key
from .render import DEFAULT_FASTMATH, render_module

KERNEL_TYPE = ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p)
STATS = {"optimized": 0, "from_cache": 0}  # how often each path ran (tests, debugging)
_LOCK = threading.RLock()  # LLVM's global context is not safe to use from two threads
_HOST = []
_DEFAULT_CACHE = object()


class HostTarget:
    """The host CPU as LLVM sees it (one per process, see ``host_target``)."""

    def __init__(self):
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        libm = ctypes.util.find_library("m")
        if libm:
            llvm.load_library_permanently(libm)
        self.triple = llvm.get_process_triple()
        self.cpu = llvm.get_host_cpu_name()
        self.features = _vector_width_policy(llvm.get_host_cpu_features().flatten())
        self.machine = self.create_machine()
        self.data_layout = str(self.machine.target_data)

    def create_machine(self):
        """A new target machine (an execution engine owns and frees the one it is given)."""
        target = llvm.Target.from_triple(self.triple)
        return target.create_target_machine(cpu=self.cpu, features=self.features, opt=3,
                                            codemodel="jitdefault")

    def description(self):
        """Everything about the target and toolchain that the machine code depends on."""
        version = ".".join(map(str, llvm.llvm_version_info))
        return "\n".join([self.triple, self.cpu, self.features,
                          f"llvmlite {llvmlite.__version__}", f"llvm {version}"])


def _vector_width_policy(features):
    """Let loops use whole 512-bit registers where the CPU has them.

    LLVM tunes recent x86 CPUs to prefer 256-bit vectors (``prefer-256-bit``), which
    protects the clock of older AVX-512 parts in mixed code.  Our kernels are long
    vector loops of polynomial math, where 512-bit vectors measured about 1.8x faster
    (exp over 4M float32: 1.19 -> 0.65 ns per element on this project's benchmark CPU)."""
    if "+avx512f" in features.split(","):
        return features + ",-prefer-256-bit"
    return features


def host_target():
    with _LOCK:
        if not _HOST:
            _HOST.append(HostTarget())
        return _HOST[0]


def optimize(llvm_ir, target=None):
    """Parse, verify and optimise (O3, loop + SLP vectorisation); a ``llvm.ModuleRef``."""
    target = target or host_target()
    with _LOCK:
        try:
            module = llvm.parse_assembly(llvm_ir)
            module.triple = target.triple
            module.data_layout = target.data_layout
            module.verify()
        except RuntimeError as error:
            raise CompileError(f"LLVM rejected the rendered kernels: {error}") from error
        options = llvm.create_pipeline_tuning_options(speed_level=3)
        options.loop_vectorization = True
        options.slp_vectorization = True
        options.loop_unrolling = True
        passes = llvm.create_pass_builder(target.machine, options)
        passes.getModulePassManager().run(module, passes)
        STATS["optimized"] += 1
        return module


def emit_object(module, target=None):
    """Machine code of an optimised module as object-file bytes."""
    target = target or host_target()
    with _LOCK:
        return target.machine.emit_object(module)


class CompiledModule:
    """The loaded machine code of one module.

    ``module[name]`` is kernel ``name`` as a ctypes function ``(start, end, table)``
    where ``table`` is the address of an array of buffer pointers (``buffer_table``);
    each function holds a reference to this module, so keeping one keeps the code.
    ``from_cache`` says whether the code came from the disk cache (no optimiser run).
    """

    def __init__(self, engine, functions, llvm_ir, from_cache, sizes, optimized_ir=None):
        self._engine = engine  # owns the code memory: keep it alive with the functions
        self.functions = functions
        self._llvm_ir = llvm_ir  # text, or a function rendering it on demand
        self.from_cache = from_cache
        self.sizes = sizes
        self._optimized_ir = optimized_ir

    @property
    def llvm_ir(self):
        """The unoptimised LLVM IR (rendered on demand for code loaded from the cache)."""
        if callable(self._llvm_ir):
            self._llvm_ir = self._llvm_ir()
        return self._llvm_ir

    def __getitem__(self, name):
        return self.functions[name]

    def __contains__(self, name):
        return name in self.functions

    @property
    def optimized_ir(self):
        """The optimised LLVM IR (recomputed on demand for code loaded from the cache)."""
        if self._optimized_ir is None:
            self._optimized_ir = str(optimize(self.llvm_ir))
        return self._optimized_ir

    def assembly(self):
        """The host assembly, for reading what the vectoriser did."""
        target = host_target()
        with _LOCK:
            return target.machine.emit_assembly(optimize(self.llvm_ir, target))

    def run(self, name, arrays, start=0, end=None):
        """Convenience (not the hot path): run kernel ``name`` over ``[start, end)``."""
        table = buffer_table(arrays)
        end = self.sizes[name] if end is None else end
        self.functions[name](start, end, ctypes.addressof(table))


def buffer_table(arrays):
    """A ctypes array of the data pointers of C-contiguous numpy ``arrays``; keep it (and
    the arrays) alive while kernels use it."""
    for a in arrays:
        if not a.flags.c_contiguous:
            raise CompileError("kernel buffers must be C-contiguous; pass numpy.ascontiguousarray")
    return (ctypes.c_void_p * max(len(arrays), 1))(*(a.ctypes.data for a in arrays))


def load_object(data, names, llvm_ir, sizes, from_cache=False, optimized_ir=None):
    """Map object-file bytes into this process; a ``CompiledModule`` of ``names``."""
    target = host_target()
    check_symbols(data, llvm_ir)
    with _LOCK:
        engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), target.create_machine())
        engine.add_object_file(llvm.ObjectFileRef.from_data(data))
        engine.finalize_object()
        functions = {}
        for name in names:
            address = engine.get_function_address(name)
            if not address:
                raise CompileError(f"the compiled module has no kernel {name!r}")
            functions[name] = KERNEL_TYPE(address)
    if from_cache:
        STATS["from_cache"] += 1
    compiled = CompiledModule(engine, functions, llvm_ir, from_cache, sizes, optimized_ir)
    for function in functions.values():
        # a caller may keep only the function pointers: they keep the code alive
        function.module = compiled
    return compiled


def compile_kernels(kernels, *, fastmath=DEFAULT_FASTMATH, expand_math=None,
                    cache=_DEFAULT_CACHE):
    """Compile ``kernels`` (one graph's) into one module of callable machine code.

    ``cache``: an ``ObjectCache``, ``None`` for no disk cache, or by default the one in
    ``DUALGRAD_CACHE_DIR``.  ``expand_math`` rewrites every expression before rendering.

    The cache key is computed from the kernels' canonical text (not from the rendered
    LLVM IR), the fast-math policy, the math expansion, the source of the code
    generator itself and the target, so a warm start renders nothing: it maps the
    cached object and goes.
    """
    if cache is _DEFAULT_CACHE:
        cache = ObjectCache()
    # equal kernels (same canonical text: an optimizer's update of two same-sized
    # parameters, say) are compiled once and share one function
    first_of, unique = {}, []
    for kernel in kernels:
        if first_of.setdefault(kernel.text(), kernel.name) == kernel.name:
            unique.append(kernel)
    aliases = {kernel.name: first_of[kernel.text()] for kernel in kernels}
    compiled = _compile_unique(unique, fastmath, expand_math, cache)
    for name, original in aliases.items():
        compiled.functions[name] = compiled.functions[original]
        compiled.sizes[name] = compiled.sizes[original]
    return compiled


def _compile_unique(kernels, fastmath, expand_math, cache):
    names = [kernel.name for kernel in kernels]
    sizes = {kernel.name: kernel.size for kernel in kernels}
    target = host_target()

    def render():
        return str(render_module(kernels, fastmath=fastmath, expand_math=expand_math))

    key = None
    if cache is not None:
        key = cache_key(*(f"{k.name}\n{k.text()}" for k in kernels), fastmath.text(),
                        _function_name(expand_math), generator_version(),
                        target.description())
        data = cache.load(key)
        if data is not None:
            return load_object(data, names, render, sizes, from_cache=True)
    return compile_ir(render(), names, sizes, cache=cache, key=key)


def compile_ir(llvm_ir, names, sizes, cache=None, key_extra="", key=None):
    """Optimise and load ``llvm_ir`` (text), or load its object from ``cache``."""
    target = host_target()
    if cache is not None and key is None:
        key = cache_key(llvm_ir, key_extra, target.description())
        data = cache.load(key)
        if data is not None:
            return load_object(data, names, llvm_ir, sizes, from_cache=True)
    module = optimize(llvm_ir, target)
    optimized_ir = str(module)
    data = emit_object(module, target)
    if cache is not None:
        cache.store(key, data)
    return load_object(data, names, llvm_ir, sizes, optimized_ir=optimized_ir)


def _function_name(function):
    if function is None:
        return "none"
    return f"{function.__module__}.{function.__qualname__}"


_GENERATOR_VERSION = []


def generator_version():
    """A hash of the code generator's own source (kernel IR, math expansions, renderer,
    compiler): editing any of them invalidates every cached object."""
    if not _GENERATOR_VERSION:
        import hashlib
        import pathlib

        here = pathlib.Path(__file__).resolve().parent
        files = sorted(here.glob("*.py")) + sorted((here.parent.parent / "kernel").glob("*.py"))
        digest = hashlib.sha256()
        for path in files:
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        _GENERATOR_VERSION.append(digest.hexdigest())
    return _GENERATOR_VERSION[0]


def check_symbols(data, llvm_ir):
    """Raise ``CompileError`` naming the first external symbol this process lacks."""
    names = undefined_symbols(data)
    if names is None:  # not ELF: fall back to what the module declares
        llvm_ir = llvm_ir() if callable(llvm_ir) else llvm_ir
        with _LOCK:
            module = llvm.parse_assembly(llvm_ir)
            names = [f.name for f in module.functions
                     if f.is_declaration and not f.name.startswith("llvm.")]
    for name in names:
        if not llvm.address_of_symbol(name):
            raise CompileError(
                f"the compiled kernels need the symbol {name!r}, which this process does not "
                "provide (is the C math library loadable?); expand the math function into "
                "basic operations (expand_math=...) or load the library that defines it")


_ELF_HEADER = struct.Struct("<16sHHIQQQIHHHHHH")
_SECTION = struct.Struct("<IIQQQQIIQQ")
_SYMBOL = struct.Struct("<IBBHQQ")


def undefined_symbols(data):
    """Names a little-endian ELF64 object needs from outside, or ``None`` if not ELF64."""
    if data[:6] != b"\x7fELF\x02\x01":
        return None
    header = _ELF_HEADER.unpack_from(data)
    section_offset, section_count = header[6], header[12]
    sections = [_SECTION.unpack_from(data, section_offset + k * _SECTION.size)
                for k in range(section_count)]
    names = []
    for section in sections:
        if section[1] != 2:  # SHT_SYMTAB
            continue
        strings = sections[section[6]]
        string_data = data[strings[4]:strings[4] + strings[5]]
        for k in range(section[5] // _SYMBOL.size):
            name_at, _, _, section_index, _, _ = _SYMBOL.unpack_from(
                data, section[4] + k * _SYMBOL.size)
            if section_index == 0 and name_at:
                name = string_data[name_at:string_data.index(b"\0", name_at)].decode()
                if not name.startswith("_GLOBAL_OFFSET_TABLE_"):
                    names.append(name)
    return names
