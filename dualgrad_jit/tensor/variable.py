"""Symbolic variables: typed nodes of a lazy recipe of dualgrad function calls.

A ``TensorVariable`` is a leaf (a placeholder such as ``T.dmatrix('x')``, a constant, a
shared variable) or an output of an ``Apply``: a dualgrad function (``F.exp``,
``ew.add``, ``view.reshape``...) applied to symbolic arguments and static keywords.
Nothing is computed when the recipe is written; ``dj.function`` evaluates it under an
abstract tracer once the shapes are known, so every op is recorded into a graph by the
very code eager mode runs.  Operators and methods are those of ``dg.Variable`` plus
Theano's ``dimshuffle``.

>>> import dualgrad_jit.tensor as T
>>> x = T.dmatrix('x')
>>> y = (x + 1).sum(axis=0)
>>> y.type, y.owner.fn.__name__
(TensorType(float64, vector), 'sum')
"""

import numpy

from dualgrad import functions as F
from dualgrad.errors import ConcretizationError, user_source_line
from dualgrad.ops import elementwise as ew
from dualgrad.ops import index, linalg, reduce, view

from . import functions as TF
from .infer import UNKNOWN, infer_types
from .structure import symbolic_leaves
from .type import TensorType

_HOW = (
    "a symbolic variable has no value until the compiled function runs. Choose "
    "elementwise with T.switch(cond, a, b), branch lazily with dj.ifelse, loop with dj.scan, "
    "and read sizes with x.shape[i]"
)
REPR_LIMIT = 160  # characters of a printed sub-expression in repr() and errors
STATIC_FUNCTIONS = (TF.shape_of,)  # functions whose result is known once shapes are bound


class Apply:
    """One recipe step, ``fn(*args, **kwargs)``, made at ``source`` (the user's line)."""

    __slots__ = ("fn", "args", "kwargs", "outputs", "several", "label", "source")

    def __init__(self, fn, args, kwargs, label=None):
        self.fn = fn
        self.args = tuple(args)
        self.kwargs = dict(kwargs)
        self.outputs = ()
        self.several = False  # fn returns a tuple, one entry per output
        self.label = label
        self.source = user_source_line()

    @property
    def name(self):
        return self.label or getattr(self.fn, "__name__", type(self.fn).__name__)

    @property
    def inputs(self):
        """The symbolic variables among the arguments, in order."""
        return symbolic_leaves((self.args, self.kwargs))

    def __repr__(self):
        return f"<Apply {self.name}>"


