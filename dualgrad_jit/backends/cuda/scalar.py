"""Scalar rendering for CUDA C: types, literals, one template per op, casts, helpers.

Values follow numpy, like the reference ``dualgrad_jit.kernel.evaluate``: integer
``+ - *`` wrap (computed in unsigned types, never signed overflow), ``floordiv``/``mod``
are Python-style (``x // 0 = x % 0 = 0`` on integers, numpy's ``npy_divmod`` on floats),
``max``/``min`` let NaN win, ``sign(NaN) = NaN``, shifts by the bit width or more give 0
(or the sign for a signed ``>>``), integer ``pow`` with a negative exponent gives 1 (numpy
refuses it), float-to-int casts truncate (saturating, NaN -> 0; narrow unsigned targets
wrap through int64 so that ``-1.0 -> 255``), ``bool`` is C++ ``bool`` (one byte, 0/1).
Math calls are CUDA's accurate ``expf``, ``log1p``, ``erff``... (never the ``__`` fast
intrinsics).  ``float16`` is stored as its raw 16 bits and computed in float registers
rounded to half after every inexact op (how numpy computes half), with PTX ``cvt``
instructions, so no header is needed.

>>> call("floordiv", "int32", "int32", ["v0", "v1"])
'dg_ifloordiv<int>(v0, v1)'
>>> literal(0.1, "float32"), literal(-2**31, "int32")
('0.1f', '(-2147483647 - 1)')
"""

import re

import numpy

from ...errors import CompileError
from ...kernel import ir as K

_CTYPES = {
    "bool": "bool", "int8": "signed char", "int16": "short", "int32": "int",
    "int64": "long long", "uint8": "unsigned char", "uint16": "unsigned short",
    "uint32": "unsigned int", "uint64": "unsigned long long", "float16": "unsigned short",
    "float32": "float", "float64": "double",
}  # fmt: skip
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# One template per (op, operand kind): {a} {b} {c} operands, {T} result register type,
# {U} the unsigned type integer arithmetic wraps in, {F} the float32 suffix of math
# calls, {bits}/{top} the width and width - 1.  A key is a set of kinds (f float,
# i signed, u unsigned, b bool) or a kind and width ("u32").
_WRAP = "({T})(({U}){a} OP ({U}){b})"
_OPS = {
    "neg": {"f": "-{a}", "u32": "-{a}", "u64": "-{a}", "iu": "({T})(0 - ({U}){a})",
            "b": "{a}"},
    "abs": {"f": "fabs{F}({a})", "i": "({a} < 0 ? ({T})(0 - ({U}){a}) : {a})", "ub": "{a}"},
    "sign": {"f": "dg_sign<{T}>({a})", "i": "({T})(({a} > 0) - ({a} < 0))",
             "u": "({T})({a} > 0)", "b": "{a}"},
    "floor": {"f": "floor{F}({a})", "iub": "{a}"},
    **{name: {"f": name + "{F}({a})"}
       for name in ("exp", "log", "log1p", "expm1", "sqrt", "tanh", "sin", "cos", "erf")},
    "not": {"fiub": "!{a}"},
    "add": {"f": "{a} + {b}", "u32": "{a} + {b}", "u64": "{a} + {b}",
            "iu": _WRAP.replace("OP", "+"), "b": "{a} || {b}"},
    "sub": {"f": "{a} - {b}", "u32": "{a} - {b}", "u64": "{a} - {b}",
            "iu": _WRAP.replace("OP", "-"), "b": "{a} != {b}"},
    "mul": {"f": "{a} * {b}", "u32": "{a} * {b}", "u64": "{a} * {b}",
            "iu": _WRAP.replace("OP", "*"), "b": "{a} && {b}"},
    "div": {"f": "{a} / {b}"},
    "pow": {"f": "pow{F}({a}, {b})", "iu": "dg_ipow<{T}>({a}, {b})", "b": "{a} || !{b}"},
    "max": {"fiub": "dg_max<{T}>({a}, {b})"},
    "min": {"fiub": "dg_min<{T}>({a}, {b})"},
    "floordiv": {"f": "dg_floordiv<{T}>({a}, {b})", "i": "dg_ifloordiv<{T}>({a}, {b})",
                 "u": "({b} == 0 ? ({T})0 : ({T})({a} / {b}))", "b": "{a} && {b}"},
    "mod": {"f": "dg_remainder<{T}>({a}, {b})", "i": "dg_imod<{T}>({a}, {b})",
            "u": "({b} == 0 ? ({T})0 : ({T})({a} % {b}))", "b": "false"},
    "and": {"iub": "({T})({a} & {b})"},
    "or": {"iub": "({T})({a} | {b})"},
    "xor": {"iub": "({T})({a} ^ {b})"},
    "shl": {"iu": "(({U}){b} < {bits} ? ({T})(({U}){a} << {b}) : ({T})0)"},
    "shr": {"u": "(({U}){b} < {bits} ? ({T})({a} >> {b}) : ({T})0)",
            "i": "({T})({a} >> (({U}){b} < {bits} ? {b} : {top}))"},
    "mulhi": {"u32": "__umulhi({a}, {b})", "i32": "__mulhi({a}, {b})",
              "u64": "__umul64hi({a}, {b})", "i64": "__mul64hi({a}, {b})",
              "iu": "({T})(((long long){a} * (long long){b}) >> {bits})"},
    **{op: {"fiub": "{a} " + symbol + " {b}"} for op, symbol in (
        ("lt", "<"), ("le", "<="), ("gt", ">"), ("ge", ">="), ("eq", "=="), ("ne", "!="))},
    "where": {"fiub": "{a} ? {b} : {c}"},
}  # fmt: skip
_PLAIN = {"neg": "-{a}", "add": "{a} + {b}", "sub": "{a} - {b}", "mul": "{a} * {b}"}
# float16 results of these ops are already halves (no rounding needed)
_EXACT = ("neg", "abs", "sign", "floor", "max", "min", "where", "not",
          "lt", "le", "gt", "ge", "eq", "ne")  # fmt: skip

