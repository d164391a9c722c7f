"""The code of "Complex neural networks made easy by Chainer" (seed 001), run with dualgrad.

Each ``SECTION_*`` string is the article's code verbatim (line breaks restored) except
for the renaming ``chainer`` -> ``dualgrad``; the tests execute the sections and check
what the article shows or says about them. Where the article trains on MNIST or the Penn
Treebank, the tests use small random or synthetic data of the same shapes.
"""

import contextlib
import io

import numpy
import pytest

import dualgrad

# "Chainer basics": Variables, operators and their creators.
SECTION_VARIABLE = """
from dualgrad import Variable
import numpy as np
x = Variable(np.asarray([[0, 2],[1, -3]]).astype(np.float32))
print(x.data)
y = x ** 2 - x + 1
print(y.data)
print(y.creator)
"""

# "Chainer basics": the modules the rest of the article uses (``import cupy as cp`` is in
# SECTION_CUPY, run where a GPU exists).
SECTION_IMPORTS = """
import dualgrad.functions as F
import dualgrad.links as L
from dualgrad import Chain, optimizers, serializers, cuda
"""

SECTION_CUPY = """
import cupy as cp
"""

# "Chainer's design: Define-by-Run": the two-layer perceptron.
SECTION_MLP = """
# 2-layer Multi-Layer Perceptron (MLP)
class MLP(Chain):
    def __init__(self):
        super(MLP, self).__init__(
            l1=L.Linear(784, 100),  # From 784-dimensional input to hidden unit with 100 nodes
            l2=L.Linear(100, 10),  # From hidden unit with 100 nodes to output unit with 10 nodes (10 classes)
        )

    # Forward computation
    def __call__(self, x):
        h1 = F.tanh(self.l1(x))  # Forward from x to h1 through activation with tanh function
        y = self.l2(h1)  # Forward from h1to y
        return y
"""  # noqa: E501  (the article's comment, verbatim)

# "Implementing complex neural networks": the simple recurrent network.
SECTION_SIMPLE_RNN = """
# Definition of simple recurrent neural network
class SimpleRNN(Chain):
    def __init__(self, n_vocab, n_nodes):
        super(SimpleRNN, self).__init__(
            embed=L.EmbedID(n_vocab, n_nodes),  # word embedding
            x2h=L.Linear(n_nodes, n_nodes),  # the first linear layer
            h2h=L.Linear(n_nodes, n_nodes),  # the second linear layer
            h2y=L.Linear(n_nodes, n_vocab),  # the feed-forward output layer
        )
        self.h_internal=None # recurrent state

    def forward_one_step(self, x, h):
        x = F.tanh(self.embed(x))
        if h is None: # branching in network
            h = F.tanh(self.x2h(x))
        else:
            h = F.tanh(self.x2h(x) + self.h2h(h))
        y = self.h2y(h)
        return y, h

    def __call__(self, x):
        # given the current word ID, predict the next word ID.
        y, h = self.forward_one_step(x, self.h_internal)
        self.h_internal = h # update internal state
        return y
"""

# "Stochastically changing neural networks": the mock Stochastic ResNet. Its constructor
# passes ``size`` on to ``Chain`` (which, in Chainer too, takes only links) and never
# creates the blocks ``f``: it is a sketch. ``RunnableStochasticResNet`` below supplies
# ``f``, ``size`` and ``p`` and runs the mock's ``__call__`` unchanged; the full network
# is examples/stochastic_resnet.py.
SECTION_STOCHASTIC_RESNET = """
# Mock code of Stochastic ResNet in Chainer
class StochasticResNet(Chain):
    def __init__(self, prob, size, **kwargs):
        super(StochasticResNet, self).__init__(size, **kwargs)
        self.p = prob # Survival probabilities

    def __call__ (self, h):
        for i in range(self.size):
            b = numpy.random.binomial(1, self.p[i])
            c = self.f[i](h) + h if b == 1 else h
            h = F.relu(c)
        return h
"""


def run_sections(namespace, *sections):
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for source in sections:
            exec(compile(source, "<seed 001>", "exec"), namespace)
    return printed.getvalue()


def article_namespace(*sections):
    namespace = {"numpy": numpy}
    run_sections(namespace, SECTION_IMPORTS, *sections)
    return namespace


