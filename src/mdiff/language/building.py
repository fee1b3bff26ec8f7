"""Building: once shapes are known the AST becomes hash-consed ``Expr`` nodes with
resolved shapes (let-bound names built once and shared); ``parse`` runs the four steps."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core import expr as E
from ..errors import DeclarationError, LimitError, ShapeError
from .declarations import parse_declaration, program
from .inference import (
    DISPLAY_DIMS,
    MAX_REKIND_TRIES,
    Typer,
    expect_shape,
    full_capitals,
    infer_program,
    literal_int,
    literal_value,
)
from .reading import Node, read, span_of


class _Builder:
    """Builds the typed DAG once shapes are known."""

    def __init__(self, typer: Typer):
        self.t = typer
        self.text = typer.text
        self.memo: dict = {}
        self.lets: dict = {}
        self.naming = self._name_dims()

    def _name_dims(self):
        t = self.t
        free = []
        for shape in list(t.var_shapes.values()) + list(t.shapes.values()):
            for d in shape:
                for s in sorted(t.resolve(d).free_symbols, key=lambda s: s.name):
                    if t.is_flex(s) and s not in free:
                        free.append(s)
        taken = set(t.used_names) | set(t.var_shapes) | set(t.dim_names)
        names = {}
        pool = [n for n in DISPLAY_DIMS if n not in taken]
        i = 1
        for s in free:
            while not pool:
                cand = f"n{i}"
                i += 1
                if cand not in taken:
                    pool.append(cand)
            names[s] = E.dim_symbol(pool.pop(0))
        return names

    def dim(self, d):
        d = self.t.resolve(d)
        return d.xreplace(self.naming) if d.free_symbols else d

    def shape(self, node):
        r, c = self.t.shapes[id(node)]
        return (self.dim(r), self.dim(c))

    def var(self, name):
        shape = tuple(self.dim(d) for d in self.t.var_shapes[name])
        decl = self.t.prog.decls.get(name)
        return E.var(name, shape, decl.props if decl else ())

    def build(self, node: Node) -> E.Expr:
        key = id(node)
        if key in self.memo:
            return self.memo[key]
        try:
            out = getattr(self, "_b_" + node.kind)(node)
        except ShapeError as exc:
            if exc.span is None:
                exc.span = node.span
            raise exc.with_text(self.text)
        self.memo[key] = out
        return out

    def _b_num(self, node):
        return E.num(node.value)

    def _b_name(self, node):
        name = node.value
        if name in self.t.lets:
            if name not in self.lets:
                self.lets[name] = self.build(self.t.lets[name])
            return self.lets[name]
        if self.t.is_size(name):
            return E.dim_scalar(E.dim_symbol(name))
        if self.t.is_constant(name):
            return E.constant(name)
        if name == "eye":
            return E.eye(self.shape(node)[0])
        return self.var(name)

    def _b_neg(self, node):
        return E.neg(self.build(node.children[0]))

    def _b_T(self, node):
        x = self.build(node.children[0])
        return E.transpose(x) if node.value % 2 else x

    def _b_sum(self, node):
        shape = self.shape(node)
        terms = []
        for child, op in zip(node.children, [None] + node.ops):
            if self.t._is_literal(child):
                v = literal_value(child)
                term = E.fill(v, shape)
            else:
                term = self.build(child)
            terms.append(E.neg(term) if op is not None and str(op) == "-" else term)
        return E.add(*terms)

    def _b_product(self, node):
        # runs of * and / are built as one n-ary product (long products stay linear)
        run = [self.build(node.children[0])]
        for child, op in zip(node.children[1:], node.ops):
            rhs = self.build(child)
            o = str(op)
            try:
                if o == "*":
                    run.append(rhs)
                elif o == "/":
                    run.append(E.power(rhs, E.num(-1)))
                else:
                    acc = E.mul(*run)
                    run = [E.hadamard(acc, rhs) if o in (".*", "⊙") else E.ediv(acc, rhs)]
            except ShapeError as exc:
                exc.span = span_of(op)
                raise
        try:
            return E.mul(*run)
        except ShapeError as exc:
            exc.span = exc.span or (span_of(node.ops[0]) if node.ops else node.span)
            raise

    def _b_index(self, node):
        spans = tuple(None if s is None else tuple(map(self.dim, s))
                      for s in self.t.spans[id(node)])
        return E.index(self.build(node.children[0]), *spans)

    def _b_block(self, node):
        return E.block([[E.fill(literal_value(x), self.shape(x)) if self.t._is_literal(x)
                         else self.build(x) for x in row.children] for row in node.children])

    def _b_kron(self, node):
        return E.kron(self.build(node.children[0]), self.build(node.children[1]))

    def _b_pow(self, node):
        base = self.build(node.children[0])
        if node.value == "^" and not base.is_scalar:
            return E.matrix_power(base, literal_int(node.children[1]))
        return E.power(base, self.build(node.children[1]))

    def _b_call(self, node):
        fn = node.value
        if fn == "eye":
            return E.eye(self.shape(node)[0])
        if fn in ("vector", "matrix"):
            c = self.build(node.children[0])
            return E.mul(c, E.ones(self.shape(node)))
        if fn == "kron":
            return E.kron(self.build(node.children[0]), self.build(node.children[1]))
        if fn == "commutation":
            return E.commutation(*self.shape_args(node.children))
        if fn == "duplication":
            return E.duplication(*self.shape_args(node.children))
        if fn == "unvec":
            return E.unvec(self.build(node.children[0]), self.shape(node))
        return E.apply(fn, *(self.build(child) for child in node.children))

    def shape_args(self, nodes):
        return [self.dim(self.t._dim_arg(d)) for d in nodes]


@dataclass
class Parsed:
    """A typed program: the expression DAG plus what the text declared and bound."""

    expr: E.Expr
    text: str
    variables: dict          # name -> var Expr (free variables of the expression)
    lets: dict               # name -> Expr (let-bound values, in order)
    dims: tuple              # dimension symbols
    assumed: tuple = ()      # names whose kind inference chose between two valid readings
    given: dict = field(default_factory=dict)   # the symbols= declarations it was read with

    @property
    def shape(self):
        return self.expr.shape

    def __str__(self):
        return E.printed("text", self.expr, self.let_names())

    def __repr__(self) -> str:
        """``mdiff.parse(...)`` text that rebuilds this expression."""
        return f"mdiff.parse({str(self)!r}, symbols={self.symbols()!r})"

    def to_sympy(self):
        from ..interop.sympy import to_sympy
        return to_sympy(self.expr)

    def latex(self) -> str:
        return E.printed("latex", self.expr, self.let_names())

    def _repr_latex_(self) -> str:
        return f"$$ {self.latex()} $$"

    def let_names(self) -> dict:
        """node -> the name the text bound it to (printers reuse the user's names)."""
        return {node: name for name, node in self.lets.items()}

    def symbols(self) -> dict:
        """Declarations of every variable, as the API's ``symbols=`` takes them."""
        return {name: _kind_text(v) for name, v in self.variables.items()}

    def assumptions(self) -> list:
        """'beta: vector(m)' for each kind chosen between two valid readings."""
        return [f"{n}: {_kind_text(self.variables[n])}" for n in self.assumed
                if n in self.variables]

    def describe_shapes(self) -> str:
        return ", ".join(f"{name}: {spec}" for name, spec in self.symbols().items())


def _kind_text(v: E.Expr) -> str:
    r, c = v.shape
    if v.is_scalar:
        base = "scalar"
    elif v.is_vector:
        base = f"vector({E.fmt_dim(r)})"
    else:
        base = f"matrix({E.fmt_dim(r)},{E.fmt_dim(c)})"
    props = sorted(v.props - ({"symmetric"} if v.props & {"spd", "diagonal"} else set()))
    return " ".join([base] + props)


def parse(text: str, symbols: dict | None = None, shape: tuple | None = None) -> Parsed:
    """Read, type and build ``text`` (DESIGN §2); every failure is an MdiffError.

    ``shape``, where given, is the shape the result is expected to have: sizes the text
    leaves open (``matrix(1)``) take it; a text of another shape is read as it is."""
    stmts = read(text)
    extra = {}
    for name, spec in (symbols or {}).items():
        if not isinstance(spec, str):
            raise DeclarationError(f"declaration of {name!r} must be text like 'matrix(n,n)'")
        extra[name] = parse_declaration(name, spec)
    prog = program(stmts, text, extra)
    # the recursion limit of expr.bounded_work, but no node budget: a valid
    # 1,000,000-character input builds more nodes than a derivative may
    with E.raised_recursion_limit():
        budget = [MAX_REKIND_TRIES + 2 * len(prog.decls) + len(text) // 8]
        typer, assumed = full_capitals(prog, text, infer_program(prog, text, {}, budget), budget)
        if shape is not None:
            expect_shape(typer, typer.shapes[id(prog.body)], shape)
        for name, decl in prog.decls.items():   # declared but unused: still a variable
            if name not in typer.var_shapes and name not in typer.lets and decl.kind != "index":
                typer.name_shape(name, decl.span)
        builder = _Builder(typer)
        try:
            for name, node, _ in prog.lets:
                builder.lets.setdefault(name, builder.build(node))
            body = builder.build(prog.body)
        except RecursionError:  # pragma: no cover - guarded by MAX_NESTING
            raise LimitError("expression too deep") from None
    # every variable the text names, even one the constructors folded away (X in X^0):
    # it still fixes dimensions when the expression is evaluated
    variables = {n: builder.var(n) for n in typer.var_shapes}
    dims = tuple(sorted(E.free_dims(body), key=lambda s: s.name))
    return Parsed(body, text, variables, dict(builder.lets), dims, tuple(assumed),
                  dict(symbols or {}))
