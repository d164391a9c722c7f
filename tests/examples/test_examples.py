"""The example scripts end to end, with settings small enough for the test suite."""

import importlib.util
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_example(name):
    """Import ``examples/<name>.py`` as a module (its ``main(argv)`` runs the example)."""
    path = os.path.join(ROOT, "examples", name + ".py")
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_digits_reaches_95_percent_and_plots_its_curves(tmp_path, capsys):
    example = load_example("train_digits")
    accuracy = example.main(["--epoch", "12", "--out", str(tmp_path), "--no-progress",
                             "--steps", "20"])
    printed = capsys.readouterr().out
    assert accuracy >= 0.95
    assert f"final test accuracy {accuracy:.4f}" in printed
    # The same step compiled by dj.jit (LLVM machine code) keeps its twin equal to the
    # eager model to rounding.
    assert "backend 'llvm'" in printed
    assert "after 20 steps the compiled twin's 6 parameters equal the eager model's" in printed

    for name in ("loss.png", "accuracy.png", "log"):
        assert (tmp_path / name).stat().st_size > 0, name
    with open(tmp_path / "loss.png", "rb") as png:
        assert png.read(8) == b"\x89PNG\r\n\x1a\n"
    assert any(name.startswith("snapshot") for name in os.listdir(tmp_path))
    # LogReport's log (what PrintReport prints and PlotReport draws): one entry per epoch.
    with open(tmp_path / "log") as log_file:
        log = json.load(log_file)
    assert [entry["epoch"] for entry in log] == list(range(1, 13))
    assert log[-1]["validation/main/accuracy"] >= 0.9
    assert log[-1]["main/loss"] < log[0]["main/loss"]


def test_train_digits_compiled_by_the_reference_backend_is_bit_for_bit_eager(tmp_path, capsys):
    example = load_example("train_digits")
    example.main(["--epoch", "1", "--out", str(tmp_path), "--no-progress", "--steps", "5",
                  "--backend", "numpy"])
    printed = capsys.readouterr().out
    assert "backend 'numpy'" in printed
    assert ("after 5 steps the compiled twin's 6 parameters equal the eager model's "
            "bit for bit") in printed


def test_text_language_models_beat_the_unigram_baseline(capsys):
    example = load_example("train_text_lm")
    results = example.main(["--quick"])
    printed = capsys.readouterr().out
    unigram = results["unigram"]
    for name in ("SimpleRNN", "LSTM"):
        for split in ("valid", "test"):
            assert results[name][split] < 0.75 * unigram[split], (name, split, results)
    # The article's sampling: every prompt is continued by both models.
    for prompt in example.PROMPTS:
        continuations = [line for line in printed.splitlines()
                         if line.startswith(f'"{prompt}" => "')]
        assert len(continuations) == 2, printed
        assert all(len(line.split('=> "')[1].split()) == 10 for line in continuations)


def test_stochastic_resnet_changes_its_graph_and_learns(capsys):
    example = load_example("stochastic_resnet")
    accuracy, history = example.main(["--epoch", "10", "--seed", "1"])
    printed = capsys.readouterr().out
    assert accuracy >= 0.9
    patterns = {active for active, _ in history}
    node_counts = {nodes for _, nodes in history}
    assert len(patterns) > 1 and len(node_counts) > 1
    # Fewer blocks that ran, fewer ops on the tape.
    by_depth = {sum(active): nodes for active, nodes in history}
    depths = sorted(by_depth)
    assert [by_depth[d] for d in depths] == sorted(by_depth[d] for d in depths)
    assert "minibatch  1: blocks" in printed


@pytest.mark.parametrize("name", ["train_digits", "train_text_lm", "stochastic_resnet"])
def test_examples_explain_themselves(name):
    example = load_example(name)
    assert example.__doc__ and "python examples/" + name + ".py" in example.__doc__
