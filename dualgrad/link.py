"""Links (layers with parameters) and the containers that build networks from them.

``Link`` holds ``Parameter``s and persistent values (running statistics);
``Chain`` holds named child links, ``ChainList`` numbered ones, ``Sequential`` a
pipeline of links and functions.  Parameters are found by walking the hierarchy,
so ``namedparams()`` yields paths such as ``/l1/W``.

>>> import numpy as np, dualgrad as dg
>>> import dualgrad.links as L
>>> class MLP(dg.Chain):
...     def __init__(self):
...         super().__init__()
...         with self.init_scope():
...             self.l1 = L.Linear(3, 4)
...             self.l2 = L.Linear(4, 2)
...     def forward(self, x):
...         return self.l2(dg.functions.tanh(self.l1(x)))
>>> [path for path, _ in MLP().namedparams()]
['/l1/W', '/l1/b', '/l2/W', '/l2/b']
"""

import contextlib
import copy as copy_module

import numpy

from .backend import get_array_module, to_device
from .core.variable import Parameter


class Link:
    """A function with parameters.  Subclasses define ``forward`` (or ``__call__``).

    Assign ``Parameter``s to attributes inside ``with self.init_scope():`` to register
    them; ``add_persistent(name, value)`` registers arrays or scalars that are saved
    with the model but not trained (batch normalisation's running statistics).
    """

    def __init__(self, **params):
        self._params = []  # names, in registration order (deterministic)
        self._persistent = []
        self._within_init_scope = False
        self.name = None
        self._device = "cpu"
        for name, shape in params.items():
            self.add_param(name, shape)

    # -- registration ---------------------------------------------------------------
    @property
    def within_init_scope(self):
        return getattr(self, "_within_init_scope", False)

    @contextlib.contextmanager
    def init_scope(self):
        """Attributes set inside this block that are Parameters (or, in a Chain, Links)
        become part of the model."""
        old = self.within_init_scope
        object.__setattr__(self, "_within_init_scope", True)
        try:
            yield
        finally:
            object.__setattr__(self, "_within_init_scope", old)

    def __setattr__(self, name, value):
        if self.within_init_scope and isinstance(value, Parameter):
            value.name = name
            if name not in self._params:
                self._params.append(name)
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        for registry in (self._params, self._persistent):
            if name in registry:
                registry.remove(name)
        object.__delattr__(self, name)

    def add_param(self, name, shape=None, dtype=numpy.float32, initializer=None):
        """Register a parameter (Chainer's older API); NaN-filled until initialised."""
        if name in self.__dict__:
            raise AttributeError(f"cannot add parameter {name!r}: the link already has it")
        if initializer is None:
            from .initializers import Constant

            initializer = Constant(numpy.nan, dtype=dtype)
        with self.init_scope():
            setattr(self, name, Parameter(initializer, shape))

    def add_persistent(self, name, value):
        """Register ``value`` (an array or a scalar) to be saved and moved with the link."""
        if name in self.__dict__:
            raise AttributeError(f"cannot add persistent value {name!r}: the link already has it")
        self._persistent.append(name)
        object.__setattr__(self, name, value)

    register_persistent = add_persistent

    # -- traversal ------------------------------------------------------------------
    def params(self, include_uninit=True):
        for name in self._params:  # (namedparams without building paths: read per step)
            param = self.__dict__[name]
            if include_uninit or param.array is not None:
                yield param

    def namedparams(self, include_uninit=True):
        """``(path, Parameter)`` pairs: ``/W`` for this link, ``/child/W`` below."""
        for name in self._params:
            param = self.__dict__[name]
            if include_uninit or param.array is not None:
                yield "/" + name, param

    def links(self, skipself=False):
        for _, link in self.namedlinks(skipself):
            yield link

    def namedlinks(self, skipself=False):
        if not skipself:
            yield "/", self

    def children(self):
        return iter(())

    def namedpersistents(self):
        for name in self._persistent:
            yield "/" + name, self.__dict__[name]

    def count_params(self):
        return sum(p.size for p in self.params() if p.array is not None)

    # -- gradients and devices --------------------------------------------------------
    def cleargrads(self):
        """Forget every parameter's gradient (do this before each ``backward``)."""
        for param in self.params():
            param.cleargrad()

    def zerograds(self):
        for param in self.params():
            if param.array is not None:
                param.zerograd()

    @property
    def xp(self):
        for param in self.params(include_uninit=False):
            return get_array_module(param.array)
        return get_array_module(*[v for _, v in self.namedpersistents()])

    @property
    def device(self):
        return self._device

    def to_device(self, device):
        """Move every parameter and persistent array to ``'cpu'`` or ``'gpu'``, in place."""
        for link in self.links():
            link._move_own_arrays(device)
        return self

    def _move_own_arrays(self, device):
        """Move this link's own parameters and persistents (not its children's).

        Links holding other arrays (a recurrent link's state) extend this, so the arrays
        move too when a parent chain is moved.
        """
        for name in self._params:
            param = self.__dict__[name]
            if param.array is not None:
                param.to_device(device)
        for name in self._persistent:
            value = self.__dict__[name]
            if hasattr(value, "shape"):
                object.__setattr__(self, name, to_device(value, device))
        self._device = str(device)

    def to_cpu(self):
        return self.to_device("cpu")

    def to_gpu(self, device=None):
        return self.to_device("gpu" if device is None else f"gpu:{device}")

    # -- copying --------------------------------------------------------------------
    def copy(self, mode="share"):
        """A copy of the link hierarchy.

        ``mode='share'`` (Chainer's default): the copy shares parameter arrays but has its
        own gradients; ``'copy'``: arrays are copied too; ``'init'``: parameters are
        re-initialised with their initializers.
        """
        if mode not in ("share", "copy", "init"):
            raise ValueError(f"copy mode must be 'share', 'copy' or 'init', got {mode!r}")
        clone = copy_module.copy(self)
        clone.__dict__ = dict(self.__dict__)
        clone._params = list(self._params)
        clone._persistent = list(self._persistent)
        for name in self._params:
            clone.__dict__[name] = _copy_param(self.__dict__[name], mode)
        if mode != "share":  # 'share' shares running statistics too, as in Chainer
            for name in self._persistent:
                value = self.__dict__[name]
                if hasattr(value, "copy"):
                    clone.__dict__[name] = value.copy()
        return clone

    def copyparams(self, link):
        """Copy parameter values from ``link`` (same structure) into this one."""
        src = dict(link.namedparams())
        for path, param in self.namedparams():
            param.array[...] = src[path].array

    # -- calling --------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        forward = getattr(self, "forward", None)
        if forward is None:
            raise NotImplementedError(f"{type(self).__name__} defines neither forward nor __call__")
        return forward(*args, **kwargs)

    def serialize(self, serializer):
        """Save or load parameters and persistent values through ``serializer``."""
        for name in self._params:
            param = self.__dict__[name]
            value = serializer(name, param.array)
            if param.array is None and value is not None:
                # A lazy parameter takes the stored array, in its initializer's dtype
                # (if it names one) and on the link's device.
                dtype = getattr(param.initializer, "dtype", None) or value.dtype
                param._array = to_device(numpy.asarray(value, dtype=dtype), self._device)
        for name in self._persistent:
            current = self.__dict__[name]
            value = serializer(name, current)
            # Arrays are loaded in place (the same object comes back); scalars, strings
            # and values that were None come back as new objects.
            if value is not None and value is not current:
                object.__setattr__(self, name, value)

    def repr_params(self):
        return ", ".join(f"{path}: {p.shape if p.array is not None else '?'}"
                         for path, p in self.namedparams())

    def __repr__(self):
        return f"{type(self).__name__}({self.repr_params()})"


