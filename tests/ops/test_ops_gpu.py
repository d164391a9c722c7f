"""Eager on the GPU: every op of the harness, forward and backward, on device arrays, and
links and optimizers moved with ``to_device('gpu')``, equal to numpy.

Each test runs twice: on cupy (marked ``gpu``: skipped where no device exists) and on
``standin``, a numpy-backed stand-in for cupy that refuses what cupy refuses: converting a
device array to numpy implicitly (``numpy.asarray(x)``, ``__array__``), and numpy arrays
mixed into device computations (``cupy.add(x, numpy_array)``, ``x * numpy_array``).  Its
results must equal numpy's bit for bit (the same numpy computes them underneath), and
every result must stay a device array.  On a real GPU the comparison allows for CUDA's
math functions, reassociated sums and float32 denormals flushed to zero.
"""

import contextlib
import sys
import types

import numpy
import pytest

import dualgrad as dg
import dualgrad.functions as F
import dualgrad.links as L
from dualgrad import optimizer_hooks, optimizers
from dualgrad.ops import random as R

from .harness import as_inputs, collect_cases, sample_inputs

CASES = collect_cases()


# -- the stand-in -----------------------------------------------------------------------------
class HostArrayError(TypeError):
    """What cupy raises (as a TypeError) where a numpy array meets device arrays."""


class DeviceArray:
    """A device array of the stand-in: a numpy array nobody may see as numpy."""

    __slots__ = ("_a",)
    __array_priority__ = 1000
    __hash__ = None

    def __init__(self, array):
        self._a = array

    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    strides = property(lambda self: self._a.strides)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: DeviceArray(self._a.T))
    device = property(lambda self: types.SimpleNamespace(id=0))

    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")

    def get(self, stream=None):
        return self._a.copy()

    def __getattr__(self, name):  # methods: .astype, .reshape, .sum, .copy...
        if name.startswith("__"):  # never numpy's __array_interface__ and such
            raise AttributeError(name)
        return _device_function(getattr(self._a, name), f"ndarray.{name}")

    def __getitem__(self, key):
        return _to_device(self._a[_from_device(key, f"x[{key!r}]")])

    def __setitem__(self, key, value):
        # cupy copies host values in (x[...] = numpy_array works)
        self._a[_from_device(key, "x[key] = ...")] = _from_device(value, "", host_ok=True)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        where = f"numpy.{ufunc.__name__}"
        return _to_device(getattr(ufunc, method)(*_from_device(inputs, where),
                                                 **_from_device(kwargs, where)))

    def __array_function__(self, function, types_, args, kwargs):
        where = f"numpy.{function.__name__}"
        return _to_device(function(*_from_device(args, where), **_from_device(kwargs, where)))

    def __repr__(self):
        return f"standin.{self._a!r}"

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __bool__(self):
        return bool(self._a)

    def __index__(self):
        return self._a.__index__()

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (DeviceArray(numpy.asarray(row)) for row in self._a)


DeviceArray.__module__ = "cupy._standin"  # what dualgrad checks to pick the module


def _operator(name, in_place=False):
    def method(self, *others):
        result = getattr(self._a, name)(*_from_device(others, name))
        return self if in_place else _to_device(result)

    method.__name__ = name
    return method


_OPERATORS = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or",
              "xor", "lshift", "rshift", "lt", "le", "gt", "ge", "eq", "ne", "radd", "rsub",
              "rmul", "rtruediv", "rfloordiv", "rmod", "rpow", "rmatmul", "rand", "ror", "rxor",
              "neg", "pos", "abs", "invert")
for _name in _OPERATORS:
    setattr(DeviceArray, f"__{_name}__", _operator(f"__{_name}__"))
for _name in ("iadd", "isub", "imul", "itruediv", "ifloordiv", "ior", "iand", "ixor"):
    setattr(DeviceArray, f"__{_name}__", _operator(f"__{_name}__", in_place=True))


def _from_device(value, where, host_ok=False):
    """Device arrays unwrapped, recursively; a numpy array is an error unless host_ok."""
    if isinstance(value, DeviceArray):
        return value._a
    if isinstance(value, numpy.ndarray):
        if not host_ok:
            raise HostArrayError(f"a numpy array reached device code ({where})")
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_from_device(v, where, host_ok) for v in value)
    if isinstance(value, dict):
        return {k: _from_device(v, where, host_ok) for k, v in value.items()}
    return value


def _to_device(value):
    """numpy results as device arrays; numpy scalars too (cupy returns 0-d arrays)."""
    if isinstance(value, (numpy.ndarray, numpy.generic)):
        return DeviceArray(numpy.asarray(value))
    if isinstance(value, (tuple, list)):
        return type(value)(_to_device(v) for v in value)
    return value


def _device_function(function, where, host_ok=False):
    if not callable(function):
        return _to_device(function)

    def call(*args, **kwargs):
        return _to_device(function(*_from_device(args, where, host_ok),
                                   **_from_device(kwargs, where, host_ok)))

    return call


