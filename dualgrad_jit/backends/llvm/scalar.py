"""Scalar lowering: every kernel-IR operation as LLVM instructions, with numpy's semantics.

One rule per op in ``RULES`` (``rule(lowering, dtype, *operands)``, ``dtype`` the operand
dtype).  Values live in registers with their natural LLVM type; ``bool`` is ``i1`` in
registers and ``i8`` (0/1) in memory.  Signedness is not part of an LLVM integer type,
so rules choose signed or unsigned instructions from the dtype.

The rules that are not one instruction:

* ``floordiv``/``mod`` on floats follow numpy's ``npy_divmod``:
  ``mod = fmod(a, b)``, ``div = (a - mod) / b``; when ``mod`` and ``b`` differ in sign,
  ``mod += b`` and ``div -= 1``; the quotient is snapped to the nearest integer
  (``floor(div)``, plus one when ``div - floor(div) > 0.5``); ``b == 0`` gives ``a / b``
  and ``fmod(a, b)``.  On integers: C division rounded toward minus infinity, with
  numpy's ``x // 0 = x % 0 = 0`` and ``MIN // -1 = MIN`` (no trap, no undefined value).
* ``max``/``min`` on floats are ``llvm.maximum``/``llvm.minimum``: NaN wins like numpy.
* shifts by at least the bit width give ``0`` (``-1`` for a negative ``a >> b``), as numpy.
* ``mulhi(a, b)`` is the high half of the double-width product.
* integer ``pow`` is square-and-multiply in a small internal helper (inlined by LLVM).
"""

import numpy
from llvmlite import ir

from ...errors import CompileError

TYPES = {
    "bool": ir.IntType(1), "int8": ir.IntType(8), "int16": ir.IntType(16),
    "int32": ir.IntType(32), "int64": ir.IntType(64), "uint8": ir.IntType(8),
    "uint16": ir.IntType(16), "uint32": ir.IntType(32), "uint64": ir.IntType(64),
    "float32": ir.FloatType(), "float64": ir.DoubleType(),
}  # fmt: skip
MEMORY_TYPES = {**TYPES, "bool": ir.IntType(8)}

# libm names of the float64 functions; the float32 ones add an ``f``.
_LIBM = ("exp", "log", "log1p", "expm1", "tanh", "sin", "cos", "erf", "pow")
_INTRINSIC_MATH = {"sqrt": "llvm.sqrt", "floor": "llvm.floor", "abs": "llvm.fabs"}
_FLOAT_COMPARE = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}


def kind(dtype):
    """``'b'``, ``'i'``, ``'u'`` or ``'f'``."""
    if dtype not in TYPES:
        raise CompileError(f"the LLVM backend has no dtype {dtype!r}; supported: "
                           f"{', '.join(TYPES)}")
    return numpy.dtype(dtype).kind


def bits(dtype):
    return 1 if dtype == "bool" else numpy.dtype(dtype).itemsize * 8


class ScalarLowering:
    """Emits kernel-IR scalar operations at the position of ``builder``.

    ``flags`` are the fast-math flags put on every float instruction."""

    def __init__(self, builder, flags):
        self.b = builder
        self.flags = tuple(flags)

    @property
    def module(self):
        return self.b.module

    def apply(self, op, dtype, operands, flags=None):
        """``op`` over ``operands`` of dtype ``dtype`` (see the module contract)."""
        rule = RULES.get(op)
        if rule is None:
            raise CompileError(f"the LLVM backend cannot render the kernel op {op!r}")
        saved = self.flags
        if flags is not None:
            self.flags = tuple(flags)
        try:
            return rule(self, dtype, *operands)
        finally:
            self.flags = saved

    # -- helpers ---------------------------------------------------------------------
    def const(self, value, dtype):
        ty = TYPES[dtype]
        if kind(dtype) == "f":
            return ir.Constant(ty, float(value))
        if dtype == "bool":
            return ir.Constant(ty, int(bool(value)))
        width = bits(dtype)
        return ir.Constant(ty, int(value) & ((1 << width) - 1))

    def declare(self, name, ret, args):
        """The function ``name`` of this module, declared on first use."""
        try:
            return self.module.get_global(name)
        except KeyError:
            return ir.Function(self.module, ir.FunctionType(ret, args), name)

    def intrinsic(self, name, dtype, *operands):
        ty = TYPES[dtype]
        suffix = {"float32": "f32", "float64": "f64"}.get(dtype, f"i{bits(dtype)}")
        fn = self.declare(f"{name}.{suffix}", ty, [ty] * len(operands))
        fastmath = self.flags if kind(dtype) == "f" else ()
        return self.b.call(fn, list(operands), fastmath=fastmath)

    def libm(self, name, dtype, *operands):
        ty = TYPES[dtype]
        symbol = name + ("f" if dtype == "float32" else "")
        fn = self.declare(symbol, ty, [ty] * len(operands))
        return self.b.call(fn, list(operands), fastmath=self.flags)

    def fcmp(self, op, x, y):
        return self.b.fcmp_ordered(op, x, y, flags=self.flags)

    def select(self, cond, x, y):
        flags = self.flags if isinstance(x.type, (ir.FloatType, ir.DoubleType)) else ()
        return self.b.select(cond, x, y, flags=flags)

    def icmp(self, dtype, op, x, y):
        if kind(dtype) == "i":
            return self.b.icmp_signed(op, x, y)
        return self.b.icmp_unsigned(op, x, y)

    def fbin(self, name, x, y):
        return getattr(self.b, name)(x, y, flags=self.flags)


