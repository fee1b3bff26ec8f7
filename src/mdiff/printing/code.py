"""Python source for evaluating expressions on any array-API library.

``to_code`` prints one self-contained function from the DAG: every shared node is
computed once into a temporary (so a value and its gradient share work), ``diag(v)``
and Kronecker factors of longer products are applied as row/column scalings and
reshapes instead of dense matrices, and ``sigmoid``/``softplus``/``logsumexp``/
``softmax`` use numerically stable forms.  The array namespace comes from
``array_api_compat.array_namespace`` at call time, so the same code runs on numpy,
array-api-strict, JAX, PyTorch, CuPy and Dask.

Nothing here evaluates user text: the source is printed from nodes, numbers are
printed by ``repr(float)``, and every name in it is a validated, mangled identifier.
"""

from __future__ import annotations

import builtins
import inspect
import keyword
import re
from fractions import Fraction


from ..errors import MdiffError
from ..core import ops
from ..core.expr import (Expr, as_float, block_grid, data_dims, is_symmetric, postorder,
                         value_range)
from ..core.shapes import as_dim, dim_symbol
from .base import Printer

_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_RESERVED = set(keyword.kwlist) | set(dir(builtins)) | {"xp", "np", "math"}


def py_name(name: str, prefix: str = "v_") -> str:
    """A safe Python identifier for a user name (``lambda`` -> ``v_lambda``,
    ``μ`` -> ``v_u3bc``); ASCII only, never a keyword, builtin or helper name."""
    if _IDENT.match(name) and name not in _RESERVED and not name.startswith("t_"):
        return name
    stripped = name.lstrip("_")
    lead = "u5f" * (len(name) - len(stripped))   # no dunder survives mangling
    safe = lead + "".join(ch if ch.isascii() and (ch.isalnum() or ch == "_") else f"u{ord(ch):x}"
                          for ch in stripped)
    out = prefix + safe
    if not _IDENT.match(out):  # pragma: no cover - the mangling above guarantees it
        raise MdiffError(f"cannot make an identifier of {name!r}")
    return out


# --- helpers emitted into the generated module only when used --------------------------

