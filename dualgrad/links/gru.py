"""Gated recurrent units: stateful ``GRU`` (Chainer's StatefulGRU) and ``StatelessGRU``.

With ``x`` the input and ``h`` the previous state (Chainer's parameterisation):

    r = sigmoid(W_r x + U_r h)
    z = sigmoid(W_z x + U_z h)
    h_bar = tanh(W x + U (r * h))
    h_new = z * h_bar + (1 - z) * h
"""

from ..core.variable import as_variable
from ..functions.activation import sigmoid, tanh
from ..link import Chain
from .linear import Linear


class GRUBase(Chain):
    """The six Linear links of a GRU; ``in_size=None`` infers it on the first call."""

    def __init__(self, in_size, out_size, init=None, inner_init=None, bias_init=None):
        super().__init__()
        self.state_size = out_size
        with self.init_scope():
            self.W_r = Linear(in_size, out_size, initialW=init, initial_bias=bias_init)
            self.U_r = Linear(out_size, out_size, initialW=inner_init, initial_bias=bias_init)
            self.W_z = Linear(in_size, out_size, initialW=init, initial_bias=bias_init)
            self.U_z = Linear(out_size, out_size, initialW=inner_init, initial_bias=bias_init)
            self.W = Linear(in_size, out_size, initialW=init, initial_bias=bias_init)
            self.U = Linear(out_size, out_size, initialW=inner_init, initial_bias=bias_init)


class StatelessGRU(GRUBase):
    """One GRU step with the state passed in: ``h_new = gru(h, x)``.

    >>> import numpy as np
    >>> cell = StatelessGRU(3, 2)
    >>> cell(np.zeros((4, 2), np.float32), np.ones((4, 3), np.float32)).shape
    (4, 2)
    """

    def forward(self, h, x):
        r = sigmoid(self.W_r(x) + self.U_r(h))
        z = sigmoid(self.W_z(x) + self.U_z(h))
        h_bar = tanh(self.W(x) + self.U(r * h))
        return z * h_bar + (1 - z) * h


class GRU(GRUBase):
    """Stateful GRU (Chainer's ``StatefulGRU``): each call advances ``h`` and returns it.

    The first call after ``reset_state()`` starts from ``h = 0``.

    >>> import numpy as np
    >>> rnn = GRU(3, 2)
    >>> rnn(np.ones((4, 3), np.float32)).shape
    (4, 2)
    >>> rnn.reset_state(); rnn.h is None
    True
    """

    def __init__(self, in_size, out_size, init=None, inner_init=None, bias_init=0):
        super().__init__(in_size, out_size, init, inner_init, bias_init)
        self.reset_state()

    def reset_state(self):
        self.h = None

    def set_state(self, h):
        """Set the state ``h`` (a Variable or an array)."""
        self.h = as_variable(h).to_device(self.device)

    def _move_own_arrays(self, device):
        super()._move_own_arrays(device)
        if self.h is not None:
            self.h.to_device(device)

    def forward(self, x, *extra):
        if extra:
            raise ValueError(
                f"GRU takes one argument (x), got {1 + len(extra)}: GRU is stateful and "
                "keeps h itself; use L.StatelessGRU for gru(h, x)"
            )
        z = self.W_z(x)
        h_bar = self.W(x)
        if self.h is not None:
            r = sigmoid(self.W_r(x) + self.U_r(self.h))
            z = z + self.U_z(self.h)
            h_bar = h_bar + self.U(r * self.h)
        z = sigmoid(z)
        h_bar = tanh(h_bar)
        if self.h is None:
            self.h = z * h_bar  # h = 0: the (1 - z) * h term vanishes
        else:
            self.h = z * h_bar + (1 - z) * self.h
        return self.h


__all__ = ["GRU", "StatelessGRU"]