def _float_only(name):
    def rule(L, dtype, *xs):
        if kind(dtype) != "f":
            raise CompileError(f"kernel op {name!r} on {dtype} operands: the kernel builder "
                               "must cast integer operands of math functions to a float dtype")
        if name in _INTRINSIC_MATH:
            return L.intrinsic(_INTRINSIC_MATH[name], dtype, *xs)
        return L.libm(name, dtype, *xs)

    return rule


def _by_kind(name, f=None, i=None, u=None, b=None):
    """A rule choosing its lowering from the operand kind (``u`` defaults to ``i``)."""
    table = {"f": f, "i": i, "u": u if u is not None else i, "b": b}

    def rule(L, dtype, *xs):
        lower = table[kind(dtype)]
        if lower is None:
            raise CompileError(f"kernel op {name!r} is not defined on {dtype} operands")
        return lower(L, dtype, *xs)

    return rule


def _same(L, dtype, x):
    return x


def _neg_int(L, dtype, x):
    return L.b.sub(L.const(0, dtype), x)


def _abs_int(L, dtype, x):
    return L.b.select(L.b.icmp_signed("<", x, L.const(0, dtype)), _neg_int(L, dtype, x), x)


def _sign_float(L, dtype, x):
    zero, one, minus = L.const(0, dtype), L.const(1, dtype), L.const(-1, dtype)
    # x == 0 (either zero) -> +0; NaN falls through to itself
    inner = L.select(L.fcmp("==", x, zero), zero, x)
    inner = L.select(L.fcmp("<", x, zero), minus, inner)
    return L.select(L.fcmp(">", x, zero), one, inner)


def _sign_int(L, dtype, x):
    ty = TYPES[dtype]
    positive = L.b.zext(L.icmp(dtype, ">", x, L.const(0, dtype)), ty)
    negative = L.b.zext(L.icmp(dtype, "<", x, L.const(0, dtype)), ty)
    return L.b.sub(positive, negative)


def _not(L, dtype, x):
    if kind(dtype) == "f":
        return L.fcmp("==", x, L.const(0, dtype))
    return L.b.icmp_unsigned("==", x, L.const(0, dtype))


def _pow_int(L, dtype, a, e):
    """``a ** e`` by square-and-multiply; ``e <= 0`` gives 1 (numpy rejects ``e < 0``)."""
    ty = TYPES[dtype]
    name = f"dualgrad.ipow.{dtype}"
    try:
        fn = L.module.get_global(name)
    except KeyError:
        fn = _define_ipow(L.module, name, ty, kind(dtype) == "i")
    return L.b.call(fn, [a, e])


def _define_ipow(module, name, ty, signed):
    fn = ir.Function(module, ir.FunctionType(ty, [ty, ty]), name)
    fn.linkage = "internal"
    fn.attributes.add("alwaysinline")
    entry, loop, done = (fn.append_basic_block(n) for n in ("entry", "loop", "done"))
    b = ir.IRBuilder(entry)
    one, zero = ir.Constant(ty, 1), ir.Constant(ty, 0)
    positive = b.icmp_signed(">", fn.args[1], zero) if signed else \
        b.icmp_unsigned("!=", fn.args[1], zero)
    b.cbranch(positive, loop, done)
    b.position_at_end(loop)
    result, base, exponent = b.phi(ty), b.phi(ty), b.phi(ty)
    odd = b.trunc(exponent, ir.IntType(1))
    new_result = b.select(odd, b.mul(result, base), result)
    new_exponent = b.lshr(exponent, one)
    for phi, start, update in ((result, one, new_result), (base, fn.args[0], b.mul(base, base)),
                               (exponent, fn.args[1], new_exponent)):
        phi.add_incoming(start, entry)
        phi.add_incoming(update, loop)
    b.cbranch(b.icmp_unsigned("!=", new_exponent, zero), loop, done)
    b.position_at_end(done)
    out = b.phi(ty)
    out.add_incoming(one, entry)
    out.add_incoming(new_result, loop)
    b.ret(out)
    return fn


