"""Matrix products as generated machine code, specialised to their static shapes.

``C = op(A) @ op(B)`` with ``C`` of shape ``(m, n)``, the contraction of length ``k``,
every matrix C-contiguous.  A product is one exported function with the kernels'
signature, ``(i64 start, i64 end, i8** table)`` with table ``[A, B, C, m, n, k, kc,
mb]`` (``TABLE``; the shapes and block sizes are integers in pointer slots): it computes
the row panels ``[start, end)`` of ``C`` (``GemmSpec.units`` of them), so the runtime
splits a product between threads exactly as it splits a kernel, and one function per
dtype, layout and vector unit serves every shape (compiled once, then from the disk
cache).

Why not numpy's BLAS: the BLAS numpy bundles runs its 256-bit kernels on CPUs that
have 512-bit vectors, and every call pays for a trip through Python.  Measured on a
2-core AVX-512 Xeon: one core's fused multiply-adds peak at 174 GFLOP/s in float32,
OpenBLAS's large products reach 84 GFLOP/s on one thread, and a 128x784x100 product
through ``numpy.matmul`` took 146 us.

Two register tiles, chosen by where the contraction is contiguous:

* ``outer`` (``B`` not transposed: ``B[kk, j]`` contiguous along ``j``): an ``MR x NV``
  tile of vector accumulators over rows of ``C``; each step of the contraction loads
  ``NV`` vectors of one row of ``B``, broadcasts ``MR`` numbers of ``A`` and does
  ``MR * NV`` fused multiply-adds.  ``A`` may be transposed or not: it is only read
  one number at a time.
* ``dot`` (``A`` not transposed, ``B`` transposed: both contiguous along the
  contraction): an ``MR x NR`` tile of accumulators, each a vector of partial sums
  along ``k``; the tile's ``MR * NR`` partial-sum vectors are reduced at the end by a
  shuffle tree (``_reduce_tree``) into one vector per row of the tile.

``A`` and ``B`` both transposed is not generated (``supported``): the runtime calls
numpy for it.  Loops are blocked so that the panel of ``B`` a tile sweeps stays in L1
(``k`` in blocks of ``kc``) and the rows of ``A`` a thread sweeps stay in L2 (row
panels in blocks of ``mb``).  In the ``outer`` form each panel of ``B`` is first copied
to an aligned block on the stack (``pack_panel``), zero-padded past ``n``: read in
place, its rows lie ``n`` numbers apart, each on its own page and most straddling two
cache lines, and the edge tile needed masked loads.  Measured on one core (AVX-512,
float32): W3's ``100x784x128`` transposed-A product from 268 to 212 us,
``1024x1000x784`` from 109 to 135 GFLOP/s.  Edge tiles read clamped rows (valid memory
whose results are not stored) and mask the columns of ``C`` past ``n``; a ``k`` that is
not a multiple of the vector width ends with a masked step.  The summation order is
fixed by the spec alone, so results are identical from run to run and whatever the
thread split (each output is computed by one thread).  Accumulation is in the
product's dtype, as BLAS does.
"""

from contextlib import contextmanager
from dataclasses import dataclass

from llvmlite import ir

I1 = ir.IntType(1)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
_TYPES = {"float32": ir.FloatType(), "float64": ir.DoubleType()}
_SUFFIX = {"float32": "f32", "float64": "f64"}
_ITEMSIZE = {"float32": 4, "float64": 8}

#: flops (2 m n k) of a product above which a program's products all stay with
#: numpy's BLAS: its packed, cache-blocked kernels win on big products (1024x1000x784:
#: 270 against 190 GFLOP/s on two threads), where a call's overhead no longer matters;
#: and the program's other products go there too, since BLAS threads keep spinning
#: after each product and a second set of threads on the same cores (ours) measured up
#: to 3x slower on the products and kernels that follow
LARGEST = 1 << 26
#: bytes of the B panel a tile sweeps per block of the contraction (within a 48 KB L1)
L1_PANEL = 32 << 10
#: bytes of A one thread sweeps per block of row panels (within a 2 MB L2)
L2_BLOCK = 512 << 10


def vector_shape(features):
    """``(vector bytes, vector registers)`` of a CPU with LLVM feature string ``features``."""
    flags = set(features.split(","))
    if "+avx512f" in flags:
        return 64, 32
    if "+avx" in flags:
        return 32, 16
    return 16, 16


