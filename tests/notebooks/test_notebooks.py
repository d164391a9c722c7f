"""Every notebook in notebooks/ runs top to bottom without an error.

The notebooks are executed in a fresh kernel of this interpreter (the ``python3``
kernelspec that ipykernel installs into the environment starts ``python``, which
jupyter_client replaces with ``sys.executable``), with notebooks/ as the working
directory, exactly as a reader would run them.
"""

import glob
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOTEBOOK_DIR = os.path.join(ROOT, "notebooks")
NOTEBOOKS = sorted(glob.glob(os.path.join(NOTEBOOK_DIR, "*.ipynb")))

nbformat = pytest.importorskip("nbformat", reason="needs the 'notebooks' extra")
nbclient = pytest.importorskip("nbclient", reason="needs the 'notebooks' extra")


def test_there_are_notebooks():
    names = [os.path.basename(path) for path in NOTEBOOKS]
    assert "dualgrad_for_chainer_users.ipynb" in names
    assert "dualgrad_for_theano_users.ipynb" in names


def test_the_python3_kernel_runs_this_interpreter():
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    command = KernelManager(kernel_name="python3").format_kernel_cmd()
    assert spec.language == "python"
    assert command[0] == sys.executable


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs_without_errors(path):
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3",
        resources={"metadata": {"path": NOTEBOOK_DIR}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    outputs = [output for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    # At least one figure is drawn inline.
    assert any("image/png" in o.get("data", {}) for o in outputs)
