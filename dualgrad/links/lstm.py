"""Long short-term memory layers: stateful ``LSTM`` and ``StatelessLSTM``.

Both hold Chainer's parameters: ``upward`` (Linear from the input to the ``4 * out_size``
gate pre-activations, with bias) and ``lateral`` (Linear from the previous ``h``, no
bias).  The gates of unit ``j`` are rows ``4j .. 4j+3`` (``a, i, f, o``), the layout
``F.lstm`` reads, so parameters load from Chainer models unchanged.
"""

from ..backend import get_array_module
from ..core.aval import aval_of
from ..core.variable import Variable, as_variable
from ..errors import ShapeError
from ..functions.array import concat, split_axis
from ..functions.rnn import lstm
from ..initializers import Initializer
from ..link import Chain
from ._utils import get_initializer
from .linear import Linear


class GateBlocks(Initializer):
    """Fill each of the four ``(out_size, in)`` row blocks of a ``(4 * out_size, in)``
    gate matrix with ``initializer`` on its own, as Chainer does, so that fan-in and
    fan-out are those of one gate."""

    def __init__(self, initializer, state_size):
        super().__init__(getattr(initializer, "dtype", None))
        self.initializer = initializer
        self.state_size = state_size

    def __call__(self, array):
        for start in range(0, 4 * self.state_size, self.state_size):
            self.initializer(array[start:start + self.state_size])


class GateBias(Initializer):
    """Fill the gate biases: ``forget_init`` for the forget gate, ``bias_init`` for
    ``a``, ``i`` and ``o`` (a forget bias of 1 keeps the cell's memory early on)."""

    def __init__(self, bias_init, forget_init, state_size):
        super().__init__(getattr(bias_init, "dtype", None))
        self.bias_init = bias_init
        self.forget_init = forget_init
        self.state_size = state_size

    def __call__(self, array):
        # Chainer's view of the bias: (1, H, 4, 1), gate k at [:, :, k].
        gates = array.reshape(1, self.state_size, 4, 1)
        for k, init in enumerate((self.bias_init, self.bias_init, self.forget_init,
                                  self.bias_init)):
            init(gates[:, :, k])


class LSTMBase(Chain):
    """Parameters shared by the LSTM links; ``in_size=None`` infers it on the first call."""

    def __init__(self, in_size, out_size=None, lateral_init=None, upward_init=None,
                 bias_init=None, forget_bias_init=None):
        super().__init__()
        if out_size is None:
            in_size, out_size = None, in_size
        self.state_size = out_size
        upward_w = GateBlocks(get_initializer(upward_init), out_size)
        lateral_w = GateBlocks(get_initializer(lateral_init), out_size)
        bias = GateBias(get_initializer(bias_init, 0), get_initializer(forget_bias_init, 1),
                        out_size)
        with self.init_scope():
            self.upward = Linear(in_size, 4 * out_size, initialW=upward_w, initial_bias=bias)
            self.lateral = Linear(out_size, 4 * out_size, initialW=lateral_w, nobias=True)

    def _zero_cell(self, like, batch):
        xp = get_array_module(like)
        return Variable(xp.zeros((batch, self.state_size), like.dtype), requires_grad=False)


class StatelessLSTM(LSTMBase):
    """One LSTM step with the state passed in and out: ``c, h = lstm(c, h, x)``.

    ``c`` and ``h`` may be None (a zero state).

    >>> import numpy as np
    >>> cell = StatelessLSTM(3, 2)
    >>> c, h = cell(None, None, np.ones((4, 3), np.float32))
    >>> c, h = cell(c, h, np.ones((4, 3), np.float32))
    >>> c.shape, h.shape
    ((4, 2), (4, 2))
    """

    def forward(self, c, h, x):
        lstm_in = self.upward(x)
        if h is not None:
            lstm_in = lstm_in + self.lateral(h)
        if c is None:
            c = self._zero_cell(lstm_in, lstm_in.shape[0])
        return lstm(c, lstm_in)


class LSTM(LSTMBase):
    """Stateful LSTM: each call advances ``c`` and ``h`` and returns the new ``h``.

    ``reset_state()`` forgets the state (do it between sequences); ``set_state(c, h)``
    sets it. A call with fewer rows than the state updates the first rows only (the
    shrinking batches of sorted variable-length sequences).

    >>> import numpy as np
    >>> rnn = LSTM(3, 2)
    >>> y = rnn(np.ones((4, 3), np.float32))
    >>> y = rnn(np.ones((4, 3), np.float32))
    >>> rnn.h.shape, rnn.c.shape
    ((4, 2), (4, 2))
    >>> rnn.reset_state(); rnn.h is None
    True
    """

    def __init__(self, in_size, out_size=None, **kwargs):
        super().__init__(in_size, out_size, **kwargs)
        self.reset_state()

    def reset_state(self):
        self.c = None
        self.h = None

    def set_state(self, c, h):
        """Set the cell state ``c`` and the output ``h`` (Variables or arrays)."""
        self.c = as_variable(c).to_device(self.device)
        self.h = as_variable(h).to_device(self.device)

    def _move_own_arrays(self, device):
        super()._move_own_arrays(device)
        for state in (self.c, self.h):
            if state is not None:
                state.to_device(device)

    def forward(self, x):
        lstm_in = self.upward(x)
        batch = lstm_in.shape[0]
        h_rest = None
        if self.h is not None:
            h_size = self.h.shape[0]
            if h_size < batch:
                raise ShapeError(
                    "LSTM", f"x {tuple(aval_of(x).shape)} has more rows than the previous "
                    f"state h {self.h.shape}", (aval_of(x), aval_of(self.h)),
                    hint="batches may shrink but not grow within a sequence; call "
                    "reset_state() before starting a new one",
                )
            if batch == 0:
                h_rest = self.h
            elif h_size > batch:
                h_update, h_rest = split_axis(self.h, [batch], axis=0)
                lstm_in = lstm_in + self.lateral(h_update)
            else:
                lstm_in = lstm_in + self.lateral(self.h)
        if self.c is None:
            self.c = self._zero_cell(lstm_in, batch)
        self.c, y = lstm(self.c, lstm_in)
        if h_rest is None:
            self.h = y
        elif batch == 0:
            self.h = h_rest
        else:
            self.h = concat([y, h_rest], axis=0)
        return y


__all__ = ["LSTM", "StatelessLSTM"]
