"""Optimizers: a per-parameter ``UpdateRule`` driven by a ``GradientMethod``, as in Chainer.

``opt.setup(link)`` gives every parameter of ``link`` its own update rule
(``param.update_rule``) whose hyperparameters default to the optimizer's
(``rule.hyperparam.lr`` falls back to ``opt.lr``) and whose state (momentum, Adam's
moments) is created on the first update.  ``opt.update()`` applies the rules to the
gradients already computed; ``opt.update(lossfun, *args)`` computes them first.

The update math is written with dualgrad ops on Variables (under ``no_backprop_mode``),
and every write of a parameter, a gradient, an optimizer state or a step counter goes
through ``assign``: the one place where values flow back into the model.  No Python
number frozen at trace time enters the math (counters ``t`` are 0-d arrays counted with
ops, hyperparameters are ``LiveValue``s), so a step compiled by ``dj.jit`` replays what
eager code computes, with the current ``lr`` and ``t``.

>>> import numpy as np, dualgrad as dg
>>> from dualgrad.optimizers import SGD
>>> class Scale(dg.Link):
...     def __init__(self):
...         super().__init__()
...         with self.init_scope():
...             self.w = dg.Parameter(np.array([2.0]))
>>> model = Scale()
>>> opt = SGD(lr=0.1).setup(model)
>>> opt.update(lambda: (model.w * model.w).sum())   # d/dw w^2 = 2w = 4
>>> model.w.array, opt.t
(array([1.6]), 1)
"""

import collections
import copy

import numpy

from ._config import no_backprop_mode
from .backend import get_array_module
from .core.state import assign  # the one write point, re-exported
from .core.variable import Variable
from .errors import DTypeError
from .link import Link
from .live import (  # noqa: F401  (re-exported: the optimizers use them from here)
    LiveValue,
    _configuration_id,
    _Counter,
    _guard_configuration,
    cast_like,
    live_value,
    setting,
)
from .serializers.base import Deserializer


def check_eps(optimizer_name, eps, dtype):
    """Raise when ``eps`` rounds to 0 in ``dtype`` (1e-8 in float16): the division it
    guards would then produce Inf."""
    if eps != 0 and numpy.dtype(dtype).type(eps) == 0:
        raise DTypeError(
            optimizer_name, f"eps={eps} is 0 in {numpy.dtype(dtype).name}",
            hint="use float32 parameters, or a larger eps that the dtype can represent",
        )


# -- hyperparameters -----------------------------------------------------------------------
class Hyperparameter:
    """A set of named values that falls back to a parent for names it does not set.

    >>> parent = Hyperparameter()
    >>> parent.lr = 0.1
    >>> child = Hyperparameter(parent)
    >>> child.lr
    0.1
    >>> child.lr = 0.5
    >>> child.lr, parent.lr, child.get_dict()
    (0.5, 0.1, {'lr': 0.5})
    """

    def __init__(self, parent=None):
        self._parent = parent

    def __getattr__(self, name):
        parent = self.__dict__.get("_parent")
        if parent is None:
            raise AttributeError(f"no hyperparameter named {name!r}")
        return getattr(parent, name)

    @property
    def parent(self):
        return self._parent

    def get_dict(self):
        """Every value visible from here (own values override the parent's)."""
        values = {} if self._parent is None else self._parent.get_dict()
        values.update((k, v) for k, v in self.__dict__.items() if not k.startswith("_"))
        return values

    def __repr__(self):
        values = self.get_dict()
        return "Hyperparameter(" + ", ".join(f"{k}={values[k]}" for k in sorted(values)) + ")"


class HyperparameterProxy:
    """A class attribute that reads and writes ``self.hyperparam.<name>`` (``opt.lr``)."""

    def __init__(self, name):
        self._name = name
        self.__doc__ = f"Alias of ``self.hyperparam.{name}``."

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        return getattr(obj.hyperparam, self._name)

    def __set__(self, obj, value):
        setattr(obj.hyperparam, self._name, value)


