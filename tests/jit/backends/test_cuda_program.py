"""The CUDA backend runs whole programs: ``dj.jit(backend='cuda')`` equals eager.

Every test that takes ``device`` runs twice.  On a GPU (marked ``gpu``) it runs on cupy,
and results are compared with tolerances allowing CUDA's math functions, reassociated
sums and float32 denormals flushed to zero.  Everywhere it also runs on a stand-in: the
arrays are the numpy-backed stand-in for cupy of ``tests/ops/test_ops_gpu`` (it refuses
numpy arrays in device code and implicit conversions to numpy), and the kernels are the
generated CUDA C compiled for the CPU by ``cuda_host`` (g++), launched as the program
launches them (block reductions with its grid and block sizes; grid-stride loops, which
cover their range with any grid, with one warp per block).  So the whole path runs here
(tracing device arrays, fusion, one module per program, the arena, kernel arguments,
host steps, fresh outputs, guards and write-backs), everything but the device compiler
and CUDA's libm.
"""

import dataclasses
import os
import sys

import numpy
import pytest

import dualgrad as dg
import dualgrad.functions as F
import dualgrad.links as L
import dualgrad_jit as dj
from dualgrad import cuda, optimizers
from dualgrad.ops import random as R
from dualgrad_jit.backends import select
from dualgrad_jit.backends.cuda import program as cuda_program
from dualgrad_jit.backends.cuda import render, runtime
from dualgrad_jit.ir import GraphBuilder, interpret

from ...ops.harness import as_inputs, sample_inputs
from ...ops.test_ops_gpu import (
    DeviceArray,
    StandInCupy,
    assert_close_on_device,
    on_device,
)
from ..compiled_cases import (
    CASES,
    array_positions,
    assert_loss_and_gradients,
    assert_same,
    data_sets,
)
from ..test_ops_traced import DATA_DEPENDENT_SHAPES, _arrays, _bind
from . import cuda_host
from .test_cuda_harness import fused, harness_programs


# -- without a GPU ----------------------------------------------------------------------------
@pytest.mark.skipif(cuda.is_available(), reason="this machine has a GPU")
def test_backend_cuda_without_a_gpu_is_a_compile_error_that_names_the_fix():
    with pytest.raises(dj.CompileError, match="needs cupy and a CUDA GPU.*backend='llvm'"):
        select.check("cuda")
    with pytest.raises(dj.CompileError, match="needs cupy and a CUDA GPU.*backend='llvm'"):
        dj.jit(lambda x: x * 2.0, backend="cuda")(numpy.ones(3))
    builder = GraphBuilder()
    x = builder.add_input(dg.core.aval.ShapedArray((3,), numpy.dtype("float32")))
    with pytest.raises(dj.CompileError, match="needs cupy and a CUDA GPU.*dualgrad\\[cuda\\]"):
        runtime.load_program(builder.build([x]))


# -- the stand-in -----------------------------------------------------------------------------
class HostKernels:
    """Kernels compiled for the CPU, found by content hash; each batch of new kernels is
    one g++ run (a library)."""

    def __init__(self, directory):
        self.directory, self.compiled = directory, {}

    def add(self, kernels):
        new = {}
        for kernel in kernels:
            key = kernel.key()
            if key not in self.compiled and key not in new:
                new[key] = dataclasses.replace(kernel, name=f"k_{key[:20]}")
        if new:
            directory = os.path.join(self.directory, f"batch{len(os.listdir(self.directory))}")
            os.makedirs(directory)
            module = cuda_host.HostModule(list(new.values()), directory)
            self.compiled.update({key: (module, k) for key, k in new.items()})

    def module(self, program):
        """The kernels of ``program``, as ``DeviceProgram`` takes its module."""
        self.add(program.kernels())
        return _ProgramModule({k.name: self.compiled[k.key()] for k in program.kernels()})


class _ProgramModule:
    """``function(name)`` gives a kernel callable as cupy's ``RawKernel`` is,
    ``(grid, block, args)``."""

    def __init__(self, by_name):
        self.by_name = by_name  # the program's kernel name -> (library, renamed kernel)

    def function(self, name):
        return _host_launcher(*self.by_name[name])


