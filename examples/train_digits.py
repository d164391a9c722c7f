"""Chainer's classic MNIST example, on the real 8x8 handwritten digits.

The 1797 scanned digits that ship with the library (``dg.datasets.get_digits``: 64 pixel
intensities scaled to [0, 1], labels 0-9) stand in for MNIST, so the example runs offline
and in seconds. The model is Chainer's three-layer perceptron wrapped in ``L.Classifier``
(softmax cross entropy plus accuracy, both reported):

    h1 = relu(W1 x + b1),  h2 = relu(W2 h1 + b2),  y = W3 h2 + b3

trained with Adam by a ``Trainer``: the ``StandardUpdater`` draws minibatches from a
``SerialIterator``; the extensions evaluate on the test split every epoch, log, print a
table, draw a progress bar, plot loss and accuracy curves (``loss.png``, ``accuracy.png``
in ``--out``) and write a snapshot of the whole trainer at the end.

Then the Chainer-style training step itself,

    model.cleargrads(); loss = model(x, t); loss.backward(); optimizer.update()

is compiled with ``dj.jit`` (model and optimizer are static arguments) and run on a twin
copy of the trained model, next to the eager step on the original, for ``--steps`` more
minibatches: the script prints the median time per step of both and checks that the two
models' parameters still agree.  ``backend='auto'`` compiles the step to fused machine
code with LLVM, whose float rounding may differ from numpy's in the last bits (fused
multiply-adds, vectorised sums, its own exp/tanh within 2 ulp), so the check allows a
relative difference of 1e-4; ``--backend numpy`` replays the numpy calls eager makes and
must agree bit for bit.

    python examples/train_digits.py [--epoch 20] [--batchsize 32] [--unit 100]
                                    [--out result/digits] [--seed 0] [--steps 200]
"""

import argparse
import time

import numpy

import dualgrad as dg
import dualgrad.functions as F
import dualgrad.links as L
import dualgrad_jit as dj
from dualgrad import training
from dualgrad.training import extensions


class MLP(dg.Chain):
    """Three fully connected layers; ``Linear(None, n)`` infers its input size on first use."""

    def __init__(self, n_units, n_out):
        super().__init__()
        with self.init_scope():
            self.l1 = L.Linear(None, n_units)
            self.l2 = L.Linear(None, n_units)
            self.l3 = L.Linear(None, n_out)

    def forward(self, x):
        h1 = F.relu(self.l1(x))
        h2 = F.relu(self.l2(h1))
        return self.l3(h2)


def build_trainer(args):
    """The model, its optimizer and a Trainer with Chainer's MNIST extensions."""
    model = L.Classifier(MLP(args.unit, 10))
    optimizer = dg.optimizers.Adam()
    optimizer.setup(model)

    train, test = dg.datasets.get_digits()
    train_iter = dg.iterators.SerialIterator(train, args.batchsize)
    test_iter = dg.iterators.SerialIterator(test, args.batchsize, repeat=False, shuffle=False)

    updater = training.updaters.StandardUpdater(train_iter, optimizer)
    trainer = training.Trainer(updater, (args.epoch, "epoch"), out=args.out)
    trainer.extend(extensions.Evaluator(test_iter, model))
    trainer.extend(extensions.snapshot(), trigger=(args.epoch, "epoch"))
    trainer.extend(extensions.LogReport())
    trainer.extend(extensions.PlotReport(
        ["main/loss", "validation/main/loss"], "epoch", file_name="loss.png"))
    trainer.extend(extensions.PlotReport(
        ["main/accuracy", "validation/main/accuracy"], "epoch", file_name="accuracy.png"))
    trainer.extend(extensions.PrintReport(
        ["epoch", "main/loss", "validation/main/loss",
         "main/accuracy", "validation/main/accuracy", "elapsed_time"]))
    if not args.no_progress:
        trainer.extend(extensions.ProgressBar())
    return trainer, model, test


def test_accuracy(model, dataset):
    """Accuracy of ``model`` on the whole of ``dataset``, in test mode and without a tape."""
    x, t = dg.dataset.concat_examples(dataset[:])
    with dg.using_config("train", False), dg.no_backprop_mode():
        return float(F.accuracy(model.predictor(x), t).array)


def train_step(model, optimizer, x, t):
    """One Chainer-style step; ``dj.jit(train_step, static_argnums=(0, 1))`` compiles it."""
    model.cleargrads()
    loss = model(x, t)
    loss.backward()
    optimizer.update()
    return loss