HELPERS = {
    "namespace": '''def _namespace(*values):
    arrays = [v for v in values if is_array_api_obj(v)]
    if arrays:
        return array_namespace(*arrays)
    import numpy
    return array_namespace(numpy.empty(0))''',
    "kron": '''def _kron(a, b, xp):
    m, n = a.shape
    p, q = b.shape
    return xp.reshape(a[:, None, :, None] * b[None, :, None, :], (m * p, n * q))''',
    "kron_apply": '''def _kron_apply(a, b, m, xp):
    # (A ⊗ B) @ M without forming A ⊗ B: each column of M is vec(X), mapped to vec(B X A')
    k = m.shape[1]
    y = xp.reshape(m.T, (k, a.shape[1], b.shape[1]))
    z = xp.matmul(xp.matmul(a, y), b.T)
    return xp.reshape(z, (k, a.shape[0] * b.shape[0])).T''',
    "factor": '''def _factor(a, xp, spd=False):
    # a matrix that several products solve with, factored once where that pays: with
    # NumPy and up to 64 rows SciPy's LAPACK (Cholesky where a is declared spd, else LU),
    # which OpenBLAS runs on one thread at that size; larger, SciPy's OpenBLAS threads
    # contend with NumPy's (NumPy's next product 10-20x slower, 500x500), so each
    # product is NumPy's own solve, as on every other library
    if a.shape[0] > 64 or not xp.__name__.endswith("numpy") or xp.__name__.startswith("jax"):
        return "dense", a
    from scipy.linalg import get_lapack_funcs
    if spd:
        potrf, = get_lapack_funcs(("potrf",), (a,))
        c, info = potrf(a, lower=1)
        if info == 0:
            return "cho", c
    getrf, = get_lapack_funcs(("getrf",), (a,))
    lu, piv, info = getrf(a)
    return ("lu", (lu, piv)) if info == 0 else ("dense", a)   # singular: solve says so''',
    "solve": '''def _solve(f, b, xp, trans=False):
    # inv(A) @ b (inv(A)' @ b with trans) by _factor's f of A, never forming inv(A)
    kind, data = f
    if kind == "dense":
        return xp.linalg.solve(data.T if trans else data, b)
    from scipy.linalg import get_lapack_funcs
    if kind == "cho":
        potrs, = get_lapack_funcs(("potrs",), (data, b))
        return potrs(data, b, lower=1)[0]
    getrs, = get_lapack_funcs(("getrs",), (data[0], b))
    return getrs(data[0], data[1], b, trans=1 if trans else 0)[0]''',
    "gram": '''def _gram(m, v, xp):
    # m' @ diag(v) @ m for v >= 0 (m' @ m for v None): s' @ s for s = sqrt(v) .* m, a
    # symmetric result; with NumPy and 512 columns or more its upper block triangle as
    # products, mirrored (5/8 of the flops at four blocks; NumPy's own BLAS: SciPy's
    # syrk was slower, its OpenBLAS threads contending with NumPy's)
    n = m.shape[1]
    blocks = min(4, n // 256)
    if blocks < 2 or not xp.__name__.endswith("numpy") or xp.__name__.startswith("jax"):
        return m.T @ (m if v is None else v * m)      # small: one product is faster
    import numpy
    s = m if v is None else xp.sqrt(v) * m
    c = numpy.empty((n, n), dtype=s.dtype)
    edges = [n * i // blocks for i in range(blocks + 1)]
    for a, b in zip(edges, edges[1:]):
        c[a:b, a:] = s[:, a:b].T @ s[:, a:]
        c[b:, a:b] = c[a:b, b:].T
    return c''',
    "part": '''def _part(x, rows, cols):
    # x[rows, cols], each None (all) or (first, last), 1-based and inclusive; an index
    # outside the array is an error (a slice would silently stop at its end)
    for span, n in ((rows, x.shape[0]), (cols, x.shape[1])):
        if span is not None and not 1 <= span[0] <= span[1] <= n:
            at = span[0] if span[0] == span[1] else f"{span[0]}:{span[1]}"
            raise IndexError(f"index {at} is outside 1 to {n}")
    return x[slice(None) if rows is None else slice(rows[0] - 1, rows[1]),
             slice(None) if cols is None else slice(cols[0] - 1, cols[1])]''',
    "mpow": '''def _mpow(x, k, xp):
    out = x
    for _ in range(k - 1):
        out = out @ x
    return out''',
    "comm": '''def _comm(m, n, xp):
    k = [[0.0] * (m * n) for _ in range(m * n)]
    for i in range(m):
        for j in range(n):
            k[i * n + j][j * m + i] = 1.0
    return xp.asarray(k)''',
    "dup": '''def _dup(n, xp):
    d = [[0.0] * (n * (n + 1) // 2) for _ in range(n * n)]
    c = 0
    for j in range(n):
        for i in range(j, n):
            d[i + j * n][c] = d[j + i * n][c] = 1.0
            c += 1
    return xp.asarray(d)''',
}

# the functions' helpers come with their records (the sum of squares also serves ||z||^2)
HELPERS.update([ops.SUMSQ_HELPER])
HELPERS.update({name: source for record in ops.RECORDS.values()
                for name, source in record.helpers})


def _num(v) -> str:
    return repr(as_float(v))


