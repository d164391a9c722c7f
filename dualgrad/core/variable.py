"""``Variable``: an array plus its place on the tape; ``Parameter``: a trainable leaf."""

import numpy

from ..backend import get_array_module, to_device
from ..errors import DTypeError

_ARRAY_TYPES = (numpy.ndarray,)

# The active tracer (set by ``tape.set_tracer``): conversions of Variables to Python
# values or raw arrays are reported to it, so traced code can be guarded.
TRACER = None


def _is_array(x):
    return isinstance(x, _ARRAY_TYPES) or type(x).__module__.startswith("cupy")


def _unwrap(value):
    """What the active tracer says ``value`` stands for (a traced ``.array``: its data)."""
    unwrap = getattr(TRACER, "unwrap", None)
    return value if unwrap is None else unwrap(value)


class Variable:
    """An array that remembers how it was computed.

    >>> import numpy as np, dualgrad as dg
    >>> x = dg.Variable(np.array([1.0, 2.0]))
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    array([2., 4.])
    """

    __slots__ = ("_array", "_grad_var", "creator", "requires_grad", "name", "_unchained",
                 "__weakref__")
    __array_priority__ = 200  # numpy defers ``ndarray * Variable`` to Variable.__rmul__

    def __init__(self, array=None, name=None, requires_grad=True):
        if TRACER is not None and not _is_array(array):
            array = _unwrap(array)  # ``Variable(x.array)`` in traced code: x's data
        if array is not None and not _is_array(array):
            if isinstance(array, Variable):
                raise TypeError("Variable(Variable) is not allowed; pass .array instead")
            array = numpy.asarray(array)
        self._array = array
        self._grad_var = None
        self.creator = None
        self.requires_grad = bool(requires_grad) and (
            array is None or array.dtype.kind in "fc"
        )
        self.name = name
        self._unchained = False

    # -- array access -----------------------------------------------------------------
    @property
    def array(self):
        if TRACER is not None:
            return TRACER.read_array(self)
        return self._array

    @array.setter
    def array(self, value):
        if TRACER is not None and not _is_array(value):
            value = _unwrap(value)
        self._array = value

    data = array

    @property
    def shape(self):
        return self._array.shape

    @property
    def dtype(self):
        return self._array.dtype

    @property
    def ndim(self):
        return self._array.ndim

    @property
    def size(self):
        return self._array.size

    @property
    def xp(self):
        return get_array_module(self._array)

    def __len__(self):
        return len(self._array)

    def item(self):
        return self._to_python("item")

    def __bool__(self):
        return self._to_python("bool")

    def __float__(self):
        return self._to_python("float")

    def __int__(self):
        return self._to_python("int")

    def __index__(self):
        return self._to_python("index")

    def _to_python(self, kind):
        """The Python value of the data (a traced run records it as a guard)."""
        if TRACER is not None:
            return TRACER.concretize(self, kind)
        return to_python(self._array, kind)

    def __array__(self, dtype=None, copy=None):
        if TRACER is not None:
            from ..errors import ConcretizationError

            raise ConcretizationError(
                "numpy converted a traced Variable to an array, which would compute outside "
                "the graph; use dualgrad ops (F.*, Variable operators) instead"
            )
        array = self._array
        if not isinstance(array, numpy.ndarray):
            array = array.get()
        return array if dtype is None else array.astype(dtype)

    # -- gradients ------------------------------------------------------------------
    @property
    def grad(self):
        g = self._grad_var
        return None if g is None else g._array

    @grad.setter
    def grad(self, value):
        self._grad_var = None if value is None else Variable(value, requires_grad=False)

    @property
    def grad_var(self):
        return self._grad_var

    @grad_var.setter
    def grad_var(self, value):
        self._grad_var = value

    def cleargrad(self):
        """Forget the accumulated gradient (before the next ``backward``)."""
        self._grad_var = None

    def zerograd(self):
        self._grad_var = Variable(self.xp.zeros_like(self._array), requires_grad=False)

    def backward(self, retain_grad=False, enable_double_backprop=False, retain_graph=False):
        """Backpropagate from this variable, accumulating into the leaves' ``.grad``.

        ``retain_grad`` keeps intermediate gradients; ``enable_double_backprop``
        records the backward pass so its gradients can be differentiated again;
        ``retain_graph`` keeps the graph for another ``backward`` through it.
        """
        from .backprop import backward

        backward(self, retain_grad, enable_double_backprop, retain_graph)

    def unchain(self):
        """Cut this variable from its creator: it becomes a leaf of its own graph."""
        self.creator = None
        self._unchained = True

    def unchain_backward(self):
        """Cut every edge behind this variable so the graph behind it can be freed.

        Gradients computed later stop here (truncated backpropagation through time).
        """
        stack = [self.creator] if self.creator is not None else []
        seen = set()
        while stack:
            node = stack.pop()
            if id(node) in seen or node.inputs is None:
                continue  # already cut
            seen.add(id(node))
            for x in node.inputs:
                creator = getattr(x, "creator", None)
                if creator is not None:
                    stack.append(creator)
            node.released = True
            node.inputs = None
            node.saved_output = None
            out = node.output_ref()
            if out is not None:  # every variable behind this one becomes a root too
                out.unchain()
        self.unchain()

    # -- conversions --------------------------------------------------------------------
    def to_device(self, device):
        """Move the data (and gradient) to ``'cpu'`` or ``'gpu'``, in place."""
        self._array = to_device(self._array, device)
        if self._grad_var is not None:
            self._grad_var._array = to_device(self._grad_var._array, device)
        return self

    def to_cpu(self):
        return self.to_device("cpu")

    def to_gpu(self, device=None):
        return self.to_device("gpu" if device is None else f"gpu:{device}")

    def __repr__(self):
        name = f" {self.name!r}" if self.name else ""
        return f"variable{name}({self._array!r})"

    def __str__(self):
        return f"variable({self._array})"

    @property
    def label(self):
        return f"{self.dtype}{list(self.shape)}"


