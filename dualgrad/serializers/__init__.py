"""Save and load links, optimizers and trainers (Chainer's ``chainer.serializers``).

``save_npz(file, obj)`` / ``load_npz(file, obj)``; see ``dualgrad.serializers.npz`` for
the file format and ``dualgrad.serializers.base`` for the ``serialize`` protocol.
"""

from .base import AbstractSerializer, Deserializer, Serializer
from .npz import (
    NONE_MARKER,
    DictionarySerializer,
    NpzDeserializer,
    SerializerKeyError,
    is_none_marker,
    load_npz,
    save_npz,
)

__all__ = [
    "NONE_MARKER", "AbstractSerializer", "Deserializer", "DictionarySerializer",
    "NpzDeserializer", "Serializer", "SerializerKeyError", "is_none_marker", "load_npz",
    "save_npz",
]  # fmt: skip
