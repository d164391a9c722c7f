"""The numpy arrays a compiled run is given: their addresses, and which share memory (an
update may only be written into its input when no other input reads that memory).

Arrays whose chains of ``.base`` end at different numpy arrays owning their memory
cannot overlap, which settles the usual case (parameters, fresh batches) without reading
an address.  ``InputRoots`` remembers each input position's owner from one run to the
next: a replay mostly sees the very same parameter arrays again, so only new arrays
(the next batch) have their chains walked.
"""

import ctypes
import weakref

import numpy

_from_buffer = ctypes.c_char.from_buffer
_addressof = ctypes.addressof


def address(array):
    """The data address of a numpy array: through the buffer protocol, about 4x cheaper
    than ``array.ctypes.data`` (which builds a ctypes helper object every time)."""
    try:
        return _addressof(_from_buffer(array))
    except (TypeError, ValueError):  # read-only or empty arrays
        return array.ctypes.data


class InputRoots:
    """``overlapping(arrays)`` with each position's owner remembered between calls.

    An array's chain of bases never changes, so an owner found for an array holds for
    as long as that array lives (and keeps its owner, hence the owner's id, alive); the
    array is held weakly (a remembered batch is not kept alive), and a position is
    trusted only while its weak reference still gives the very same array."""

    __slots__ = ("refs", "owners")

    def __init__(self):
        self.refs, self.owners = [], []

    def overlapping(self, arrays):
        """``{id(array)}`` of the ``arrays`` whose memory overlaps another's."""
        refs, owners = self.refs, self.owners
        if len(refs) != len(arrays):
            refs[:], owners[:] = [None] * len(arrays), [None] * len(arrays)
        for position, array in enumerate(arrays):
            ref = refs[position]
            if ref is None or ref() is not array:
                refs[position] = _weak(array)
                owner = _owner(array)
                owners[position] = None if owner is None else id(owner)
        if None not in owners and len(set(owners)) == len(owners):
            return set()
        return overlapping(arrays)


def _weak(array):
    try:
        return weakref.ref(array)
    except TypeError:  # (not a numpy array: never remembered)
        return None


def _owner(array):
    """The numpy array owning ``array``'s memory, or None (memory numpy does not own)."""
    root = array
    while isinstance(root.base, numpy.ndarray):
        root = root.base
    return root if root.base is None else None


def overlapping(arrays):
    """``{id(array)}`` of the (C-contiguous) ``arrays`` whose memory overlaps another's.

    Distinct owners settle it; otherwise the byte ranges are sorted by start, each
    compared with the furthest end before it."""
    owners = set()
    for array in arrays:
        owner = _owner(array)
        if owner is None or id(owner) in owners:  # foreign memory, or shared
            break
        owners.add(id(owner))
    else:
        return set()
    spans = sorted((address(a), address(a) + a.nbytes, id(a)) for a in arrays if a.nbytes)
    found, end, last = set(), -1, None
    for start, stop, ident in spans:
        if start < end:
            found.update((ident, last))
        if stop > end:
            end, last = stop, ident
    return found
