"""Seed 000 ("How to use Chainer for Theano users"), its compiled-layer example, run after
renaming only: ``theano`` -> ``dualgrad_jit``, ``chainer`` -> ``dualgrad``, and the one API
rename ``L.TheanoFunction`` -> ``dj.CompiledFunction``.

The eager twin computes the same math with ``F.convolution_2d``: Theano's ``conv2d`` is a
true convolution (it flips the filters), so the twin flips ``W`` inside its forward and the
two networks share their parameters' values and must agree on every gradient.
"""

import numpy as np

import dualgrad
import dualgrad.functions as F
import dualgrad.links as L
import dualgrad_jit as dj
import dualgrad_jit.tensor as T


def make_compiled_convolution():
    # -- the seed, renamed ----------------------------------------------------------------------
    x = T.fmatrix().reshape((32, 1, 28, 28))
    W = T.fmatrix().reshape((6, 1, 5, 5))
    b = T.fvector().reshape((6,))
    conv_out = T.nnet.conv2d(x, W) + b.dimshuffle('x', 0, 'x', 'x')

    f = dj.CompiledFunction(inputs=[x, W, b], outputs=[conv_out])
    return f


class MyNetworkWithTheanoConvolution(dualgrad.Chain):

    def __init__(self, theano_conv):
        super().__init__()
        self.theano_conv = theano_conv
        W_init = dualgrad.initializers.LeCunUniform()
        b_init = dualgrad.initializers.Zero()
        with self.init_scope():
            self.W = dualgrad.Parameter(W_init, (6, 1, 5, 5))
            self.b = dualgrad.Parameter(b_init, (6,))
            self.l1 = L.Linear(None, 100)
            self.l2 = L.Linear(100, 10)

    def __call__(self, x):
        h = self.theano_conv(x, self.W, self.b)
        h = F.relu(h)
        h = self.l1(h)
        h = F.relu(h)
        return self.l2(h)
    # -- end of the seed --------------------------------------------------------------------


class EagerTwin(MyNetworkWithTheanoConvolution):
    """The same network with the convolution written eagerly (filters flipped)."""

    def __init__(self, network):
        super().__init__(None)
        self(np.zeros((32, 1, 28, 28), np.float32))  # infer l1's input size
        self.copyparams(network)

    def __call__(self, x):
        h = F.convolution_2d(x, self.W[:, :, ::-1, ::-1], self.b)
        h = F.relu(h)
        h = self.l1(h)
        h = F.relu(h)
        return self.l2(h)


def seed_data():
    np.random.seed(0)
    x_data = np.random.rand(32, 1, 28, 28).astype(np.float32)
    t = np.random.randint(0, 10, size=(32,)).astype(np.int32)
    return x_data, t


def test_the_seed_example_runs_and_gives_parameter_gradients():
    x_data, t = seed_data()
    f = make_compiled_convolution()
    model = MyNetworkWithTheanoConvolution(f)
    y = model(x_data)
    assert y.shape == (32, 10)
    assert isinstance(y, dualgrad.Variable) and isinstance(y.array, np.ndarray)

    loss = F.softmax_cross_entropy(y, t)
    model.cleargrads()
    loss.backward()
    W_gradient = model.W.grad_var.array
    b_gradient = model.b.grad_var.array
    assert (W_gradient.shape, type(W_gradient)) == ((6, 1, 5, 5), np.ndarray)
    assert (b_gradient.shape, type(b_gradient)) == ((6,), np.ndarray)
    assert np.abs(W_gradient).sum() > 0 and np.abs(b_gradient).sum() > 0


def test_the_compiled_layer_is_one_node_whose_gradients_equal_the_eager_network():
    x_data, t = seed_data()
    model = MyNetworkWithTheanoConvolution(make_compiled_convolution())
    model(x_data)
    twin = EagerTwin(model)
    model.cleargrads()
    y = model(x_data)
    F.softmax_cross_entropy(y, t).backward()
    expected = twin(x_data)
    F.softmax_cross_entropy(expected, t).backward()
    np.testing.assert_allclose(y.array, expected.array, rtol=1e-4, atol=1e-5)
    for (path, p), (_, q) in zip(model.namedparams(), twin.namedparams()):
        np.testing.assert_allclose(p.grad, q.grad, rtol=1e-3, atol=1e-5, err_msg=path)
    conv = model.theano_conv(x_data, model.W, model.b)
    assert conv.creator.label == "CompiledCall"
    assert conv.creator.inputs[1] is model.W and conv.creator.inputs[2] is model.b


def test_the_network_trains_step_for_step_like_the_eager_one():
    x_data, t = seed_data()
    model = MyNetworkWithTheanoConvolution(make_compiled_convolution())
    model(x_data)
    twin = EagerTwin(model)
    optimizer = dualgrad.optimizers.MomentumSGD(lr=0.05).setup(model)
    twin_optimizer = dualgrad.optimizers.MomentumSGD(lr=0.05).setup(twin)
    losses = []
    for _ in range(3):
        for net, opt in ((model, optimizer), (twin, twin_optimizer)):
            net.cleargrads()
            loss = F.softmax_cross_entropy(net(x_data), t)
            loss.backward()
            opt.update()
            losses.append(float(loss.array))
    compiled_losses, eager_losses = losses[0::2], losses[1::2]
    np.testing.assert_allclose(compiled_losses, eager_losses, rtol=1e-4)
    assert compiled_losses[-1] < compiled_losses[0]
    for (path, p), (_, q) in zip(model.namedparams(), twin.namedparams()):
        np.testing.assert_allclose(p.array, q.array, rtol=1e-3, atol=1e-5, err_msg=path)