# -- hooks ---------------------------------------------------------------------------------
class _Hooks:
    """Named 'pre' and 'post' hooks, run in the order they were added."""

    def _add_hook(self, hook, name, timing):
        if timing not in ("pre", "post"):
            raise ValueError(f"timing must be 'pre' or 'post', got {timing!r}")
        name = _hook_name(hook, name)
        if name in self._pre_update_hooks or name in self._post_update_hooks:
            raise KeyError(f"hook {name!r} already exists; pass another name=")
        hooks = self._pre_update_hooks if timing == "pre" else self._post_update_hooks
        hooks[name] = hook

    def remove_hook(self, name):
        for hooks in (self._pre_update_hooks, self._post_update_hooks):
            if name in hooks:
                del hooks[name]
                return
        raise KeyError(f"no hook named {name!r}")

    def _hooks_key(self):
        pre, post = self._pre_update_hooks, self._post_update_hooks
        if not pre and not post:  # the usual case, read on every compiled step
            return _NO_HOOKS
        return tuple(tuple((name, id(hook)) for name, hook in hooks.items())
                     for hooks in (pre, post))


_NO_HOOKS = ((), ())  # (what ``_hooks_key`` builds from two empty dicts)


def _hook_name(hook, name):
    if not callable(hook):
        raise TypeError(f"a hook must be callable, got {type(hook).__name__}")
    if name is None:
        name = getattr(hook, "name", None) or getattr(hook, "__name__", None)
    if name is None:
        raise ValueError("the hook has no name; pass add_hook(hook, name='...')")
    return name


# -- per-parameter rules -------------------------------------------------------------------
class UpdateState(collections.abc.MutableMapping):
    """An update rule's state: ``state['m']`` reads an array, as in Chainer.

    Each entry lives in a holder Variable (``state.holder('m')``) that update math
    reads as an op input and that ``assign`` writes into.
    """

    def __init__(self):
        self._holders = {}

    def holder(self, key):
        return self._holders[key]

    def __getitem__(self, key):
        return self._holders[key].array

    def __setitem__(self, key, array):
        if key in self._holders:
            assign(self._holders[key], array)
        else:
            self._holders[key] = Variable(array, requires_grad=False)

    def __delitem__(self, key):
        del self._holders[key]

    def __iter__(self):
        return iter(self._holders)

    def __len__(self):
        return len(self._holders)

    def __repr__(self):
        return "UpdateState(" + ", ".join(f"{k}: {a.shape}" for k, a in self.items()) + ")"


