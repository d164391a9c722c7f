"""The Chainer code of "How to use Chainer for Theano users" (seed 000), run with dualgrad.

Each ``SECTION_*`` string is the seed's code verbatim except for the renaming
``chainer`` -> ``dualgrad``; the sections of one walk-through run one after another in a
shared namespace, as in the article, and the tests compare what they print with the
output the article shows (renamed the same way).

Left out, because they need Theano and belong to compiled mode (``dualgrad_jit``):
``TheanoConvolutionLayer`` (theano.shared, T.nnet.conv2d), the block that builds it with
``T.fmatrix`` and ``theano.function`` and calls ``f(x_data)``, and the block that wraps a
Theano graph with ``L.TheanoFunction(inputs=[x, W, b], outputs=[conv_out])``. The network
that uses such a wrapped function (``MyNetworkWithTheanoConvolution``) is plain Chainer
code: it runs here with an eager convolution in the wrapped function's place.
"""

import contextlib
import io

import numpy

import dualgrad

# "In this post, we asume that the modules below have been imported."
SECTION_IMPORTS = """
import numpy as np
import dualgrad
import dualgrad.functions as F
import dualgrad.links as L
"""

# From "Define a parametric function / Theano": only the numpy lines the Chainer side uses
# (the minibatch shapes and the input array), without the symbolic ones.
SECTION_SHAPES = """
batchsize = 32
input_shape = (batchsize, 1, 28, 28)
filter_shape = (6, 1, 5, 5)
x_data = np.random.rand(32, 1, 28, 28).astype(np.float32)
"""

# "Define a parametric function / Chainer".
SECTION_CONVOLUTION_LINK = """
class ChainerConvolutionLayer(dualgrad.Link):

    def __init__(self, filter_shape):
        super().__init__()
        with self.init_scope():
            # Specify the way of initialize
            W_init = dualgrad.initializers.LeCunUniform()
            b_init = dualgrad.initializers.Zero()

            # Create a parameter object
            self.W = dualgrad.Parameter(W_init, filter_shape)
            self.b = dualgrad.Parameter(b_init, filter_shape[0])

    def __call__(self, x):
        return F.convolution_2d(x, self.W, self.b)
"""

SECTION_USE_CONVOLUTION_LINK = """
chainer_conv = ChainerConvolutionLayer(filter_shape)

y = chainer_conv(x_data)

print(y.shape, type(y), type(y.array))
"""

# "NOTE: You can write the same thing using L.Convolution2D like this".
SECTION_CONVOLUTION2D = """
conv_link = L.Convolution2D(in_channels=1, out_channels=6, ksize=(5, 5))

y = conv_link(x_data)

print(y.shape, type(y), type(y.array))
"""

# "Use Theano function as a layer in Chainer": the network around the wrapped function.
SECTION_NETWORK = """
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
"""

SECTION_USE_NETWORK = """
# Instantiate a model object
model = MyNetworkWithTheanoConvolution(f)

# And give an array/Variable to get the network output
y = model(x_data)
"""

SECTION_PRINT_OUTPUT_SHAPE = """
print(y.shape)
"""

SECTION_BACKWARD = """
t = np.random.randint(0, 10, size=(32,)).astype(np.int32)
loss = F.softmax_cross_entropy(y, t)

model.cleargrads()
loss.backward()
"""

SECTION_GRADIENTS = """
W_gradient = model.W.grad_var.array
b_gradient = model.b.grad_var.array
"""

SECTION_PRINT_GRADIENTS = """
print(W_gradient.shape, type(W_gradient))
print(b_gradient.shape, type(b_gradient))
"""

VARIABLE_CLASS = "<class 'dualgrad.variable.Variable'>"


def run_sections(namespace, *sections):
    """Execute the sections in ``namespace``; return what they printed, as lines."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for source in sections:
            exec(compile(source, "<seed 000>", "exec"), namespace)
    return printed.getvalue().splitlines()


def as_printed(line):
    """The seed's printed line, with the class the Variable type prints as here."""
    return line.replace(VARIABLE_CLASS, str(dualgrad.variable.Variable))


def test_variable_class_has_chainers_module_path():
    # The article prints <class 'chainer.variable.Variable'>: the same path resolves here.
    assert dualgrad.variable.Variable is dualgrad.Variable


def test_a_parametric_convolution_link_on_numpy_input():
    namespace = {}
    printed = run_sections(namespace, SECTION_IMPORTS, SECTION_SHAPES,
                           SECTION_CONVOLUTION_LINK, SECTION_USE_CONVOLUTION_LINK)
    assert printed == [as_printed(
        f"(32, 6, 24, 24) {VARIABLE_CLASS} <class 'numpy.ndarray'>")]
    conv = namespace["chainer_conv"]
    assert [path for path, _ in conv.namedparams()] == ["/W", "/b"]
    assert conv.W.shape == (6, 1, 5, 5)
    assert not conv.b.array.any()  # Zero() initializer
    # LeCunUniform: U(-s, s) with s = sqrt(3 / fan_in), fan_in = 1 * 5 * 5
    assert numpy.abs(conv.W.array).max() <= numpy.sqrt(3.0 / 25)
    # The link computes a true 2-D cross-correlation.
    x_data, y = namespace["x_data"], namespace["y"]
    expected = (x_data[0, 0, 3:8, 7:12] * conv.W.array[2, 0]).sum() + conv.b.array[2]
    numpy.testing.assert_allclose(y.array[0, 2, 3, 7], expected, rtol=1e-5)


def test_the_convolution2d_link_gives_the_same_shapes():
    namespace = {}
    printed = run_sections(namespace, SECTION_IMPORTS, SECTION_SHAPES, SECTION_CONVOLUTION2D)
    assert printed == [as_printed(
        f"(32, 6, 24, 24) {VARIABLE_CLASS} <class 'numpy.ndarray'>")]
    assert namespace["conv_link"].W.shape == (6, 1, 5, 5)


def eager_convolution(x, W, b):
    """Stands in for the article's ``L.TheanoFunction`` wrapping ``conv2d(x, W) + b``."""
    return dualgrad.functions.convolution_2d(x, W, b)


def test_network_with_a_wrapped_convolution_trains_its_parameters():
    namespace = {"f": eager_convolution}
    printed = run_sections(
        namespace, SECTION_IMPORTS, SECTION_SHAPES, SECTION_NETWORK, SECTION_USE_NETWORK,
        SECTION_PRINT_OUTPUT_SHAPE, SECTION_BACKWARD, SECTION_GRADIENTS,
        SECTION_PRINT_GRADIENTS,
    )
    assert printed == [
        "(32, 10)",
        "(6, 1, 5, 5) <class 'numpy.ndarray'>",
        "(6,) <class 'numpy.ndarray'>",
    ]
    model = namespace["model"]
    # The parameters the wrapped function uses are the model's: they receive gradients.
    assert [path for path, _ in model.namedparams()] == [
        "/W", "/b", "/l1/W", "/l1/b", "/l2/W", "/l2/b"]
    assert model.l1.W.shape == (100, 6 * 24 * 24)  # Linear(None, 100) inferred its input
    assert numpy.abs(namespace["W_gradient"]).sum() > 0
    assert numpy.abs(namespace["b_gradient"]).sum() > 0
    assert all(p.grad is not None for p in model.params())
