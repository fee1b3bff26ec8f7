"""Text and LaTeX of index notation (``indexed.IndexForm``).

``∂³f/∂x[i]∂x[j]∂x[k] = 24*x[i]*δ[i,j]*δ[i,k]``: the indices on the left are free and
every other index is summed.  Entries print their matrix in the usual notation,
parenthesised unless it is a name or a function call: ``(A*x)[i]``, ``exp(x)[i]``.
"""

from __future__ import annotations

from collections import Counter

from ..core.expr import Expr, count_nodes, fmt_dim, num, postorder, power, rational, substitute, var
from ..calculus.indexed import Factor, IndexForm, Term
from .latex import to_latex
from .base import MIN_SHARED_WEIGHT, is_reciprocal
from .text import number_text, to_text

SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
#: Ops printed with an operator; other nodes print as a name or a call, which an index
#: may follow without parentheses.
_OPERATORS = frozenset({"add", "mul", "had", "pow", "T", "kron", "mpow", "fill", "num"})


def _lhs_parts(form: IndexForm, names: list[str]) -> list[tuple[str, tuple]]:
    return [(n, tuple(i.name for i in g)) for n, g in zip(names, form.groups)]


def index_text(form: IndexForm, names: list[str], let_names: dict | None = None) -> str:
    """``t1 = ...; ∂ᵏf/∂x[i]... = terms`` for the variables ``names`` (in
    differentiation order); subexpressions repeated across entries are named."""
    order = len(names)
    parts = [f"∂{n}[{','.join(ix)}]" if ix else f"∂{n}" for n, ix in _lhs_parts(form, names)]
    lhs = f"∂{str(order).translate(SUPERSCRIPTS)}f/" + "".join(parts)
    named = _Named(_bindings(form, let_names or {}))
    lines = [f"{name} = {named.text(node, defining=True)}" for node, name in named.bound.items()]
    body = _sum(form.terms, lambda t: _term_text(t, named))
    return "; ".join(lines + [f"{lhs} = {body}"])


class _Named:
    """Text of expressions with the bound subexpressions printed as their names
    (remembered: the same entries recur across many terms)."""

    def __init__(self, bound: dict):
        self.bound = bound
        self._vars = {n: var(name, n.shape) for n, name in bound.items()}
        self._texts: dict[Expr, str] = {}

    def text(self, e: Expr, defining: bool = False) -> str:
        if defining:    # a binding's own right-hand side
            return to_text(substitute(e, {n: v for n, v in self._vars.items() if n is not e}),
                           bind=False)
        if e not in self._texts:
            self._texts[e] = to_text(substitute(e, self._vars), bind=False)
        return self._texts[e]


def _bindings(form: IndexForm, let_names: dict) -> dict:
    """node -> name for subexpressions shared by several entries or scalars (children
    before parents), the user's let-names first."""
    roots = [r for t in form.terms for r in tuple(_reciprocal(s) or s for s in t.scalars)
             + tuple(f.expr for f in t.factors if f.kind == "entry")]
    uses: Counter = Counter()
    for r, k in Counter(roots).items():
        for node in set(postorder(r)):
            uses[node] += k
    shared = [n for n, k in uses.items() if k >= 2 and n.args and n.op != "T"
              and not (n.op == "pow" and n.args[1].op == "num")
              and count_nodes(n) >= MIN_SHARED_WEIGHT]
    shared.sort(key=count_nodes, reverse=True)
    chosen: list[Expr] = []
    for n in shared:    # a node only ever inside a chosen one is printed through its name
        if not any(uses[c] == uses[n] and n in set(postorder(c)) for c in chosen):
            chosen.append(n)
    chosen.sort(key=count_nodes)
    taken = {v.name for r in roots for v in postorder(r) if v.op == "var"}
    users = set(let_names.values())     # the user's let names mean their own nodes only
    named, counter = {}, 0
    for n in chosen:
        name = let_names.get(n)
        if name is None or name in taken:
            while counter == 0 or f"t{counter}" in taken | users:
                counter += 1
            name = f"t{counter}"
        taken.add(name)
        named[n] = name
    return named


def _sum(terms, render) -> str:
    if not terms:
        return "0"
    out = []
    for n, t in enumerate(terms):
        text = render(t)
        if n == 0:
            out.append(text)
        elif text.startswith("-"):
            out.append(" - " + text[1:])
        else:
            out.append(" + " + text)
    return "".join(out)


