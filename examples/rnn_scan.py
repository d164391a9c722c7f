"""Recurrent networks compiled two ways: by tracing the Python loop, and with ``dj.scan``.

A tanh RNN (the seed's ``SimpleRNN`` cell, ``h = tanh(x W + h U + b)``) and an LSTM
(``F.lstm`` on ``x W + h U + b``) run over a batch of sequences; the loss is the mean
over steps and batch of ``sum(h_t ** 2)``.  Each model is computed

- eagerly, on the tape (the reference);
- by ``dj.jit`` of the same Python loop: the trace unrolls it, one compiled variant per
  sequence length (the length is part of the call's signature, so another length
  traces again);
- by ``dj.scan`` in a Theano-style ``dj.function``: one ``Scan`` equation whose body
  is the cell, whatever the length, with the gradients from ``dj.grad``;

and the values and gradients of all three are compared.  ``build_w5_scan`` returns the
W5 benchmark workload (tanh RNN, input 100, hidden 100, 50 steps, batch 32, forward and
backward) in the scan form.

    python examples/rnn_scan.py [--steps 12] [--batch 4] [--inputs 5] [--hidden 8]
"""

import argparse
import functools

import numpy

import dualgrad as dg
import dualgrad.functions as F
import dualgrad_jit as dj
import dualgrad_jit.tensor as T

GATES = {"rnn": 1, "lstm": 4}


def init_params(kind, n_in, n_hidden, seed=0, dtype="float64"):
    """``(W, U, b)`` of a cell: ``W`` (n_in, g*H), ``U`` (H, g*H), ``b`` (g*H,), with
    g = 1 gate for the RNN, 4 for the LSTM."""
    rng = numpy.random.default_rng(seed)
    width = GATES[kind] * n_hidden
    params = (rng.standard_normal((n_in, width)) / numpy.sqrt(n_in),
              rng.standard_normal((n_hidden, width)) / numpy.sqrt(n_hidden),
              rng.standard_normal(width) * 0.1)
    return tuple(p.astype(dtype) for p in params)


def rnn_step(x, h, W, U, b):
    """The SimpleRNN cell: ``h' = tanh(x W + h U + b)``."""
    return F.tanh(F.matmul(x, W) + F.matmul(h, U) + b)


def lstm_step(x, h, c, W, U, b):
    """An LSTM cell: ``(c', h') = lstm(c, x W + h U + b)``; returns ``(h', c')``."""
    c, h = F.lstm(c, F.matmul(x, W) + F.matmul(h, U) + b)
    return h, c


# -- the Python loop (eager, and traced by dj.jit) ---------------------------------------------
def loop_loss(kind, xs, W, U, b):
    """The loss by a Python loop over the steps (what eager code and dj.jit run)."""
    steps, batch = xs.shape[0], xs.shape[1]
    h = numpy.zeros((batch, U.shape[0]), xs.dtype)
    c = h
    total = 0.0
    for t in range(steps):
        if kind == "rnn":
            h = rnn_step(xs[t], h, W, U, b)
        else:
            h, c = lstm_step(xs[t], h, c, W, U, b)
        total = total + F.sum(h * h)
    return total / (steps * batch)


def eager_loss_and_grads(kind, xs, params):
    values = [dg.Variable(p.copy()) for p in params]
    loss = loop_loss(kind, dg.Variable(xs, requires_grad=False), *values)
    loss.backward()
    return [loss.array] + [v.grad for v in values]


def jit_loss(kind):
    """``dj.jit`` of the Python loop: traced (unrolled) once per sequence length."""
    return dj.jit(functools.partial(loop_loss, kind))


def jit_loss_and_grads(compiled, xs, params):
    values = [dg.Variable(p.copy()) for p in params]
    loss = compiled(xs, *values)
    loss.backward()
    return [loss.array] + [v.grad for v in values]


# -- dj.scan -----------------------------------------------------------------------------------
def scan_function(kind, n_in, n_hidden, dtype="float64", backend="auto"):
    """``f(xs, W, U, b) -> [loss, gW, gU, gb]``: the loop as one ``Scan`` equation (the
    sizes are declared so that every step's type is known when the recipe is written)."""
    width = GATES[kind] * n_hidden
    xs = T.tensor(dtype, shape=(None, None, n_in), name="xs")
    W = T.tensor(dtype, shape=(n_in, width), name="W")
    U = T.tensor(dtype, shape=(n_hidden, width), name="U")
    b = T.tensor(dtype, shape=(width,), name="b")
    h0 = T.zeros((xs.shape[1], n_hidden), dtype)
    if kind == "rnn":
        hs, _ = dj.scan(rnn_step, sequences=xs, outputs_info=h0, non_sequences=[W, U, b])
    else:
        (hs, _cs), _ = dj.scan(lstm_step, sequences=xs, outputs_info=[h0, h0],
                               non_sequences=[W, U, b])
    loss = (hs * hs).sum() / (xs.shape[0] * xs.shape[1])
    return dj.function([xs, W, U, b], [loss] + dj.grad(loss, [W, U, b]), backend=backend)