class CodePrinter(Printer):
    """Array-API Python: every node a temporary (or inline), one method per operation."""

    what = "array-API code"

    def __init__(self, dims: dict, lazy: set, factored: frozenset = frozenset(),
                 solves: dict | None = None):
        self.dims = dims          # size symbol -> python name
        self.lazy = lazy          # ids of the nodes printed inside their users
        self.factored = factored  # ids of inv(A) nodes never formed: their products solve
        self.solves = solves or {}   # id(inv(A)) -> how many solves with A the code makes
        self.helpers: set = set()
        self.names: dict = {}     # id(node) -> python expression (a name or a literal)
        self.lines: list = []
        self.counter = 0

    def dim(self, d) -> str:
        d = as_dim(d)
        if d.is_Integer:
            return str(d)
        # SymPy's spelling is Python's but for min and the exact division of whole sizes
        text = str(d.xreplace({s: dim_symbol(self.dims[s]) for s in d.free_symbols}))
        return f"int({text.replace('Min(', 'min(').replace('/', '//')})"

    def ref(self, node: Expr) -> str:
        return self.names[id(node)]

    def emit(self, node: Expr, code: str, inline: bool = False) -> None:
        if inline:
            self.names[id(node)] = code
            return
        self.counter += 1
        name = f"t_{self.counter}"
        self.lines.append(f"    {name} = {code}")
        self.names[id(node)] = name

    def chain(self, node: Expr, lazy: set) -> str:
        """coef * scalars * F1 @ ... @ Fk, applied right to left so that a diag(v)
        factor is a row scaling and A ⊗ B is applied to what follows it."""
        coef, nscal = node.data
        factors = node.args[nscal:]
        parts = [] if coef == 1 else [_num(coef)]
        parts += [self.ref(s) for s in node.args[:nscal]]
        acc = None            # the product of the factors to the right, as code
        right_diag = None     # a diag(v) at the right end, waiting for a left operand
        if len(factors) == 2 and factors[1].op == "fill" and factors[1].rows == 1 \
                and factors[1].data == 1 and factors[0].cols == 1:
            # v*vector(1)' (a bias over a batch) is a broadcast view, not a product
            parts.append(f"xp.broadcast_to({self.ref(factors[0])}, "
                         f"({self.dim(node.rows)}, {self.dim(node.cols)}))")
            return " * ".join(parts)
        gram = self._gram(factors, lazy)
        if gram is not None:
            return " * ".join(parts + [gram])
        ordered = self._ordered_chain(factors, lazy)
        if ordered is not None:
            return " * ".join(parts + [ordered])
        pending = None        # an unformed inverse at the right end: (A's name, trans)
        for k in range(len(factors) - 1, -1, -1):
            f = factors[k]
            structured = id(f) in lazy
            inverse = self._factored_inverse(f)
            if inverse is not None:
                if right_diag is not None:      # inv(A)*diag(v): solve with diag(v)
                    acc, right_diag = f"({right_diag} * xp.eye({self.dim(f.cols)}))", None
                if acc is None and k > 0 and id(factors[k - 1]) not in lazy:
                    pending = inverse           # X @ inv(A) = solve(A', X')'
                    continue
                if acc is None:                 # beside diag(v) or A ⊗ B: the inverse itself
                    acc = f"xp.eye({self.dim(f.rows)})"
                acc = self._solve(*inverse, acc)
                continue
            if pending is not None:
                inv, trans = pending
                pending = None
                acc = f"{self._solve(inv, not trans, f'{self.ref(f)}.T')}.T"
                continue
            if structured and f.op == "diagm":
                v = self.ref(f.args[0])
                if acc is None:
                    right_diag = v if right_diag is None else f"({v} * {right_diag})"
                else:
                    acc = f"({v} * {acc})"
                continue
            if structured and f.op == "kron" and acc is not None:
                self.helpers.add("kron_apply")
                acc = f"_kron_apply({self.ref(f.args[0])}, {self.ref(f.args[1])}, {acc}, xp)"
                continue
            if structured and f.op == "kron":
                self.helpers.add("kron")
                cur = f"_kron({self.ref(f.args[0])}, {self.ref(f.args[1])}, xp)"
            else:
                cur = self.ref(f)
            if acc is None:
                acc = cur if right_diag is None else f"({cur} * {right_diag}.T)"
                right_diag = None
            else:
                acc = f"({cur} @ {acc})"
        if factors and acc is None:          # nothing but diagonal factors
            acc = f"({right_diag} * xp.eye({self.dim(factors[0].rows)}))"
        if acc is not None:
            parts.append(acc)
        return " * ".join(parts) if parts else "1.0"

    def sum(self, e: Expr, lazy: set) -> str:
        """Terms joined with + and -, constants as numbers (broadcast), c*X inline; a
        sum of constants alone keeps its shape through one array term."""
        parts = []
        for t in e.args:
            if id(t) in lazy and t.op == "fill":
                parts.append(("+" if t.data >= 0 else "-", _num(abs(t.data))))
            elif id(t) in lazy and t.op == "mul":
                c = t.data[0]
                body = self.ref(t.args[0])
                mag = abs(c)
                parts.append(("+" if c > 0 else "-", body if mag == 1 else f"{_num(mag)} * {body}"))
            else:
                parts.append(("+", self.ref(t)))
        # positive terms first (1.0 - z is one pass, -z + 1.0 two), arrays before numbers;
        # a sum always has an array term (constants merge into one fill), so the shape holds
        parts.sort(key=lambda p: (p[0] == "-", p[1][0].isdigit()))
        sign, first = parts[0]
        text = ("-" if sign == "-" else "") + first
        for sign, body in parts[1:]:
            text += f" {sign} {body}"
        return text

    def _ordered_chain(self, factors, lazy) -> str | None:
        """A product of three or more plain matrices (no diag, Kronecker factor or solve)
        in the cheapest order: fixed here where every size is a number, else chosen at
        call time from the arrays' shapes (helper ``_chain``).  A column at the right end
        keeps the right-to-left order (the loop below), a row at the left end goes left
        to right."""
        if len(factors) < 3 or factors[-1].cols == 1 or any(
                id(f) in lazy or self._factored_inverse(f) is not None for f in factors):
            return None
        refs = [self.ref(f) for f in factors]
        sizes = [factors[0].rows] + [f.cols for f in factors]
        if factors[0].rows == 1:
            out = refs[0]
            for r in refs[1:]:
                out = f"({out} @ {r})"
            return out
        if all(d.is_Integer for d in sizes):
            return _parenthesised(refs, _cheapest_order([int(d) for d in sizes]), 0, len(refs) - 1)
        self.helpers.add("chain")
        return f"_chain(xp, {', '.join(refs)})"

    def _gram(self, factors, lazy) -> str | None:
        """M'*diag(v)*M with v >= 0 by construction (value_range), or M'*M, for a
        matrix M: s'*s for s = sqrt(v) .* M, its upper block triangle mirrored (helper
        ``_gram``)."""
        if len(factors) == 3 and factors[1].op == "diagm" and id(factors[1]) in lazy:
            left, v, right = factors[0], factors[1].args[0], factors[2]
        elif len(factors) == 2:
            (left, right), v = factors, None
        else:
            return None
        if left.op != "T" or left.args[0] is not right or right.cols == 1 or id(right) in lazy \
                or self._factored_inverse(right) is not None:
            return None
        if v is not None and value_range(v)[0] < 0:
            return None
        self.helpers.add("gram")
        return f"_gram({self.ref(right)}, {'None' if v is None else self.ref(v)}, xp)"

    def _factored_inverse(self, f: Expr):
        """(the node inv(A), transposed) for a chain factor inv(A) or inv(A)' whose
        inverse is never formed (each product with it is a solve), else None."""
        if f.op == "inv" and id(f) in self.factored:
            return f, False
        if f.op == "T" and f.args[0].op == "inv" and id(f.args[0]) in self.factored:
            return f.args[0], True
        return None

    def _solve(self, inv: Expr, trans: bool, rhs: str) -> str:
        """inv(A) @ rhs (inv(A)' @ rhs): by A's factorisation where the code made one
        (``node``), else the library's solve."""
        if id(inv) in self.names:
            return f"_solve({self.ref(inv)}, {rhs}, xp{', trans=True' if trans else ''})"
        a = self.ref(inv.args[0])
        return f"xp.linalg.solve({a}.T, {rhs})" if trans else f"xp.linalg.solve({a}, {rhs})"

    def node(self, e: Expr) -> None:
        """Print ``e`` as a temporary (or inline); nodes printed inside their users
        (``lazy``) are skipped here."""
        if id(e) in self.lazy:
            return
        if id(e) in self.factored:      # inv(A) only ever multiplies: solves, no inverse
            if self.solves.get(id(e), 0) > 1:   # several solves with A: one factorisation
                self.helpers.update(("factor", "solve"))
                a = e.args[0]
                spd = ", spd=True" if a.op == "var" and "spd" in a.props else ""
                self.emit(e, f"_factor({self.ref(a)}, xp{spd})")
            return
        code = self.dispatch(e)
        if code is not None:
            self.emit(e, code)

    # --- leaves (a method returns the code of a temporary, or None when it named the node)
    def _print_var(self, e):
        return None     # bound at the top

    def _print_num(self, e):
        self.emit(e, f"xp.full((1, 1), {_num(e.data)})", inline=True)

    def _print_const(self, e):
        self.emit(e, f"xp.full((1, 1), xp.{e.data})", inline=True)

    def _print_dim(self, e):
        self.emit(e, f"xp.full((1, 1), float({self.dim(e.data)}))", inline=True)

    def _print_fill(self, e):
        return f"xp.full(({self.dim(e.rows)}, {self.dim(e.cols)}), {_num(e.data)})"

    def _print_eye(self, e):
        return f"xp.eye({self.dim(e.rows)})"

    def _print_comm(self, e):
        self.helpers.add("comm")
        return f"_comm({self.dim(e.data[0])}, {self.dim(e.data[1])}, xp)"

    def _print_dup(self, e):
        self.helpers.add("dup")
        return f"_dup({self.dim(e.data)}, xp)"

    def _print_delta(self, e):
        raise MdiffError("a differential placeholder cannot be printed as code")

    # --- operations -------------------------------------------------------------------
    def _print_add(self, e):
        return self.sum(e, self.lazy)

    def _print_mul(self, e):
        return self.chain(e, self.lazy)

    def _print_had(self, e):
        return f"{self.ref(e.args[0])} * {self.ref(e.args[1])}"

    def _print_pow(self, e):
        r = self.ref
        base, p = e.args
        if p.op == "num":
            if p.data == -1:
                return f"1 / {r(base)}"
            if p.data == Fraction(1, 2):
                return f"xp.sqrt({r(base)})"
            if p.data == 2 and base.op == "norm2":      # ||z||^2 without the sqrt
                self.helpers.add("sumsq")
                return f"_sumsq({r(base.args[0])}, xp)"
            if p.data == 2:
                return f"{r(base)} * {r(base)}"
            return f"{r(base)} ** {_num(p.data)}"
        return f"{r(base)} ** {r(p)}"

    def _print_mpow(self, e):
        self.helpers.add("mpow")
        return f"_mpow({self.ref(e.args[0])}, {e.data}, xp)"

    def _print_T(self, e):
        return f"{self.ref(e.args[0])}.T"

    def _print_kron(self, e):
        self.helpers.add("kron")
        return f"_kron({self.ref(e.args[0])}, {self.ref(e.args[1])}, xp)"

    def _print_index(self, e):
        self.helpers.add("part")
        spans = ("None" if s is None else f"({self.dim(s[0])}, {self.dim(s[1])})" for s in e.data)
        return f"_part({self.ref(e.args[0])}, {', '.join(spans)})"

    def _print_block(self, e):
        rows = [_concat([self.ref(x) for x in row], 1) for row in block_grid(e)]
        return _concat(rows, 0)

    def _print_unvec(self, e):
        return f"xp.reshape({self.ref(e.args[0])}, ({self.dim(e.cols)}, {self.dim(e.rows)})).T"

    def function(self, e, record):
        self.helpers.update(name for name, _ in record.helpers)
        factored = e.args[:max(1, len(e.args) - 1)]
        template = record.code
        if record.symmetric_code and all(is_symmetric(a) for a in factored):
            template = record.symmetric_code     # an eigendecomposition: faster, stable
        return template.format(*(self.ref(a) for a in e.args), rows=self.dim(e.rows),
                                  cols=self.dim(e.cols))