def graph_nodes(variable):
    """Every recorded op reachable backwards from ``variable``, and the leaves it reaches."""
    nodes, leaves, stack = [], [], [variable]
    seen = set()
    while stack:
        x = stack.pop()
        node = getattr(x, "creator", None)
        if node is None:
            if isinstance(x, dualgrad.Variable):
                leaves.append(x)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        nodes.append(node)
        stack.extend(node.inputs)
    return nodes, leaves


# -- Chainer basics -----------------------------------------------------------------------
def test_variables_compute_and_remember_their_creator():
    namespace = {}
    printed = run_sections(namespace, SECTION_VARIABLE).splitlines()
    # The article shows the arrays flattened onto one line each.
    assert " ".join(" ".join(printed[:2]).split()) == "[[ 0. 2.] [ 1. -3.]]"
    assert " ".join(" ".join(printed[2:4]).split()) == "[[ 1. 3.] [ 1. 13.]]"
    # "Variable y has the additive operation as its parent (.creator)"
    y = namespace["y"]
    assert y.creator is not None
    assert y.creator.label == "Add"
    assert "Add" in printed[4]
    nodes, leaves = graph_nodes(y)
    assert leaves and all(leaf is namespace["x"] for leaf in leaves)
    y.sum().backward()  # dy/dx = 2x - 1
    numpy.testing.assert_array_equal(namespace["x"].grad, [[-1.0, 3.0], [1.0, -7.0]])


def test_article_imports_give_the_chainer_modules():
    namespace = article_namespace()
    assert namespace["F"] is dualgrad.functions
    assert namespace["L"] is dualgrad.links
    cuda = namespace["cuda"]
    assert cuda.get_array_module(numpy.zeros(2)) is numpy
    assert isinstance(cuda.to_cpu(numpy.ones(2)), numpy.ndarray)


@pytest.mark.gpu
def test_article_imports_cupy_and_moves_the_perceptron_to_the_gpu():
    namespace = article_namespace(SECTION_CUPY, SECTION_MLP)
    cp = namespace["cp"]
    model = namespace["MLP"]().to_gpu()
    y = model(cp.asarray(numpy.random.rand(4, 784).astype(numpy.float32)))
    assert isinstance(y.array, cp.ndarray)
    assert y.shape == (4, 10)


# -- Define-by-run: the perceptron ---------------------------------------------------------
def mnist_like_batch(n=64, seed=0):
    """Random 784-pixel inputs with labels a fixed random linear map assigns (learnable)."""
    rng = numpy.random.default_rng(seed)
    x = rng.random((n, 784), dtype=numpy.float32)
    teacher = rng.standard_normal((784, 10)).astype(numpy.float32)
    t = (x - 0.5).dot(teacher).argmax(axis=1).astype(numpy.int32)
    return x, t


def test_perceptron_graph_is_built_on_the_fly_from_loss_back_to_parameters():
    namespace = article_namespace(SECTION_MLP)
    F, model = namespace["F"], namespace["MLP"]()
    assert [path for path, _ in model.namedparams()] == ["/l1/W", "/l1/b", "/l2/W", "/l2/b"]
    x, t = mnist_like_batch()
    y = model(x)
    assert y.shape == (64, 10)
    loss = F.softmax_cross_entropy(y, t)
    nodes, leaves = graph_nodes(loss)
    assert len(nodes) >= 4  # linear, tanh, linear, softmax cross entropy at least
    assert {id(p) for p in model.params()} == {id(leaf) for leaf in leaves}


def test_perceptron_trains_with_an_optimizer_and_round_trips_through_serializers(tmp_path):
    namespace = article_namespace(SECTION_MLP)
    F, optimizers, serializers = namespace["F"], namespace["optimizers"], namespace["serializers"]
    model = namespace["MLP"]()
    optimizer = optimizers.Adam()
    optimizer.setup(model)
    x, t = mnist_like_batch()
    losses = []
    for _ in range(15):
        model.cleargrads()
        loss = F.softmax_cross_entropy(model(x), t)
        loss.backward()
        optimizer.update()
        losses.append(float(loss.array))
    assert losses[-1] < 0.5 * losses[0]

    path = str(tmp_path / "mlp.npz")
    serializers.save_npz(path, model)
    restored = namespace["MLP"]()
    serializers.load_npz(path, restored)
    numpy.testing.assert_array_equal(restored(x).array, model(x).array)


