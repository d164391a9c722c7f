"""Saving and loading links, optimizers and trainers as ``.npz`` files.

A file holds one array per key, keys being paths such as ``l1/W`` (a link's
parameter), ``l1/W/m`` (Adam's first moment of that parameter) or ``t``.  Files never
contain pickled objects, so ``numpy.load(path, allow_pickle=False)`` reads them:

- arrays are stored as they are (cupy arrays are copied to the host);
- Python and numpy scalars, bools and strings are stored as 0-d arrays;
- ``None`` (an uninitialized parameter, an optimizer state not created yet) is stored
  as ``NONE_MARKER``: an empty array of the structured dtype ``[('__none__', 'u1')]``;
  ``is_none_marker(array)`` recognises it;
- any other object raises ``TypeError`` (turn it into a string, e.g. with ``json``).

``load_npz`` checks the whole file against the object before writing anything: a
missing key, a shape or a dtype that does not fit raises and leaves the object as it
was.

>>> import io, numpy as np, dualgrad as dg
>>> class Affine(dg.Link):
...     def __init__(self, n):
...         super().__init__()
...         with self.init_scope():
...             self.W = dg.Parameter(np.arange(n, dtype=np.float32))
>>> buffer = io.BytesIO()
>>> save_npz(buffer, Affine(3))
>>> _ = buffer.seek(0)
>>> sorted(np.load(buffer, allow_pickle=False).files)
['W']
>>> _ = buffer.seek(0)
>>> target = Affine(3)
>>> target.W.array[...] = 0
>>> load_npz(buffer, target)
>>> target.W.array
array([0., 1., 2.], dtype=float32)
"""

import os
import zipfile

import numpy

from ..backend import get_array_module, is_cupy_array
from ..core.variable import Variable
from ..errors import DTypeError, DualgradError, ShapeError
from .base import Deserializer, Serializer

NONE_DTYPE = numpy.dtype([("__none__", "u1")])
NONE_MARKER = numpy.zeros(0, NONE_DTYPE)


def is_none_marker(array):
    """Whether ``array`` is how a file stores ``None``."""
    return getattr(array, "dtype", None) == NONE_DTYPE


