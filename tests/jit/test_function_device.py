"""dj.function and dj.shared on device (cupy) arrays, as Theano's GPU shared variables.

Every test that takes ``device`` runs twice: on a GPU with cupy (marked ``gpu``), and
everywhere on the stand-in of ``tests/ops/test_ops_gpu`` (numpy-backed device arrays that
refuse to be seen as numpy) with the generated CUDA C compiled for the CPU by
``backends/cuda_host`` (g++), as ``backends/test_cuda_program`` runs whole programs.
"""

import types

import numpy
import pytest

import dualgrad as dg
import dualgrad.functions as F
import dualgrad_jit as dj
import dualgrad_jit.tensor as T
from dualgrad.errors import DeviceError, DTypeError, ShapeError
from dualgrad_jit.backends import select

from ..ops.test_ops_gpu import DeviceArray, on_device
from .backends import cuda_host
from .backends.test_cuda_program import HostKernels, _assert_matches, install_standin

LR = numpy.float32(0.1)


@pytest.fixture(scope="module")
def host_library(tmp_path_factory):
    """Kernels compiled for the CPU on demand, shared by this module's tests."""
    if not cuda_host.available():
        pytest.skip("no g++ here to compile the stand-in kernels")
    return HostKernels(str(tmp_path_factory.mktemp("cuda_host_function")))


@pytest.fixture(params=["standin", pytest.param("cupy", marks=pytest.mark.gpu)])
def device(request, monkeypatch):
    """The device's array module: cupy on a GPU, else the stand-in installed as cupy."""
    if request.param == "cupy":
        import cupy

        return cupy
    library = request.getfixturevalue("host_library")
    # cupy's flags say only the layout (no ``writeable``): so do the stand-in's here
    monkeypatch.setattr(DeviceArray, "flags", property(lambda self: types.SimpleNamespace(
        c_contiguous=self._a.flags.c_contiguous, f_contiguous=self._a.flags.f_contiguous,
        owndata=self._a.flags.owndata)))
    return install_standin(monkeypatch, library)


def _problem():
    """A small tanh MLP (4-6-3) with a batch of 8, float32 and int32 labels."""
    rng = numpy.random.RandomState(0)
    params = [(rng.randn(6, 4) * 0.5).astype(numpy.float32), numpy.zeros(6, numpy.float32),
              (rng.randn(3, 6) * 0.5).astype(numpy.float32), numpy.zeros(3, numpy.float32)]
    batches = [(rng.randn(8, 4).astype(numpy.float32), rng.randint(0, 3, 8).astype(numpy.int32))
               for _ in range(3)]
    return params, batches


def _sgd_step(values, backend):
    """Theano's training step: ``dj.function([x, t], loss, updates=[(w, w - lr * gw)...])``
    on shared variables holding ``values``; returns (function, shared variables)."""
    params = [dj.shared(v, name=n) for v, n in zip(values, ("W1", "b1", "W2", "b2"))]
    W1, b1, W2, b2 = params
    x, t = T.fmatrix("x"), T.ivector("t")
    h = T.tanh(T.dot(x, W1.T) + b1)
    loss = F.softmax_cross_entropy(T.dot(h, W2.T) + b2, t)
    grads = dj.grad(loss, params)
    updates = [(p, p - LR * g) for p, g in zip(params, grads)]
    return dj.function([x, t], loss, updates=updates, backend=backend), params


# -- training -----------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["auto", "cuda"])
def test_an_sgd_step_on_device_shared_variables_equals_the_numpy_run(backend, device):
    values, batches = _problem()
    host_step, host_params = _sgd_step(values, "numpy")
    step, params = _sgd_step([device.asarray(v) for v in values], backend)
    held = [p.get_value(borrow=True) for p in params]
    for x, t in batches:
        want = host_step(x, t)
        got = step(device.asarray(x), device.asarray(t))
        assert step.last.backend == "cuda"
        _assert_matches(got, want, "loss", rtol=1e-4)
    for p, h, a in zip(params, held, host_params):
        assert p.get_value(borrow=True) is h  # the updates were written into the arrays
        _assert_matches(h, a.get_value(), p.name, rtol=1e-4)
    assert len(step._cache) == 1


def test_numpy_arguments_are_copied_to_the_device_of_the_shared_variables(device):
    """As in Theano: a host minibatch given to a function on the device is moved there."""
    values, batches = _problem()
    moved, moved_params = _sgd_step([device.asarray(v) for v in values], "auto")
    passed, passed_params = _sgd_step([device.asarray(v) for v in values], "auto")
    for x, t in batches:
        got = moved(x, t)
        assert on_device(got) and moved.last.backend == "cuda"
        _assert_matches(got, passed(device.asarray(x), device.asarray(t)), "loss")
    for a, b in zip(moved_params, passed_params):
        _assert_matches(a.get_value(), b.get_value(), a.name)


