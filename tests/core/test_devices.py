"""Where arrays live: numpy on the CPU, cupy on the GPU (tests marked ``gpu``)."""

import subprocess
import sys

import numpy
import pytest

import dualgrad as dg
from dualgrad.ops import elementwise as ew
from dualgrad.ops import reduce


def test_get_array_module_picks_numpy_for_numpy_data():
    a = numpy.ones(3)
    assert dg.get_array_module(a) is numpy
    assert dg.get_array_module(dg.Variable(a)) is numpy
    assert dg.get_array_module(a, 2.0, dg.Variable(a)) is numpy
    assert dg.Variable(a).xp is numpy


def test_to_device_cpu_keeps_data_and_gradient_on_numpy():
    x = dg.Variable(numpy.array([1.0, 2.0]))
    (x * x).sum().backward()
    assert x.to_device("cpu") is x
    assert isinstance(x.array, numpy.ndarray) and isinstance(x.grad, numpy.ndarray)
    numpy.testing.assert_array_equal(x.array, [1.0, 2.0])
    numpy.testing.assert_array_equal(x.grad, [2.0, 4.0])
    assert x.to_cpu() is x


def test_to_device_gpu_without_cupy_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # makes ``import cupy`` fail
    x = dg.Variable(numpy.ones(2))
    with pytest.raises(dg.DeviceError, match=r"cupy.*dualgrad\[cuda\]"):
        x.to_device("gpu")
    with pytest.raises(dg.DeviceError, match="cuda"):
        x.to_gpu()
    assert isinstance(x.array, numpy.ndarray)  # left where it was
    assert (x * 2.0).xp is numpy  # and ops still run on numpy


def test_unknown_device_is_refused():
    with pytest.raises(dg.DeviceError, match="'tpu'.*'cpu', 'gpu'"):
        dg.Variable(numpy.ones(2)).to_device("tpu")


def test_import_and_eager_use_need_only_numpy():
    code = (
        "import sys, numpy, dualgrad as dg\n"
        "x = dg.Variable(numpy.ones(3))\n"
        "(x * x).sum().backward()\n"
        "print('cupy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)  # fmt: skip
    assert out.stdout.strip() == "False"


# -- on a GPU ---------------------------------------------------------------------------------
def _loss(a, b, c):
    h = ew.tanh(a * b + c)
    return reduce.sum(h * ew.exp(c) - b / (a * a + 1.0))


def _inputs(xp):
    rng = numpy.random.default_rng(0)
    return [xp.asarray(rng.standard_normal(s)) for s in ((3, 4), (4,), (3, 1))]


@pytest.mark.gpu
def test_gpu_forward_and_backward_match_numpy():
    import cupy

    cpu = [dg.Variable(a) for a in _inputs(numpy)]
    gpu = [dg.Variable(a) for a in _inputs(cupy)]
    y_cpu, y_gpu = _loss(*cpu), _loss(*gpu)
    assert isinstance(y_gpu.array, cupy.ndarray) and y_gpu.xp is cupy
    numpy.testing.assert_allclose(cupy.asnumpy(y_gpu.array), y_cpu.array, rtol=1e-12)
    y_cpu.backward()
    y_gpu.backward()
    for c, g in zip(cpu, gpu):
        assert isinstance(g.grad, cupy.ndarray)
        assert g.grad.shape == c.grad.shape and g.grad.dtype == c.grad.dtype
        numpy.testing.assert_allclose(cupy.asnumpy(g.grad), c.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.gpu
def test_gpu_double_backprop_matches_numpy():
    import cupy

    results = []
    for xp in (numpy, cupy):
        x = dg.Variable(xp.asarray([0.3, -1.2, 2.0]))
        y = reduce.sum(ew.tanh(x) * x)
        (gx,) = dg.grad([y], [x], enable_double_backprop=True)
        (ggx,) = dg.grad([reduce.sum(gx)], [x])
        results.append(cupy.asnumpy(ggx.array) if xp is cupy else ggx.array)
    numpy.testing.assert_allclose(results[1], results[0], rtol=1e-12)


@pytest.mark.gpu
def test_variable_to_gpu_and_back():
    import cupy

    x = dg.Variable(numpy.array([1.0, 2.0], dtype=numpy.float32))
    (x * x).sum().backward()
    assert x.to_device("gpu") is x
    assert isinstance(x.array, cupy.ndarray) and isinstance(x.grad, cupy.ndarray)
    assert x.dtype == numpy.float32
    y = (x * 3.0).sum()
    assert isinstance(y.array, cupy.ndarray)
    x.cleargrad()
    y.backward()
    assert isinstance(x.grad, cupy.ndarray)
    x.to_device("cpu")
    assert isinstance(x.array, numpy.ndarray) and isinstance(x.grad, numpy.ndarray)
    numpy.testing.assert_array_equal(x.array, [1.0, 2.0])
    numpy.testing.assert_array_equal(x.grad, [3.0, 3.0])
    numpy.testing.assert_array_equal(numpy.asarray(x), [1.0, 2.0])


@pytest.mark.gpu
def test_gpu_leaf_gradients_are_writable_and_not_shared():
    import cupy

    a = dg.Variable(cupy.ones(2))
    b = dg.Variable(cupy.ones(2))
    (a + b).sum().backward()
    a.grad *= 10.0
    numpy.testing.assert_array_equal(cupy.asnumpy(b.grad), [1.0, 1.0])