def _lazy_nodes(roots) -> set:
    """Nodes printed inside their users instead of as temporaries: diag(v) / A ⊗ B used
    only as factors of longer products (never dense), and constants and c*X terms used
    only inside sums (``1 - Z*Z`` is one pass, not three)."""
    inside, in_sums, elsewhere = set(), set(), set()
    for root in roots:
        for node in postorder(root):
            if node.op == "mul" and len(node.args) - node.data[1] > 1:
                nscal = node.data[1]
                inside.update(id(a) for a in node.args[nscal:] if a.op in ("diagm", "kron"))
                elsewhere.update(id(a) for a in node.args[nscal:] if a.op not in ("diagm", "kron"))
                elsewhere.update(id(a) for a in node.args[:nscal])
            elif node.op == "add":
                in_sums.update(id(a) for a in node.args if _inline_term(a))
                elsewhere.update(id(a) for a in node.args if not _inline_term(a))
            else:
                elsewhere.update(id(a) for a in node.args)
        elsewhere.add(id(root))
    return (inside | in_sums) - elsewhere


def _cheapest_order(sizes):
    """{(i, j): k}: where the product of factors i..j splits, cheapest for the sizes
    (factor i is sizes[i] × sizes[i + 1]).  Emitted into generated modules as it is
    (the ``chain`` helper), so code generation and call time share one algorithm."""
    n = len(sizes) - 1
    cost = {(i, i): 0 for i in range(n)}
    split = {}
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i, j], split[i, j] = min(
                (cost[i, k] + cost[k + 1, j] + sizes[i] * sizes[k + 1] * sizes[j + 1], k)
                for k in range(i, j))
    return split