# -- Recurrent network --------------------------------------------------------------------
def test_simple_rnn_branches_on_its_state():
    namespace = article_namespace(SECTION_SIMPLE_RNN)
    F, rnn = namespace["F"], namespace["SimpleRNN"](20, 8)
    assert rnn.h_internal is None
    words = numpy.array([3, 7, 11], dtype=numpy.int32)
    loss = F.softmax_cross_entropy(rnn(words), numpy.array([4, 8, 12], dtype=numpy.int32))
    assert rnn.h_internal.shape == (3, 8)
    rnn.cleargrads()
    loss.backward()
    # First step: the state was None, so h2h was not in the graph and gets no gradient.
    assert rnn.h2h.W.grad is None
    assert rnn.x2h.W.grad is not None
    loss.unchain_backward()  # truncate: the state carries on, its history is dropped
    loss = F.softmax_cross_entropy(rnn(words + 1), numpy.array([5, 9, 13], dtype=numpy.int32))
    rnn.cleargrads()
    loss.backward()
    assert rnn.h2h.W.grad is not None
    assert numpy.abs(rnn.h2h.W.grad).sum() > 0


def test_simple_rnn_learns_a_sequence_with_truncated_backprop_and_samples_from_it():
    namespace = article_namespace(SECTION_SIMPLE_RNN)
    F, optimizers = namespace["F"], namespace["optimizers"]
    rnn = namespace["SimpleRNN"](10, 16)
    optimizer = optimizers.Adam(alpha=0.01)
    optimizer.setup(rnn)
    streams = numpy.arange(4)[:, None]  # four parallel streams of "0 1 2 ... 9 0 1 ..."
    for step in range(0, 600, 6):
        loss = 0
        for k in range(step, step + 6):
            words = ((streams[:, 0] + k) % 10).astype(numpy.int32)
            loss += F.softmax_cross_entropy(rnn(words), (words + 1) % 10)
        rnn.cleargrads()
        loss.backward()
        loss.unchain_backward()
        optimizer.update()
    # Weighted sampling of the next word, as the article does to generate text.
    rnn.h_internal = None
    word, generated = numpy.array([0], dtype=numpy.int32), []
    with dualgrad.no_backprop_mode():
        for _ in range(9):
            probabilities = F.softmax(rnn(word)).array[0].astype(numpy.float64)
            next_word = numpy.random.choice(10, p=probabilities / probabilities.sum())
            generated.append(int(next_word))
            word = numpy.array([next_word], dtype=numpy.int32)
    assert generated == list(range(1, 10))


# -- Stochastic ResNet --------------------------------------------------------------------
def runnable_stochastic_resnet(namespace, prob, size, units=6):
    """The mock's ``__call__`` with the blocks ``f`` and ``size`` it assumes."""
    L = namespace["L"]

    class RunnableStochasticResNet(namespace["StochasticResNet"]):
        def __init__(self):
            dualgrad.Chain.__init__(self)
            with self.init_scope():
                self.f = dualgrad.ChainList(*[L.Linear(units, units) for _ in range(size)])
            self.size = size
            self.p = prob

    return RunnableStochasticResNet()


def test_mock_stochastic_resnet_constructor_is_a_sketch():
    namespace = article_namespace(SECTION_STOCHASTIC_RESNET)
    with pytest.raises(TypeError):
        namespace["StochasticResNet"]([0.5], 1)


def test_stochastic_resnet_changes_its_graph_with_each_coin_flip():
    namespace = article_namespace(SECTION_STOCHASTIC_RESNET)
    F = namespace["F"]
    h = numpy.random.rand(5, 6).astype(numpy.float32)
    always = runnable_stochastic_resnet(namespace, [1.0] * 4, 4)
    numpy.testing.assert_allclose(always(h).array, _all_blocks(F, always, h).array, rtol=1e-6)
    never = runnable_stochastic_resnet(namespace, [0.0] * 4, 4)
    numpy.testing.assert_array_equal(never(h).array, numpy.maximum(h, 0))

    net = runnable_stochastic_resnet(namespace, [0.5] * 4, 4)
    counts = set()
    for seed in range(8):
        numpy.random.seed(seed)
        draws = [numpy.random.binomial(1, 0.5) for _ in range(4)]  # what __call__ draws
        numpy.random.seed(seed)
        y = net(dualgrad.Variable(h))
        counts.add(len(graph_nodes(y)[0]))
        net.cleargrads()
        y.sum().backward()
        used = [block.W.grad is not None for block in net.f]
        assert used == [bool(b) for b in draws]
    assert len(counts) > 1  # different minibatches, different graphs


def _all_blocks(F, net, h):
    for i in range(net.size):
        h = F.relu(net.f[i](h) + h)
    return h
