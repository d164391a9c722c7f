"""The serializer protocol shared by links, optimizers, iterators and trainers.

An object saves and loads itself in one method, ``obj.serialize(serializer)``:

- ``serializer(key, value)`` -- saving records ``value`` and returns it; loading copies
  the stored array INTO ``value`` when it is an array and returns ``value``, or returns
  the stored value when ``value`` is a scalar, a string or None (so the same line
  ``self.t = serializer('t', self.t)`` saves and loads).
- ``serializer[name]`` -- the serializer of a sub-object, whose keys live under
  ``name/``.

Code that must behave differently when loading checks
``isinstance(serializer, Deserializer)``.
"""


class AbstractSerializer:
    """``serializer(key, value)`` and ``serializer[name]``; see the module docstring."""

    def __getitem__(self, key):
        raise NotImplementedError

    def __call__(self, key, value):
        raise NotImplementedError


class Serializer(AbstractSerializer):
    """Base of the saving serializers."""

    def save(self, obj):
        """Record everything ``obj.serialize`` reports."""
        obj.serialize(self)


class Deserializer(AbstractSerializer):
    """Base of the loading serializers."""

    def load(self, obj):
        """Load ``obj`` in place and return it."""
        obj.serialize(self)
        return obj
