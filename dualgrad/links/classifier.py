"""A predictor wrapped with its loss and accuracy, as Chainer's ``L.Classifier``."""

from ..functions.evaluation import accuracy as accuracy_function
from ..functions.loss import softmax_cross_entropy
from ..link import Chain
from ..reporter import report


class Classifier(Chain):
    """``loss = lossfun(predictor(*inputs), t)``, reporting ``loss`` and ``accuracy``.

    The label ``t`` is the argument at position ``label_key`` (an int, default the last)
    or the keyword argument named ``label_key`` (a str); the others go to the
    predictor. After a call, ``.y`` holds the prediction, ``.loss`` and ``.accuracy``
    the values reported (``compute_accuracy = False`` skips the accuracy).

    >>> import numpy as np
    >>> from dualgrad.links import Linear
    >>> model = Classifier(Linear(3, 2))
    >>> loss = model(np.ones((4, 3), np.float32), np.array([0, 1, 1, 0], np.int32))
    >>> loss.shape, model.y.shape, float(model.accuracy.array)
    ((), (4, 2), 0.5)
    """

    compute_accuracy = True

    # The results of the latest call.  Class-level defaults (not instance attributes set
    # in __init__) so that a compiled step sees the first call *add* them rather than
    # change state the call could have read.
    y = None
    loss = None
    accuracy = None

    def __init__(self, predictor, lossfun=softmax_cross_entropy, accfun=accuracy_function,
                 label_key=-1):
        if not isinstance(label_key, (int, str)):
            raise TypeError(f"label_key must be an int or a str, got {type(label_key).__name__}")
        super().__init__()
        self.lossfun = lossfun
        self.accfun = accfun
        self.label_key = label_key
        with self.init_scope():
            self.predictor = predictor

    def _split_label(self, args, kwargs):
        """``(inputs, keyword inputs, label)``."""
        key = self.label_key
        if isinstance(key, str):
            if key not in kwargs:
                raise ValueError(f"Classifier: label key {key!r} is not among the keyword "
                                 f"arguments {sorted(kwargs)}")
            kwargs = dict(kwargs)
            return args, kwargs, kwargs.pop(key)
        if not -len(args) <= key < len(args):
            raise ValueError(f"Classifier: label key {key} is out of bounds for "
                             f"{len(args)} positional arguments")
        index = key % len(args)
        return args[:index] + args[index + 1:], kwargs, args[index]

    def forward(self, *args, **kwargs):
        inputs, kw_inputs, t = self._split_label(args, kwargs)
        self.y = self.loss = self.accuracy = None
        self.y = self.predictor(*inputs, **kw_inputs)
        self.loss = self.lossfun(self.y, t)
        report({"loss": self.loss}, self)
        if self.compute_accuracy:
            self.accuracy = self.accfun(self.y, t)
            report({"accuracy": self.accuracy}, self)
        return self.loss


__all__ = ["Classifier"]
