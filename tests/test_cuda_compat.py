"""``dualgrad.cuda``: Chainer's ``chainer.cuda`` names, with cupy loaded only on demand."""

import os
import subprocess
import sys

import numpy
import pytest

import dualgrad as dg
from dualgrad import cuda
from dualgrad.errors import DeviceError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def no_cupy(monkeypatch):
    """Make ``import cupy`` fail, whether or not cupy is installed here."""
    monkeypatch.setitem(sys.modules, "cupy", None)
    cuda.is_available.cache_clear()
    yield
    cuda.is_available.cache_clear()


def test_importing_dualgrad_cuda_does_not_import_cupy():
    probe = (
        "import sys, dualgrad; from dualgrad import cuda; "
        "from dualgrad.cuda import get_array_module, to_cpu; "
        "print('cupy' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_seed_style_import_works():
    namespace = {}
    exec("from dualgrad import cuda\nxp = cuda.get_array_module(numpy.ones(1))",
         {"numpy": numpy}, namespace)
    assert namespace["xp"] is numpy


def test_without_cupy_nothing_is_available(no_cupy):
    assert cuda.available is False
    assert cuda.cudnn_enabled is False
    from dualgrad.cuda import available

    assert available is False
    with pytest.raises(DeviceError, match="cuda"):
        cuda.check_cuda_available()


def test_without_cupy_the_placeholders_behave_like_chainers(no_cupy):
    xp = cuda.get_array_module(numpy.zeros(3))
    assert xp is numpy and xp is not cuda.cupy  # the usual `xp is cuda.cupy` test
    assert not isinstance(numpy.zeros(1), cuda.ndarray)
    with pytest.raises(DeviceError, match=r"dualgrad\[cuda\]"):
        cuda.cupy.zeros(3)
    assert not hasattr(cuda.cupy, "__array__")


def test_without_cupy_moving_to_the_gpu_explains_the_fix(no_cupy):
    with pytest.raises(DeviceError, match="CUDA is not available"):
        cuda.to_gpu(numpy.zeros(2))
    with pytest.raises(DeviceError):
        cuda.get_device_from_id(0)
    assert cuda.to_gpu(None) is None


def test_cpu_device_helpers():
    device = cuda.get_device_from_id(-1)
    assert device is cuda.DummyDevice is cuda.get_device_from_id(None)
    assert int(device) == -1 and not device
    with device:
        device.use()
        device.synchronize()
    assert cuda.get_device_from_array(numpy.zeros(2)) is cuda.DummyDevice


def test_to_cpu_passes_numpy_through_and_converts_containers():
    x = numpy.arange(4)
    assert cuda.to_cpu(x) is x
    assert cuda.to_cpu(None) is None
    pair = cuda.to_cpu((x, [x]))
    assert isinstance(pair, tuple) and pair[0] is x and pair[1][0] is x
    assert cuda.to_cpu(numpy.float32(2.0)).shape == ()
    with pytest.raises(TypeError, match="variable.array"):
        cuda.to_cpu(dg.Variable(x.astype(numpy.float32)))


def test_unknown_names_are_attribute_errors():
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        cuda.not_a_name  # noqa: B018
    assert "available" in dir(cuda) and "cupy" in dir(cuda)


@pytest.mark.gpu
def test_round_trip_through_the_gpu():
    cuda.is_available.cache_clear()
    assert cuda.available is True
    x = numpy.arange(6, dtype=numpy.float32).reshape(2, 3)
    x_gpu = cuda.to_gpu(x)
    assert isinstance(x_gpu, cuda.ndarray)
    assert cuda.get_array_module(x_gpu) is cuda.cupy
    assert cuda.get_device_from_array(x_gpu).id == 0
    assert cuda.get_device_from_id(0).id == 0
    numpy.testing.assert_array_equal(cuda.to_cpu(x_gpu), x)
    on_device_zero = cuda.to_gpu(x, device=0)
    numpy.testing.assert_array_equal(cuda.to_cpu(on_device_zero), x)
    kernel = cuda.elementwise("T x", "T y", "y = x * 2", "twice")
    numpy.testing.assert_array_equal(cuda.to_cpu(kernel(x_gpu)), 2 * x)