class UpdateRule(_Hooks):
    """How one parameter is updated from its gradient.

    ``hyperparam`` falls back to the optimizer's; ``state`` is created by
    ``init_state(param)`` on the first update (``None`` before); ``enabled = False``
    freezes the parameter; ``t`` counts this parameter's updates.  Subclasses
    implement ``update_core(param)`` with dualgrad ops and ``assign``, reading
    hyperparameters with ``self.live(name)`` and flags with ``self.flag(name)`` (or
    Chainer's ``update_core_cpu`` / ``update_core_gpu``, which cannot be compiled).
    """

    t = _Counter("_t")

    def __init__(self, parent_hyperparam=None):
        self.hyperparam = Hyperparameter(parent_hyperparam)
        self.enabled = True
        self.t = 0
        self._state = None
        self._pre_update_hooks = collections.OrderedDict()
        self._post_update_hooks = collections.OrderedDict()

    @property
    def state(self):
        return self._state

    def add_hook(self, hook, name=None, timing="pre"):
        """Call ``hook(rule, param)`` before (``'pre'``) or after (``'post'``) updates."""
        self._add_hook(hook, name, timing)

    def live(self, name):
        """Hyperparameter ``name`` as a 0-d float64 ``LiveValue`` (read on every use)."""
        return live_value(self.hyperparam, name)

    def flag(self, name):
        """Hyperparameter ``name`` as a Python value that decides which ops run
        (guarded while tracing: see ``setting``)."""
        return setting(self.hyperparam, name)

    def update(self, param):
        """Update ``param`` from ``param.grad``.

        Skipped when the rule is disabled, the parameter is uninitialized, or it has no
        gradient (it took no part in the loss); ``t`` then does not advance.
        """
        _guard_configuration(self)
        self._update(param)

    @property
    def _configuration(self):
        """What ``update`` runs (enabled or not, its hooks), as an id guarded while
        tracing: a compiled step retraces when it changes."""
        return _configuration_id(self._structure())

    def _structure(self):
        return (id(self), bool(self.enabled), self._hooks_key())

    def _update(self, param):
        if not self.enabled or param._array is None or param._grad_var is None:
            return
        _Counter.count(self._t)
        self._prepare(param)
        for hook in list(self._pre_update_hooks.values()):
            hook(self, param)
        with no_backprop_mode():
            self.update_core(param)
        for hook in list(self._post_update_hooks.values()):
            hook(self, param)

    def update_core(self, param):
        if get_array_module(param._array) is numpy:
            self.update_core_cpu(param)
        else:
            self.update_core_gpu(param)

    def update_core_cpu(self, param):
        raise NotImplementedError(f"{type(self).__name__} does not define update_core")

    def update_core_gpu(self, param):
        raise NotImplementedError(f"{type(self).__name__} does not define update_core")

    def init_state(self, param):
        """Create the state entries (``self.state['v'] = zeros_like(param)``)."""

    def zeros_like(self, param):
        """A fresh state array: zeros of ``param``'s shape and dtype on its device (from
        the raw array: a traced ``param.array`` refuses numpy)."""
        return get_array_module(param._array).zeros_like(param._array)

    def _prepare(self, param):
        if self._state is None:
            self._state = UpdateState()
            self.init_state(param)
            return
        xp = get_array_module(param._array)
        for key in self._state:
            holder = self._state.holder(key)
            if get_array_module(holder._array) is not xp:  # the link moved device
                holder.to_device("cpu" if xp is numpy else "gpu")

    def _fresh_state(self, param):
        """The state ``init_state`` makes for ``param``, built on a copy of the rule."""
        probe = copy.copy(self)
        probe._state = UpdateState()
        probe.init_state(param)
        return probe._state

    def serialize(self, serializer):
        """Save or load ``t`` and the state arrays.

        A rule that has not updated yet (``state is None``) saves its state entries as
        None; loading arrays into such a rule creates its state from them.
        """
        self.t = serializer("t", self.t)
        if self._state is not None:
            self._serialize_state(serializer)
            return
        dummy = Variable(numpy.zeros(1, numpy.float32))
        dummy.grad = numpy.zeros(1, numpy.float32)
        keys = list(self._fresh_state(dummy))
        values = {}
        for key in keys:
            try:
                values[key] = serializer(key, None)
            except KeyError:
                if self.enabled:
                    raise
                values[key] = None
        if values and all(v is not None for v in values.values()):
            self._state = UpdateState()
            for key in keys:
                self._state[key] = values[key]

    def _serialize_state(self, serializer):
        loaded = [serializer(key, self._state[key]) for key in list(self._state)]
        if loaded and all(value is None for value in loaded):
            # A file saved before the first update: start again from a fresh state.
            self._state = None


# -- optimizers ----------------------------------------------------------------------------
class Optimizer(_Hooks):
    """Base of every optimizer: the target link, counters, hooks and serialization.

    ``t`` counts ``update()`` calls, ``epoch`` counts ``new_epoch()`` calls (both are
    0-d arrays: a compiled step counts ``t`` itself and is not retraced by ``epoch``).
    """

    t = _Counter("_t")
    epoch = _Counter("_epoch")

    def __init__(self):
        self.target = None
        self.t = 0
        self.epoch = 0
        self.use_auto_new_epoch = False
        self._pre_update_hooks = collections.OrderedDict()
        self._post_update_hooks = collections.OrderedDict()

    def setup(self, link):
        """Make ``link`` the target of this optimizer; returns the optimizer."""
        if not isinstance(link, Link):
            raise TypeError(
                f"an optimizer's target must be a dg.Link (a Chain, a layer...), "
                f"got {type(link).__name__}"
            )
        self.target = link
        self.t = 0
        self.epoch = 0
        return self

    def update(self, lossfun=None, *args, **kwds):
        raise NotImplementedError

    def new_epoch(self, auto=False):
        """Count a new epoch.  ``auto=True`` is for updaters that set
        ``use_auto_new_epoch``; calling it by hand as well would count epochs twice."""
        if not auto and self.use_auto_new_epoch:
            raise RuntimeError(
                "new_epoch() called by hand while the updater already counts epochs "
                "(use_auto_new_epoch is True); remove the manual call"
            )
        _Counter.count(self._epoch)

    def use_cleargrads(self, use=True):
        """Kept for old Chainer code: gradients are always cleared with ``cleargrads``."""

    def add_hook(self, hook, name=None, timing="auto"):
        """Call ``hook`` before (``'pre'``) or after (``'post'``) every update.

        ``timing='auto'`` uses ``hook.timing`` (``'pre'`` if absent).  A hook is called as
        ``hook(optimizer)``, or as ``hook(rule, param)`` for every parameter when it has
        ``call_for_each_param = True``.  Hooks run in the order they were added.
        """
        if timing not in ("pre", "post", "auto"):
            raise ValueError(f"timing must be 'pre', 'post' or 'auto', got {timing!r}")
        if timing == "auto":
            timing = getattr(hook, "timing", "pre")
        self._add_hook(hook, name, timing)

    def call_hooks(self, timing="pre"):
        if timing not in ("pre", "post"):
            raise ValueError(f"timing must be 'pre' or 'post', got {timing!r}")
        hooks = self._pre_update_hooks if timing == "pre" else self._post_update_hooks
        for hook in list(hooks.values()):
            if getattr(hook, "call_for_each_param", False):
                for param in self.target.params():
                    hook(getattr(param, "update_rule", None), param)
            else:
                hook(self)

    def serialize(self, serializer):
        """Save or load ``t``, ``epoch`` and every rule's ``t`` and state (under the
        parameter's path, e.g. ``l1/W/m``)."""
        self.t = serializer("t", self.t)
        self.epoch = serializer("epoch", self.epoch)
        if self.target is None:
            return
        for path, param in self.target.namedparams():
            rule = getattr(param, "update_rule", None)
            if rule is not None:
                rule.serialize(serializer[path])

    def _require_target(self):
        if self.target is None:
            raise RuntimeError(
                f"{type(self).__name__} has no target; call optimizer.setup(model) first"
            )


