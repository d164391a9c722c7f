"""The package as a user meets it: what importing costs, and the example that `make demo` runs."""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(*args, timeout=120):
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        check=False,
    )


def test_import_dualgrad_loads_neither_llvmlite_nor_cupy():
    probe = (
        "import dualgrad, sys; "
        "print(sorted(m for m in ('llvmlite','cupy') if m in sys.modules))"
    )
    result = run_python("-c", probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_dualgrad_jit_imports_without_llvmlite_or_cupy():
    code = ("import dualgrad_jit, sys; "
            "print(sorted(m for m in ('llvmlite', 'cupy') if m in sys.modules))")
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_eager_example_trains_to_high_accuracy():
    result = run_python(os.path.join("examples", "eager_mlp.py"), "--epochs", "30")
    assert result.returncode == 0, result.stderr
    epochs = re.findall(r"^epoch\s+\d+\s+loss (\S+)", result.stdout, re.MULTILINE)
    assert len(epochs) == 30
    assert float(epochs[-1]) < float(epochs[0])
    final = re.search(r"final accuracy (\S+)", result.stdout)
    assert final is not None, result.stdout
    assert float(final.group(1)) > 0.9