def _host_launcher(module, kernel):
    block_per_point = render.strategy(kernel) == "block"

    def launch(grid, block, args):
        start, end, *buffers = args
        assert type(start) is numpy.int64 and type(end) is numpy.int64
        assert (grid, block) == ((render.launch_config(kernel)[0],), (render.BLOCK,))
        if not block_per_point:
            # a grid-stride loop covers its range with any grid: one warp in at most two
            # blocks keeps the CPU's thread count down (every CUDA thread is a host thread)
            grid, block = (min(grid[0], 2),), (32,)
        # a kernel argument must be a device array: ``_a`` is the stand-in's memory
        module.launch(kernel, [b._a for b in buffers], int(start), int(end), grid[0], block[0])

    return launch


@pytest.fixture(scope="session")
def host_kernels(tmp_path_factory):
    """The kernels of the harness programs the tests below run, compiled in one go."""
    if not cuda_host.available():
        pytest.skip("no g++ here to compile the stand-in kernels")
    library = HostKernels(str(tmp_path_factory.mktemp("cuda_host")))
    kernels = []
    for item in harness_programs():
        if item.label.split(" ")[0].rsplit("-", 1)[0] in _CHOSEN:
            try:
                kernels += fused(item).kernels()
            except Exception:  # the test of that case reports it
                continue
    library.add(kernels)
    return library


@pytest.fixture(params=["standin", pytest.param("cupy", marks=pytest.mark.gpu)])
def device(request, monkeypatch):
    """The array module the compiled programs run on (see the module docstring)."""
    if request.param == "cupy":
        import cupy

        return cupy
    return install_standin(monkeypatch, request.getfixturevalue("host_kernels"))


def install_standin(monkeypatch, library):
    """The stand-in installed as cupy (for this test), its programs' kernels taken from
    ``library`` (compiled by g++); returns it."""
    standin = StandInCupy()
    monkeypatch.setitem(sys.modules, "cupy", standin)
    monkeypatch.setattr(cuda, "is_available", lambda: True)
    monkeypatch.setattr(cuda_program, "load", lambda program: cuda_program.DeviceProgram(
        program, library.module(program), standin))
    return standin


def _assert_matches(got, want, what, rtol=None):
    """A device result against numpy's: the stand-in's kernels ran on the CPU (g++),
    within the LLVM backend's tolerance; on a GPU, ``assert_close_on_device``."""
    assert on_device(got), (what, type(got))
    want = numpy.asarray(want.get() if on_device(want) else want)
    if not isinstance(got, DeviceArray):
        assert_close_on_device(got, want, what, rtol=rtol)
    elif rtol is None:
        assert_same(got.get(), want, what)
    else:
        numpy.testing.assert_allclose(got.get(), want, rtol=rtol, atol=rtol, err_msg=what)


# -- the op harness on the CUDA backend ---------------------------------------------------------
def _one_dtype(where):
    """(case, dtype) with float32 where the case has it (the GPU's dtype), else its first."""
    out = []
    for case in CASES:
        if where(case):
            dtype = "float32" if "float32" in case.dtypes else case.dtypes[0]
            out.append(pytest.param(case, dtype, id=f"{case.name}-{dtype}"))
    return out


def _compiles(case):
    """Traceable, and with array inputs: a function of none (a random draw with its own
    key) traces on numpy, so only its replays would run on the device."""
    if case.name in DATA_DEPENDENT_SHAPES:
        return False
    dtype = "float32" if "float32" in case.dtypes else case.dtypes[0]
    return all(array_positions(sample) for sample in sample_inputs(case, dtype))


_CHOSEN = {f"{p.values[0].name}-{p.values[1]}" for p in _one_dtype(_compiles)}


