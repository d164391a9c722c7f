"""Memory planning: intermediates share one arena without ever overlapping while live."""

import numpy

import dualgrad.functions as F
import dualgrad_jit as dj
from dualgrad_jit.kernel.fusion import KernelStep, fuse
from dualgrad_jit.kernel.memory import plan_memory


def _program(fn, *arrays):
    compiled = dj.jit(fn, backend="numpy")
    compiled(*arrays)
    (executable,) = compiled.variants(*arrays)
    return fuse(executable.graph)


def _mlp(x, w1, w2, w3):
    h1 = F.tanh(x @ w1)
    h2 = F.tanh(h1 @ w2)
    return F.sum(F.tanh(h2 @ w3))


def _live_ranges(program, plan):
    first, last = {}, {}
    for index, step in enumerate(program.steps):
        defined = step.outputs if isinstance(step, KernelStep) else (step.equation.out,)
        reads = step.buffers if isinstance(step, KernelStep) else step.equation.inputs
        for v in defined:
            first.setdefault(v.id, index)
        for v in reads:
            if hasattr(v, "id"):
                last[v.id] = index
    return {v: (first[v], last.get(v, first[v])) for v in plan.offsets}


def test_live_intermediates_never_overlap_and_dead_ones_are_reused():
    rng = numpy.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(numpy.float32)
              for s in ((64, 32), (32, 32), (32, 32), (32, 32))]
    program = _program(_mlp, *arrays)
    plan = plan_memory(program)
    ranges = _live_ranges(program, plan)
    sizes = {}
    for step in program.steps:
        for v in (step.outputs if isinstance(step, KernelStep) else (step.equation.out,)):
            sizes[v.id] = v.aval.dtype.itemsize * int(numpy.prod(v.shape))
    ids = sorted(plan.offsets)
    for a in ids:
        for b in ids:
            if a >= b or b in plan.in_place or a in plan.in_place:
                continue
            (sa, ea), (sb, eb) = ranges[a], ranges[b]
            if sa <= eb and sb <= ea:  # both live at some step
                oa, ob = plan.offsets[a], plan.offsets[b]
                assert oa + sizes[a] <= ob or ob + sizes[b] <= oa, (a, b)
    assert plan.size < plan.naive  # reuse happened
    assert "arena" in plan.describe()


def test_graph_outputs_are_never_in_the_arena():
    x = numpy.ones((8, 8), numpy.float32)
    program = _program(lambda a: (F.tanh(a) * 2.0, F.exp(a)), x)
    plan = plan_memory(program)
    outputs = {v.id for v in program.graph.outputs}
    assert not outputs & set(plan.offsets)


def _update_program(update, shape=(6,)):
    """The fused program of ``(x, s) -> (sum(x), update(x, s))``, and the donation asked:
    output 1 (the new ``s``) into input 1."""
    x = numpy.ones(shape, numpy.float32)
    program = _program(lambda a, s: (F.sum(a), update(a, s)), x, x + 1)
    return program, {1: 1}


def test_an_update_read_at_its_own_index_is_written_into_its_input():
    from dualgrad_jit.kernel.memory import donations

    for update in (lambda a, s: s - 0.1 * a,
                   lambda a, s: s - F.sum(s) * a):  # (the sum has read all of s before)
        program, pairs = _update_program(update)
        graph = program.graph
        assert donations(program, pairs) == [(graph.outputs[1].id, graph.inputs[1].id)]


def test_no_update_is_written_into_an_input_read_elsewhere_or_later():
    from dualgrad_jit.kernel.memory import donations

    reversed_read, _ = _update_program(lambda a, s: s[::-1] - a)
    assert donations(reversed_read, {1: 1}) == []  # s[5] is read after s[0] was written
    x = numpy.ones(6, numpy.float32)
    returned = _program(lambda a, s: (s * 1.0 + a, s), x, x)  # the old s is a result
    assert donations(returned, {0: 1}) == []
