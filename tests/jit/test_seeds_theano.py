"""The Theano examples of the seeds, run after renaming only: ``theano`` ->
``dualgrad_jit``, ``theano.tensor`` -> ``dualgrad_jit.tensor``.  Each test holds one
example as the seed writes it, then checks the output the seed shows.

Left to the scan / random-streams work (they need ``dualgrad_jit.scan`` and
``RandomStreams``): seed 002's "Random Numbers" example (``srng.uniform((2,2))``) and
its "Looping in Theano" example (``theano.scan`` computing ``A**k``).
"""

# The seeds' code is kept as written (import order, str.format, ``object`` bases):
# ruff: noqa: I001, UP004, UP032

import numpy as np
import pytest


# -- seed 002: "A Brief Intro to Theano" --------------------------------------------------------
def test_002_adding_two_scalars(capsys):
    from dualgrad_jit import function, shared  # noqa: F401  (as the seed imports them)
    from dualgrad_jit import tensor as T
    import dualgrad_jit  # noqa: F401

    x = T.dscalar('x')
    y = T.dscalar('y')

    assert type(x).__name__ == "TensorVariable"
    assert repr(x.type) == "TensorType(float64, scalar)"
    assert repr(T.dscalar) == "TensorType(float64, scalar)"

    z = x + y

    from dualgrad_jit.printing import pp
    print(pp(z))

    f = function([x, y], z)

    print(f(2, 3))
    assert capsys.readouterr().out == "(x + y)\n5.0\n"
    assert f(16.3, 12.1) == pytest.approx(28.4)


def test_002_adding_two_matrices():
    from dualgrad_jit import function
    from dualgrad_jit import tensor as T

    x = T.dmatrix('x')
    y = T.dmatrix('y')
    z = x + y
    f = function([x, y], z)

    out = f([[1, 2], [3, 4]], [[10, 20], [30, 40]])
    np.testing.assert_array_equal(out, np.array([[11., 22.], [33., 44.]]))


def test_002_logistic(capsys):
    from dualgrad_jit import function
    from dualgrad_jit import tensor as T

    x = T.dmatrix('x')

    s = 1 / (1 + T.exp(-x))

    logistic = function([x], s)
    print(logistic([[0, 1], [-1, -2]]))

    np.testing.assert_allclose(logistic([[0, 1], [-1, -2]]),
                               [[0.5, 0.73105858], [0.26894142, 0.11920292]], atol=1e-8)
    assert "0.73105858" in capsys.readouterr().out


def test_002_multiple_outputs():
    from dualgrad_jit import function
    from dualgrad_jit import tensor as T

    a, b = T.dmatrices('a', 'b')
    diff = a - b
    abs_diff = abs(diff)
    diff_squared = diff ** 2

    f = function([a, b], [diff, abs_diff, diff_squared])

    out = f([[1, 1], [1, 1]], [[0, 1], [2, 3]])
    assert isinstance(out, list) and len(out) == 3
    np.testing.assert_array_equal(out[0], [[1., 0.], [-1., -2.]])
    np.testing.assert_array_equal(out[1], [[1., 0.], [1., 2.]])
    np.testing.assert_array_equal(out[2], [[1., 0.], [1., 4.]])


def test_002_default_values(capsys):
    from dualgrad_jit import function
    from dualgrad_jit import tensor as T
    from dualgrad_jit import In

    x, y, w = T.dscalars('x', 'y', 'w')
    z = (x + y) * w
    g = function([x, In(y, value=1), In(w, value=2, name='w_by_name')], z)

    print('g(33) = {}'.format(g(33)))
    print('g(33, 0, 1) = {}'.format(g(33, 0, 1)))
    print('g(33, w_by_name=1) = {}'.format(g(33, w_by_name=1)))
    print('g(33, w_by_name=1, y=0) = {}'.format(g(33, w_by_name=1, y=0)))

    assert capsys.readouterr().out == (
        "g(33) = 68.0\n"
        "g(33, 0, 1) = 33.0\n"
        "g(33, w_by_name=1) = 34.0\n"
        "g(33, w_by_name=1, y=0) = 33.0\n"
    )


# -- seed 003: "Theano Quick Intro" -------------------------------------------------------------
def test_003_graph():
    import dualgrad_jit.tensor as T
    x = T.dmatrix('x')
    y = T.dmatrix('y')
    z = x + y

    assert [v.name for v in z.owner.inputs] == ['x', 'y']
    from dualgrad_jit.printing import pp
    assert pp(z) == "(x + y)"


def test_003_functions():
    import dualgrad_jit
    import dualgrad_jit.tensor as T

    x = T.dmatrix('x')
    sigmoid = 1 / (1 + T.exp(-x))
    logistic = dualgrad_jit.function([x], sigmoid)
    example = [[0, 1], [-1, -2]]
    out = logistic(example)

    np.testing.assert_allclose(out, np.array([[0.5, 0.73105858],
                                              [0.26894142, 0.11920292]]), atol=1e-8)


# -- seed 000: "How to use Chainer for Theano users", the Theano layer ---------------------------
def test_000_theano_convolution_layer(capsys):
    import dualgrad_jit
    import dualgrad_jit.tensor as T

    class TheanoConvolutionLayer(object):

        def __init__(self, input, filter_shape, image_shape):
            # Prepare initial values of the parameter W
            spatial_dim = np.prod(filter_shape[2:])
            fan_in = filter_shape[1] * spatial_dim
            fan_out = filter_shape[0] * spatial_dim  # noqa: F841
            scale = np.sqrt(3. / fan_in)

            # Create the parameter W
            W_init = np.random.uniform(-scale, scale, filter_shape)
            self.W = dualgrad_jit.shared(W_init.astype(np.float32), borrow=True)

            # Create the paramter b
            b_init = np.zeros((filter_shape[0],))
            self.b = dualgrad_jit.shared(b_init.astype(np.float32), borrow=True)

            # Describe the convolution operation
            conv_out = T.nnet.conv2d(
                input=input,
                filters=self.W,
                filter_shape=filter_shape,
                input_shape=image_shape)

            # Add a bias
            self.output = conv_out + self.b.dimshuffle('x', 0, 'x', 'x')

            # Store paramters
            self.params = [self.W, self.b]

    batchsize = 32
    input_shape = (batchsize, 1, 28, 28)
    filter_shape = (6, 1, 5, 5)

    # Create a tensor that represents a minibatch
    x = T.fmatrix('x')
    input = x.reshape(input_shape)

    conv = TheanoConvolutionLayer(input, filter_shape, input_shape)
    f = dualgrad_jit.function([input], conv.output)

    x_data = np.random.rand(32, 1, 28, 28).astype(np.float32)

    y = f(x_data)

    print(y.shape, type(y))
    assert capsys.readouterr().out == "(32, 6, 24, 24) <class 'numpy.ndarray'>\n"

    # Theano's conv2d is a true convolution: the filters are flipped.
    import dualgrad.functions as F
    W, b = conv.W.get_value(), conv.b.get_value()
    b += 0.5
    conv.b.set_value(b)
    expected = F.convolution_2d(x_data, W[:, :, ::-1, ::-1], b).array
    np.testing.assert_allclose(f(x_data), expected, rtol=1e-5, atol=1e-6)
