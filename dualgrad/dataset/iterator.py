"""The base class of dataset iterators (Chainer's ``chainer.dataset.Iterator``)."""


class Iterator:
    """Yields minibatches (lists of examples) from a dataset.

    Subclasses implement ``__next__`` and usually the attributes ``epoch``,
    ``epoch_detail``, ``previous_epoch_detail``, ``is_new_epoch`` and ``serialize``,
    which the training loop reads to decide when an epoch ends and what to save.
    Iterators are also context managers: leaving the block calls ``finalize()``.
    """

    def __iter__(self):
        return self

    def __next__(self):
        raise NotImplementedError(
            f"{type(self).__name__} must implement __next__ to return the next minibatch"
        )

    def next(self):
        """Python-2 style alias of ``__next__`` that Chainer code calls directly."""
        return self.__next__()

    def finalize(self):
        """Release resources (worker processes, open files).  Nothing to do by default."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.finalize()

    def serialize(self, serializer):
        """Save or load the iteration state.  Stateless iterators have nothing to save."""
