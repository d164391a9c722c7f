"""A network whose graph changes with every minibatch: a residual net with stochastic depth.

Stochastic depth (Huang et al., 2016) trains a deep residual network by dropping whole
blocks at random. Block ``i`` survives a minibatch with probability ``p[i]``:

    train:  h <- relu(b_i * f_i(h) + h),   b_i ~ Bernoulli(p[i]), drawn once per minibatch
    test:   h <- relu(p[i] * f_i(h) + h)   (the expected value of the training update)

With ``p`` decaying linearly from 1 at the input to ``p_last`` at the output, the network
is shallower on average while training, and its full depth is used at test time. Define-by-run
makes this a Python ``if``: every call builds the graph of the blocks that survived, and
``backward`` walks exactly that graph (dropped blocks get no gradient that step).

This is the mock from "Complex neural networks made easy by Chainer" made real and
trained on the 8x8 digits; the log shows which blocks ran and how many ops the recorded
graph had for the first minibatches, then the test accuracy after each epoch.

    python examples/stochastic_resnet.py [--epoch 10] [--blocks 6] [--unit 64] [--seed 0]
"""

import argparse
import time

import numpy

import dualgrad as dg
import dualgrad.functions as F
import dualgrad.links as L
from dualgrad import Chain, ChainList


class ResidualBlock(Chain):
    """The residual branch ``f(h) = W2 relu(W1 h + b1) + b2``."""

    def __init__(self, n_units):
        super().__init__()
        with self.init_scope():
            self.l1 = L.Linear(n_units, n_units)
            self.l2 = L.Linear(n_units, n_units)

    def forward(self, h):
        return self.l2(F.relu(self.l1(h)))


class StochasticResNet(Chain):
    """Input layer, ``size`` residual blocks ``f[i]`` that survive with probability
    ``prob[i]``, and a linear classifier on top."""

    def __init__(self, prob, size, n_units=64, n_out=10):
        super().__init__()
        with self.init_scope():
            self.inp = L.Linear(None, n_units)
            self.f = ChainList(*[ResidualBlock(n_units) for _ in range(size)])
            self.out = L.Linear(n_units, n_out)
        self.p = prob  # Survival probabilities
        self.size = size
        self.active = []  # which blocks ran in the last call (1) and which were skipped (0)

    def __call__(self, x):
        h = F.relu(self.inp(x))
        self.active = []
        for i in range(self.size):
            if dg.config.train:
                b = numpy.random.binomial(1, self.p[i])  # one coin per minibatch
                c = self.f[i](h) + h if b == 1 else h
            else:
                b = 1
                c = self.p[i] * self.f[i](h) + h  # expected value of the training update
            self.active.append(b)
            h = F.relu(c)
        return self.out(h)


def linear_decay(size, p_last):
    """``p[i] = 1 - (i + 1) / size * (1 - p_last)``: early blocks survive more often."""
    return [1.0 - (i + 1) / size * (1.0 - p_last) for i in range(size)]


def count_graph_nodes(variable):
    """How many ops the tape recorded on the way to ``variable``."""
    seen, stack = set(), [variable.creator]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(getattr(x, "creator", None) for x in node.inputs)
    return len(seen)


def evaluate(model, dataset):
    """Test-mode accuracy (every block, scaled by its survival probability)."""
    x, t = dg.dataset.concat_examples(dataset[:])
    with dg.using_config("train", False), dg.no_backprop_mode():
        return float(F.accuracy(model(x), t).array)


def train(model, train_set, test_set, epochs, batchsize, show=8):
    """Adam on minibatches; print the graph of the first ``show`` minibatches."""
    optimizer = dg.optimizers.Adam()
    optimizer.setup(model)
    iterator = dg.iterators.SerialIterator(train_set, batchsize)
    history = []
    while iterator.epoch < epochs:
        x, t = dg.dataset.concat_examples(iterator.next())
        loss = F.softmax_cross_entropy(model(x), t)
        nodes = count_graph_nodes(loss)
        model.cleargrads()
        loss.backward()
        optimizer.update()
        history.append((tuple(model.active), nodes))
        if len(history) <= show:
            blocks = "".join(str(b) for b in model.active)
            print(f"minibatch {len(history):2d}: blocks {blocks}  "
                  f"({sum(model.active)}/{model.size} ran)  graph {nodes:3d} ops  "
                  f"loss {float(loss.array):.3f}")
        if iterator.is_new_epoch:
            print(f"epoch {iterator.epoch}: test accuracy {evaluate(model, test_set):.4f}")
    return history


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epoch", "-e", type=int, default=10)
    parser.add_argument("--batchsize", "-b", type=int, default=32)
    parser.add_argument("--blocks", type=int, default=6, help="number of residual blocks")
    parser.add_argument("--unit", "-u", type=int, default=64)
    parser.add_argument("--p-last", type=float, default=0.5,
                        help="survival probability of the last block")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    numpy.random.seed(args.seed)
    start = time.perf_counter()
    train_set, test_set = dg.datasets.get_digits()
    prob = linear_decay(args.blocks, args.p_last)
    print("survival probabilities " + " ".join(f"{p:.2f}" for p in prob))
    model = StochasticResNet(prob, args.blocks, args.unit)
    history = train(model, train_set, test_set, args.epoch, args.batchsize)
    sizes = sorted({nodes for _, nodes in history})
    print(f"{len(history)} minibatches, {len({a for a, _ in history})} different block "
          f"patterns, graphs of {sizes[0]} to {sizes[-1]} ops")
    accuracy = evaluate(model, test_set)
    print(f"final test accuracy {accuracy:.4f} ({time.perf_counter() - start:.1f} s)")
    return accuracy, history


if __name__ == "__main__":
    main()