HELPERS["chain"] = inspect.getsource(_cheapest_order) + '''

def _chain(xp, *ms):
    # the product of ms in the order cheapest for their shapes (numpy.linalg.multi_dot's
    # dynamic programming, read from the arrays at call time)
    split = _cheapest_order([ms[0].shape[0]] + [m.shape[1] for m in ms])

    def product(i, j):
        return ms[i] if i == j else product(i, split[i, j]) @ product(split[i, j] + 1, j)
    return product(0, len(ms) - 1)'''


def _parenthesised(refs: list, split: dict, i: int, j: int) -> str:
    if i == j:
        return refs[i]
    k = split[i, j]
    return f"({_parenthesised(refs, split, i, k)} @ {_parenthesised(refs, split, k + 1, j)})"


def _concat(parts: list, axis: int) -> str:
    """Code joining arrays along ``axis`` (one part: itself)."""
    return parts[0] if len(parts) == 1 else f"xp.concat([{', '.join(parts)}], axis={axis})"


def _solve_counts(roots, factored: frozenset) -> dict:
    """id(inv(A)) -> the number of product factors inv(A) or inv(A)' the code solves
    with (each one solve, whatever its side)."""
    counts, seen = {}, set()
    for root in roots:
        for node in postorder(root):
            if node.op != "mul" or id(node) in seen:
                continue
            seen.add(id(node))
            for f in node.args[node.data[1]:]:
                inv = f.args[0] if f.op == "T" else f
                if inv.op == "inv" and id(inv) in factored:
                    counts[id(inv)] = counts.get(id(inv), 0) + 1
    return counts