_HELPERS = {
    "dg_vec": """\
template <typename T, int N> struct alignas(N * sizeof(T) < 16 ? N * sizeof(T) : 16) dg_vec {
  T e[N];  // N points of a vectorised loop, moved by whole-vector loads and stores
};""",
    "dg_half": """\
__device__ __forceinline__ float dg_half(float x) {  // round to float16, keep in a float
  unsigned short h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(x));
  asm("cvt.f32.f16 %0, %1;" : "=f"(x) : "h"(h));
  return x;
}""",
    "dg_h2f": """\
__device__ __forceinline__ float dg_h2f(unsigned short h) {
  float x;
  asm("cvt.f32.f16 %0, %1;" : "=f"(x) : "h"(h));
  return x;
}""",
    "dg_f2h": """\
__device__ __forceinline__ unsigned short dg_f2h(float x) {
  unsigned short h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(x));
  return h;
}""",
    "dg_d2h": """\
__device__ __forceinline__ unsigned short dg_d2h(double x) {
  unsigned short h;
  asm("cvt.rn.f16.f64 %0, %1;" : "=h"(h) : "d"(x));
  return h;
}""",
    "dg_max": """\
template <typename T> __device__ __forceinline__ T dg_max(T a, T b) {  // NaN wins
  return (a > b || a != a) ? a : b;
}""",
    "dg_min": """\
template <typename T> __device__ __forceinline__ T dg_min(T a, T b) {  // NaN wins
  return (a < b || a != a) ? a : b;
}""",
    "dg_sign": """\
template <typename T> __device__ __forceinline__ T dg_sign(T a) {  // sign(NaN) = NaN
  return a > 0 ? (T)1 : (a < 0 ? (T)-1 : (a == 0 ? (T)0 : a));
}""",
    "dg_floordiv": """\
template <typename T> __device__ __forceinline__ T dg_floordiv(T a, T b) {  // npy_divmod
  if (b == 0) return a / b;
  T mod = fmod(a, b);
  T div = (a - mod) / b;
  if (mod != 0 && ((b < 0) != (mod < 0))) div -= 1;
  if (div == 0) return copysign((T)0, a / b);
  T floordiv = floor(div);
  return div - floordiv > (T)0.5 ? floordiv + 1 : floordiv;
}""",
    "dg_remainder": """\
template <typename T> __device__ __forceinline__ T dg_remainder(T a, T b) {  // npy_divmod
  T mod = fmod(a, b);
  if (b == 0) return mod;
  if (mod == 0) return copysign((T)0, b);
  return ((b < 0) != (mod < 0)) ? mod + b : mod;
}""",
    "dg_ifloordiv": """\
template <typename T> __device__ __forceinline__ T dg_ifloordiv(T a, T b) {
  if (b == 0) return 0;
  if (b == -1) return (T)(0ull - (unsigned long long)a);  // MIN // -1 wraps to MIN
  T q = (T)(a / b);
  return (a % b != 0 && ((a < 0) != (b < 0))) ? (T)(q - 1) : q;
}""",
    "dg_imod": """\
template <typename T> __device__ __forceinline__ T dg_imod(T a, T b) {
  if (b == 0 || b == -1) return 0;
  T r = (T)(a % b);
  return (r != 0 && ((r < 0) != (b < 0))) ? (T)(r + b) : r;
}""",
    "dg_ipow": """\
template <typename T> __device__ __forceinline__ T dg_ipow(T a, T e) {  // e <= 0 gives 1
  unsigned long long result = 1, base = (unsigned long long)a;
  if (e <= 0) return 1;
  for (unsigned long long n = (unsigned long long)e; n != 0; n >>= 1) {
    if (n & 1) result *= base;
    base *= base;
  }
  return (T)result;
}""",
}