def _copy_param(param, mode):
    new = Parameter.__new__(Parameter)
    new._array = param.array
    new._grad_var = None
    new.creator = None
    new.requires_grad = param.requires_grad
    new.name = param.name
    new._unchained = False
    new.initializer = param.initializer
    new.update_rule = None
    if param.array is not None:
        if mode == "copy":
            new._array = param.array.copy()
        elif mode == "init":
            new._array = param.array.copy()
            param.initializer(new._array)
    return new


class Chain(Link):
    """A link made of named child links.

    Register children inside ``with self.init_scope():`` or with Chainer's older form
    ``super().__init__(l1=L.Linear(...), l2=...)``.
    """

    def __init__(self, **links):
        super().__init__()
        self._children = []
        with self.init_scope():
            for name, link in links.items():
                setattr(self, name, link)

    def __setattr__(self, name, value):
        if self.within_init_scope and isinstance(value, Link):
            if name in getattr(self, "_children", ()):
                self._children.remove(name)
            value.name = name
            self._children.append(name)
        super().__setattr__(name, value)

    def __delattr__(self, name):
        if name in self._children:
            self._children.remove(name)
        super().__delattr__(name)

    def add_link(self, name, link):
        """Register ``link`` as a child named ``name`` (Chainer's older API)."""
        if name in self.__dict__:
            raise AttributeError(f"cannot add link {name!r}: the chain already has it")
        with self.init_scope():
            setattr(self, name, link)

    def children(self):
        for name in self._children:
            yield self.__dict__[name]

    def namedchildren(self):
        for name in self._children:
            yield name, self.__dict__[name]

    def params(self, include_uninit=True):
        # Link's, not super(): ChainList borrows this method
        yield from Link.params(self, include_uninit)
        for child in self.children():
            yield from child.params(include_uninit)

    def namedparams(self, include_uninit=True):
        # Link's, not super(): ChainList borrows this method
        yield from Link.namedparams(self, include_uninit)
        for name, child in self.namedchildren():
            for path, param in child.namedparams(include_uninit):
                yield "/" + name + path, param

    def namedlinks(self, skipself=False):
        if not skipself:
            yield "/", self
        for name, child in self.namedchildren():
            yield "/" + name, child
            for path, link in child.namedlinks(skipself=True):
                yield "/" + name + path, link

    def copy(self, mode="share"):
        clone = super().copy(mode)
        clone._children = list(self._children)
        for name in self._children:
            clone.__dict__[name] = self.__dict__[name].copy(mode)
        return clone

    def serialize(self, serializer):
        Link.serialize(self, serializer)  # not super(): ChainList borrows this method
        for name, child in self.namedchildren():
            child.serialize(serializer[name])


