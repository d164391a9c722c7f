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

    python examples/train_digits.py [--epoch 20] [--batchsize 32] [--unit 100]
                                    [--out result/digits] [--seed 0]
"""

import argparse
import time

import numpy

import dualgrad as dg
import dualgrad.functions as F
import dualgrad.links as L
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
    args = parser.parse_args(argv)

    # The initializers and the iterator's shuffling draw from numpy's global generator.
    numpy.random.seed(args.seed)
    start = time.perf_counter()
    trainer, model, test = build_trainer(args)
    trainer.run()
    accuracy = test_accuracy(model, test)
    print(f"final test accuracy {accuracy:.4f} ({len(test)} digits, "
          f"{time.perf_counter() - start:.1f} s); plots and snapshot in {args.out}/")
    return accuracy


if __name__ == "__main__":
    main()
