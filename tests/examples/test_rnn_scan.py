"""``examples/rnn_scan.py``: the RNN and the LSTM compiled by dj.jit and by dj.scan match
eager values and gradients; the W5 builder computes the hand-written numpy result."""

import numpy
import pytest

from .test_examples import load_example


@pytest.fixture(scope="module")
def example():
    return load_example("rnn_scan")


@pytest.mark.parametrize("check", ["check_simple_rnn", "check_lstm"])
def test_jit_and_scan_forms_match_eager(example, check):
    report = getattr(example, check)(steps=5, batch=3, n_in=4, n_hidden=6, seed=1)
    assert report["jit"] < 1e-12 and report["scan"] < 1e-12, report
    assert report["jit_traces"] == 2  # the unrolled loop is guarded on the length
    assert report["scan_loops"] == 2  # one forward loop, one reverse loop, any length


def test_w5_scan_builder_matches_hand_written_numpy(example):
    run = example.build_w5_scan(backend="numpy", steps=6, batch=4, n_in=5, n_hidden=7)
    got, want = run(), run.reference()
    assert [g.shape for g in got] == [w.shape for w in want]
    for g, w in zip(got, want):
        numpy.testing.assert_allclose(g, w, rtol=2e-5, atol=1e-6)


def test_main_prints_both_models(example, capsys):
    reports = example.main(["--steps", "3", "--batch", "2", "--inputs", "3", "--hidden", "4"])
    printed = capsys.readouterr().out
    assert set(reports) == {"SimpleRNN", "LSTM"}
    assert printed.count("dj.jit of the loop differs from eager") == 2
