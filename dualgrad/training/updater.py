"""Updaters: one call of ``update()`` is one training iteration.

``StandardUpdater`` takes a batch from the iterator, converts it to arrays and calls
``optimizer.update(loss_func, *arrays)``: forward, backward and the parameter update.

>>> import numpy as np, dualgrad as dg
>>> import dualgrad.links as L
>>> from dualgrad import datasets, iterators, optimizers, training
>>> x = np.random.rand(8, 3).astype(np.float32)
>>> t = (x.sum(axis=1) > 1.5).astype(np.int32)
>>> model = L.Classifier(L.Linear(3, 2))
>>> optimizer = optimizers.SGD(lr=0.1).setup(model)
>>> it = iterators.SerialIterator(datasets.TupleDataset(x, t), 4)
>>> updater = training.StandardUpdater(it, optimizer)
>>> updater.update()
>>> updater.iteration, updater.epoch_detail
(1, 0.5)
"""

from ..dataset.convert import concat_examples
from ._state import serialize_int


class Updater:
    """The interface the trainer needs from an updater."""

    def connect_trainer(self, trainer):
        """Called by ``Trainer.__init__``; updaters needing the trainer keep it here."""

    def finalize(self):
        """Release resources (iterator worker processes) at the end of training."""

    def get_optimizer(self, name):
        raise NotImplementedError

    def get_all_optimizers(self):
        raise NotImplementedError

    def update(self):
        raise NotImplementedError

    def serialize(self, serializer):
        raise NotImplementedError


class StandardUpdater(Updater):
    """The plain one-iterator, one-optimizer update step (several of each by dict).

    Args:
        iterator: an iterator, or a dict of them; ``'main'`` gives the training batches.
        optimizer: an optimizer set up with the model, or a dict of them (``'main'``).
        converter: ``converter(batch, device)`` turns a list of examples into arrays
            (default ``concat_examples``). A tuple result is passed positionally to the
            loss function, a dict by keyword, anything else as one argument.
        device: where the batch (and the model, moved here once) go: ``'cpu'``,
            ``'gpu'``, ``'gpu:N'``, or Chainer's integers (``-1`` CPU, ``N`` GPU N).
        loss_func: called to get the loss; default the main optimizer's target.
        loss_scale: multiply the loss by this before backward and divide the gradients
            by it afterwards (keeps float16 gradients from underflowing).
        auto_new_epoch: call ``optimizer.new_epoch(auto=True)`` when an epoch ends.
    """

    def __init__(self, iterator, optimizer, converter=concat_examples, device=None,
                 loss_func=None, loss_scale=None, auto_new_epoch=True):
        self._iterators = dict(iterator) if isinstance(iterator, dict) else {"main": iterator}
        self._optimizers = (
            dict(optimizer) if isinstance(optimizer, dict) else {"main": optimizer}
        )
        if "main" not in self._iterators or "main" not in self._optimizers:
            raise KeyError(
                "StandardUpdater needs a 'main' iterator and a 'main' optimizer; "
                "pass single objects or dicts with a 'main' entry"
            )
        self.converter = converter
        self.device = device
        self.loss_func = loss_func
        self.loss_scale = loss_scale
        self.auto_new_epoch = auto_new_epoch
        self.iteration = 0
        for opt in self._optimizers.values():
            if auto_new_epoch:
                opt.use_auto_new_epoch = True
            if device is not None:
                opt.target.to_device(_link_device(device))

    # -- progress (read from the main iterator) -----------------------------------------
    @property
    def epoch(self):
        return self._iterators["main"].epoch

    @property
    def epoch_detail(self):
        return self._iterators["main"].epoch_detail

    @property
    def previous_epoch_detail(self):
        return self._iterators["main"].previous_epoch_detail

    @property
    def is_new_epoch(self):
        return self._iterators["main"].is_new_epoch

    # -- access ---------------------------------------------------------------------
    def get_iterator(self, name):
        return self._iterators[name]

    def get_optimizer(self, name):
        return self._optimizers[name]

    def get_all_optimizers(self):
        return dict(self._optimizers)

    # -- the step -------------------------------------------------------------------
    def update(self):
        """One iteration: ``update_core()`` then ``iteration += 1``."""
        self.update_core()
        self.iteration += 1

    def update_core(self):
        iterator = self._iterators["main"]
        optimizer = self._optimizers["main"]
        batch = iterator.next()
        in_arrays = self.converter(batch, self.device)
        loss_func = optimizer.target if self.loss_func is None else self.loss_func
        if self.loss_scale is None:
            _call_with(optimizer.update, loss_func, in_arrays)
        else:
            self._update_scaled(optimizer, loss_func, in_arrays)
        if self.auto_new_epoch and iterator.is_new_epoch:
            optimizer.new_epoch(auto=True)

    def _update_scaled(self, optimizer, loss_func, in_arrays):
        # d(s * loss)/dp = s * dloss/dp; dividing afterwards restores the gradient the
        # update rules expect, while small gradients survived backward in float16.
        from ..optimizer import assign

        loss = _call_with(loss_func, None, in_arrays)
        optimizer.target.cleargrads()
        (loss * self.loss_scale).backward()
        for param in optimizer.target.params(include_uninit=False):
            if param.grad is not None:
                assign(param.grad_var, param.grad / self.loss_scale)
        optimizer.update()

    def finalize(self):
        for iterator in self._iterators.values():
            finalize = getattr(iterator, "finalize", None)
            if finalize is not None:
                finalize()

    def serialize(self, serializer):
        """Iterators' positions, optimizers' states and models' parameters, and the count."""
        for name, iterator in self._iterators.items():
            iterator.serialize(serializer["iterator:" + name])
        for name, opt in self._optimizers.items():
            opt.serialize(serializer["optimizer:" + name])
            opt.target.serialize(serializer["model:" + name])
        self.iteration = serialize_int(serializer, "iteration", self.iteration)


def _call_with(function, first, in_arrays):
    """``function([first,] *in_arrays)`` / ``**in_arrays`` / ``(in_arrays)`` by type."""
    head = () if first is None else (first,)
    if isinstance(in_arrays, tuple):
        return function(*head, *in_arrays)
    if isinstance(in_arrays, dict):
        return function(*head, **in_arrays)
    return function(*head, in_arrays)


def _link_device(device):
    """Chainer's integer devices (-1 CPU, N GPU N) as ``Link.to_device`` names."""
    if isinstance(device, int) and not isinstance(device, bool):
        return "cpu" if device < 0 else f"gpu:{device}"
    return device
