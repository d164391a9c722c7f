import importlib.util

import numpy
import pytest

import dualgrad as dg


def _has_gpu():
    if importlib.util.find_spec("cupy") is None:
        return False
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


HAS_GPU = _has_gpu()


def pytest_collection_modifyitems(config, items):
    if HAS_GPU:
        return
    skip = pytest.mark.skip(reason="no CUDA device (cupy with a GPU) on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_config():
    """Every test starts from the default configuration and a fixed numpy seed."""
    saved = (dg.config.train, dg.config.enable_backprop, dg.config.debug)
    numpy.random.seed(0)
    yield
    dg.config.train, dg.config.enable_backprop, dg.config.debug = saved
