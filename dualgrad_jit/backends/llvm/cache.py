"""On-disk cache of compiled object code, safe against corruption and concurrent writers.

A file ``<key>.o`` under ``<cache dir>/llvm`` (``DUALGRAD_CACHE_DIR``, see
``dualgrad._config.cache_dir``) holds a header then the object bytes::

    magic (8 bytes) | format version (u32) | payload length (u64) | sha256(payload) (32 bytes)

The key hashes everything the machine code depends on: the module's LLVM IR, the
fast-math policy, the target CPU and its features, and the llvmlite/LLVM versions.

* ``load`` checks magic, version, length and hash; a file failing any check (truncated,
  flipped bytes, empty, foreign) is deleted and reported as a miss, so the caller
  recompiles and rewrites it.  Nothing in a cache file can crash the process.
* ``store`` writes a temporary file with a unique name in the same directory, then
  ``os.replace``s it onto the final name: readers see the old file or the whole new one,
  never a partial one, and concurrent writers of one key simply race to equal content.
"""

import contextlib
import hashlib
import os
import secrets
import struct

from dualgrad._config import cache_dir

MAGIC = b"DGLLVMOB"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<8sIQ32s")


def cache_key(*parts):
    """sha256 over ``parts`` (strings) and the cache format version."""
    digest = hashlib.sha256(f"dualgrad-llvm-object-v{FORMAT_VERSION}".encode())
    for part in parts:
        data = part.encode()
        digest.update(struct.pack("<Q", len(data)))  # length-prefixed: parts cannot blur
        digest.update(data)
    return digest.hexdigest()


class ObjectCache:
    """Object files by key in ``directory`` (default ``<cache dir>/llvm``).

    >>> import tempfile
    >>> cache = ObjectCache(tempfile.mkdtemp())
    >>> cache.load("0" * 64) is None
    True
    >>> cache.store("0" * 64, b"object bytes")
    True
    >>> cache.load("0" * 64)
    b'object bytes'
    """

    def __init__(self, directory=None):
        self.directory = directory if directory is not None else os.path.join(cache_dir(),
                                                                              "llvm")
        self.last_error = None  # the OSError of the last failed store, for debugging

    def path(self, key):
        return os.path.join(self.directory, f"{key}.o")

    def load(self, key):
        """The payload stored under ``key``, or ``None`` (missing or invalid: deleted)."""
        path = self.path(key)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return None
        payload = _decode(data)
        if payload is None:
            _remove(path)
        return payload

    def store(self, key, payload):
        """Write ``payload`` under ``key`` atomically; ``False`` if the disk refused."""
        header = _HEADER.pack(MAGIC, FORMAT_VERSION, len(payload),
                              hashlib.sha256(payload).digest())
        temporary = os.path.join(self.directory,
                                 f".{key}.{os.getpid()}.{secrets.token_hex(8)}.tmp")
        try:
            os.makedirs(self.directory, exist_ok=True)
            with open(temporary, "wb") as f:
                f.write(header)
                f.write(payload)
            os.replace(temporary, self.path(key))
        except OSError as error:
            # a read-only or full disk only costs a recompilation next time
            self.last_error = error
            _remove(temporary)
            return False
        return True


def _decode(data):
    if len(data) < _HEADER.size:
        return None
    magic, version, length, digest = _HEADER.unpack_from(data)
    payload = data[_HEADER.size:]
    if magic != MAGIC or version != FORMAT_VERSION or length != len(payload):
        return None
    if hashlib.sha256(payload).digest() != digest:
        return None
    return payload


def _remove(path):
    with contextlib.suppress(OSError):
        os.remove(path)