@pytest.mark.parametrize("case,dtype", _one_dtype(_compiles))
def test_forward_on_cuda_equals_eager(case, dtype, device):
    for sample, other in data_sets(case, dtype):
        positions = array_positions(sample)
        compiled = dj.jit(_bind(case, sample, positions), backend="cuda")
        for data in (sample, sample, other):  # trace, replay, replay on other values
            arrays = _arrays(data, positions)
            expected = _bind(case, data, positions)(*[
                dg.Variable(a, requires_grad=False) if a.dtype.kind == "f" else a
                for a in arrays])
            got = compiled(*[device.asarray(a) for a in arrays])
            _assert_matches(got.array, expected.array, case.name)
        assert compiled.stats["traces"] == 1 and compiled.stats["replays"] == 2, compiled.stats


def _gradient_function(case, sample, positions, weights):
    """``(loss, gradients)`` of a weighted sum of the case's output, as in
    ``test_ops_traced``, but taking arrays and making the Variables inside: with
    Variables that want gradients as arguments, a replay's results would join the tape
    and run through the interpreter (``layer.TapedGraph``), not the compiled program."""
    floats = [j for j, p in enumerate(positions) if sample[p].dtype.kind == "f"]
    forward = _bind(case, sample, positions)

    def loss_and_grads(*arrays):
        xs = [dg.Variable(a.array if isinstance(a, dg.Variable) else a) if j in floats else a
              for j, a in enumerate(arrays)]
        loss = F.sum(forward(*xs) * weights)
        return loss, tuple(dg.grad([loss], [xs[j] for j in floats]))

    return loss_and_grads


@pytest.mark.parametrize("case,dtype", _one_dtype(lambda c: c.differentiable and _compiles(c)))
def test_gradient_on_cuda_equals_eager(case, dtype, device):
    for index, (sample, other) in enumerate(data_sets(case, dtype)):
        positions = array_positions(sample)
        if not any(sample[p].dtype.kind == "f" for p in positions):
            continue
        y = case.fn(*as_inputs(sample, requires_grad=False))
        weights = numpy.random.default_rng(index).standard_normal(y.shape).astype(y.dtype)
        compiled = dj.jit(_gradient_function(case, sample, positions, device.asarray(weights)),
                          backend="cuda")
        for data in (sample, sample, other):
            arrays = _arrays(data, positions)
            want_loss, want_grads = _gradient_function(case, data, positions, weights)(*arrays)
            assert_loss_and_gradients(compiled(*[device.asarray(a) for a in arrays]),
                                      (want_loss, want_grads), case.name, _assert_matches)
        assert compiled.stats["traces"] == 1, compiled.stats


def _noisy(x):
    xp = dg.get_array_module(x)  # draws on the device of x, eagerly too
    u = R.uniform(x.shape, "float64", xp=xp)
    z = R.normal((2,), "float32", mean=1.0, std=2.0, xp=xp)
    b = R.bernoulli(x.shape, 0.5, "float64", xp=xp)
    return x * u + F.sum(z) * b


def test_replays_draw_on_the_device_exactly_what_eager_draws(device):
    """Stream draws run as host steps whose ops are renumbered on every call."""
    x = numpy.arange(1.0, 4.0)
    R.seed(1234)
    eager = [_noisy(dg.Variable(x)).array for _ in range(4)]
    eager_state = R.get_state()
    R.seed(1234)
    compiled = dj.jit(_noisy, backend="cuda")
    got = [compiled(device.asarray(x)).array for _ in range(4)]
    assert compiled.stats["traces"] == 1 and compiled.stats["replays"] == 3
    for a, b in zip(got, eager):
        _assert_matches(a, b, "draws")
    assert R.get_state() == eager_state
    assert not numpy.array_equal(got[1].get(), got[2].get())  # fresh numbers every replay


def test_cond_and_ifelse_take_device_arrays_that_are_not_variables(device):
    ones = device.asarray(numpy.ones(3, "float32"))
    chosen = dj.jit(lambda v: dj.cond(F.sum(v) > 0, lambda a, b: a * 2.0 + b, lambda a, b: -a,
                                      v, ones), backend="cuda")
    picked = dj.jit(lambda v: dj.ifelse(F.sum(v) > 0, v * 2.0, ones), backend="cuda")
    for v in (numpy.ones(3, "float32"), -numpy.ones(3, "float32")):
        positive = v.sum() > 0
        _assert_matches(chosen(device.asarray(v)).array, v * 2 + 1 if positive else -v, "cond")
        _assert_matches(picked(device.asarray(v)).array, v * 2 if positive else v * 0 + 1,
                        "ifelse")