class GradientMethod(Optimizer):
    """An optimizer that updates each parameter from its gradient with an ``UpdateRule``.

    Subclasses set their hyperparameters on ``self.hyperparam`` and define
    ``create_update_rule()``.
    """

    def __init__(self):
        super().__init__()
        self.hyperparam = Hyperparameter()

    def create_update_rule(self):
        raise NotImplementedError

    def setup(self, link):
        super().setup(link)
        for param in link.params():
            param.update_rule = self.create_update_rule()
        return self

    def update(self, lossfun=None, *args, **kwds):
        """Update every parameter that has a gradient.

        With ``lossfun``: compute ``loss = lossfun(*args, **kwds)``, clear the old
        gradients, run ``loss.backward()``, then update.  Without: use the gradients
        already there.  Runs the 'pre' hooks, the rules, then the 'post' hooks.
        """
        self._require_target()
        if lossfun is not None:
            # The loss is computed before clearing so that lazily created parameters
            # (Linear(None, n)) exist and are cleared too.
            loss = lossfun(*args, **kwds)
            self.target.cleargrads()
            loss.backward()
            del loss
        _guard_configuration(self)
        self.call_hooks("pre")
        _Counter.count(self._t)
        for param in self.target.params():
            rule = getattr(param, "update_rule", None)
            if rule is not None:
                rule._update(param)
        self.call_hooks("post")

    @property
    def _configuration(self):
        """What ``update`` runs (the hooks; each parameter's rule, enabled or not, and its
        hooks) as an id guarded while tracing: a compiled step retraces when a hook is
        added or a rule disabled, and replays its old variant when that is undone."""
        rules = []
        for param in self.target.params():
            rule = getattr(param, "update_rule", None)
            rules.append(None if rule is None else rule._structure())
        return _configuration_id((self._hooks_key(), tuple(rules)))

    def serialize(self, serializer):
        """As ``Optimizer.serialize``, plus the hyperparameters (under ``hyperparam/``).

        Loading restores the saved hyperparameters (a file without them keeps the
        current ones), so a resumed run continues with the values it was saved with.
        """
        super().serialize(serializer)
        self._serialize_hyperparam(serializer["hyperparam"])

    def _serialize_hyperparam(self, serializer):
        loading = isinstance(serializer, Deserializer)
        for name, value in sorted(self.hyperparam.get_dict().items()):
            if not isinstance(value, (bool, int, float)):
                continue
            if not loading:
                serializer(name, value)
                continue
            try:
                stored = serializer(name, None)
            except KeyError:
                continue
            if stored is not None:
                setattr(self.hyperparam, name, numpy.asarray(stored).item())


def __getattr__(name):
    # Chainer 1-3 code spells the hooks chainer.optimizer.WeightDecay / GradientClipping.
    if name in ("WeightDecay", "GradientClipping"):
        from . import optimizer_hooks

        return getattr(optimizer_hooks, name)
    raise AttributeError(f"module 'dualgrad.optimizer' has no attribute {name!r}")
