"""What every link shares: registered parameters, dtypes, paths in nested chains,
copy() modes and device moves."""

import numpy
import pytest

import dualgrad as dg
import dualgrad.functions as F
import dualgrad.links as L
from dualgrad.link import Chain, ChainList, Link, Sequential

# (builder, input) pairs: one per link, with a float input of the right shape
LINKS = {
    "Linear": (lambda: L.Linear(3, 2), (4, 3)),
    "Convolution2D": (lambda: L.Convolution2D(2, 3, 3, pad=1), (2, 2, 4, 4)),
    "Deconvolution2D": (lambda: L.Deconvolution2D(2, 3, 2, stride=2), (2, 2, 3, 3)),
    "LSTM": (lambda: L.LSTM(3, 2), (4, 3)),
    "GRU": (lambda: L.GRU(3, 2), (4, 3)),
    "BatchNormalization": (lambda: L.BatchNormalization(3), (4, 3)),
    "LayerNormalization": (lambda: L.LayerNormalization(3), (4, 3)),
}


@pytest.mark.parametrize("name", sorted(LINKS))
@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_float32_parameters_accept_float32_and_float64_inputs(name, dtype):
    build, shape = LINKS[name]
    link = build()
    params = list(link.namedparams())
    assert params and all(isinstance(p, dg.Parameter) for _, p in params)
    assert {p.dtype for _, p in params} == {numpy.dtype(numpy.float32)}
    x = numpy.random.randn(*shape).astype(dtype)
    y = link(x)
    if hasattr(link, "reset_state"):
        y = link(x)  # a second step uses the lateral weights too
    assert y.dtype == dtype
    y.sum().backward()
    assert all(p.grad is not None and p.grad.dtype == numpy.float32 for _, p in params)


def test_every_api_link_is_exported():
    for name in ("Linear", "Convolution2D", "Deconvolution2D", "EmbedID", "LSTM",
                 "StatelessLSTM", "GRU", "StatelessGRU", "BatchNormalization",
                 "LayerNormalization", "Classifier"):
        link_class = getattr(L, name)
        assert issubclass(link_class, Link)
        assert link_class.__doc__ and ">>>" in link_class.__doc__


class Encoder(Chain):
    def __init__(self):
        super().__init__()
        with self.init_scope():
            self.conv = L.Convolution2D(1, 2, 3)
            self.bn = L.BatchNormalization(2)
            self.blocks = ChainList(L.Linear(None, 4), L.LSTM(4, 3))

    def forward(self, x):
        h = F.relu(self.bn(self.conv(x)))
        return self.blocks[1](self.blocks[0](h))


def test_namedparams_paths_in_nested_chains():
    model = Chain(enc=Encoder(), out=L.Linear(3, 2))
    assert [path for path, _ in model.namedparams()] == [
        "/enc/conv/W", "/enc/conv/b", "/enc/bn/gamma", "/enc/bn/beta",
        "/enc/blocks/0/W", "/enc/blocks/0/b",
        "/enc/blocks/1/upward/W", "/enc/blocks/1/upward/b", "/enc/blocks/1/lateral/W",
        "/out/W", "/out/b",
    ]
    initialized = [path for path, _ in model.namedparams(include_uninit=False)]
    assert "/enc/blocks/0/W" not in initialized and len(initialized) == 10
    y = model.out(model.enc(numpy.random.randn(2, 1, 4, 4).astype(numpy.float32)))
    assert y.shape == (2, 2) and model.enc.blocks[0].W.shape == (4, 8)
    assert "/enc/bn" in dict(model.namedlinks())


def test_sequential_of_links_and_functions():
    model = Sequential(L.Linear(3, 4), F.relu, L.Linear(4, 2))
    assert [path for path, _ in model.namedparams()] == ["/0/W", "/0/b", "/1/W", "/1/b"]
    x = numpy.random.randn(5, 3).astype(numpy.float32)
    expected = model[2](F.relu(model[0](x))).array
    numpy.testing.assert_allclose(model(x).array, expected)


def test_copy_share_shares_arrays_but_not_gradients():
    link = L.BatchNormalization(2)
    clone = link.copy()
    assert clone.gamma is not link.gamma and clone.gamma.array is link.gamma.array
    assert clone.avg_mean is link.avg_mean  # running statistics are shared as in Chainer
    clone(numpy.random.randn(4, 2).astype(numpy.float32)).sum().backward()
    assert clone.gamma.grad is not None and link.gamma.grad is None


def test_copy_copy_and_init():
    numpy.random.seed(5)
    model = Chain(l1=L.Linear(3, 4, initial_bias=0.5), bn=L.BatchNormalization(4))
    model.bn(numpy.random.randn(3, 4).astype(numpy.float32))
    deep = model.copy(mode="copy")
    assert deep.l1.W.array is not model.l1.W.array
    numpy.testing.assert_array_equal(deep.l1.W.array, model.l1.W.array)
    numpy.testing.assert_array_equal(deep.bn.avg_mean, model.bn.avg_mean)
    deep.l1.W.array[...] = 0
    assert model.l1.W.array.any()
    fresh = model.copy(mode="init")
    assert not numpy.array_equal(fresh.l1.W.array, model.l1.W.array)
    numpy.testing.assert_array_equal(fresh.l1.b.array, 0.5)
    assert [p for p, _ in fresh.namedparams()] == [p for p, _ in model.namedparams()]


def test_copy_of_a_lazy_link_initialises_independently():
    link = L.Linear(None, 2)
    clone = link.copy(mode="copy")
    clone(numpy.ones((1, 3), numpy.float32))
    assert clone.W.shape == (2, 3) and link.W.array is None


def test_to_device_cpu_keeps_everything_usable():
    model = Chain(l1=L.Linear(None, 3), bn=L.BatchNormalization(3), rnn=L.LSTM(3, 2))
    assert model.to_device("cpu") is model
    x = numpy.ones((2, 4), numpy.float32)
    y = model.rnn(model.bn(model.l1(x)))
    model.to_device("cpu")
    assert all(isinstance(p.array, numpy.ndarray) for p in model.params())
    assert isinstance(model.bn.avg_var, numpy.ndarray) and model.rnn.h.shape == y.shape
    assert model.xp is numpy and model.l1.device == "cpu"


@pytest.mark.gpu
def test_to_device_gpu_moves_parameters_statistics_and_state():
    import cupy

    model = Chain(l1=L.Linear(None, 3), bn=L.BatchNormalization(3), rnn=L.LSTM(3, 2))
    model.to_device("gpu")
    y = model.rnn(model.bn(model.l1(cupy.ones((2, 4), cupy.float32))))
    assert isinstance(y.array, cupy.ndarray) and isinstance(model.l1.W.array, cupy.ndarray)
    assert isinstance(model.bn.avg_mean, cupy.ndarray)
    model.to_device("cpu")
    assert isinstance(model.rnn.h.array, numpy.ndarray)
    assert isinstance(model.rnn.c.array, numpy.ndarray)
    assert isinstance(model.bn.avg_mean, numpy.ndarray)
