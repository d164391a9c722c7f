"""Train a two-layer perceptron on two interleaved spirals, eagerly, with manual SGD.

The dataset is generated here with numpy (no download): two spiral arms of points in
the plane, one per class, with a little noise. No straight line separates them, so a
linear model stays near 50% accuracy while a small MLP learns the curved boundary.

The model is two ``F.linear`` layers with a ReLU between them, trained on
``F.softmax_cross_entropy``:

    h      = relu(x @ W1.T + b1)
    logits = h @ W2.T + b2
    loss   = mean over the batch of  logsumexp(logits) - logits[label]

Every op runs at once on numpy arrays and records itself on the tape; ``backward()``
fills each parameter's ``.grad`` and the update (SGD with momentum) is ordinary numpy.
Accuracy is reported on the training points and on a held-out draw of the spirals.

    python examples/eager_mlp.py [--epochs 30] [--seed 0]
"""

import argparse
import time

import numpy

import dualgrad as dg
import dualgrad.functions as F
from dualgrad import initializers


def two_spirals(n_per_class, noise=0.1, seed=0):
    """Points ``(n, 2)`` float32 on two interleaved spiral arms and labels ``(n,)`` int."""
    rng = numpy.random.default_rng(seed)
    radius = numpy.linspace(0.15, 1.0, n_per_class)
    angle = 3.0 * numpy.pi * radius
    points, labels = [], []
    for label, phase in enumerate((0.0, numpy.pi)):
        arm = numpy.stack([radius * numpy.cos(angle + phase),
                           radius * numpy.sin(angle + phase)], axis=1)
        points.append(arm + noise * radius[:, None] * rng.standard_normal(arm.shape))
        labels.append(numpy.full(n_per_class, label))
    return (numpy.concatenate(points).astype(numpy.float32),
            numpy.concatenate(labels).astype(numpy.int32))


class MLP:
    """``in -> hidden (relu) -> out``, parameters as ``dg.Parameter``s."""

    def __init__(self, n_in, n_hidden, n_out):
        self.W1 = dg.Parameter(initializers.HeNormal(), (n_hidden, n_in))
        self.b1 = dg.Parameter(initializers.Zero(), n_hidden)
        self.W2 = dg.Parameter(initializers.LeCunNormal(), (n_out, n_hidden))
        self.b2 = dg.Parameter(initializers.Zero(), n_out)

    def params(self):
        return [self.W1, self.b1, self.W2, self.b2]

    def __call__(self, x):
        h = F.relu(F.linear(x, self.W1, self.b1))
        return F.linear(h, self.W2, self.b2)


def sgd_step(params, velocities, lr, momentum=0.9):
    """``v <- momentum * v - lr * grad;  p <- p + v`` (SGD with classical momentum)."""
    for p, v in zip(params, velocities):
        v *= momentum
        v -= lr * p.grad
        p.array += v
        p.cleargrad()


def accuracy(model, x, t):
    with dg.no_backprop_mode():
        return float(F.accuracy(model(x), t).array)


def train(x, t, epochs=30, batch_size=16, lr=0.1, hidden=64, seed=0):
    numpy.random.seed(seed)  # the initializers draw from numpy's global generator
    model = MLP(2, hidden, 2)
    velocities = [numpy.zeros_like(p.array) for p in model.params()]
    order = numpy.random.default_rng(seed)
    for epoch in range(1, epochs + 1):
        perm = order.permutation(len(x))
        total = 0.0
        for start in range(0, len(x), batch_size):
            batch = perm[start:start + batch_size]
            loss = F.softmax_cross_entropy(model(x[batch]), t[batch])
            loss.backward()
            sgd_step(model.params(), velocities, lr)
            total += float(loss.array) * len(batch)
        print(f"epoch {epoch:3d}  loss {total / len(x):.4f}  "
              f"train accuracy {accuracy(model, x, t):.3f}")
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()
    x, t = two_spirals(300, seed=args.seed)
    x_test, t_test = two_spirals(300, seed=args.seed + 1)
    model = train(x, t, epochs=args.epochs, seed=args.seed)
    print(f"final accuracy {accuracy(model, x_test, t_test):.3f} on held-out points "
          f"({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
