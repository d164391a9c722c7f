"""Round-tripping small Python values through the serializer protocol.

``serializer(key, value)`` returns ``value`` when saving and the stored value when
loading; stored scalars come back as 0-d arrays, so these helpers turn them back into
Python values. One call works for both directions.
"""

import json

import numpy


def _python_value(value):
    is_array = isinstance(value, (numpy.ndarray, numpy.generic))
    if is_array or type(value).__module__.startswith("cupy"):
        return value.item()
    return value


def serialize_int(serializer, key, value):
    return int(_python_value(serializer(key, int(value))))


def serialize_float(serializer, key, value):
    return float(_python_value(serializer(key, float(value))))


def serialize_json(serializer, key, value):
    """Store a JSON-able value (a log, plot data) as one string."""
    text = _python_value(serializer(key, json.dumps(value)))
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return json.loads(text)


def serialize_optional_float(serializer, key, value):
    """Like ``serialize_float`` but ``None`` travels as NaN (npz cannot hold None)."""
    stored = serialize_float(serializer, key, numpy.nan if value is None else value)
    return None if numpy.isnan(stored) else stored
