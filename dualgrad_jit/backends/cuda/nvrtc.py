"""Compile CUDA C with NVRTC on any machine: no GPU and no driver are needed.

NVRTC comes from the ``nvidia-cuda-nvrtc`` wheel, called through ``cupy.cuda.nvrtc``
(``cupy-cuda13x`` imports without a device).  PTX carries an ISA version, and a driver
JIT-compiles PTX only from an NVRTC no newer than itself: pin NVRTC to the oldest driver
the kernels meet (driver 580 is CUDA 13.0, so NVRTC 13.0.x; ``version()`` says which one
loaded).  A CUBIN (``compile_cubin``: machine code for one GPU architecture, what
``cupy.RawModule`` builds for the device it runs on) has no such limit within a CUDA
major version, and building it runs the assembler, so it also checks the inline PTX.

Example (with NVRTC installed)::

    ptx = compile_ptx(render_module(kernels), arch="compute_90")
    assert ".entry " + kernels[0].name in ptx
"""

from ...errors import CompileError

SOURCE_NAME = "dualgrad.cu"
_HINT = ("install NVRTC without a GPU: pip install 'cupy-cuda13x==14.2.0' "
         "'nvidia-cuda-nvrtc==13.0.88' (or dualgrad[cuda])")


def available():
    """Whether NVRTC loads here (cupy and an NVRTC library are installed)."""
    try:
        version()
    except Exception:
        return False
    return True


def version():
    """``(major, minor)`` of the NVRTC that compiles."""
    return _nvrtc().getVersion()


def compile_ptx(source, arch="compute_90", options=()):
    """PTX text of ``source`` for the virtual architecture ``arch`` (``compute_80``,
    ``compute_90``...)."""
    return _compile(source, arch, options, "getPTX").rstrip(b"\0").decode()


def compile_cubin(source, arch="sm_90", options=()):
    """CUBIN bytes of ``source`` for the real architecture ``arch`` (``sm_80``,
    ``sm_90``...)."""
    return bytes(_compile(source, arch, options, "getCUBIN"))


def _nvrtc():
    try:
        from cupy.cuda import nvrtc
    except ImportError as error:
        raise CompileError(f"compiling CUDA C needs NVRTC through cupy; {_HINT}") from error
    return nvrtc


def _compile(source, arch, options, product):
    nvrtc = _nvrtc()
    try:
        program = nvrtc.createProgram(source, SOURCE_NAME, [], [])
    except Exception as error:  # the NVRTC library itself did not load
        raise CompileError(f"NVRTC is not usable here ({error}); {_HINT}") from error
    try:
        try:
            nvrtc.compileProgram(program, [f"--gpu-architecture={arch}", *options])
        except nvrtc.NVRTCError as error:
            log = nvrtc.getProgramLog(program)
            raise CompileError(_describe_failure(source, log, arch)) from error
        return getattr(nvrtc, product)(program)
    finally:
        nvrtc.destroyProgram(program)


def _describe_failure(source, log, arch):
    """The NVRTC log with the source lines it points at (``dualgrad.cu(12): error``)."""
    import re

    lines = source.splitlines()
    quoted = []
    for number in sorted({int(n) for n in re.findall(rf"{SOURCE_NAME}\((\d+)\)", log)}):
        if 0 < number <= len(lines):
            quoted.append(f"  {number}: {lines[number - 1].strip()}")
    return (f"NVRTC could not compile the generated CUDA source for {arch}:\n{log.strip()}\n"
            + "\n".join(quoted)
            + "\n  fix: this is a bug of the CUDA renderer (or an NVRTC too old for the "
            "architecture); report it with the kernel text")


# The newest PTX ISA that drivers of CUDA 13.0 (580) JIT-compile: what NVRTC 13.0 emits.
DRIVER_PTX_ISA = (9, 0)


def ptx_isa(ptx):
    """``(major, minor)`` of the ``.version`` directive of ``ptx``."""
    for line in ptx.splitlines():
        if line.startswith(".version"):
            major, minor = line.split()[1].split(".")
            return int(major), int(minor)
    raise ValueError("no .version directive in this PTX")