def test_a_function_whose_device_data_are_all_shared_runs_on_the_device(device):
    counter = dj.shared(device.asarray(numpy.zeros(3, numpy.float32)), name="counter")
    step = dj.function([], counter * 2.0, updates=[(counter, counter + 1.0)])
    assert on_device(step()) and step.last.backend == "cuda"
    _assert_matches(step(), numpy.full(3, 2.0, numpy.float32), "second call")
    _assert_matches(counter.get_value(), numpy.full(3, 2.0, numpy.float32), "counter")


def test_a_host_shared_variable_read_on_the_device_stays_on_the_host(device):
    total = dj.shared(numpy.zeros(2), name="total")
    x = T.dvector("x")
    f = dj.function([x], x + total, updates=[(total, total + x)])
    out = f(device.asarray(numpy.ones(2)))
    assert on_device(out) and f.last.backend == "cuda"
    f(device.asarray(numpy.ones(2)))
    assert isinstance(total.get_value(), numpy.ndarray)
    numpy.testing.assert_array_equal(total.get_value(), [2.0, 2.0])


def test_results_are_fresh_device_arrays(device):
    x = T.fvector("x")
    s = dj.shared(device.asarray(numpy.ones(3, numpy.float32)), name="s")
    y = x * 2.0
    f = dj.function([x], [x, y, y, s, y + s])
    data = device.asarray(numpy.arange(3, dtype=numpy.float32))
    first = f(data)
    kept = [a.get() for a in first]
    f(data + 1)
    arrays = [data, s.get_value(borrow=True)] + first
    for i, a in enumerate(arrays):
        assert on_device(a)
        for b in arrays[i + 1:]:
            assert not device.may_share_memory(a, b)
    for got, want in zip(first, kept):
        numpy.testing.assert_array_equal(got.get(), want)  # not overwritten by the next call


# -- get_value and set_value ----------------------------------------------------------------------
def test_shared_device_values_stay_on_the_device_and_copy_unless_borrowed(device):
    value = device.asarray(numpy.zeros(2, numpy.float32))
    s = dj.shared(value, name="s")
    value[0] = 5.0
    got = s.get_value()
    assert on_device(got) and got.get()[0] == 0.0
    got[1] = 7.0
    assert s.get_value().get()[1] == 0.0
    borrowed = dj.shared(value, borrow=True)
    assert borrowed.get_value(borrow=True) is value
    new = device.asarray(numpy.ones(4, numpy.float32))  # sizes may change
    s.set_value(new)
    new[0] = 9.0
    numpy.testing.assert_array_equal(s.get_value().get(), numpy.ones(4))
    s.set_value(new, borrow=True)
    assert s.get_value(borrow=True) is new
    assert on_device(dj.shared(value, strict=True).get_value())


def test_set_value_moves_values_to_where_the_shared_variable_lives(device):
    on_gpu = dj.shared(device.asarray(numpy.zeros(2)), name="on_gpu")
    host = numpy.array([1.0, 2.0])
    on_gpu.set_value(host)
    assert on_device(on_gpu.get_value())
    host[0] = 9.0
    numpy.testing.assert_array_equal(on_gpu.get_value().get(), [1.0, 2.0])
    on_gpu.set_value([3, 4])  # lists too, with the usual conversion rules
    numpy.testing.assert_array_equal(on_gpu.get_value().get(), [3.0, 4.0])
    on_host = dj.shared(numpy.zeros(2), name="on_host")
    on_host.set_value(device.asarray(numpy.array([5.0, 6.0])))
    assert isinstance(on_host.get_value(), numpy.ndarray)
    numpy.testing.assert_array_equal(on_host.get_value(), [5.0, 6.0])


def test_set_value_keeps_theanos_casting_rules_on_the_device(device):
    s = dj.shared(device.asarray(numpy.zeros(2, numpy.float32)), name="w")
    s.set_value(device.asarray(numpy.array([1, 2], numpy.int16)))  # exact: cast
    got = s.get_value()
    assert on_device(got) and got.dtype == numpy.float32
    with pytest.raises(DTypeError, match="shared variable 'w'.*float64 to float32 may lose"):
        s.set_value(device.asarray(numpy.zeros(2)))
    with pytest.raises(DTypeError, match="shared variable 'w'.*float64 to float32 may lose"):
        s.set_value(numpy.zeros(2))
    lenient = dj.shared(device.asarray(numpy.zeros(2, numpy.float32)), allow_downcast=True)
    lenient.set_value(device.asarray(numpy.array([0.5, 1.5])))
    assert lenient.get_value().dtype == numpy.float32
    with pytest.raises(TypeError, match="needs numbers"):
        dj.shared(device.asarray(numpy.array([True]).astype(numpy.complex64)))


