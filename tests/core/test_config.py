"""``dg.config``, ``using_config`` and debug mode."""

import os
import subprocess
import sys
import warnings

import numpy
import pytest

import dualgrad as dg
from dualgrad.core.aval import ShapedArray
from dualgrad.core.op import OP_REGISTRY, ElementwiseOp
from dualgrad.ops import elementwise as ew


def test_defaults():
    assert dg.config.train is True
    assert dg.config.enable_backprop is True
    assert "train" in repr(dg.config)


def test_using_config_sets_and_restores():
    with dg.using_config("train", False):
        assert dg.config.train is False
        with dg.using_config("train", True):
            assert dg.config.train is True
        assert dg.config.train is False
    assert dg.config.train is True


def test_using_config_restores_on_exceptions():
    with pytest.raises(ZeroDivisionError), dg.using_config("enable_backprop", False):
        1 / 0  # noqa: B018
    assert dg.config.enable_backprop is True
    with pytest.raises(ZeroDivisionError), dg.no_backprop_mode():
        1 / 0  # noqa: B018
    assert dg.config.enable_backprop is True


def test_unknown_setting_lists_the_known_ones():
    with pytest.raises(AttributeError, match="trian") as info, dg.using_config("trian", False):
        pass
    for name in ("train", "enable_backprop", "debug"):
        assert name in str(info.value)


def test_config_rejects_new_attributes():
    with pytest.raises(AttributeError):
        dg.config.trian = False


@pytest.mark.parametrize("value, expected", [("1", 1), ("3", 3), ("true", 1), ("0", 0), ("", 0)])
def test_debug_is_read_from_the_environment(value, expected):
    env = dict(os.environ, DUALGRAD_DEBUG=value)
    out = subprocess.run(
        [sys.executable, "-c", "import dualgrad; print(dualgrad.config.debug)"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert int(out.stdout.strip()) == expected


# -- debug mode ---------------------------------------------------------------------------------
def test_debug_names_the_op_of_the_first_nan_forward():
    x = dg.Variable(numpy.array([-1.0, 1.0]))
    with dg.using_config("debug", 1), pytest.raises(dg.NonFiniteError) as info:
        y = x * 2.0
        ew.log(y)
    message = str(info.value)
    assert message.startswith("Log produced NaN")
    assert "float64[2]" in message and "test_config.py" in message


def test_debug_nan_forward_without_warnings_as_errors():
    """Outside pytest numpy only warns; debug mode still stops at the first NaN."""
    x = dg.Variable(numpy.array([-1.0, 1.0]))
    with warnings.catch_warnings(), numpy.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        with dg.using_config("debug", 1), pytest.raises(dg.NonFiniteError, match="^Log"):
            ew.log(x)
        y = ew.log(x)  # without debug: NaN, no error
    assert numpy.isnan(y.array[0])


def test_nan_forward_without_debug_is_numpy_warning():
    """Without debug mode a NaN is numpy's business (a RuntimeWarning), not an OpError."""
    x = dg.Variable(numpy.array([-1.0]))
    with pytest.raises(RuntimeWarning, match="invalid value"):
        ew.log(x)


def test_debug_does_not_blame_an_op_for_nan_inputs():
    x = dg.Variable(numpy.array([numpy.nan, 1.0]))
    with dg.using_config("debug", 1):
        y = ew.exp(x)
    assert numpy.isnan(y.array[0])


def test_debug_names_the_op_whose_backward_made_a_nan():
    x = dg.Variable(numpy.array([0.0, 1.0]))
    with dg.using_config("debug", 1):
        y = ew.sqrt(x)  # finite forward; the gradient 1 / (2 sqrt(x)) is inf at 0
        with pytest.raises(dg.NonFiniteError, match="backward pass of Sqrt") as info:
            y.sum().backward()
    assert "test_config.py" in str(info.value)


def test_debug_nan_backward_without_warnings_as_errors():
    x = dg.Variable(numpy.array([0.0, 1.0]))
    with warnings.catch_warnings(), numpy.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        with dg.using_config("debug", 1):
            y = ew.sqrt(x)
            with pytest.raises(dg.NonFiniteError, match="backward pass of Sqrt"):
                y.sum().backward()


class _LyingShape(ElementwiseOp):
    """An op whose ``infer`` disagrees with its ``forward`` (a bug debug mode must catch)."""

    def forward(self, xp, x):
        return xp.concatenate([x, x])

    def infer(self, x):
        return ShapedArray(x.shape, x.dtype)


class _LyingDtype(ElementwiseOp):
    def forward(self, xp, x):
        return x.astype(xp.float32)

    def infer(self, x):
        return ShapedArray(x.shape, x.dtype)


for _op in (_LyingShape, _LyingDtype):  # test-only ops: keep them out of the op tables
    OP_REGISTRY.remove(_op)


@pytest.mark.parametrize("op, found", [(_LyingShape(), "float64[4]"), (_LyingDtype(), "float32")])
def test_debug_catches_infer_disagreeing_with_forward(op, found):
    x = dg.Variable(numpy.ones(2))
    dg.apply(op, (x,))  # unchecked outside debug mode
    with dg.using_config("debug", 1), pytest.raises(AssertionError, match="infer says") as info:
        dg.apply(op, (x,))
    assert op.name in str(info.value) and found in str(info.value)