def _pow_bool(L, dtype, a, e):
    # x ** False = True, x ** True = x
    return L.b.or_(a, L.b.not_(e))


def _divmod_float(L, dtype, a, b):
    """numpy's ``npy_divmod`` (see the module docstring); returns ``(floordiv, mod)``."""
    zero, one = L.const(0, dtype), L.const(1, dtype)
    mod = L.fbin("frem", a, b)
    div = L.fbin("fdiv", L.fbin("fsub", a, mod), b)
    differ = L.b.xor(L.fcmp("<", b, zero), L.fcmp("<", mod, zero))
    nonzero_mod = L.b.fcmp_unordered("!=", mod, zero, flags=L.flags)
    fix = L.b.and_(nonzero_mod, differ)
    div = L.select(fix, L.fbin("fsub", div, one), div)
    adjusted = L.select(fix, L.fbin("fadd", mod, b), mod)
    adjusted = L.select(nonzero_mod, adjusted, L.intrinsic("llvm.copysign", dtype, zero, b))
    floor = L.intrinsic("llvm.floor", dtype, div)
    half = L.const(0.5, dtype)
    floor = L.select(L.fcmp(">", L.fbin("fsub", div, floor), half), L.fbin("fadd", floor, one),
                     floor)
    quotient = L.fbin("fdiv", a, b)
    nonzero_div = L.b.fcmp_unordered("!=", div, zero, flags=L.flags)
    floordiv = L.select(nonzero_div, floor, L.intrinsic("llvm.copysign", dtype, zero, quotient))
    b_zero = L.fcmp("==", b, zero)
    return L.select(b_zero, quotient, floordiv), L.select(b_zero, mod, adjusted)


def _divmod_int(L, dtype, a, b):
    """Python-style integer ``(a // b, a % b)`` without undefined behaviour."""
    B = L.b
    zero, one = L.const(0, dtype), L.const(1, dtype)
    b_zero = B.icmp_unsigned("==", b, zero)
    if kind(dtype) == "u":
        safe = B.select(b_zero, one, b)
        return B.select(b_zero, zero, B.udiv(a, safe)), B.select(b_zero, zero, B.urem(a, safe))
    b_minus_one = B.icmp_signed("==", b, L.const(-1, dtype))
    safe = B.select(B.or_(b_zero, b_minus_one), one, b)
    q, r = B.sdiv(a, safe), B.srem(a, safe)
    fix = B.and_(B.icmp_signed("!=", r, zero), B.icmp_signed("<", B.xor(r, b), zero))
    q = B.select(fix, B.sub(q, one), q)
    r = B.select(fix, B.add(r, b), r)
    q = B.select(b_minus_one, B.sub(zero, a), q)  # wraps MIN // -1 to MIN like numpy
    r = B.select(b_minus_one, zero, r)
    return B.select(b_zero, zero, q), B.select(b_zero, zero, r)


def _floordiv(L, dtype, a, b):
    if dtype == "bool":
        return L.b.and_(a, b)
    lower = _divmod_float if kind(dtype) == "f" else _divmod_int
    return lower(L, dtype, a, b)[0]


def _mod(L, dtype, a, b):
    if dtype == "bool":
        return L.const(0, dtype)
    lower = _divmod_float if kind(dtype) == "f" else _divmod_int
    return lower(L, dtype, a, b)[1]


def _shift(left):
    def rule(L, dtype, a, n):
        if kind(dtype) not in "iu" or dtype == "bool":
            raise CompileError(f"kernel op {'shl' if left else 'shr'!r} on {dtype} operands")
        width = L.const(bits(dtype), dtype)
        in_range = L.b.icmp_unsigned("<", n, width)
        if left:
            return L.b.select(in_range, L.b.shl(a, n), L.const(0, dtype))
        if kind(dtype) == "u":
            return L.b.select(in_range, L.b.lshr(a, n), L.const(0, dtype))
        clamped = L.b.select(in_range, n, L.const(bits(dtype) - 1, dtype))
        return L.b.ashr(a, clamped)

    return rule


def _mulhi(L, dtype, a, b):
    if kind(dtype) not in "iu" or dtype == "bool":
        raise CompileError(f"kernel op 'mulhi' on {dtype} operands (it is for unsigned ints)")
    width = bits(dtype)
    wide = ir.IntType(2 * width)
    extend = L.b.zext if kind(dtype) == "u" else L.b.sext
    product = L.b.mul(extend(a, wide), extend(b, wide))
    return L.b.trunc(L.b.lshr(product, ir.Constant(wide, width)), TYPES[dtype])


def _compare(op):
    symbol = _FLOAT_COMPARE[op]

    def rule(L, dtype, a, b):
        if kind(dtype) == "f":
            if op == "ne":  # the one comparison that is true when an operand is NaN
                return L.b.fcmp_unordered("!=", a, b, flags=L.flags)
            return L.fcmp(symbol, a, b)
        return L.icmp(dtype, symbol, a, b)

    return rule