class ChainList(Link):
    """A link made of an ordered list of child links (named ``/0``, ``/1``, ...)."""

    def __init__(self, *links):
        super().__init__()
        self._children = []
        for link in links:
            self.append(link)

    def append(self, link):
        link.name = str(len(self._children))
        self._children.append(link)

    add_link = append

    def __getitem__(self, index):
        return self._children[index]

    def __iter__(self):
        return iter(self._children)

    def __len__(self):
        return len(self._children)

    def children(self):
        return iter(self._children)

    def namedchildren(self):
        for index, child in enumerate(self._children):
            yield str(index), child

    params = Chain.params
    namedparams = Chain.namedparams
    namedlinks = Chain.namedlinks
    serialize = Chain.serialize

    def copy(self, mode="share"):
        clone = Link.copy(self, mode)
        clone._children = [child.copy(mode) for child in self._children]
        return clone


class Sequential(ChainList):
    """Apply links and plain functions in order: ``Sequential(L.Linear(4, 3), F.relu)``."""

    def __init__(self, *layers):
        super().__init__()
        self._layers = []
        for layer in layers:
            self.append(layer)

    def append(self, layer):
        if isinstance(layer, Link):
            super().append(layer)
        elif not callable(layer):
            raise TypeError(f"Sequential takes links and functions, got {type(layer).__name__}")
        self._layers.append(layer)

    def __getitem__(self, index):
        return self._layers[index]

    def __iter__(self):
        return iter(self._layers)

    def __len__(self):
        return len(self._layers)

    def forward(self, *args):
        x = args
        for layer in self._layers:
            x = layer(*x) if isinstance(x, tuple) else layer(x)
        return x

    def copy(self, mode="share"):
        clone = super().copy(mode)
        children = iter(clone._children)
        clone._layers = [next(children) if isinstance(layer, Link) else layer
                         for layer in self._layers]
        return clone