def time_steps(runs, batches):
    """Run every ``(step, model, optimizer)`` of ``runs`` on each batch in turn (so that
    both see the same machine load); the wall time of each call, in milliseconds."""
    times = [[] for _ in runs]
    for x, t in batches:
        for (step, model, optimizer), record in zip(runs, times):
            start = time.perf_counter()
            step(model, optimizer, x, t)
            record.append((time.perf_counter() - start) * 1e3)
    return times


def compare_compiled_step(model, dataset, batchsize, steps, backend="auto"):
    """Continue training ``model`` eagerly and a twin copy through ``dj.jit`` on the same
    ``steps`` minibatches (each with a fresh Adam); print both speeds and whether the two
    end with equal parameters. Returns that equality."""
    x_all, t_all = dg.dataset.concat_examples(dataset[:])
    order = numpy.random.permutation(steps * batchsize) % len(x_all)
    batches = [(x_all[i], t_all[i]) for i in order.reshape(steps, batchsize)]
    twin = model.copy(mode="copy")
    compiled = dj.jit(train_step, static_argnums=(0, 1), backend=backend)
    twin_optimizer = dg.optimizers.Adam().setup(twin)
    eager_ms, compiled_ms = time_steps(
        [(train_step, model, dg.optimizers.Adam().setup(model)),
         (compiled, twin, twin_optimizer)], batches)
    backend = compiled.variants(twin, twin_optimizer, *batches[0])[0].backend  # what ran
    eager_median = numpy.median(eager_ms)
    compiled_median = numpy.median(compiled_ms[1:])  # the first call traces
    print(f"training step, {steps} steps of {batchsize} digits, median time per step:")
    print(f"  eager     {eager_median:7.3f} ms")
    print(f"  compiled  {compiled_median:7.3f} ms  (dj.jit, backend '{backend}'; traced "
          f"and compiled once in {compiled_ms[0]:.1f} ms, replayed "
          f"{compiled.stats['replays']} times)")
    print(f"  compiled is {eager_median / compiled_median:.2f}x eager's speed")
    pairs = list(zip(model.namedparams(), twin.namedparams()))
    exact = all(numpy.array_equal(p.array, q.array) for (_, p), (_, q) in pairs)
    worst = max(float(numpy.max(numpy.abs(p.array - q.array)) / numpy.max(numpy.abs(p.array)))
                for (_, p), (_, q) in pairs)
    agree = exact or (backend != "numpy" and worst <= 1e-4)
    how = "bit for bit" if exact else f"to {worst:.1e} relative"
    print(f"check: after {steps} steps the compiled twin's {len(pairs)} parameters "
          f"{'equal' if agree else 'DIFFER FROM'} the eager model's {how}")
    return agree


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epoch", "-e", type=int, default=20,
                        help="number of sweeps over the training split")
    parser.add_argument("--batchsize", "-b", type=int, default=32,
                        help="number of digits in each minibatch")
    parser.add_argument("--unit", "-u", type=int, default=100,
                        help="number of units in each hidden layer")
    parser.add_argument("--out", "-o", default="result/digits",
                        help="directory for the log, the plots and the snapshot")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of numpy's generator (initial weights, shuffling)")
    parser.add_argument("--no-progress", action="store_true",
                        help="leave out the progress bar (for logs)")
    parser.add_argument("--backend", default="auto", choices=("auto", "llvm", "numpy"),
                        help="backend of the compiled step (default: auto)")
    parser.add_argument("--steps", type=int, default=200,
                        help="steps of the eager vs compiled comparison (0: skip it)")
    args = parser.parse_args(argv)

    # The initializers and the iterator's shuffling draw from numpy's global generator.
    numpy.random.seed(args.seed)
    start = time.perf_counter()
    trainer, model, test = build_trainer(args)
    trainer.run()
    accuracy = test_accuracy(model, test)
    print(f"final test accuracy {accuracy:.4f} ({len(test)} digits, "
          f"{time.perf_counter() - start:.1f} s); plots and snapshot in {args.out}/")
    if args.steps > 0:
        train, _ = dg.datasets.get_digits()
        compare_compiled_step(model, train, args.batchsize, args.steps, args.backend)
    return accuracy


if __name__ == "__main__":
    main()