class SerializerKeyError(DualgradError, KeyError):
    """A key the object asks for is not in the file (``strict=True``)."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


def _storable(key, value):
    if value is None:
        return NONE_MARKER
    if isinstance(value, Variable):
        value = value.array
    if is_cupy_array(value):
        value = value.get()
    array = numpy.asarray(value)
    if array.dtype.hasobject:
        raise TypeError(
            f"cannot save {key!r}: a {type(value).__name__} would need pickle, which "
            "dualgrad files never contain; store arrays, numbers, bools, strings or None "
            "(turn other objects into a string, e.g. with json.dumps)"
        )
    return array


class DictionarySerializer(Serializer):
    """Collects ``{key: array}`` in ``self.target`` (a dict), ready for ``numpy.savez``.

    The arrays are the object's own arrays, not copies.

    >>> import numpy as np, dualgrad as dg
    >>> class Affine(dg.Link):
    ...     def __init__(self):
    ...         super().__init__()
    ...         with self.init_scope():
    ...             self.W = dg.Parameter(np.zeros(2, np.float32))
    >>> s = DictionarySerializer()
    >>> s.save(dg.Chain(l1=Affine()))
    >>> list(s.target)
    ['l1/W']
    """

    def __init__(self, target=None, path=""):
        self.target = {} if target is None else target
        self.path = path

    def __getitem__(self, key):
        return DictionarySerializer(self.target, self.path + key.strip("/") + "/")

    def __call__(self, key, value):
        full_key = self.path + key.lstrip("/")
        self.target[full_key] = _storable(full_key, value)
        return value


class _Archive:
    """The stored arrays, each read from the file once (both load phases use them)."""

    def __init__(self, npz):
        self.npz = npz
        self._cache = {}

    def __contains__(self, key):
        return key in self._cache or key in self.npz

    def get(self, key):
        if key not in self._cache:
            self._cache[key] = numpy.asarray(self.npz[key])
        return self._cache[key]

    def take(self, key):
        """The array for a caller that keeps it: later reads get their own copy."""
        array = self.get(key)
        del self._cache[key]
        return array

    def keys(self):
        files = getattr(self.npz, "files", None)
        return list(self.npz.keys() if files is None else files)


class NpzDeserializer(Deserializer):
    """Loads an object from a mapping of arrays (an opened ``.npz`` file or a dict).

    ``path`` selects a sub-tree (``'updater/model:main/'`` inside a trainer snapshot);
    ``strict=False`` leaves values whose key the file lacks untouched; ``ignore_names``
    (a key, a list of keys, or a predicate on keys) skips entries on purpose.

    ``load(obj)`` runs ``obj.serialize`` twice: first to check every entry without
    writing, then to write.  Calling ``obj.serialize(deserializer)`` directly writes in
    one pass, and an error can then leave the object half loaded.
    """

    def __init__(self, npz, path="", strict=True, ignore_names=None):
        self.npz = npz
        self.path = path
        self.strict = strict
        self.ignore_names = ignore_names
        self._archive = _Archive(npz)
        self._checking = False

    def _derive(self, path, checking):
        child = NpzDeserializer.__new__(NpzDeserializer)
        child.__dict__.update(self.__dict__)
        child.path = path
        child._checking = checking
        return child

    def __getitem__(self, key):
        return self._derive(self.path + key.strip("/") + "/", self._checking)

    def load(self, obj):
        """Check that ``obj`` fits the file, then load it in place; returns ``obj``."""
        obj.serialize(self._derive(self.path, checking=True))
        obj.serialize(self)
        return obj

    def _ignored(self, key):
        names = self.ignore_names
        if names is None:
            return False
        if callable(names):
            return bool(names(key))
        return key == names if isinstance(names, str) else key in names

    def __call__(self, key, value):
        full_key = self.path + key.lstrip("/")
        if self._ignored(full_key):
            return value
        if full_key not in self._archive:
            if not self.strict:
                return value
            raise SerializerKeyError(self._missing_message(full_key))
        stored = self._archive.get(full_key)
        if is_none_marker(stored):
            return value if self._checking else None
        if value is None:
            return None if self._checking else self._archive.take(full_key)
        target = value.array if isinstance(value, Variable) else value
        if isinstance(target, numpy.ndarray) or is_cupy_array(target):
            _check_fits(full_key, target, stored)
            if not self._checking:
                target[...] = get_array_module(target).asarray(stored)
            return value
        converted = _convert(full_key, value, stored)
        return value if self._checking else converted

    def _missing_message(self, key):
        known = sorted(self._archive.keys())
        shown = ", ".join(known[:8]) + (", ..." if len(known) > 8 else "")
        return (
            f"load_npz: {key!r} is not in the file (it holds: {shown or 'nothing'})\n"
            "  fix: pass strict=False to keep the values the file lacks, or path='...' "
            "when the object was saved inside a larger one (a trainer snapshot keeps the "
            "model under 'updater/model:main/')"
        )


def _check_fits(key, target, stored):
    if target.shape != stored.shape:
        raise ShapeError(
            "load_npz", f"{key!r} has shape {target.shape} here but {stored.shape} in the "
            "file",
            hint="build the object with the sizes it had when it was saved (or skip this "
            "entry with ignore_names=)",
        )
    if not numpy.can_cast(stored.dtype, target.dtype, casting="same_kind"):
        raise DTypeError(
            "load_npz", f"{key!r} is {target.dtype} here but {stored.dtype} in the file",
            hint="build the object with the dtype it had when it was saved",
        )


def _convert(key, value, stored):
    """``stored`` as the type of ``value`` (an int stays an int...), as Chainer does."""
    value_type = type(value)
    kind = stored.dtype.type
    lossy = (
        issubclass(kind, numpy.number)
        and not (issubclass(kind, numpy.integer) and value_type is int)
        and not numpy.can_cast(stored.dtype, value_type)
    )
    if lossy:
        raise DTypeError(
            "load_npz", f"{key!r} is a {value_type.__name__} here but {stored.dtype} in "
            "the file, which does not convert without loss",
            hint="check that the file was saved from the same kind of object",
        )
    try:
        return value_type(stored)
    except (TypeError, ValueError) as error:
        raise DTypeError(
            "load_npz", f"{key!r}: cannot turn the stored {stored.dtype}{list(stored.shape)} "
            f"into a {value_type.__name__} ({error})",
            hint="check that the file was saved from the same kind of object",
        ) from None


def _write_npz(file, arrays, compression):
    mode = zipfile.ZIP_DEFLATED if compression else zipfile.ZIP_STORED
    with zipfile.ZipFile(file, mode="w", compression=mode, allowZip64=True) as archive:
        for key, array in arrays.items():
            with archive.open(key + ".npy", mode="w", force_zip64=True) as member:
                numpy.lib.format.write_array(member, array, allow_pickle=False)


def save_npz(file, obj, compression=True):
    """Save ``obj`` (a link, an optimizer, a trainer...) to ``file`` (a path or a binary
    file object) through ``obj.serialize``.

    The file loads with ``numpy.load(file, allow_pickle=False)``; see the module
    docstring for how scalars and None are stored.
    """
    serializer = DictionarySerializer()
    serializer.save(obj)
    if isinstance(file, (str, os.PathLike)):
        with open(file, "wb") as f:
            _write_npz(f, serializer.target, compression)
    else:
        _write_npz(file, serializer.target, compression)


def load_npz(file, obj, path="", strict=True, ignore_names=None):
    """Load ``obj`` in place from a file written by ``save_npz``.

    ``path`` selects where ``obj`` sits in the file (``'updater/model:main/'`` to take
    the model out of a trainer snapshot); ``strict=False`` keeps the values the file
    lacks; ``ignore_names`` skips keys on purpose.  Everything is checked before
    anything is written: a shape that does not fit raises ``ShapeError`` naming the
    key and both shapes, and ``obj`` is left unchanged.
    """
    loaded = numpy.load(file, allow_pickle=False)
    if not isinstance(loaded, numpy.lib.npyio.NpzFile):
        raise ValueError(
            f"load_npz needs an .npz archive (as written by save_npz), got a single "
            f"{type(loaded).__name__}; load a lone array with numpy.load instead"
        )
    with loaded as npz:
        NpzDeserializer(npz, path=path, strict=strict, ignore_names=ignore_names).load(obj)
