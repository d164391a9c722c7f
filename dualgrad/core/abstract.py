"""``AbstractArray``: an array whose shape and dtype are known but whose values are not.

Symbolic evaluation (compiled mode) runs the ordinary eager code (ops, ``F``, backward
rules) on Variables holding abstract arrays: every op returns an abstract array of the
shape and dtype its ``infer`` gives.  Code that needs the values (a Python ``if`` on
data, ``float(x)``, numpy on ``.array``) raises ``ConcretizationError`` naming the fix.
"""

import numpy

from ..errors import ConcretizationError

_HOW = (
    "its value is only known when the compiled function runs. Branch with F.where / "
    "T.switch (elementwise) or dj.ifelse, loop with dj.scan, or trace real data with dj.jit "
    "(which guards Python branches)"
)


class AbstractArray:
    """Shape and dtype of an array that does not exist yet."""

    __slots__ = ("shape", "dtype", "__weakref__")
    __array_priority__ = 1000

    def __init__(self, shape, dtype):
        self.shape = tuple(int(n) for n in shape)
        self.dtype = numpy.dtype(dtype)

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(numpy.prod(self.shape, dtype=numpy.int64))

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def __repr__(self):
        return f"AbstractArray({self.dtype}[{','.join(map(str, self.shape))}])"

    def _refuse(self, what):
        described = f"{self.dtype}{list(self.shape)}"
        raise ConcretizationError(f"cannot take {what} of an abstract {described}: {_HOW}")

    def __bool__(self):
        self._refuse("the truth value")

    def __float__(self):
        self._refuse("float()")

    def __int__(self):
        self._refuse("int()")

    def __index__(self):
        self._refuse("an index")

    def item(self):
        self._refuse(".item()")

    def tolist(self):
        self._refuse(".tolist()")

    def __array__(self, dtype=None, copy=None):
        self._refuse("a numpy array")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        self._refuse(f"numpy.{ufunc.__name__}")

    def __array_function__(self, func, types, args, kwargs):
        self._refuse(f"numpy.{func.__name__}")

    def __getitem__(self, key):
        self._refuse("elements (index the Variable instead: x[...] records an op)")

    def __setitem__(self, key, value):
        self._refuse("an in-place write")

    def astype(self, dtype, copy=True):
        return AbstractArray(self.shape, dtype)

    def copy(self):
        return self