class _Ufunc:
    def __init__(self, ufunc):
        self._ufunc = ufunc
        self.__name__ = ufunc.__name__

    def __call__(self, *args, **kwargs):
        return _device_function(self._ufunc, self.__name__)(*args, **kwargs)

    def at(self, a, indices, b=None):
        where = f"{self.__name__}.at"
        rest = () if b is None else (_from_device(b, where),)
        self._ufunc.at(_from_device(a, where), _from_device(indices, where), *rest)

    def __getattr__(self, name):
        return _device_function(getattr(self._ufunc, name), f"{self.__name__}.{name}")


class StandInCupy(types.ModuleType):
    """The stand-in module: numpy's functions over device arrays (``asarray`` and
    ``array`` also take host data, as cupy's do)."""

    _HOST_IN = ("asarray", "array", "asanyarray", "ascontiguousarray")

    def __init__(self):
        super().__init__("cupy")
        self.ndarray = DeviceArray
        self.cuda = types.SimpleNamespace(Device=lambda device=0: contextlib.nullcontext())
        self.lib = types.SimpleNamespace(stride_tricks=types.SimpleNamespace(
            as_strided=_device_function(numpy.lib.stride_tricks.as_strided, "as_strided")))

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        attribute = getattr(numpy, name)
        if isinstance(attribute, numpy.ufunc):
            return _Ufunc(attribute)
        if isinstance(attribute, type) or not callable(attribute):
            return attribute  # dtypes, scalar types, constants
        return _device_function(attribute, f"cupy.{name}", host_ok=name in self._HOST_IN)

    @staticmethod
    def asnumpy(array):
        return array.get() if isinstance(array, DeviceArray) else numpy.asarray(array)


@pytest.fixture(params=["standin", pytest.param("cupy", marks=pytest.mark.gpu)])
def xp(request, monkeypatch):
    """The device's array module: the stand-in (installed as ``cupy`` for the test), or
    cupy itself on a GPU."""
    if request.param == "cupy":
        import cupy

        return cupy
    standin = StandInCupy()
    monkeypatch.setitem(sys.modules, "cupy", standin)
    return standin


# -- comparisons ------------------------------------------------------------------------------
def on_device(array):
    return type(array).__module__.startswith("cupy")


def assert_close_on_device(got, want, what="", rtol=None):
    """``got`` (a device array) equals ``want`` (numpy): same shape and dtype, integers and
    bools exactly, floats within ``rtol`` (default 64 eps) of the largest finite value
    plus the smallest normal number (CUDA's math functions, reassociated sums, denormals
    flushed to zero).  The stand-in computes with numpy itself: it must agree bit for
    bit."""
    assert on_device(got), (what, type(got))
    host = got.get()
    want = numpy.asarray(want)
    assert host.shape == want.shape and host.dtype == want.dtype, (
        what, host.dtype, host.shape, want.dtype, want.shape)
    if isinstance(got, DeviceArray) or host.dtype.kind not in "fc":
        numpy.testing.assert_array_equal(host, want, err_msg=what)
        return
    info = numpy.finfo(host.dtype)
    finite = numpy.abs(want[numpy.isfinite(want)])
    scale = max(1.0, float(finite.max())) if finite.size else 1.0
    rtol = 64 * float(info.eps) if rtol is None else rtol
    numpy.testing.assert_allclose(host, want, rtol=rtol, atol=rtol * scale + float(info.tiny),
                                  equal_nan=True, err_msg=what)


# -- the op harness, eagerly on the device ------------------------------------------------------
def _params(where=lambda case: True):
    return [pytest.param(case, dtype, id=f"{case.name}-{dtype}")
            for case in CASES if where(case) for dtype in case.dtypes]


def _moved(sample, xp):
    """The sample with its arrays on the device (float arrays as Variables, so that
    they get gradients), and the same on the host."""
    host = as_inputs(sample)
    device = [dg.Variable(xp.asarray(x.array)) if isinstance(x, dg.Variable)
              else xp.asarray(x) if isinstance(x, numpy.ndarray) else x for x in host]
    return host, device


def _has_arrays(sample):
    return any(isinstance(a, numpy.ndarray) for a in sample)


@pytest.mark.parametrize("case,dtype", _params())
def test_forward_on_the_device_equals_numpy(case, dtype, xp):
    for sample in sample_inputs(case, dtype):
        if not _has_arrays(sample):
            continue  # random draws take their module as xp=, tested in test_random
        host, device = _moved(sample, xp)
        assert_close_on_device(case.fn(*device).array, case.fn(*host).array, case.name)