def kind(dtype):
    """``'f'`` float, ``'i'`` signed, ``'u'`` unsigned integer, ``'b'`` bool."""
    return "b" if dtype == "bool" else numpy.dtype(dtype).kind


def bits(dtype):
    return numpy.dtype(dtype).itemsize * 8


def register_type(dtype):
    """The C type a value of ``dtype`` is computed in (float16 computes in float)."""
    return "float" if dtype == "float16" else _ctype(dtype)


def _ctype(dtype):
    if dtype not in _CTYPES:
        raise CompileError(f"the CUDA backend has no type for dtype {dtype!r}; "
                           f"supported: {', '.join(_CTYPES)}")
    return _CTYPES[dtype]


def _unsigned(dtype):
    return "unsigned long long" if bits(dtype) == 64 else "unsigned int"


# -- scalar rendering --------------------------------------------------------------------
def literal(value, dtype):
    """A C literal of ``value`` as ``dtype`` (exact; float16 values as float)."""
    k = kind(dtype)
    if k == "b":
        return "true" if value else "false"
    if k == "f":
        return _float_literal(float(value), dtype)
    value = int(value)
    if k == "i" and value == -(1 << (bits(dtype) - 1)) and bits(dtype) >= 32:
        suffix = "LL" if bits(dtype) == 64 else ""
        return f"({value + 1}{suffix} - 1)"
    suffix = {"int64": "LL", "uint64": "ull", "uint32": "u", "int32": ""}.get(dtype)
    return f"{value}{suffix}" if suffix is not None else f"({_ctype(dtype)}){value}"


def _float_literal(value, dtype):
    wide = dtype == "float64"
    if numpy.isnan(value):
        return "__longlong_as_double(0x7ff8000000000000LL)" if wide else \
            "__int_as_float(0x7fc00000)"
    if numpy.isinf(value):
        inf = "__longlong_as_double(0x7ff0000000000000LL)" if wide else \
            "__int_as_float(0x7f800000)"
        return inf if value > 0 else f"(-{inf})"
    if wide:
        return repr(value)
    text = str(numpy.float32(value))  # shortest text that reads back as this float32
    return f"{text}f" if "." in text or "e" in text else f"{text}.0f"


def call(op, operand_dtype, result_dtype, args, fits=False):
    """C expression of ``op`` over rendered operands.  ``fits``: range analysis proved the
    exact integer result fits the dtype, so ``+ - *`` need not wrap (index arithmetic)."""
    T = register_type(result_dtype)
    fields = {"T": T, "U": _unsigned(operand_dtype), "bits": bits(operand_dtype),
              "top": bits(operand_dtype) - 1,
              "F": "f" if register_type(operand_dtype) == "float" else ""}
    fields.update(zip("abc", args))
    template = _template(op, operand_dtype)
    if fits and op in _PLAIN and kind(operand_dtype) in "iu":
        template = _PLAIN[op]
    text = template.format(**fields)
    if result_dtype == "float16" and op not in _EXACT:
        return f"dg_half({text})"
    return text


def _template(op, dtype):
    k, entries = kind(dtype), _OPS[op]
    if f"{k}{bits(dtype)}" in entries:
        return entries[f"{k}{bits(dtype)}"]
    for key, text in entries.items():
        if k in key and not key[-1].isdigit():
            return text
    raise CompileError(f"kernel op {op!r} on {dtype} operands has no CUDA rendering "
                       "(the kernel builder should have cast the operands first)")


def cast(text, source, target):
    """C-style conversion (see the module docstring for floats to ints)."""
    if source == target:
        return text
    if target == "bool":
        return f"({text} != 0)"
    if target == "float16":
        if source in ("float64", "int64", "uint64"):
            return f"dg_h2f(dg_d2h((double)({text})))"
        return f"dg_half((float)({text}))"
    if kind(source) == "f" and kind(target) == "u" and bits(target) < 64:
        return f"({_ctype(target)})(long long)({text})"
    return f"({register_type(target)})({text})"