def to_python(array, kind):
    """``bool``/``float``/``int``/``index``/``item`` of an array, as Python does it."""
    if kind == "bool":
        return bool(array)
    if kind == "float":
        return float(array)
    if kind == "int":
        return int(array)
    if kind == "index":
        return array.__index__()
    return array.item()


def make_output(array, node, requires_grad):
    """Create an op's output Variable without re-validating the array (hot path)."""
    v = _new(Variable)
    v._array = array
    v._grad_var = None
    v.creator = node
    v.requires_grad = requires_grad
    v.name = None
    v._unchained = False
    return v


_new = object.__new__


class Parameter(Variable):
    """A trainable leaf: from an array, or from an initializer and a shape.

    >>> import dualgrad as dg
    >>> from dualgrad import initializers
    >>> dg.Parameter(initializers.Zero(), (2, 3)).shape
    (2, 3)

    Without a shape, the parameter stays uninitialized until ``initialize(shape)``
    (links use this to infer input sizes on the first call).
    """

    __slots__ = ("initializer", "update_rule")

    def __init__(self, initializer=None, shape=None, name=None):
        self.update_rule = None  # set by optimizer.setup(link)
        if _is_array(initializer):
            super().__init__(initializer, name=name)
            self.initializer = None
            return
        if initializer is None:
            from ..initializers import Constant

            initializer = Constant(numpy.nan)
        elif numpy.isscalar(initializer):
            from ..initializers import Constant

            initializer = Constant(initializer)
        super().__init__(None, name=name)
        self.initializer = initializer
        self.requires_grad = True
        if shape is not None:
            self.initialize(shape)

    def update(self):
        """Apply this parameter's update rule (set by ``optimizer.setup``), if any."""
        if self.update_rule is not None:
            self.update_rule.update(self)

    def initialize(self, shape):
        shape = (shape,) if isinstance(shape, (int, numpy.integer)) else tuple(shape)
        dtype = getattr(self.initializer, "dtype", None) or numpy.float32
        array = numpy.empty(shape, dtype=dtype)
        self.initializer(array)
        if array.dtype.kind not in "fc":
            raise DTypeError("Parameter", f"parameters must be floating point, got {dtype}")
        self._array = array

    @property
    def is_initialized(self):
        return self._array is not None

    def __repr__(self):
        if self._array is None:
            return "parameter(uninitialized)"
        return "parameter(" + repr(self._array) + ")"

    def __str__(self):
        if self._array is None:
            return "parameter(uninitialized)"
        return f"parameter({self._array})"


def as_variable(x):
    """``x`` itself if a Variable, else a Variable wrapping it that needs no gradient."""
    if isinstance(x, Variable):
        return x
    return Variable(x, requires_grad=False)


def as_array(x):
    return x._array if isinstance(x, Variable) else x
