"""The fusion pass keeps every op of the harness exact: each case is traced, fused into
kernels and host steps, run by the kernel-IR reference evaluator and compared with the
reference interpreter on the same graph."""

import numpy
import pytest

import dualgrad.functions as F
import dualgrad_jit as dj
from dualgrad_jit.ir import interpret
from dualgrad_jit.kernel.evaluate import run_program
from dualgrad_jit.kernel.fusion import KernelStep, fuse

from ..compiled_cases import array_positions, assert_same, case_params, data_sets
from ..test_ops_traced import DATA_DEPENDENT_SHAPES, _arrays, _bind


def _graph(case, sample):
    positions = array_positions(sample)
    compiled = dj.jit(_bind(case, sample, positions), backend="numpy")
    arrays = _arrays(sample, positions)
    compiled(*arrays)
    (executable,) = compiled.variants(*arrays)
    return executable.graph, arrays


@pytest.mark.parametrize("case,dtype", case_params(lambda c: c.name not in DATA_DEPENDENT_SHAPES))
def test_fused_program_equals_interpreter(case, dtype):
    for sample, _ in data_sets(case, dtype):
        graph, arrays = _graph(case, sample)
        program = fuse(graph)
        got = run_program(program, arrays)
        want = interpret(graph, arrays)
        for g, w in zip(got, want):
            assert_same(g, w, f"{case.name}\n{program.fusion_report()}")


def _w2(x, y):
    return F.tanh(x) * F.sigmoid(y) + x * y - F.exp(-x * x) + 0.5 * x


def test_an_elementwise_chain_is_one_kernel_with_flat_reads():
    x = numpy.linspace(-3, 3, 12, dtype=numpy.float32).reshape(3, 4)
    compiled = dj.jit(_w2, backend="numpy")
    compiled(x, x)
    (executable,) = compiled.variants(x, x)
    program = fuse(executable.graph)
    (step,) = program.steps
    assert isinstance(step, KernelStep)
    assert step.kernel.shape == (12,)  # flattened: every read is at the flat index
    assert "floordiv" not in step.kernel.text() and "mod" not in step.kernel.text()
    report = program.fusion_report()
    assert report.endswith("graph output")
    assert report.count("fused into the kernels reading it") == len(
        executable.graph.equations) - 1


def test_the_fusion_report_says_why_values_got_buffers():
    def f(x, w):
        h = F.tanh(F.matmul(x, w))
        return F.sum(h * 2.0, axis=1), h

    x, w = numpy.ones((4, 3)), numpy.ones((3, 5))
    compiled = dj.jit(f, backend="numpy")
    compiled(x, w)
    (executable,) = compiled.variants(x, w)
    report = fuse(executable.graph).fusion_report()
    assert "MatMul: host step: library call gemm (ends fusion)" in report
    assert "Tanh: graph output" in report
    assert "Mul: fused into the kernels reading it" in report


def _fused(fn, *arrays):
    """The graph as compiled backends take it (composites expanded), and its program."""
    from dualgrad_jit.backends.select import compilable

    compiled = dj.jit(fn, backend="numpy")
    compiled(*arrays)
    (executable,) = compiled.variants(*arrays)
    graph = compilable(executable.graph)
    return graph, fuse(graph)


def test_a_reduction_read_once_at_its_own_shape_takes_its_reader_as_epilogue():
    """``log(sum(exp(z - m))) + m``: the sum and its epilogue are one kernel, the sum
    gets no buffer; the log-softmax ``z - lse`` reads lse broadcast, so lse keeps one."""
    def log_softmax(z):
        m = F.max(z, axis=1, keepdims=True)
        lse = F.log(F.sum(F.exp(z - m), axis=1, keepdims=True)) + m
        return z - lse

    z = numpy.random.default_rng(4).standard_normal((6, 5)).astype(numpy.float32)
    graph, program = _fused(log_softmax, z)
    (summed,) = [k for k in program.kernels() if k.reduce and k.reduce.combine == "add"]
    (store,) = summed.stores
    assert "log(acc)" in K_text(store.value)
    assert "its epilogue" in program.fusion_report()
    (want,) = interpret(graph, [z])[:1]
    (got,) = run_program(program, [z])[:1]
    numpy.testing.assert_allclose(got, want, rtol=1e-6)


def test_a_reduction_with_two_readers_keeps_its_buffer():
    def two_readers(x):
        s = F.sum(x, axis=1)
        return F.log(s) + F.exp(s)  # two elementwise readers: no single chain

    x = numpy.random.default_rng(5).uniform(1, 2, (4, 3)).astype(numpy.float32)
    graph, program = _fused(two_readers, x)
    assert "its epilogue" not in program.fusion_report()
    assert len(program.kernels()) == 2
    numpy.testing.assert_allclose(run_program(program, [x])[0], interpret(graph, [x])[0],
                                  rtol=1e-6)


def K_text(expr):  # noqa: N802 (reads like the IR's own text)
    from dualgrad_jit.kernel import ir as K

    return K.render_text(expr)