@dataclass(frozen=True)
class GemmSpec:
    """One product: dtype, shapes, transpositions, and the vector unit it targets."""

    dtype: str
    m: int
    n: int
    k: int
    transa: bool
    transb: bool
    vector_bytes: int = 64
    registers: int = 32

    @classmethod
    def for_host(cls, dtype, m, n, k, transa, transb, features):
        vector_bytes, registers = vector_shape(features)
        return cls(str(dtype), m, n, k, bool(transa), bool(transb), vector_bytes, registers)

    @property
    def supported(self):
        return (self.dtype in _TYPES and min(self.m, self.n, self.k) >= 1
                and not (self.transa and self.transb))

    @property
    def form(self):
        return "dot" if self.transb else "outer"

    @property
    def lanes(self):
        return self.vector_bytes // _ITEMSIZE[self.dtype]

    @property
    def tile(self):
        """``(MR, NR)``: rows of ``C`` per tile, and vectors (outer) or columns (dot)."""
        big = self.registers >= 32
        if self.form == "outer":
            return (6, 4) if big else (4, 3)
        # the reduction tree puts one column's sum per lane
        return (4, min(6, self.lanes)) if big else (2, min(4, self.lanes))

    @property
    def columns(self):
        """Columns of ``C`` per tile."""
        mr, nr = self.tile
        return nr * self.lanes if self.form == "outer" else nr

    @property
    def panel_rows(self):
        """Most rows of the packed panel of B (outer form): the largest ``kc``."""
        return max(16, L1_PANEL // (self.columns * _ITEMSIZE[self.dtype]))

    @property
    def units(self):
        """Row panels: the range ``[start, end)`` of the exported function."""
        return -(-self.m // self.tile[0])

    @property
    def flops(self):
        return 2 * self.m * self.n * self.k

    @property
    def name(self):
        """The generated function's name: one per dtype, layout and vector unit (the
        shapes are arguments, so every product of a kind shares one function)."""
        t = "".join("t" if flag else "n" for flag in (self.transa, self.transb))
        return f"dg_gemm_{_SUFFIX[self.dtype]}_{t}_v{self.vector_bytes}r{self.registers}"

    def text(self):
        """Everything the generated code depends on (part of the object-cache key)."""
        return (f"gemm {self.dtype} transa={self.transa} transb={self.transb} "
                f"vector={self.vector_bytes} registers={self.registers}"
                + (" packed-b" if self.form == "outer" else ""))

    def arguments(self):
        """The integers following ``A, B, C`` in the argument table (``TABLE``)."""
        return (self.m, self.n, self.k, *self.blocks())

    def blocks(self):
        """``(kc, mb)``: contraction block length, row panels per L2 block."""
        size, lanes = _ITEMSIZE[self.dtype], self.lanes
        mr, nr = self.tile
        if self.form == "outer":
            kc = self.panel_rows
        else:
            kc = max(lanes, L1_PANEL // (nr * size) // lanes * lanes)
        blocks = -(-self.k // kc)
        kc = -(-self.k // blocks)  # equal blocks
        if self.form == "dot":
            kc = -(-kc // lanes) * lanes  # whole vectors except in the last block
        mb = max(1, L2_BLOCK // (mr * min(kc, self.k) * size))
        return kc, mb


#: the argument table of a generated product: three buffers, then integers
TABLE = ("A", "B", "C", "m", "n", "k", "kc", "mb")


def render_gemm(module, spec):
    """Add the function computing products like ``spec`` (its exported function and its
    internal body) to ``module``."""
    _GemmRenderer(module, spec).render()


class _GemmRenderer:
    def __init__(self, module, spec):
        if not spec.supported:
            raise ValueError(f"no generated code for {spec.text()}")
        self.module, self.spec = module, spec
        self.t = _TYPES[spec.dtype]
        self.lanes = spec.lanes
        self.vt = ir.VectorType(self.t, self.lanes)
        self.align = _ITEMSIZE[spec.dtype]

    # -- IR helpers -------------------------------------------------------------------
    def const(self, value):
        return ir.Constant(I64, value)

    def declare(self, name, ret, args):
        try:
            return self.module.get_global(name)
        except KeyError:
            return ir.Function(self.module, ir.FunctionType(ret, args), name)

    def fma(self, a, b, c):
        vt = a.type
        fn = self.declare(f"llvm.fma.v{vt.count}{_SUFFIX[self.spec.dtype]}", vt, [vt] * 3)
        return self.b.call(fn, [a, b, c])

    def pointer(self, base, offset):
        return self.b.gep(base, [offset], inbounds=True)

    def load_vector(self, base, offset, mask=None, width=None, aligned=False):
        """A vector of ``width`` (default: full) elements at ``base[offset]``; with
        ``mask`` (an ``i1`` vector) a masked load whose disabled lanes read as zero;
        ``aligned``: the address is a multiple of the vector's size (the packed panel)."""
        vt = self.vt if width is None else ir.VectorType(self.t, width)
        address = self.b.bitcast(self.pointer(base, offset), vt.as_pointer())
        if mask is None:
            return self.b.load(address, align=self.spec.vector_bytes if aligned
                               else self.align)
        name = f"llvm.masked.load.v{vt.count}{_SUFFIX[self.spec.dtype]}.p0"
        fn = self.declare(name, vt, [vt.as_pointer(), I32, mask.type, vt])
        return self.b.call(fn, [address, ir.Constant(I32, self.align), mask,
                                ir.Constant(vt, None)])

    def store_vector(self, value, base, offset, mask=None, aligned=False):
        vt = value.type
        address = self.b.bitcast(self.pointer(base, offset), vt.as_pointer())
        if mask is None:
            self.b.store(value, address, align=self.spec.vector_bytes if aligned
                         else self.align)
            return
        name = f"llvm.masked.store.v{vt.count}{_SUFFIX[self.spec.dtype]}.p0"
        fn = self.declare(name, ir.VoidType(), [vt, vt.as_pointer(), I32, mask.type])
        self.b.call(fn, [value, address, ir.Constant(I32, self.align), mask])

    def first_lanes(self, count, width):
        """The ``i1`` vector enabling lanes ``0 .. count - 1`` (``count`` an i64, any sign)."""
        iota = ir.Constant(ir.VectorType(I64, width), list(range(width)))
        return self.b.icmp_signed("<", iota, self.splat(count, ir.VectorType(I64, width)))

    def splat(self, scalar, vt=None):
        vt = self.vt if vt is None else vt
        undef = ir.Constant(vt, ir.Undefined)
        one = self.b.insert_element(undef, scalar, ir.Constant(I32, 0))
        return self.b.shuffle_vector(one, undef, ir.Constant(ir.VectorType(I32, vt.count),
                                                             [0] * vt.count))

    def shuffle(self, a, b, indices):
        return self.b.shuffle_vector(a, b, ir.Constant(ir.VectorType(I32, len(indices)),
                                                       list(indices)))

    @contextmanager
    def counted(self, start, stop, step, name, carried=()):
        """``for i in range(start, stop, step)``; yields ``(i, values, results)``: the body
        sets ``results[:]`` to the next values of ``carried``, which after the loop are
        ``results`` again (the values at exit)."""
        b = self.b
        before = b.block
        head = b.append_basic_block(f"{name}.head")
        body = b.append_basic_block(f"{name}.body")
        done = b.append_basic_block(f"{name}.done")
        b.branch(head)
        b.position_at_end(head)
        index = b.phi(I64, name)
        index.add_incoming(start, before)
        phis = []
        for value in carried:
            phi = b.phi(value.type)
            phi.add_incoming(value, before)
            phis.append(phi)
        b.cbranch(b.icmp_signed("<", index, stop), body, done)
        b.position_at_end(body)
        results = list(phis)
        yield index, phis, results
        latch = b.block
        index.add_incoming(b.add(index, step), latch)
        for phi, value in zip(phis, results):
            phi.add_incoming(value, latch)
        b.branch(head)
        b.position_at_end(done)
        results[:] = phis

    def unless_first(self, first, zero, load):
        """``[zero, ...]`` in the first block of the contraction, else ``load()`` (a
        branch, not a select: the loop must not wait for loads it does not need)."""
        b = self.b
        with b.if_else(first) as (then, otherwise):
            with then:
                from_first = b.block
            with otherwise:
                loaded = load()
                from_later = b.block
        values = []
        for value in loaded:
            phi = b.phi(value.type)
            phi.add_incoming(zero, from_first)
            phi.add_incoming(value, from_later)
            values.append(phi)
        return values

    def smin(self, a, b):
        return self.b.select(self.b.icmp_signed("<", a, b), a, b)

    # -- the function -----------------------------------------------------------------
    def render(self):
        spec, module = self.spec, self.module
        pt = self.t.as_pointer()
        body = ir.Function(module, ir.FunctionType(ir.VoidType(), [I64, I64, pt, pt, pt]
                                                   + [I64] * 5), f"{spec.name}.body")
        body.linkage = "internal"
        for arg in body.args[2:5]:
            arg.add_attribute("noalias")
        self.b = ir.IRBuilder(body.append_basic_block("entry"))
        self.emit_body(*body.args)
        self.b.ret_void()

        table = ir.IntType(8).as_pointer().as_pointer()
        exported = ir.Function(module, ir.FunctionType(ir.VoidType(), [I64, I64, table]),
                               spec.name)
        b = ir.IRBuilder(exported.append_basic_block("entry"))
        start, end, slots = exported.args
        loaded = [b.load(b.gep(slots, [ir.Constant(I64, i)])) for i in range(len(TABLE))]
        buffers = [b.bitcast(value, pt) for value in loaded[:3]]
        integers = [b.ptrtoint(value, I64) for value in loaded[3:]]
        b.call(body, [start, end] + buffers + integers)
        b.ret_void()

    def emit_body(self, start, end, a, b, c, m, n, k, kc, mb):
        spec = self.spec
        mr = spec.tile[0]
        self.a, self.bm, self.c = a, b, c
        self.m, self.n, self.k = m, n, k
        self.lda = m if spec.transa else k
        self.ldb = k if spec.transb else n
        self.ldc = n
        columns = self.columns = self.const(spec.columns)
        if spec.form == "outer":
            # the packed panel of B lives on the stack, as vectors (so aligned to their
            # size); ``kc`` is clamped to its rows
            kc = self.smin(kc, self.const(spec.panel_rows))
            panel = ir.ArrayType(self.vt, spec.panel_rows * spec.tile[1])
            self.packed = self.b.bitcast(self.b.alloca(panel), self.t.as_pointer())
        # blocks of the contraction, then of row panels, then column tiles, then panels
        with self.counted(self.const(0), k, kc, "kb") as (k0, _, _):
            kend = self.smin(self.b.add(k0, kc), k)
            first = self.b.icmp_signed("==", k0, self.const(0))
            with self.counted(start, end, mb, "ib") as (i0, _, _):
                i1 = self.smin(self.b.add(i0, mb), end)
                with self.counted(self.const(0), n, columns, "jt") as (j0, _, _):
                    if spec.form == "dot":
                        self.panels(i0, i1, j0, k0, kend, first, self.dot_tile, mr)
                    else:  # whole tiles without masks, the last one with
                        self.pack_panel(j0, k0, kend)
                        whole = self.b.icmp_signed("<=", self.b.add(j0, columns), n)
                        with self.b.if_else(whole) as (then, otherwise):
                            with then:
                                self.panels(i0, i1, j0, k0, kend, first, self.outer_tile,
                                            mr, edge=False)
                            with otherwise:
                                self.panels(i0, i1, j0, k0, kend, first, self.outer_tile,
                                            mr, edge=True)

    def panels(self, i0, i1, j0, k0, kend, first, tile, mr, **options):
        with self.counted(i0, i1, self.const(1), "ip") as (ip, _, _):
            tile(self.b.mul(ip, self.const(mr)), j0, k0, kend, first, **options)

    def rows(self, row0):
        """Per row of a tile: whether it exists, and the row to read (clamped to ``m``)."""
        b, mr = self.b, self.spec.tile[0]
        last = b.sub(self.m, self.const(1))
        rows = [b.add(row0, self.const(r)) for r in range(mr)]
        return ([b.icmp_signed("<", row, self.m) for row in rows],
                [self.smin(row, last) for row in rows])

    def a_offset(self, row, kk):
        if self.spec.transa:
            return self.b.add(self.b.mul(kk, self.lda), row)
        return self.b.add(self.b.mul(row, self.lda), kk)

    # -- outer: vectors along the columns of C ----------------------------------------
    def pack_panel(self, j0, k0, kend):
        """Copy ``B[k0:kend, j0:j0 + columns]`` to the stack panel, row after row of
        whole vectors, the columns past ``n`` as zeros (why: the module docstring)."""
        b, lanes = self.b, self.lanes
        vectors = self.spec.tile[1]
        masks = [self.first_lanes(b.sub(self.n, b.add(j0, self.const(v * lanes))), lanes)
                 for v in range(vectors)]
        with self.counted(k0, kend, self.const(1), "pk") as (kk, _, _):
            row_b = b.add(b.mul(kk, self.ldb), j0)
            row_p = b.mul(b.sub(kk, k0), self.columns)
            for v in range(vectors):
                offset = self.const(v * lanes)
                value = self.load_vector(self.bm, b.add(row_b, offset), masks[v])
                self.store_vector(value, self.packed, b.add(row_p, offset), aligned=True)

    def outer_tile(self, row0, j0, k0, kend, first, edge):
        """An ``MR x NR``-vector tile of C; ``edge``: the columns run past ``n`` (masked)."""
        b, lanes = self.b, self.lanes
        mr, vectors = self.spec.tile
        exists, read_rows = self.rows(row0)
        masks = [None] * vectors
        if edge:
            masks = [self.first_lanes(b.sub(self.n, b.add(j0, self.const(v * lanes))), lanes)
                     for v in range(vectors)]
        zero = ir.Constant(self.vt, None)
        c_offsets = [[b.add(b.mul(row, self.ldc), b.add(j0, self.const(v * lanes)))
                      for v in range(vectors)] for row in read_rows]
        initial = self.unless_first(first, zero, lambda: [
            self.load_vector(self.c, c_offsets[r][v], masks[v])
            for r in range(mr) for v in range(vectors)])
        with self.counted(k0, kend, self.const(1), "kk", initial) as (kk, acc, out):
            row_p = b.mul(b.sub(kk, k0), self.columns)
            panel = [self.load_vector(self.packed, b.add(row_p, self.const(v * lanes)),
                                      aligned=True) for v in range(vectors)]
            for r, row in enumerate(read_rows):
                a = b.load(self.pointer(self.a, self.a_offset(row, kk)), align=self.align)
                broadcast = self.splat(a)
                for v in range(vectors):
                    i = r * vectors + v
                    out[i] = self.fma(broadcast, panel[v], acc[i])
        for r in range(mr):
            with b.if_then(exists[r]):
                for v in range(vectors):
                    self.store_vector(out[r * vectors + v], self.c, c_offsets[r][v], masks[v])

    # -- dot: vectors along the contraction -------------------------------------------
    def dot_tile(self, row0, j0, k0, kend, first):
        b, lanes = self.b, self.lanes
        mr, columns = self.spec.tile
        exists, read_rows = self.rows(row0)
        last_column = b.sub(self.n, self.const(1))
        a_rows = [b.mul(row, self.lda) for row in read_rows]
        b_rows = [b.mul(self.smin(b.add(j0, self.const(j)), last_column), self.ldb)
                  for j in range(columns)]
        whole = b.and_(self.k, self.const(-lanes))  # k rounded down to whole vectors
        vector_end = self.smin(kend, whole)
        zero = ir.Constant(self.vt, None)
        initial = [zero] * (mr * columns)
        with self.counted(k0, vector_end, self.const(lanes), "kv", initial) as (kk, acc, out):
            self.dot_step(a_rows, b_rows, kk, acc, out, None)
        # the partial vector at the end of k, in the last block (empty in the others)
        last = b.icmp_signed("==", kend, self.k)
        tail = b.select(last, b.sub(self.k, whole), self.const(0))
        acc, out = out, list(out)
        self.dot_step(a_rows, b_rows, whole, acc, out, self.first_lanes(tail, lanes))
        stored = self.first_lanes(b.sub(self.n, j0), columns)
        for r in range(mr):
            sums = _reduce_tree(self, out[r * columns:(r + 1) * columns], lanes)
            offset = b.add(b.mul(read_rows[r], self.ldc), j0)
            with b.if_then(exists[r]), b.if_else(first) as (then, otherwise):
                with then:
                    self.store_vector(sums, self.c, offset, stored)
                with otherwise:
                    previous = self.load_vector(self.c, offset, stored, width=columns)
                    self.store_vector(b.fadd(previous, sums), self.c, offset, stored)

    def dot_step(self, a_rows, b_rows, kk, acc, out, mask):
        b = self.b
        av = [self.load_vector(self.a, b.add(row, kk), mask) for row in a_rows]
        bv = [self.load_vector(self.bm, b.add(row, kk), mask) for row in b_rows]
        columns = len(b_rows)
        for r, x in enumerate(av):
            for j, y in enumerate(bv):
                i = r * columns + j
                out[i] = self.fma(x, y, acc[i])


def _reduce_tree(r, vectors, lanes):
    """One vector whose lane ``i`` is the sum of the lanes of ``vectors[i]``.

    Pairwise: combining two vectors that each hold ``q`` sums as groups of ``w``
    partial lanes gives one vector of ``2q`` groups of ``w/2`` lanes (first halves plus
    second halves), so ``p`` vectors take ``p - 1`` additions and two shuffles each
    instead of a reduction per vector.  The count is padded to a power of two with
    zero vectors, then the remaining groups are halved in place."""
    b = r.b
    count = len(vectors)
    padded = 1
    while padded < count:
        padded *= 2
    zero = ir.Constant(vectors[0].type, None)
    level = list(vectors) + [zero] * (padded - count)
    width = lanes  # lanes per group
    while len(level) > 1 and width > 1:
        half = width // 2
        groups = lanes // width  # groups per vector
        firsts = [g * width + i for g in range(groups) for i in range(half)]
        seconds = [g * width + half + i for g in range(groups) for i in range(half)]
        merged = []
        for x, y in zip(level[0::2], level[1::2]):
            low = r.shuffle(x, y, firsts + [lanes + i for i in firsts])
            high = r.shuffle(x, y, seconds + [lanes + i for i in seconds])
            merged.append(b.fadd(low, high))
        level, width = merged, half
    vector = level[0]
    size = vector.type.count
    while width > 1:  # fewer vectors than lanes: halve the groups within one vector
        half = width // 2
        groups = size // width
        low = r.shuffle(vector, vector, [g * width + i for g in range(groups)
                                         for i in range(half)])
        high = r.shuffle(vector, vector, [g * width + half + i for g in range(groups)
                                          for i in range(half)])
        vector, width, size = b.fadd(low, high), half, size // 2
    if len(level) > 1:  # more vectors than lanes (not generated: tiles are smaller)
        raise ValueError("a dot tile wider than a vector")
    return r.shuffle(vector, vector, list(range(count)))


def gemm_spec(step, features):
    """The ``GemmSpec`` of a program step (a 2-d gemm library call of one float dtype),
    or None when the step is not a product this module generates."""
    equation = step.equation
    if getattr(step, "library", None) != "gemm" or len(equation.inputs) != 2:
        return None
    a, b = equation.inputs
    out = equation.out
    if not len(a.shape) == len(b.shape) == len(out.shape) == 2:
        return None
    dtype = str(out.dtype)
    if str(a.dtype) != dtype or str(b.dtype) != dtype:
        return None
    params = dict(step.params)
    transa, transb = bool(params["transa"]), bool(params["transb"])
    m, n = out.shape
    k = a.shape[0] if transa else a.shape[1]
    spec = GemmSpec.for_host(dtype, m, n, k, transa, transb, features)
    return spec if spec.supported else None


def program_gemms(program, features):
    """``{step index: GemmSpec}`` for the products of ``program`` run by generated code.

    An operand made by another host step stays with numpy: those results may be any
    numpy array (a strided view), while generated code reads C-contiguous memory."""
    from ...kernel.fusion import HostStep

    specs = {index: gemm_spec(step, features) for index, step in enumerate(program.steps)
             if isinstance(step, HostStep)}
    if any(spec is not None and spec.flops > LARGEST for spec in specs.values()):
        return {}  # (see ``LARGEST``)
    made_by_host = set()
    chosen = {}
    for index, step in enumerate(program.steps):
        spec = specs.get(index)
        if spec is not None and not any(getattr(x, "id", None) in made_by_host
                                        for x in step.equation.inputs):
            chosen[index] = spec
        elif isinstance(step, HostStep):
            made_by_host.add(step.equation.out.id)
    return chosen


def render_source(spec):
    from llvmlite import ir as llvm_ir

    module = llvm_ir.Module(name=spec.name)
    render_gemm(module, spec)
    return str(module)


def gemm_function(spec):
    """The compiled function computing products like ``spec`` (library code, see
    ``library``: compiled once per machine)."""
    from . import library

    return library.load(spec.text(), [spec.name], lambda: render_source(spec))[spec.name]


def every_kernel(features):
    """``(text, names, render)`` of every product function for a CPU with ``features``
    (what ``library.build`` compiles at install time)."""
    kernels = []
    for dtype in _TYPES:
        for transa, transb in ((False, False), (True, False), (False, True)):
            spec = GemmSpec.for_host(dtype, 1, 1, 1, transa, transb, features)
            kernels.append((spec.text(), [spec.name], lambda spec=spec: render_source(spec)))
    return kernels
