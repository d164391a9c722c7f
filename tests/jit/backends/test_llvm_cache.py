"""The disk cache of compiled kernels: hits skip LLVM, damage is repaired, writers race safely."""

import os
import subprocess
import sys
import textwrap

import numpy
import pytest

pytest.importorskip("llvmlite")

from dualgrad_jit.backends.llvm import STATS, FastMath, ObjectCache, compile_kernels  # noqa: E402
from dualgrad_jit.backends.llvm.cache import MAGIC, cache_key  # noqa: E402
from dualgrad_jit.kernel import ir as K  # noqa: E402

KERNEL_SOURCE = """
from dualgrad_jit.kernel import ir as K

def kernels():
    x = K.read(0, K.index(0), "float32")
    y = K.call("add", K.call("mul", x, x), K.call("exp", x))
    total = K.Reduce((16,), K.read(0, K.index(0), "float32"), "add", 0.0, "float32")
    return [
        K.Kernel("cache_test_square", (K.Buffer("float32", 16), K.Buffer("float32", 16)),
                 (16,), (K.Store(1, K.index(0), y),)),
        K.Kernel("cache_test_sum", (K.Buffer("float32", 16), K.Buffer("float32", 1)),
                 (), (K.Store(1, K.const(0, "int64"), K.acc("float32")),), total),
    ]
"""
namespace = {}
exec(KERNEL_SOURCE, namespace)
make_kernels = namespace["kernels"]


def check_results(compiled):
    x = numpy.linspace(-1, 1, 16, dtype=numpy.float32)
    square, total = numpy.zeros(16, numpy.float32), numpy.zeros(1, numpy.float32)
    compiled.run("cache_test_square", [x, square])
    compiled.run("cache_test_sum", [x, total])
    numpy.testing.assert_allclose(square, x * x + numpy.exp(x), rtol=2e-6)
    numpy.testing.assert_allclose(total, [x.sum()], atol=1e-6)


def only_file(directory):
    names = os.listdir(directory)
    assert len(names) == 1, names  # no temporary files left behind
    return os.path.join(directory, names[0])


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def test_a_warm_hit_skips_the_optimiser(tmp_path):
    cache = ObjectCache(str(tmp_path))
    cold = compile_kernels(make_kernels(), cache=cache)
    assert not cold.from_cache
    check_results(cold)
    optimised = STATS["optimized"]
    warm = compile_kernels(make_kernels(), cache=cache)
    assert warm.from_cache and STATS["optimized"] == optimised
    check_results(warm)
    assert "cache_test_square" in warm.optimized_ir  # still inspectable (recomputed)


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "garbage", "header only"])
def test_a_damaged_file_is_recompiled_and_rewritten(tmp_path, damage):
    cache = ObjectCache(str(tmp_path))
    compile_kernels(make_kernels(), cache=cache)
    path = only_file(tmp_path)
    data = read_bytes(path)
    damaged = {
        "flip": data[:100] + bytes(b ^ 0xFF for b in data[100:140]) + data[140:],
        "truncate": data[: len(data) // 2],
        "empty": b"",
        "garbage": os.urandom(len(data)),
        "header only": data[:len(MAGIC) + 44],
    }[damage]
    with open(path, "wb") as f:
        f.write(damaged)
    repaired = compile_kernels(make_kernels(), cache=cache)
    assert not repaired.from_cache
    check_results(repaired)
    assert read_bytes(only_file(tmp_path)) == data  # rewritten whole
    assert compile_kernels(make_kernels(), cache=cache).from_cache


def test_concurrent_processes_share_one_valid_entry(tmp_path):
    script = textwrap.dedent(KERNEL_SOURCE) + textwrap.dedent("""
        import numpy
        from dualgrad_jit.backends.llvm import compile_kernels
        compiled = compile_kernels(kernels())
        x = numpy.linspace(-1, 1, 16, dtype=numpy.float32)
        out = numpy.zeros(16, numpy.float32)
        compiled.run("cache_test_square", [x, out])
        numpy.testing.assert_allclose(out, x * x + numpy.exp(x), rtol=2e-6)
        print("ok", compiled.from_cache)
    """)
    env = dict(os.environ, DUALGRAD_CACHE_DIR=str(tmp_path))
    workers = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        assert out.startswith("ok")
    cache = ObjectCache(str(tmp_path / "llvm"))
    path = only_file(tmp_path / "llvm")
    assert cache.load(os.path.basename(path)[:-2]) is not None
    assert compile_kernels(make_kernels(), cache=cache).from_cache


def test_the_key_depends_on_code_and_fast_math(tmp_path):
    cache = ObjectCache(str(tmp_path))
    compile_kernels(make_kernels(), cache=cache)
    fast = compile_kernels(make_kernels(), cache=cache, fastmath=FastMath.fast())
    assert not fast.from_cache
    x = K.read(0, K.index(0), "float32")
    other = K.Kernel("cache_test_square", (K.Buffer("float32", 16), K.Buffer("float32", 16)),
                     (16,), (K.Store(1, K.index(0), K.call("sub", x, x)),))
    assert not compile_kernels([other], cache=cache).from_cache
    assert len(os.listdir(tmp_path)) == 3
    assert cache_key("a", "bc") != cache_key("ab", "c")


def test_default_directory_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DUALGRAD_CACHE_DIR", str(tmp_path))
    assert ObjectCache().directory == os.path.join(str(tmp_path), "llvm")


def test_an_unwritable_cache_only_costs_a_recompile(tmp_path):
    blocker = tmp_path / "not a directory"
    blocker.write_text("")
    cache = ObjectCache(str(blocker))
    compiled = compile_kernels(make_kernels(), cache=cache)
    check_results(compiled)
    assert cache.last_error is not None
    assert not compile_kernels(make_kernels(), cache=cache).from_cache