class TensorVariable:
    """A typed symbolic value (see the module docstring).

    ``kind`` is 'input' (placeholder), 'constant', 'shared' or 'apply'; ``owner`` is the
    ``Apply`` producing it (None for leaves) and ``index`` its position among the
    outputs; ``static`` marks values known once the shapes are bound (``x.shape[0]``).
    """

    __slots__ = ("type", "name", "owner", "index", "kind", "data", "static", "__weakref__")
    __array_ufunc__ = None  # ``ndarray + x`` defers to ``x.__radd__``

    def __init__(self, ttype, kind, name=None, owner=None, index=0, data=None, static=False):
        self.type = ttype
        self.kind = kind
        self.name = name
        self.owner = owner
        self.index = index
        self.data = data
        self.static = static

    # -- the type -----------------------------------------------------------------------
    @property
    def dtype(self):
        return self.type.dtype

    @property
    def ndim(self):
        return self.type.ndim

    @property
    def broadcastable(self):
        return self.type.broadcastable

    @property
    def shape(self):
        """The symbolic shape (an int64 vector): ``x.shape[0]`` is usable in reshapes."""
        return apply_function(TF.shape_of, (self,))

    @property
    def size(self):
        return apply_function(reduce.prod, (self.shape,))

    def __repr__(self):
        from ..printing import pp

        return pp(self, limit=REPR_LIMIT)

    __str__ = __repr__

    # -- no Python values -------------------------------------------------------------
    def _refuse(self, what):
        raise ConcretizationError(f"{what} of the symbolic {_describe(self)}: {_HOW}")

    def __bool__(self):
        self._refuse("the truth value")

    def __float__(self):
        self._refuse("float()")

    def __int__(self):
        self._refuse("int()")

    def __index__(self):
        self._refuse("an index value")

    def __len__(self):
        self._refuse("len()")

    def __array__(self, dtype=None, copy=None):
        self._refuse("a numpy array")

    def __iter__(self):
        raise TypeError(f"the symbolic {_describe(self)} is not iterable: index it (x[i]) "
                        "or loop with dj.scan")

    __hash__ = object.__hash__  # ``==`` is elementwise; hashing stays by identity

    # -- evaluation -------------------------------------------------------------------
    def eval(self, inputs_to_values=None):
        """Compile and run this variable: ``(x + 1).eval({x: [1.0]})``."""
        from ..symbolic_function import function

        inputs_to_values = dict(inputs_to_values or {})
        inputs = list(inputs_to_values)
        return function(inputs, self)(*[inputs_to_values[v] for v in inputs])

    # -- methods of dg.Variable ----------------------------------------------------------
    def reshape(self, shape, *more, ndim=None):
        if more:
            shape = (shape, *more)
        elif isinstance(shape, list):
            shape = tuple(shape)  # sizes sit in tuples (lists hold arrays to join)
        elif not isinstance(shape, (tuple, TensorVariable)):
            shape = (shape,)
        return apply_function(view.reshape, (self, shape), types=[_reshaped(self, shape, ndim)])

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = axes[0]
        return apply_function(view.transpose, (self, tuple(axes) if axes else None))

    @property
    def T(self):
        return apply_function(view.transpose, (self, None))

    def dimshuffle(self, *pattern):
        """Theano's dimshuffle: ``'x'`` inserts a broadcastable axis, axes not named are
        dropped (they must have size 1): ``b.dimshuffle('x', 0, 'x', 'x')``."""
        if len(pattern) == 1 and isinstance(pattern[0], (tuple, list)):
            pattern = pattern[0]
        return apply_function(TF.dimshuffle, (self, tuple(pattern)))

    def flatten(self, ndim=1):
        return apply_function(TF.flatten, (self, ndim))

    def sum(self, axis=None, keepdims=False):
        return reduction(reduce.sum, self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        return reduction(F.mean, self, axis, keepdims)

    def max(self, axis=None, keepdims=False):
        return reduction(reduce.max, self, axis, keepdims)

    def min(self, axis=None, keepdims=False):
        return reduction(reduce.min, self, axis, keepdims)

    def prod(self, axis=None, keepdims=False):
        return reduction(reduce.prod, self, axis, keepdims)

    def argmax(self, axis=None):
        return reduction(F.argmax, self, axis)

    def argmin(self, axis=None):
        return reduction(F.argmin, self, axis)

    def clip(self, a_min, a_max):
        return apply_function(F.clip, (self, a_min, a_max))

    def astype(self, dtype):
        return apply_function(ew.cast, (self, numpy.dtype(dtype).name))

    def __getitem__(self, key):
        return apply_function(index.get_item, (self, _operands(key)))

    # -- operators ------------------------------------------------------------------------
    def __add__(self, other):
        return apply_function(ew.add, (self, as_operand(other)))

    def __radd__(self, other):
        return apply_function(ew.add, (as_operand(other), self))

    def __sub__(self, other):
        return apply_function(ew.sub, (self, as_operand(other)))

    def __rsub__(self, other):
        return apply_function(ew.sub, (as_operand(other), self))

    def __mul__(self, other):
        return apply_function(ew.mul, (self, as_operand(other)))

    def __rmul__(self, other):
        return apply_function(ew.mul, (as_operand(other), self))

    def __truediv__(self, other):
        return apply_function(ew.div, (self, as_operand(other)))

    def __rtruediv__(self, other):
        return apply_function(ew.div, (as_operand(other), self))

    def __pow__(self, other):
        return apply_function(ew.power, (self, as_operand(other)))

    def __rpow__(self, other):
        return apply_function(ew.power, (as_operand(other), self))

    def __matmul__(self, other):
        return apply_function(linalg.matmul, (self, as_operand(other)))

    def __rmatmul__(self, other):
        return apply_function(linalg.matmul, (as_operand(other), self))

    def __neg__(self):
        return apply_function(ew.neg, (self,))

    def __pos__(self):
        return self

    def __abs__(self):
        return apply_function(ew.absolute, (self,))

    def __lt__(self, other):
        return apply_function(ew.less, (self, as_operand(other)))

    def __le__(self, other):
        return apply_function(ew.less_equal, (self, as_operand(other)))

    def __gt__(self, other):
        return apply_function(ew.greater, (self, as_operand(other)))

    def __ge__(self, other):
        return apply_function(ew.greater_equal, (self, as_operand(other)))

    def __eq__(self, other):
        return apply_function(ew.equal, (self, as_operand(other)))

    def __ne__(self, other):
        return apply_function(ew.not_equal, (self, as_operand(other)))


# -- making variables -------------------------------------------------------------------------
def placeholder(ttype, name=None):
    """A free input of type ``ttype`` (what ``T.dmatrix('x')`` returns)."""
    return TensorVariable(ttype, "input", name=name)


def constant(value, name=None, dtype=None):
    """A constant: its array is copied, so later changes to ``value`` do not leak in.

    >>> constant([1, 2]).type
    TensorType(int64, shape=(2,))
    """
    array = numpy.array(value, dtype=dtype)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"cannot make a symbolic constant of {value!r}: pass numbers")
    array.setflags(write=False)
    ttype = TensorType(array.dtype, shape=array.shape)
    return TensorVariable(ttype, "constant", name=name, data=array,
                          static=array.dtype.kind in "biu")