def _factored_inverses(roots) -> tuple[frozenset, frozenset]:
    """(inv nodes, transposes of them) where every use of inv(A) is as a factor of a
    product of two or more matrices, directly or through inv(A)' used only so: those
    products are solves with A, and the inverse is never formed: a solve is more accurate
    and, per use, no slower.  A single solve is the array library's own (SciPy's LU,
    whose OpenBLAS threads contend with NumPy's, made the surrounding code 4× slower);
    several share one factorisation where that pays (helper ``_factor``)."""
    as_factor, other_use, t_of = set(), set(), {}
    for root in roots:
        other_use.add(id(root))
        for node in postorder(root):
            chain = node.args[node.data[1]:] if node.op == "mul" else ()
            for i, a in enumerate(node.args):
                if node.op == "mul" and i >= node.data[1] and len(chain) > 1:
                    as_factor.add(id(a))
                elif node.op == "T" and a.op == "inv":
                    t_of.setdefault(id(a), set()).add(id(node))
                else:
                    other_use.add(id(a))
    inverses, transposes = set(), set()
    for root in roots:
        for node in postorder(root):
            if node.op != "inv" or id(node) in other_use:
                continue
            ts = t_of.get(id(node), set())
            if all(t in as_factor and t not in other_use for t in ts) and \
                    (id(node) in as_factor or ts):
                inverses.add(id(node))
                transposes |= ts
    return frozenset(inverses), frozenset(transposes)


def _inline_term(t: Expr) -> bool:
    """A sum's term that is a constant fill or a number times one factor."""
    return t.op == "fill" or (t.op == "mul" and t.data[1] == 0 and len(t.args) == 1)


_TEMP = re.compile(r"\bt_\d+\b")


def _live_lines(lines: list, ret: str) -> list:
    """The assignments the return value needs (a temporary a rewrite made unused, such
    as the sqrt under ||z||^2, is dropped), each temporary deleted after its last use:
    freed arrays are reused while hot in cache, as in hand-written code."""
    returned = set(_TEMP.findall(ret))
    needed = set(returned)
    live = []
    for line in reversed(lines):
        target, _, code = line.partition(" = ")
        if target.strip() in needed:
            live.append((target.strip(), line, set(_TEMP.findall(code))))
            needed |= live[-1][2]
    live.reverse()
    last_use = {}
    for i, (_, _, uses) in enumerate(live):
        for name in uses:
            last_use[name] = i
    out = []
    for i, (target, line, uses) in enumerate(live):
        out.append(line)
        dead = sorted((n for n in uses if last_use[n] == i and n not in returned),
                      key=lambda n: int(n[2:]))
        if dead:
            out.append(f"    del {', '.join(dead)}")
    return out


def _output(node: Expr, ref: str) -> str:
    if node.is_scalar:
        return f"{ref}[0, 0]"
    if node.is_vector:
        return f"{ref}[:, 0]"
    return ref


