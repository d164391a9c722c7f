"""``ProgressBar``: a terminal progress bar with speed and estimated time left."""

import datetime
import sys
import time

from ..extension import Extension

_ERASE_BELOW = "\033[J"


def _cursor_up(lines):
    return f"\033[{lines}A"


class ProgressBar(Extension):
    """Draw the total and this-epoch progress every ``update_interval`` iterations.

    Four lines are drawn and the cursor is moved back up (ANSI escapes), so on a
    terminal the bar is redrawn in place; other outputs (files, notebooks) receive the
    successive drawings one after another::

             total [##########........................................]  20.00%
        this epoch [#########################.........................]  50.00%
               200 iter, 2 epoch / 10 epochs
           843.21 iters/sec. Estimated time to finish: 0:00:00.949.

    Args:
        training_length: ``(length, unit)``; default the stop trigger's (e.g.
            ``(10, 'epoch')``).
        update_interval: iterations between redraws.
        bar_length: characters inside the brackets.
        out: a text stream (default ``sys.stdout``).

    Speeds are measured over the last 100 redraws, so the estimate follows the
    current pace rather than the start-up cost.
    """

    @property
    def out(self):
        """The stream written to: the one given, else ``sys.stdout`` at the time of writing
        (so redirections made after construction are honoured)."""
        return sys.stdout if self._out is None else self._out

    def __init__(self, training_length=None, update_interval=100, bar_length=50,
                 out=None):
        if update_interval < 1:
            raise ValueError(f"update_interval must be at least 1, got {update_interval}")
        self._training_length = training_length
        self._update_interval = update_interval
        self._bar_length = bar_length
        self._out = out
        self._recent = []  # (iteration, epoch_detail, time) of the latest redraws

    def __call__(self, trainer):
        length, unit = self._length(trainer)
        updater = trainer.updater
        iteration = updater.iteration
        if iteration % self._update_interval != 0:
            return
        epoch_detail = updater.epoch_detail
        self._recent.append((iteration, epoch_detail, time.perf_counter()))
        del self._recent[:-100]
        done = iteration if unit == "iteration" else epoch_detail
        lines = [
            "     total " + self._bar(done / length),
            "this epoch " + self._bar(epoch_detail - int(epoch_detail)),
            f"{iteration:10} iter, {updater.epoch} epoch / {length} {unit}s",
            self._speed_line(length, unit),
        ]
        self.out.write(_ERASE_BELOW + "\n".join(lines) + "\n" + _cursor_up(len(lines)))
        self._flush()

    def finalize(self, trainer=None):
        """Erase the bar (on a terminal) so that later output starts clean."""
        self.out.write(_ERASE_BELOW)
        self._flush()

    def _length(self, trainer):
        if self._training_length is None:
            get_length = getattr(trainer.stop_trigger, "get_training_length", None)
            if get_length is None:
                raise TypeError(
                    "ProgressBar cannot tell the training length from the stop trigger "
                    f"{trainer.stop_trigger!r}; pass ProgressBar(training_length=(n, 'epoch'))"
                )
            self._training_length = get_length()
        return self._training_length

    def _bar(self, rate):
        marks = int(min(max(rate, 0.0), 1.0) * self._bar_length)
        return f"[{'#' * marks}{'.' * (self._bar_length - marks)}] {rate:7.2%}"

    def _speed_line(self, length, unit):
        first_iteration, first_epoch, first_time = self._recent[0]
        iteration, epoch_detail, now = self._recent[-1]
        span = now - first_time
        if span <= 0 or iteration == first_iteration:
            return "     ----- iters/sec. Estimated time to finish: unknown."
        iters_per_sec = (iteration - first_iteration) / span
        if unit == "iteration":
            left = (length - iteration) / iters_per_sec
        else:
            epochs_per_sec = (epoch_detail - first_epoch) / span
            left = (length - epoch_detail) / epochs_per_sec if epochs_per_sec > 0 else None
        eta = "unknown" if left is None else _format_seconds(max(left, 0.0))
        return f"{iters_per_sec:10.5g} iters/sec. Estimated time to finish: {eta}."

    def _flush(self):
        flush = getattr(self.out, "flush", None)
        if flush is not None:
            flush()


def _format_seconds(seconds):
    """``0:01:02.345`` (h:mm:ss.mmm)."""
    try:
        text = str(datetime.timedelta(seconds=round(seconds, 3)))
    except OverflowError:
        return "unknown"
    return text[:-3] if "." in text else text + ".000"