def _reciprocal(s: Expr) -> Expr | None:
    """``b^k`` for a factor ``b^-k`` (printed as a denominator), else None."""
    return power(s.args[0], num(-s.args[1].data)) if is_reciprocal(s) else None


def _term_text(t: Term, named: _Named) -> str:
    """``coef*factors/denominators``: scalars b^-k and entries x[i]^-k divide."""
    dens = [_scalar_text(d, named) for d in map(_reciprocal, t.scalars) if d is not None]
    dens += [_factor_text(f, named, -1) for f in t.factors if f.power < 0]
    factors = [_scalar_text(s, named) for s in t.scalars if _reciprocal(s) is None]
    factors += [_factor_text(f, named) for f in t.factors if f.power > 0]
    coef = t.coef
    sign = "-" if coef < 0 else ""
    if abs(coef) != 1 or not factors:
        factors.insert(0, number_text(abs(coef))[0])
    text = sign + "*".join(factors)
    if dens:
        text += "/" + (dens[0] if len(dens) == 1 else f"({'*'.join(dens)})")
    return text


def _scalar_text(s: Expr, named: _Named) -> str:
    if s.op == "dim":                   # a size: n, not tr(eye(n))
        return fmt_dim(s.data)
    text = named.text(s)
    return text if s.op not in _OPERATORS or s.op == "pow" or s in named.bound else f"({text})"


def _factor_text(f: Factor, named: _Named, sign: int = 1) -> str:
    ix = ",".join(i.name for i in f.indices())
    if f.kind == "delta":
        return f"δ[{ix}]"
    text = named.text(f.expr)
    if f.expr.op in _OPERATORS and f.expr not in named.bound:
        text = f"({text})"
    power = sign * f.power
    return f"{text}[{ix}]" + (f"^{power}" if power != 1 else "")


def index_latex(form: IndexForm, names: list[str], let_names: dict | None = None) -> str:
    order = len(names)
    parts = [r"\partial " + (f"{_base(_latex_name(n))}_{{{''.join(ix)}}}" if ix else _latex_name(n))
             for n, ix in _lhs_parts(form, names)]
    lhs = rf"\frac{{\partial^{{{order}}} f}}{{{' '.join(parts)}}}"
    return f"{lhs} = {_sum(form.terms, lambda t: _term_latex(t, let_names))}"


def _base(text: str) -> str:
    """``text`` ready for a subscript: braced where it has its own (``{w_{1}}_{i}``)."""
    return f"{{{text}}}" if "_" in text or "^" in text else text


def _latex_name(name: str) -> str:
    return to_latex(var(name))


def _term_latex(t: Term, let_names) -> str:
    """``coef \\frac{factors}{denominators}``, as the text form divides."""
    def entry(f: Factor, power: int) -> str:
        ix = "".join(i.name for i in f.indices())
        if f.kind == "delta":
            return rf"\delta_{{{ix}}}"
        sup = f"^{{{power}}}" if power != 1 else ""
        return f"{_base(_wrap_latex(_latex(f.expr, let_names), f.expr))}_{{{ix}}}{sup}"

    def scalar(s: Expr) -> str:
        return _wrap_latex(_latex(s, let_names), s)

    dens = [scalar(d) for d in map(_reciprocal, t.scalars) if d is not None]
    dens += [entry(f, -f.power) for f in t.factors if f.power < 0]
    factors = [scalar(s) for s in t.scalars if _reciprocal(s) is None]
    factors += [entry(f, f.power) for f in t.factors if f.power > 0]
    q = abs(t.coef)
    q = rational(q)
    coef = "" if q == 1 else str(q) if q.denominator == 1 else rf"\frac{{{q.numerator}}}{{{q.denominator}}}"
    body = " ".join(factors) or ("" if coef else "1")
    if dens:
        body = rf"\frac{{{body or 1}}}{{{' '.join(dens)}}}"
    return ("-" if t.coef < 0 else "") + " ".join(x for x in (coef, body) if x)


def _latex(e: Expr, let_names) -> str:
    return to_latex(e, let_names, bind=False)


def _wrap_latex(text: str, e: Expr) -> str:
    return text if e.op not in _OPERATORS or e.op == "pow" and e.is_scalar else \
        rf"\left({text}\right)"