# -- checks ------------------------------------------------------------------------------------
def check(kind, steps=6, batch=3, n_in=4, n_hidden=5, seed=0):
    """The largest differences of the jit and scan forms from eager (loss and gradients),
    and the number of variants the traced loop compiled for two sequence lengths."""
    rng = numpy.random.default_rng(seed + 1)
    params = init_params(kind, n_in, n_hidden, seed)
    compiled, scanned = jit_loss(kind), scan_function(kind, n_in, n_hidden)
    report = {"jit": 0.0, "scan": 0.0}
    for length in (steps, steps + 2, steps):
        xs = rng.standard_normal((length, batch, n_in))
        reference = eager_loss_and_grads(kind, xs, params)
        for name, got in (("jit", jit_loss_and_grads(compiled, xs, params)),
                          ("scan", scanned(xs, *params))):
            error = max(float(numpy.abs(a - r).max()) for a, r in zip(got, reference))
            report[name] = max(report[name], error)
    report["jit_traces"] = compiled.stats["traces"]
    graph = scanned.graph(xs, *params)
    report["scan_loops"] = sum(eq.op.name == "Scan" for eq in graph.equations)
    return report


def check_simple_rnn(**sizes):
    """``check('rnn', ...)``."""
    return check("rnn", **sizes)


def check_lstm(**sizes):
    """``check('lstm', ...)``."""
    return check("lstm", **sizes)


# -- the W5 workload ---------------------------------------------------------------------------
W5 = {"steps": 50, "batch": 32, "n_in": 100, "n_hidden": 100}


def w5_data(steps=50, batch=32, n_in=100, n_hidden=100, seed=0, dtype="float32"):
    rng = numpy.random.default_rng(seed)
    xs = rng.standard_normal((steps, batch, n_in)).astype(dtype)
    return (xs,) + init_params("rnn", n_in, n_hidden, seed, dtype)


def w5_numpy(xs, W, U, b):
    """The W5 loss and gradients written by hand in numpy (the floor to compare with)."""
    steps, batch = xs.shape[:2]
    h = numpy.zeros((batch, U.shape[0]), xs.dtype)
    hs = []
    for t in range(steps):
        h = numpy.tanh(xs[t] @ W + h @ U + b)
        hs.append(h)
    scale = xs.dtype.type(1.0 / (steps * batch))
    loss = sum(float((h * h).sum()) for h in hs) * scale
    gW, gU, gb = numpy.zeros_like(W), numpy.zeros_like(U), numpy.zeros_like(b)
    carry = numpy.zeros_like(h)
    for t in range(steps - 1, -1, -1):
        g = (carry + 2 * scale * hs[t]) * (1 - hs[t] * hs[t])
        previous = hs[t - 1] if t else numpy.zeros_like(h)
        gW += xs[t].T @ g
        gU += previous.T @ g
        gb += g.sum(axis=0)
        carry = g @ U.T
    return [numpy.asarray(loss, xs.dtype), gW, gU, gb]


def build_w5_scan(backend="numpy", seed=0, dtype="float32", **sizes):
    """A callable computing the W5 loss and its gradients ``[loss, gW, gU, gb]`` by
    ``dj.scan`` on fixed data; ``run.data`` holds the data, ``run.reference()`` gives the
    hand-written numpy result."""
    sizes = {**W5, **sizes}
    data = w5_data(seed=seed, dtype=dtype, **sizes)
    function = scan_function("rnn", sizes["n_in"], sizes["n_hidden"], dtype, backend)

    def run():
        return function(*data)

    run.data = data
    run.function = function
    run.reference = functools.partial(w5_numpy, *data)
    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--inputs", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sizes = dict(steps=args.steps, batch=args.batch, n_in=args.inputs,
                 n_hidden=args.hidden, seed=args.seed)
    reports = {}
    for kind, label in (("rnn", "SimpleRNN"), ("lstm", "LSTM")):
        report = reports[label] = check(kind, **sizes)
        print(f"{label}: dj.jit of the loop differs from eager by {report['jit']:.1e} "
              f"({report['jit_traces']} traces for 2 lengths); dj.scan by "
              f"{report['scan']:.1e} ({report['scan_loops']} forward+backward loops)")
    return reports


if __name__ == "__main__":
    main()