@pytest.mark.parametrize("case,dtype", _params(lambda case: case.differentiable))
def test_backward_on_the_device_equals_numpy(case, dtype, xp):
    for index, sample in enumerate(sample_inputs(case, dtype)):
        if not _has_arrays(sample):
            continue
        host, device = _moved(sample, xp)
        y_host, y_device = case.fn(*host), case.fn(*device)
        if not y_host.requires_grad or not y_host.size:
            continue
        gy = numpy.random.default_rng(index).standard_normal(y_host.shape).astype(y_host.dtype)
        y_host.grad = gy
        y_device.grad = xp.asarray(gy)
        y_host.backward()
        y_device.backward()
        for k, (h, d) in enumerate(zip(host, device)):
            if isinstance(h, dg.Variable):
                if h.grad is None:
                    assert d.grad is None, (case.name, k)
                else:
                    assert_close_on_device(d.grad, h.grad, f"{case.name} gradient {k}")


def test_an_eager_scan_over_device_arrays_stays_on_the_device(xp):
    """Sequences given as device arrays (not Variables), cut to ``n_steps`` or empty."""
    import dualgrad_jit as dj

    x = numpy.arange(12, dtype="float32").reshape(4, 3)
    h0 = dg.Variable(xp.zeros(3, "float32"))
    out, _ = dj.scan(lambda row, h: h + row, sequences=[xp.asarray(x)], outputs_info=[h0],
                     n_steps=3)
    assert_close_on_device(out.array, numpy.cumsum(x[:3], axis=0), "scan")
    empty, _ = dj.scan(lambda row: row * 2.0, sequences=[xp.asarray(x[:0])])
    assert_close_on_device(empty.array, numpy.zeros((0, 3), "float32"), "scan of no steps")


# -- links and optimizers -----------------------------------------------------------------------
class _Net(dg.Chain):
    """One of every kind of link with parameters or state: convolutions, normalisations,
    an embedding, recurrent cells, dropout and a lazily sized Linear."""

    def __init__(self):
        super().__init__()
        with self.init_scope():
            self.conv = L.Convolution2D(1, 2, 3, pad=1)
            self.bn = L.BatchNormalization(2)
            self.deconv = L.Deconvolution2D(2, 2, 2, stride=2)
            self.ln = L.LayerNormalization(8)
            self.embed = L.EmbedID(5, 8)
            self.lstm = L.LSTM(8, 8)
            self.gru = L.GRU(8, 8)
            self.out = L.Linear(None, 3)

    def forward(self, x, ids):
        h = F.max_pooling_2d(F.relu(self.bn(self.conv(x))), 2)
        h = F.average_pooling_2d(self.deconv(h), 2)
        s = self.gru(self.lstm(self.ln(self.embed(ids))))
        h = F.concat([F.reshape(h, (h.shape[0], -1)), s], axis=1)
        return self.out(F.dropout(h, 0.2))

    def reset_state(self):
        self.lstm.reset_state()
        self.gru.reset_state()


OPTIMIZERS = {
    "SGD": lambda: optimizers.SGD(lr=0.1),
    "MomentumSGD": lambda: optimizers.MomentumSGD(lr=0.05, momentum=0.8),
    "Adam": lambda: optimizers.Adam(alpha=0.01),
    "AdamW": lambda: optimizers.AdamW(alpha=0.01, weight_decay_rate=0.1),
    "AdaGrad": lambda: optimizers.AdaGrad(lr=0.1),
    "RMSprop": lambda: optimizers.RMSprop(lr=0.01),
}


def _batch():
    rng = numpy.random.RandomState(1)
    return (rng.randn(4, 1, 4, 4).astype(numpy.float32), rng.randint(0, 5, 4).astype(numpy.int32),
            rng.randint(0, 3, 4).astype(numpy.int32))


def _train(make_optimizer, xp=None, steps=3):
    """One step on the CPU (so that the optimizer has state), then, after moving model
    and optimizer to the device when ``xp`` is given, ``steps`` more; every array a
    step changes: parameters, their update rules' state, persistent statistics."""
    R.seed(0)
    numpy.random.seed(0)
    model = L.Classifier(_Net())
    optimizer = make_optimizer().setup(model)
    optimizer.add_hook(optimizer_hooks.WeightDecay(1e-3))
    optimizer.add_hook(optimizer_hooks.GradientClipping(5.0))
    batch = _batch()
    for step in range(1 + steps):
        if step == 1 and xp is not None:
            model.to_device("gpu")
            batch = tuple(xp.asarray(a) for a in batch)
        model.predictor.reset_state()
        model.cleargrads()
        model(*batch).backward()
        optimizer.update()
    arrays = {}
    for path, param in model.namedparams():
        arrays[path] = param.array
        for key, value in (param.update_rule.state or {}).items():
            arrays[f"{path}/{key}"] = value
    for path, link in model.namedlinks():
        for name, value in link.namedpersistents():
            if hasattr(value, "shape"):
                arrays[path + name] = value
    return arrays


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_a_model_and_its_optimizer_move_to_the_device_and_train_as_on_the_cpu(name, xp):
    want = _train(OPTIMIZERS[name])
    got = _train(OPTIMIZERS[name], xp)
    assert got.keys() == want.keys()
    for key, value in want.items():
        # a few steps of float32 training: rounding differences grow with each step
        assert_close_on_device(got[key], value, key, rtol=1e-4)
