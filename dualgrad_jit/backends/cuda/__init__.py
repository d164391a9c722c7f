"""The CUDA backend: kernel IR -> one CUDA C translation unit -> cupy.RawModule.

``render_module`` and ``compile_ptx`` need no GPU (NVRTC runs on any machine with the
``nvidia-cuda-nvrtc`` wheel); ``runtime`` loads and launches kernels on a device.  Nothing
here imports cupy until a compile or a launch asks for it.
"""

from .nvrtc import compile_cubin, compile_ptx
from .render import launch_config, launches, render_kernel, render_module, strategy

__all__ = ["compile_cubin", "compile_ptx", "launch_config", "launches", "render_kernel",
           "render_module", "strategy"]
