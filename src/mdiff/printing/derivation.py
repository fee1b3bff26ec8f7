"""Step-by-step derivations, the way the seed article writes them.

For a gradient: the function; for each part visited by the backward sweep, its
differential (with ``d(part)`` for the differentials of its arguments, from the rule
table) and the adjoint it passes on (the chain rule, ``tr(G' A dX B) =
tr((A' G B')' dX)``); the identification ``df = tr(G' dX)``; the named identities the
simplifier applied; the result.  For a Jacobian: ``dF``, then ``vec(dF) = J vec(dX)``.
Every step is text in the input language and LaTeX.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core import expr as E
from ..calculus.diff import differential, gradients
from ..core.expr import Expr, postorder, substitute
from .latex import to_latex
from .text import to_text
from ..simplify.identities import IDENTITIES
from ..simplify.engine import Simplifier

MAX_STEPS = 200


@dataclass(frozen=True)
class Step:
    """One line of a derivation."""

    title: str
    text: str
    latex: str

    def __str__(self) -> str:
        return f"{self.title}: {self.text}" if self.title else self.text


def _shown(node: Expr, show) -> Expr:
    """A placeholder that prints as d(node) (d(y1) for a let-bound node)."""
    name = show.names.get(node)
    if name is not None:
        return E.placeholder(("shown", name, name), node.shape)
    return E.placeholder(("shown", show(node), show(node, latex=True)), node.shape)


def _display(L: Expr, tags: dict, show) -> Expr:
    """The rule's differential with d(argument) in place of each placeholder."""
    mapping = {n: _shown(tags[n.data], show) for n in postorder(L)
               if n.op == "delta" and n.data in tags}
    return substitute(L, mapping)


class _Namer:
    """Prints parts with the text's let-bound names in place of their values."""

    def __init__(self, names: dict):
        self.names = names
        self.mapping = {node: E.var(name, node.shape) for node, name in names.items()}

    def __call__(self, e: Expr, latex: bool = False) -> str:
        shown = substitute(e, {k: v for k, v in self.mapping.items() if k is not e})
        return to_latex(shown, bind=False) if latex else to_text(shown, bind=False)


def gradient_steps(f: Expr, var: Expr, result: Expr, applied, names: dict) -> list:
    show = _Namer(names)
    lets = "; ".join(f"{n} = {show(node)}" for node, n in names.items())
    steps = [Step("function", (lets + "; " if lets else "") + f"f = {show(f)}",
                  f"f = {to_latex(f, names)}")]
    trace: list = []
    raw = gradients(f, {var.name: var}, trace)[var.name]
    simp = Simplifier()
    for node, L, g, contribs in trace[:MAX_STEPS]:
        tags = {("arg", i): a for i, a in enumerate(node.args)}
        shown = simp(_display(L, tags, show))
        label = names.get(node) or show(node)
        label_l = names.get(node) or show(node, latex=True)
        text = f"d({label}) = {show(shown)}"
        latex = f"\\mathrm{{d}}\\left({label_l}\\right) = {show(shown, latex=True)}"
        passed = []
        passed_l = []
        for arg, c in contribs.values():
            if arg.op in ("num", "fill", "eye"):
                continue
            c = simp(c)
            target = names.get(arg) or show(arg)
            passed.append(f"G[{target}] += {show(c)}")
            passed_l.append(f"G_{{{names.get(arg) or show(arg, latex=True)}}} "
                            f"\\mathrel{{+}}= {show(c, latex=True)}")
        steps.append(Step("differential", text, latex))
        if passed:
            steps.append(Step("chain rule", "; ".join(passed), ",\\quad ".join(passed_l)))
    if len(trace) > MAX_STEPS:
        steps.append(Step("", f"... {len(trace) - MAX_STEPS} more parts", "\\ldots"))
    g = simp(raw)
    steps.append(Step("identification",
                      f"df = tr(G'*d{var.name}) with G = {to_text(g, names)}",
                      f"\\mathrm{{d}}f = \\operatorname{{tr}}\\left(G^{{\\top}} \\mathrm{{d}}{var.name}\\right),"
                      f"\\quad G = {to_latex(g, names)}"))
    steps += identity_steps(applied)
    steps.append(Step("result", f"df/d{var.name} = {to_text(result, names)}",
                      f"\\frac{{\\partial f}}{{\\partial {var.name}}} = {to_latex(result, names)}"))
    return steps


def identity_steps(applied) -> list:
    by_name = {i.name: i for i in IDENTITIES}
    out = []
    for name in applied:
        ident = by_name.get(name)
        if ident is None:
            continue
        stmt = ident.statement
        out.append(Step("identity", f"{ident.name}: {stmt}  [{ident.source}]",
                        f"\\text{{{ident.name}: }} \\texttt{{{_tex_escape(stmt)}}}"
                        f"\\ \\text{{[{_tex_escape(ident.source)}]}}"))
    return out


def _tex_escape(s: str) -> str:
    out = s
    for a, b in (("\\", "/"), ("{", "("), ("}", ")"), ("_", "\\_"), ("^", "\\^{}"),
                 ("%", "\\%"), ("&", "\\&"), ("#", "\\#"), ("$", "\\$"), ("~", "-")):
        out = out.replace(a, b)
    return "".join(ch if ch.isascii() else {"⊗": "(x)", "–": "-"}.get(ch, "?") for ch in out)


def jacobian_steps(f: Expr, var: Expr, result: Expr, applied, names: dict) -> list:
    steps = [Step("function", f"F = {to_text(f, names)}", f"F = {to_latex(f, names)}")]
    dF = Simplifier()(differential(f, {var.name: var}))
    steps.append(Step("differential", f"dF = {to_text(dF, names)}",
                      f"\\mathrm{{d}}F = {to_latex(dF, names)}"))
    steps.append(Step("vectorisation",
                      f"vec(dF) = J*vec(d{var.name}) with vec(A*dX*B) = (B' ⊗ A)*vec(dX), "
                      f"vec(dX') = K*vec(dX), vec(A .* dX) = diag(vec(A))*vec(dX)",
                      "\\operatorname{vec}(\\mathrm{d}F) = J \\operatorname{vec}(\\mathrm{d}X)"))
    steps += identity_steps(applied)
    steps.append(Step("result", f"J = {to_text(result, names)}", f"J = {to_latex(result, names)}"))
    return steps