# -- the runtime ------------------------------------------------------------------------------
def _program(device):
    """A loaded program of a few kernels, a gemm host step and an output returned twice."""

    def f(x, w):
        h = F.tanh(F.matmul(x, w))
        return F.sum(h * h, axis=1), h

    x = numpy.random.default_rng(0).standard_normal((4, 3)).astype(numpy.float32)
    w = numpy.random.default_rng(1).standard_normal((3, 5)).astype(numpy.float32)
    compiled = dj.jit(f, backend="numpy")
    compiled(x, w)
    graph = compiled.variants(x, w)[0].graph
    return runtime.load_program(graph), graph, (x, w)


def test_every_call_returns_fresh_outputs_and_keeps_inputs(device):
    run, graph, (x, w) = _program(device)
    first = run([device.asarray(x), device.asarray(w)])
    kept = [a.get() for a in first]
    x_device = device.asarray(2 * x)
    second = run([x_device, device.asarray(w)])
    for a, b, want in zip(first, second, kept):
        assert a is not b and on_device(a)
        numpy.testing.assert_array_equal(a.get(), want)  # not overwritten by the next call
    for got, want in zip(second, interpret(graph, [2 * x, w])):
        _assert_matches(got, want, "second call")
    numpy.testing.assert_array_equal(x_device.get(), 2 * x)


def test_inputs_are_converted_to_the_traced_dtype_and_made_contiguous(device):
    run, graph, (x, w) = _program(device)
    strided = numpy.asfortranarray(x.astype(numpy.float64))  # host, other dtype and order
    for got, want in zip(run([strided, device.asarray(w)]), interpret(graph, [x, w])):
        _assert_matches(got, want, "converted inputs")


# -- training ---------------------------------------------------------------------------------
class MLP(dg.Chain):
    def __init__(self):
        super().__init__()
        with self.init_scope():
            self.l1 = L.Linear(4, 6)
            self.l2 = L.Linear(6, 3)

    def forward(self, x):
        return self.l2(F.tanh(self.l1(x)))


def _step(model, optimizer, x, t):
    model.cleargrads()
    loss = model(x, t)
    loss.backward()
    optimizer.update()
    return loss


def _arrays_of(model):
    out = {}
    for path, param in model.namedparams():
        out[path] = param.array
        out[path + "/grad"] = param.grad
        for key, value in (param.update_rule.state or {}).items():
            out[f"{path}/{key}"] = value
    return out


@pytest.mark.parametrize("make_optimizer", [lambda: optimizers.SGD(lr=0.1),
                                            lambda: optimizers.Adam(alpha=0.01)],
                         ids=["SGD", "Adam"])
def test_a_compiled_training_step_on_the_device_equals_eager(make_optimizer, device):
    numpy.random.seed(0)
    model = L.Classifier(MLP())
    twin = model.copy(mode="copy")
    rng = numpy.random.RandomState(0)
    batches = [(device.asarray(rng.randn(8, 4).astype(numpy.float32)),
                device.asarray(rng.randint(0, 3, 8).astype(numpy.int32))) for _ in range(4)]
    eager_optimizer = make_optimizer().setup(model.to_device("gpu"))
    compiled_optimizer = make_optimizer().setup(twin.to_device("gpu"))
    compiled = dj.jit(_step, static_argnums=(0, 1), backend="cuda")
    for x, t in batches:
        want = _step(model, eager_optimizer, x, t)
        got = compiled(twin, compiled_optimizer, x, t)
        _assert_matches(got.array, want.array, "loss", rtol=1e-4)
        expected = _arrays_of(model)
        for key, value in _arrays_of(twin).items():
            _assert_matches(value, expected[key], key, rtol=1e-4)
    assert compiled.stats["traces"] == 1 and compiled.stats["replays"] == len(batches) - 1