_TO_BITS = {"float16": "dg_f2h", "float32": "__float_as_int", "float64": "__double_as_longlong"}
_FROM_BITS = {"float16": ("dg_h2f", "unsigned short"), "float32": ("__int_as_float", "int"),
              "float64": ("__longlong_as_double", "long long")}


def bitcast(text, source, target):
    """Reinterpret the bits of a same-width value."""
    if bits(source) != bits(target) or "bool" in (source, target):
        raise CompileError(f"bitcast from {source} to {target}: the widths differ")
    if source == target:
        return text
    if kind(source) == "f":
        text = f"{_TO_BITS[source]}({text})"
    if kind(target) == "f":
        function, bits_type = _FROM_BITS[target]
        return f"{function}(({bits_type})({text}))"
    return f"({_ctype(target)})({text})"


# -- analysis ----------------------------------------------------------------------------
def bounds(node, extents, args):
    """``(lo, hi)`` enclosing every value of the integer ``node`` when ``index(d)`` ranges
    over ``[0, extents[d])`` and its operands over ``args`` (their bounds, None when
    unknown); None when unknown (reads, non-affine ops) or out of the dtype's range."""
    if node.op == "const":
        return (node.value, node.value) if kind(node.dtype) in "iu" else None
    if node.op == "index":
        return (0, extents[node.value] - 1) if extents[node.value] > 0 else None
    if node.op == "where":
        args = args[1:]
    if None in args or not args or kind(node.dtype) not in "iu":
        return None
    if node.op == "cast":
        lo, hi = args[0]
        info = numpy.iinfo(node.dtype)
        return args[0] if info.min <= lo and hi <= info.max else None
    corners = None
    if node.op == "where":
        corners = [bound for pair in args for bound in pair]
    elif node.op in ("add", "sub", "mul", "max", "min"):
        (a0, a1), (b0, b1) = args
        function = {"add": int.__add__, "sub": int.__sub__, "mul": int.__mul__,
                    "max": max, "min": min}[node.op]
        pairs = ((a0, b1), (a1, b0)) if node.op == "sub" else ((a0, b0), (a1, b1))
        if node.op == "mul":
            pairs = ((a0, b0), (a0, b1), (a1, b0), (a1, b1))
        corners = [function(x, y) for x, y in pairs]
    elif node.op in ("floordiv", "mod") and args[1][0] == args[1][1] and args[1][0] > 0:
        (a0, a1), (c, _) = args
        if node.op == "floordiv":
            corners = [a0 // c, a1 // c]
        else:  # Python-style: in [0, c) whatever the sign of a
            corners = [a0, a1] if a0 >= 0 and a1 < c else [0, c - 1]
    if corners is None:
        return None
    lo, hi = min(corners), max(corners)
    info = numpy.iinfo(node.dtype)
    return (lo, hi) if info.min <= lo and hi <= info.max else None


def coefficient(expr, d):
    """The constant ``c`` with ``expr = c * index(d) + (terms free of index(d))``, or None."""
    memo = {}
    for node in K.walk(expr):
        args = [memo[id(a)] for a in node.args]
        if node.op == "index":
            c = 1 if node.value == d else 0
        elif node.op in ("const", "acc") or all(a == 0 for a in args):
            c = 0
        elif node.op in ("add", "sub") and None not in args:
            c = args[0] + args[1] if node.op == "add" else args[0] - args[1]
        elif node.op == "mul" and node.args[1].op == "const" and args[0] is not None:
            c = args[0] * node.args[1].value
        elif node.op == "mul" and node.args[0].op == "const" and args[1] is not None:
            c = args[1] * node.args[0].value
        elif node.op in ("cast", "neg") and args[0] is not None:
            c = -args[0] if node.op == "neg" else args[0]
        else:
            c = None
        memo[id(node)] = c
    return memo[id(expr)]




def helpers_used(text):
    """The helper definitions that the kernels in ``text`` call, in a fixed order."""
    return [source for name, source in _HELPERS.items() if re.search(rf"\b{name}\b", text)]


def check_name(name):
    """``name`` if it can name an ``extern "C"`` kernel."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise CompileError(f"kernel name {name!r} is not a C identifier; "
                           "use letters, digits and underscores")
    return name


def ctype(dtype):
    """The C type a buffer of ``dtype`` holds (float16: its raw bits)."""
    return _ctype(dtype)