PRELUDE = "from array_api_compat import array_namespace, is_array_api_obj"


def to_code(roots: list, variables: dict, name: str = "f", doc: str = "") -> str:
    """Source of ``def name(*, <variables>)`` returning the value of each root
    (a tuple when there are several), in DESIGN §3's layout."""
    return module([function_source(roots, variables, name, doc)])


def module(functions: list) -> str:
    """One module of several ``(helpers, source)`` functions: the import and each
    helper once, then the functions in order."""
    helpers = sorted(set().union(*(h for h, _ in functions)))
    blocks = [PRELUDE] + [HELPERS[h] for h in helpers] + [src for _, src in functions]
    return "\n\n\n".join(b.rstrip("\n") for b in blocks) + "\n"


def function_source(roots: list, variables: dict, name: str = "f", doc: str = "") -> tuple:
    """(the helpers it calls, the source of ``def name(...)``): ``to_code`` without the
    module around it."""
    fname = py_name(name, "f_")
    arg_names = {n: py_name(n) for n in variables}
    all_dims = set()
    for root in roots:
        for node in postorder(root):
            for d in node.shape:
                all_dims |= as_dim(d).free_symbols
            all_dims |= data_dims(node)
    taken = set(arg_names.values())
    dim_names = {}
    for s in sorted(all_dims, key=lambda s: s.name):
        cand = py_name(s.name, "d_")
        while cand in taken:
            cand = "d_" + cand
        dim_names[s] = cand
        taken.add(cand)
    used = set()
    for root in roots:
        used |= {n.name for n in postorder(root) if n.op == "var"}
    factored, transposed = _factored_inverses(roots)
    lazy = _lazy_nodes(roots) | transposed
    printer = CodePrinter(dim_names, lazy, factored, _solve_counts(roots, factored))
    for vname, node in variables.items():
        printer.names[id(node)] = arg_names[vname]
    for root in roots:
        for node in postorder(root):
            if id(node) not in printer.names:
                printer.node(node)
    # dimensions from the inputs' shapes, or keyword arguments
    dim_from = {}
    for vname, node in variables.items():
        for axis, d in enumerate(node.shape):
            d = as_dim(d)
            if d.is_Symbol and d in dim_names and d not in dim_from:
                dim_from[d] = (vname, axis)
    outs = [_output(root, printer.ref(root) if id(root) in printer.names else "None")
            for root in roots]
    ret = f"    return {outs[0] if len(outs) == 1 else '(' + ', '.join(outs) + ')'}"
    body = _live_lines(printer.lines, ret) + [ret]
    # only the sizes the body computes with are read or asked for (a result that does
    # not depend on m takes no m=)
    text = "\n".join(body)
    needed_dims = [s for s in dim_names if re.search(rf"\b{dim_names[s]}\b", text)]
    params = [arg_names[n] + ("" if n in used else "=None") for n in variables]
    # a size is a keyword too where no required argument carries it
    free = [s for s in needed_dims if s not in dim_from or dim_from[s][0] not in used]
    params += [f"{dim_names[s]}=None" for s in free]
    params.append("xp=None")
    head = [f"def {fname}(*, {', '.join(params)}):"]
    if doc:
        head.append(f'    """{doc}"""')
    arrays = [arg_names[n] for n in variables]
    printer.helpers.add("namespace")
    head.append(f"    xp = xp if xp is not None else _namespace({', '.join(arrays)})")
    for vname, node in variables.items():
        a = arg_names[vname]
        if node.is_scalar:
            shape = "(1, 1)"
        elif node.is_vector:
            shape = "(-1, 1)"
        else:
            shape = None
        conv = f"xp.asarray({a})" if shape is None else f"xp.reshape(xp.asarray({a}), {shape})"
        head.append(f"    {a} = {conv} if {a} is not None else None")
    for s, (vname, axis) in dim_from.items():
        if s in needed_dims:
            a, fallback = arg_names[vname], dim_names[s] if s in free else "None"
            head.append(f"    {dim_names[s]} = {a}.shape[{axis}] if {a} is not None else {fallback}")
    for s in needed_dims:
        head.append(f"    if {dim_names[s]} is None:")
        head.append(f"        raise ValueError('dimension {s.name} is not fixed by any input: "
                    f"pass {dim_names[s]}=...')")
    return frozenset(printer.helpers), "\n".join(head + body) + "\n"
