"""Lowering metadata: how each op becomes kernels.  Every op declares exactly one.

Nothing compiles these yet in the eager library; the compiled backends render them.
Each kind can be evaluated with numpy (``dualgrad.lowering_check``) so the op test
harness checks that an op's lowering computes the same thing as its ``forward``.
"""

from dataclasses import dataclass
from typing import Any

from . import scalar_ir as S


@dataclass(frozen=True)
class Elementwise:
    """``out[i] = expr(x0[i], x1[i], ...)`` after broadcasting the inputs."""

    expr: S.Expr


@dataclass(frozen=True)
class Reduction:
    """Fold ``pre(x)`` over ``axes`` with ``combine(acc=x0, value=x1)`` from ``identity``,
    then ``post(acc=x0, count=x1)``.  ``arg=True`` folds (value, index) pairs and
    returns the index of the first element that wins ``combine``'s comparison."""

    identity: Any
    combine: S.Expr
    axes: tuple
    keepdims: bool
    pre: S.Expr = S.arg(0)
    post: S.Expr = S.arg(0)
    arg: bool = False


@dataclass(frozen=True)
class Source:
    """Where one output element comes from: input ``input`` at index ``exprs`` (scalar
    expressions over the output indices ``S.index(d)``) when ``valid`` holds."""

    input: int
    exprs: tuple
    valid: S.Expr = S.const(True)


@dataclass(frozen=True)
class IndexMap:
    """A view: each output element is read from the first ``Source`` whose ``valid``
    holds, else it is ``fill``.  Reshape, transpose, broadcast, slicing, padding,
    concatenation and im2col are all index maps, so they cost nothing inside a fused
    kernel.  ``S.Expr('load', exprs, k)`` in an index reads input ``k`` (gather)."""

    sources: tuple
    fill: Any = 0


@dataclass(frozen=True)
class LibraryCall:
    """Run by a library (BLAS gemm, scatter-add...): ``name`` plus static parameters."""

    name: str
    params: tuple = ()


@dataclass(frozen=True)
class Generator:
    """Counter-based randomness: ``out[flat] = expr`` where ``S.index(0)`` is the flat
    element index; ``expr`` depends only on that index and constants (key, counter),
    so any backend draws the same numbers."""

    expr: S.Expr


@dataclass(frozen=True)
class Composite:
    """An op defined by a decomposition into other ops (``decompose(*inputs)``), kept
    whole so its backward can be a numerically stable custom rule."""

    decompose: Any


LIBRARY_CALLS = ("gemm", "col2im", "scatter_add")
