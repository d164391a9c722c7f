"""Writing result files atomically: readers never see a half-written log or snapshot."""

import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    The file gets the permissions an ordinary ``open(path, 'w')`` would give
    (``0o666`` minus the umask), not ``mkstemp``'s private ``0o600``.
    """
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".tmp_", suffix=suffix, dir=directory)
    os.close(handle)
    try:
        yield temporary
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