def as_operand(value):
    """``value`` as an argument of a recipe node: symbolic variables and Python numbers
    stay as they are (numbers stay weakly typed, as in eager mode), arrays and lists of
    numbers become constants, and eager Variables stay (read on every call)."""
    if isinstance(value, TensorVariable) or type(value) in (bool, int, float):
        return value
    if hasattr(value, "_array"):
        return value
    return constant(value)


def as_tensor_variable(value, name=None):
    """``value`` as a symbolic variable (Theano's ``T.as_tensor_variable``)."""
    if isinstance(value, TensorVariable):
        return value
    return constant(value, name=name)


def _operands(key):
    """An indexing key with its index lists and arrays as constants (or, for a list
    holding symbolic values, stacked into one index array)."""
    if isinstance(key, tuple):
        return tuple(_operands(k) for k in key)
    if isinstance(key, list) and any(isinstance(k, TensorVariable) for k in key):
        return apply_function(F.stack, ([as_tensor_variable(k) for k in key],), {"axis": 0})
    if isinstance(key, (list, numpy.ndarray)):
        return constant(key)
    return key


def apply_function(fn, args=(), kwargs=None, label=None, types=None, several=None):
    """The symbolic result(s) of ``fn(*args, **kwargs)``; a tuple when ``fn`` returns
    several values.  ``types`` (one per output) skips the probe that types the node;
    ``several`` then says whether the outputs come as a tuple (default: more than one)."""
    kwargs = kwargs or {}
    node = Apply(fn, args, kwargs, label)
    if types is not None:
        several = len(types) > 1 if several is None else several
    else:
        types, several = infer_types(fn, node.args, node.kwargs)
    leaves = node.inputs
    static_inputs = all(v.static for v in leaves)
    outputs = []
    for position, ttype in enumerate(types):
        static = fn in STATIC_FUNCTIONS or (
            static_inputs and ttype.dtype is not None and numpy.dtype(ttype.dtype).kind in "biu")
        outputs.append(TensorVariable(ttype, "apply", owner=node, index=position, static=static))
    node.outputs = tuple(outputs)
    node.several = several
    return node.outputs if several else node.outputs[0]


def reduction(fn, x, axis=None, keepdims=False):
    """``fn(x, axis=..., keepdims=...)``, naming only the keywords that differ from the
    defaults (so printed expressions stay short)."""
    kwargs = {} if axis is None else {"axis": axis}
    if keepdims:
        kwargs["keepdims"] = True
    return apply_function(fn, (as_tensor_variable(x),), kwargs)


def _reshaped(x, shape, ndim):
    """The type of ``x.reshape(shape)``: one entry per element of ``shape``."""
    if not x.type.known:
        return UNKNOWN
    if isinstance(shape, TensorVariable):
        if ndim is None and shape.type.known and shape.type.shape[0] is not None:
            ndim = shape.type.shape[0]
        return UNKNOWN if ndim is None else TensorType(x.dtype, shape=(None,) * ndim)
    dims = tuple(int(d) if isinstance(d, (int, numpy.integer)) and d >= 0 else None
                 for d in shape)
    return TensorType(x.dtype, shape=dims)


def _describe(variable):
    name = f"{variable.name!r} " if variable.name else ""
    return f"{name}{variable.type}"