def _minmax(name):
    def rule(L, dtype, a, b):
        k = kind(dtype)
        if k == "f":
            return L.intrinsic(f"llvm.{name}imum", dtype, a, b)
        if k == "b":
            return (L.b.or_ if name == "max" else L.b.and_)(a, b)
        return L.intrinsic(f"llvm.{'s' if k == 'i' else 'u'}{name}", dtype, a, b)

    return rule


def _where(L, dtype, c, a, b):
    return L.select(c, a, b)


def _binary(float_name, int_name, bool_name=None):
    def float_rule(L, dtype, a, b):
        return L.fbin(float_name, a, b)

    def int_rule(L, dtype, a, b):
        return getattr(L.b, int_name)(a, b)

    def bool_rule(L, dtype, a, b):
        return getattr(L.b, bool_name)(a, b)

    return _by_kind(float_name, f=float_rule, i=int_rule, b=bool_rule if bool_name else None)


def _bitwise(name):
    def rule(L, dtype, a, b):
        return getattr(L.b, name)(a, b)

    return _by_kind(name.rstrip("_"), i=rule, b=rule)


RULES = {
    "neg": _by_kind("neg", f=lambda L, d, x: L.b.fneg(x, flags=L.flags), i=_neg_int, b=_same),
    "abs": _by_kind("abs", f=_float_only("abs"), i=_abs_int, u=_same, b=_same),
    "sign": _by_kind("sign", f=_sign_float, i=_sign_int, b=_same),
    "floor": _by_kind("floor", f=_float_only("floor"), i=_same, b=_same),
    "sqrt": _float_only("sqrt"),
    **{name: _float_only(name) for name in _LIBM if name != "pow"},
    "pow": _by_kind("pow", f=_float_only("pow"), i=_pow_int, b=_pow_bool),
    "not": _not,
    "add": _binary("fadd", "add", "or_"),
    "sub": _binary("fsub", "sub", "xor"),
    "mul": _binary("fmul", "mul", "and_"),
    "div": _by_kind("div", f=lambda L, d, a, b: L.fbin("fdiv", a, b)),
    "max": _minmax("max"),
    "min": _minmax("min"),
    "floordiv": _floordiv,
    "mod": _mod,
    "and": _bitwise("and_"),
    "or": _bitwise("or_"),
    "xor": _bitwise("xor"),
    "shl": _shift(left=True),
    "shr": _shift(left=False),
    "mulhi": _mulhi,
    **{op: _compare(op) for op in _FLOAT_COMPARE},
    "where": _where,
}  # fmt: skip


def cast(L, value, source, target):
    """C-style conversion (floats to ints truncate; to bool means ``!= 0``)."""
    if source == target:
        return value
    k_source, k_target, B = kind(source), kind(target), L.b
    ty = TYPES[target]
    if k_target == "b":
        if k_source == "f":  # NaN is truthy, as in numpy
            return B.fcmp_unordered("!=", value, L.const(0, source))
        return B.icmp_unsigned("!=", value, L.const(0, source))
    if k_source == "f" and k_target == "f":
        return B.fpext(value, ty) if bits(target) > bits(source) else B.fptrunc(value, ty)
    if k_source == "f":
        return _float_to_int(L, value, target)
    if k_target == "f":
        return (B.sitofp if k_source == "i" else B.uitofp)(value, ty)
    if bits(target) < bits(source):
        return B.trunc(value, ty)
    return (B.sext if k_source == "i" else B.zext)(value, ty)


def _float_to_int(L, value, target):
    """Truncate toward zero.  The saturating intrinsics keep NaN and out-of-range values
    defined (numpy leaves them unspecified); narrow unsigned targets go through int64 so
    that small negative values wrap like numpy on x86 (``-1.0 -> 255``)."""
    source = "float32" if isinstance(value.type, ir.FloatType) else "float64"
    suffix = "f32" if source == "float32" else "f64"
    width = bits(target)
    if kind(target) == "u" and width < 64:
        wide = _float_to_int(L, value, "int64")
        return L.b.trunc(wide, TYPES[target])
    name = "llvm.fptosi.sat" if kind(target) == "i" else "llvm.fptoui.sat"
    ty = TYPES[target]
    fn = L.declare(f"{name}.i{width}.{suffix}", ty, [value.type])
    return L.b.call(fn, [value])


def bitcast(L, value, source, target):
    """Reinterpret the bits of a same-width value (``float32 <-> int32``)."""
    if bits(source) != bits(target) or "bool" in (source, target):
        raise CompileError(f"bitcast from {source} to {target}: the widths differ")
    return L.b.bitcast(value, TYPES[target])