# -- argument checks --------------------------------------------------------------------------
def test_device_arguments_get_the_same_dtype_and_shape_checks(device):
    x = T.fmatrix("x")
    w = dj.shared(device.asarray(numpy.ones(3, numpy.float32)), name="w")
    f = dj.function([x], T.dot(x, w))
    with pytest.raises(DTypeError, match="input 0 \\('x'\\).*float64 to float32 may lose"):
        f(device.asarray(numpy.ones((2, 3))))
    with pytest.raises(ShapeError, match="input 0 \\('x'\\) must be 2-dimensional"):
        f(device.asarray(numpy.ones(3, numpy.float32)))
    got = f(device.asarray(numpy.ones((2, 3), numpy.int16)))  # a safe cast, on the device
    _assert_matches(got, numpy.full(2, 3.0, numpy.float32), "cast input")
    lenient = dj.function([x], T.dot(x, w), allow_input_downcast=True)
    _assert_matches(lenient(device.asarray(numpy.ones((2, 3)))), numpy.full(2, 3.0, "f4"),
                    "downcast input")
    strict = dj.function([dj.In(x, strict=True)], T.dot(x, w))
    with pytest.raises(DTypeError, match="input 0 \\('x'\\).*strict: got int16"):
        strict(device.asarray(numpy.ones((2, 3), numpy.int16)))


def test_the_llvm_backend_refuses_device_data_naming_it(device):
    if not select.llvm_available():
        pytest.skip("backend 'llvm' needs llvmlite")
    x = T.fvector("x")
    w = dj.shared(device.asarray(numpy.ones(3, numpy.float32)), name="w")
    with pytest.raises(DeviceError, match="shared variable 'w' is a device.*'llvm' runs on"):
        dj.function([x], x * w, backend="llvm")(numpy.ones(3, numpy.float32))
    host = dj.function([x], x * 2.0, backend="llvm")
    with pytest.raises(DeviceError, match="input 0 \\('x'\\) is a device.*backend='cuda'"):
        host(device.asarray(numpy.ones(3, numpy.float32)))


def test_a_host_variable_wanting_a_gradient_is_not_moved_silently(device):
    x = T.fvector("x")
    w = dj.shared(device.asarray(numpy.ones(3, numpy.float32)), name="w")
    f = dj.function([x], T.sum(x * w))
    with pytest.raises(DeviceError, match="input 0 \\('x'\\).*x.to_device\\('gpu'\\)"):
        f(dg.Variable(numpy.ones(3, numpy.float32)))


def test_host_and_device_calls_of_one_function_get_their_own_graphs(device):
    x = T.dvector("x")
    f = dj.function([x], x * 2.0)
    host = f(numpy.ones(2))
    assert isinstance(host, numpy.ndarray) and f.last.backend != "cuda"
    got = f(device.asarray(numpy.ones(2)))
    assert on_device(got) and f.last.backend == "cuda"
    assert isinstance(f(numpy.ones(2)), numpy.ndarray)
    assert len(f._cache) == 2


def test_a_device_variable_wanting_a_gradient_gets_it_on_the_device(device):
    """Called with a Variable under backprop, the result joins the tape (one node);
    a host shared value the function reads is copied to the device for the call."""
    x = T.fvector("x")
    w = dj.shared(device.asarray(numpy.arange(3, dtype=numpy.float32)), name="w")
    scale = dj.shared(numpy.float32(2.0), name="scale")  # on the host
    f = dj.function([x], T.sum(x * w * x) * scale, updates=[(w, w + 1.0)])
    v = dg.Variable(device.asarray(numpy.ones(3, numpy.float32)))
    y = f(v)
    y.backward()
    _assert_matches(y.array, numpy.float32(6.0), "sum(x * w * x) * scale")
    _assert_matches(v.grad, numpy.array([0.0, 4.0, 8.0], numpy.float32), "4 x w")
    _assert_matches(w.get_value(), numpy.arange(1.0, 4.0, dtype=numpy.float32), "w + 1")
    assert isinstance(scale.get_value(), numpy.ndarray)
