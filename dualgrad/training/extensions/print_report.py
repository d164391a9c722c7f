"""``PrintReport``: print LogReport's entries as a table, one row per entry."""

import sys

from ..extension import Extension
from .log_report import LogReport

_ERASE_BELOW = "\033[J"  # clears what a ProgressBar drew below the cursor


class PrintReport(Extension):
    """Print the chosen ``entries`` (columns) of each new ``LogReport`` entry.

    ``log_report`` is the name of a registered LogReport (default ``'LogReport'``) or a
    LogReport object that this extension drives itself. Columns are at least 10
    characters wide; missing values print as blanks.
    """

    @property
    def out(self):
        """The stream written to: the one given, else ``sys.stdout`` at the time of writing
        (so redirections made after construction are honoured)."""
        return sys.stdout if self._out is None else self._out

    def __init__(self, entries, log_report="LogReport", out=None):
        self._entries = list(entries)
        self._log_report = log_report
        self._out = out
        self._printed = 0
        widths = [max(10, len(entry)) for entry in self._entries]
        self._widths = widths
        self._header = "  ".join(
            entry.ljust(width) for entry, width in zip(self._entries, widths)
        ).rstrip() + "\n"
        self._header_printed = False

    def __call__(self, trainer):
        out = self.out
        if not self._header_printed:
            out.write(self._header)
            self._header_printed = True
        log_report = self._log_report
        if isinstance(log_report, str):
            log_report = trainer.get_extension(log_report)
        elif isinstance(log_report, LogReport):
            log_report(trainer)  # owned by this extension: drive it here
        else:
            raise TypeError(
                f"PrintReport's log_report must be a LogReport or its registered name, "
                f"got {type(log_report).__name__}"
            )
        log = log_report.log
        while self._printed < len(log):
            out.write(_ERASE_BELOW)
            self._print_row(log[self._printed])
            self._printed += 1

    def _print_row(self, entry):
        cells = []
        for name, width in zip(self._entries, self._widths):
            cells.append(_format_cell(entry.get(name), width))
        self.out.write("  ".join(cells).rstrip() + "\n")
        flush = getattr(self.out, "flush", None)
        if flush is not None:
            flush()

    def serialize(self, serializer):
        if isinstance(self._log_report, LogReport):
            self._log_report.serialize(serializer["_log_report"])


def _format_cell(value, width):
    if value is None:
        return " " * width
    try:
        return format(value, f"<{width}g")
    except (TypeError, ValueError):
        return format(str(value), f"<{width}")
