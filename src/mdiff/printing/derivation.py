"""Derivations in the textbook style: the differential of the whole function,
rearranged by named identities into ``df = tr(G' dX)``, the identification of ``G``
(Magnus & Neudecker; the seed article), not the backward sweep's bookkeeping.

A gradient's derivation: the let-bindings as definitions; the function; its
differential, with ``dy`` for each let-bound part ``y`` that depends on ``X`` (the
*stations*) and each station's own differential; then, from the last station back, the
chain rule substituting ``dy`` — at a station ``y = φ(z)`` through the error term ``e =
G_y .* φ'(z)`` (the article's ``e_i``), so a deep network's derivation grows linearly
with its depth; the rearrangement into ``tr(M dX)`` naming the identities it uses; the
identification ``G = M'``, its projection for a structured ``X``; the result.  A
Hessian's: the gradient, the second differential ``d²f = <dG, dX>``, its
identification ``vec(dX)' H vec(dX)``.  A solution's: ``∇f = 0``, the form that is
linear in the variable, the solution.

Every step that states an identity carries its two sides (``Step.sides``, differentials
as placeholders ``dX``), every differential the function and the placeholder form
(``Step.differential``, for central differences) and every equation the expression
that vanishes at the solution (``Step.vanishes``), so the tests evaluate each step, not
only the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..calculus.diff import differential, project_gradient, structure_of
from ..calculus.linear import adjoint, adjoint_identity
from ..core import expr as E
from ..core import ops
from ..core.expr import Expr, postorder, substitute
from ..errors import MdiffError
from ..simplify.engine import Simplifier
from .latex import latex_name, text_mode, to_latex
from .text import to_text


@dataclass(frozen=True)
class Step:
    """One line of a derivation: ``title: text`` (and its LaTeX)."""

    title: str
    text: str
    latex: str
    #: (left, right): two expressions the step says are equal (differentials are
    #: placeholders ``dX``; let-bound parts and error terms are variables, any value)
    sides: tuple = ()
    #: (expression, variable, solution): an equation's side that is 0 at the solution
    vanishes: tuple = ()
    #: (F, dF, X): a differential the step states, dF linear in the placeholder dX
    differential: tuple = ()

    def __str__(self) -> str:
        return f"{self.title}: {self.text}" if self.title else self.text


def aligned(steps: list) -> str:
    """The derivation as one LaTeX ``aligned`` environment."""
    rows = [f"&\\text{{{text_mode(s.title)}:}}\\quad {s.latex}" if s.title else f"&{s.latex}"
            for s in steps]
    return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"


# --- printing ----------------------------------------------------------------------------

class _Show:
    """Prints a derivation's expressions: sizes as the user wrote them (``N``), no
    let-bindings of their own (the derivation names its parts itself)."""

    def __init__(self, f: Expr):
        self.dims = frozenset(s.name for s in E.free_dims(f))

    def text(self, e: Expr) -> str:
        return to_text(e, bind=False, dims=self.dims)

    def latex(self, e: Expr) -> str:
        return to_latex(e, bind=False)


def _d(name: str, shape) -> Expr:
    """The differential ``d<name>``: a placeholder, printed dX / \\mathrm{d}X."""
    return E.placeholder(name, shape)


def _trace_form(m: Expr, dx: Expr, show: _Show) -> tuple:
    """(text, LaTeX) of tr(M dX) — written out, as the constructors would rotate it; a
    product that is already a scalar (a row times a vector) without the trace."""
    product = E.mul(m, dx)
    if product.is_scalar:
        return (show.text(product), show.latex(product))
    return (f"tr({show.text(product)})",
            f"\\operatorname{{tr}}\\left({show.latex(product)}\\right)")


def _rearrangements(lin: Expr, tag) -> list:
    """The identities that bring the terms of ``lin`` (linear in the placeholder ``tag``)
    to tr(M dX): read off where dX stands in each term (one pass over ``lin``)."""
    holds: set = set()
    found = []
    for node in postorder(lin):
        if not ((node.op == "delta" and node.data == tag) or any(id(a) in holds for a in node.args)):
            continue
        holds.add(id(node))
        if node.op == "mul" and not (node.is_scalar and any(
                id(a) in holds for a in node.args[node.data[1]:])):
            continue        # a matrix product, or dX inside a scalar factor: linearity
        statement = adjoint_identity(node)
        if statement is not None:
            found.append(statement)
    return list(dict.fromkeys(found))


def _by_tag(lin: Expr) -> dict:
    """{placeholder tag: the terms of the linear ``lin`` in it}."""
    out: dict = {}
    for term in (lin.args if lin.op == "add" else (lin,)):
        tags = {n.data for n in postorder(term) if n.op == "delta"}
        for tag in tags or {None}:
            out.setdefault(tag, []).append(term)
    return {tag: E.add(*terms) for tag, terms in out.items()}


def _rule_statements(f: Expr, live_names, show: _Show) -> str:
    """'d logdet(S) = tr(inv(S)*dS); ...': the registry's rules as they apply here."""
    seen, out = set(), []
    for node in postorder(f):
        record = ops.RECORDS.get(node.op)
        if record is None or node.op in seen or record.adjoint is not None:   # linear: d f(X) = f(dX)
            continue
        if not any(n.op == "var" and n.name in live_names for n in postorder(node)):
            continue
        seen.add(node.op)
        if len(node.args) != 1:
            continue
        x = node.args[0]
        generic = E.var("a") if x.is_scalar else E.var("x" if x.is_vector else "X", x.shape)
        try:
            rebuilt = E.apply(record.spelling, generic)
        except (MdiffError, ValueError):     # a rule that cannot be stated generically
            continue
        if rebuilt.op != node.op:
            continue
        d = differential(rebuilt, {generic.name: generic})
        out.append(f"d{_paren(show.text(rebuilt))} = {show.text(Simplifier()(d))}")
    return "; ".join(out)


def _paren(text: str) -> str:
    return f"({text})" if not text.replace("_", "").isalnum() else text


# --- gradients ---------------------------------------------------------------------------

def _error_name(station: str, taken: set) -> str:
    """e2 for y2, e_h for h: the error term at a station, a name nothing else uses."""
    m = re.fullmatch(r"[^\W\d]+(\d+)", station)
    base = f"e{m.group(1)}" if m else f"e_{station}"
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    taken.add(name)
    return name


def gradient_steps(f: Expr, var: Expr, result: Expr, applied, lets: dict) -> list:
    """The derivation of the gradient of scalar ``f`` wrt ``var`` (``lets``: name ->
    let-bound node, in the text's order; ``result``: the engine's gradient)."""
    show = _Show(f)
    simp = Simplifier()
    lets = _definitions(f, lets, show)
    names = {node: name for name, node in lets.items()}
    stations = [n for n in postorder(f) if n in names and n is not f
                and E.depends_on(n, [var.name])]
    as_var = {n: E.var(names[n], n.shape) for n in stations}
    everything = {n: E.var(name, n.shape) for n, name in names.items() if n is not f}

    # each node of f with the let-bound parts below it as their names: one pass
    shown_as: dict = {}
    for node in postorder(f):
        inner = E.rebuild(node, tuple(shown_as[id(a)] for a in node.args))
        shown_as[id(node)] = everything.get(node, inner)
        shown_as[("def", id(node))] = inner

    def definition(node: Expr) -> Expr:
        """A let-bound node's value in terms of the other names."""
        return shown_as[("def", id(node))]

    steps = [Step("where", f"{name} = {show.text(definition(node))}",
                  f"{latex_name(name)} = {show.latex(definition(node))}")
             for name, node in lets.items() if node is not f]
    top = definition(f)
    steps.append(Step("function", f"f = {show.text(top)}", f"f = {show.latex(top)}"))
    dvars = {var.name: var, **{names[n]: as_var[n] for n in stations}}
    rules = _rule_statements(f, set(dvars), show)
    df = simp(differential(top, dvars))
    # each station's differential, and each written in dX alone (what the tests compare
    # with central differences of the function and of the station)
    local, in_dx = {}, {}
    original = {v: n for n, v in everything.items()}

    def only_dx(lin: Expr) -> Expr:
        """``lin`` with each station's differential written in dX, the stations as their values."""
        marks = {E.placeholder(t, dvars[t].shape): in_dx[t] for t in in_dx}
        return substitute(substitute(lin, marks), original)

    for node in stations:
        y = as_var[node]
        local[node] = simp(substitute(differential(definition(node), dvars), {definition(node): y}))
        in_dx[y.name] = only_dx(local[node])
    steps.append(Step("differential" + (f" ({rules})" if rules else ""),
                      f"df = {show.text(df)}", f"\\mathrm{{d}}f = {show.latex(df)}",
                      differential=(f, only_dx(df), var)))
    for node in reversed(stations):
        y, lin = as_var[node], local[node]
        steps.append(Step("differential", f"d{y.name} = {show.text(lin)}",
                          f"\\mathrm{{d}}{latex_name(y.name)} = {show.latex(lin)}",
                          differential=(node, in_dx[y.name], var)))

    # the chain rule, from the last station back: G of each station, error terms named
    pending = {tag: [g] for tag, g in adjoint(df, E.num(1)).items()}
    raw = _by_tag(df)
    x_terms = [raw[var.name]] if var.name in raw else []
    errors: dict = {}           # e var -> its definition
    expanded: dict = {}         # e var -> its definition with no error term left (claims)
    taken = {n.name for n in postorder(f) if n.op == "var"} | set(lets)
    for node in reversed(stations):
        y = as_var[node]
        if y.name not in pending:
            continue
        g = simp(E.add(*pending.pop(y.name)))
        before = E.inner(g, local[node])
        definition_ = definition(node)
        record = ops.ELEMENTWISE.get(definition_.op)
        if record is not None:
            z = definition_.args[0]
            slope = substitute(record.derivative(E, z, definition_), {definition_: y})
            e = E.var(_error_name(y.name, taken), y.shape)
            errors[e] = simp(E.hadamard(g, slope))
            expanded[e] = substitute(errors[e], expanded)     # in the earlier ones' terms
            lin_z = simp(differential(z, dvars))
            carried, onward = e, lin_z
            defined = f", {e.name} = {show.text(errors[e])}"
            defined_l = f",\\quad {latex_name(e.name)} = {show.latex(errors[e])}"
            rule = "Hadamard: tr(A'*(B .* C)) = tr((A .* B)'*C)"
        else:
            carried, onward, defined, defined_l = g, local[node], "", ""
            rule = f"d{y.name} substituted"
        parts = _by_tag(onward)
        for tag, contribution in adjoint(onward, carried).items():
            pending.setdefault(tag, []).append(contribution)
        if var.name in parts:
            x_terms.append(simp(E.inner(carried, parts[var.name])))
        rest = [simp(E.inner(carried, t)) for tag, t in parts.items() if tag != var.name]
        rest += [simp(E.inner(simp(E.add(*gs)), _d(tag, dvars[tag].shape)))
                 for tag, gs in pending.items() if tag != var.name and tag not in parts]
        now = E.add(*(rest + x_terms)) if rest or x_terms else E.zeros((1, 1))
        steps.append(Step(f"chain rule ({rule})", f"df = {show.text(now)}{defined}",
                          f"\\mathrm{{d}}f = {show.latex(now)}{defined_l}",
                          sides=(substitute(before, expanded),
                                 substitute(E.inner(carried, onward), expanded))))

    dx = _d(var.name, var.shape)
    lin_x = E.add(*x_terms) if x_terms else E.zeros((1, 1))
    g = simp(E.add(*pending.get(var.name, [E.zeros(var.shape)])))
    m = E.add(*(E.transpose_factors(t) for t in (g.args if g.op == "add" else (g,))))
    text, latex = _trace_form(m, dx, show)
    used = _rearrangements(lin_x, var.name)
    steps.append(Step("rearranged" + (f" ({'; '.join(used)})" if used else ""),
                      f"df = {text}", f"\\mathrm{{d}}f = {latex}",
                      sides=(substitute(lin_x, expanded), substitute(E.inner(g, dx), expanded))))
    steps.append(Step("identification", f"df = tr(G'*d{var.name}), so G = {show.text(g)}",
                      f"\\mathrm{{d}}f = \\operatorname{{tr}}\\left(G^{{\\top}} "
                      f"\\mathrm{{d}}{latex_name(var.name)}\\right),\\ G = {show.latex(g)}"))
    kind = structure_of(var)
    final = simp(project_gradient(g, var))
    if kind != "general":
        same = final is g
        what = {"symmetric": f"{var.name} is symmetric: for symmetric d{var.name} the gradient "
                             f"is the symmetric part (G + G')/2",
                "diagonal": f"{var.name} is diagonal: the gradient is diag(diag(G))",
                "lower": f"{var.name} is lower triangular: the gradient is tril(G)",
                "upper": f"{var.name} is upper triangular: the gradient is triu(G)"}[kind]
        steps.append(Step("structure", what + (", which is G" if same else f" = {show.text(final)}"),
                          f"\\text{{{text_mode(what)}}}" + ("" if same else f" = {show.latex(final)}")))
    if applied and not errors:
        steps.append(Step("simplified", "; ".join(applied), f"\\text{{{text_mode('; '.join(applied))}}}"))
    head = f"df/d{var.name}"
    head_l = f"\\frac{{\\partial f}}{{\\partial {latex_name(var.name)}}}"
    unnamed = substitute(substitute(final, expanded), original)   # what the result must equal
    if errors:      # the result in the error terms, as the article writes it
        steps.append(Step("result", f"{head} = {show.text(final)}",
                          f"{head_l} = {show.latex(final)}", sides=(unnamed, result)))
    else:
        lines, body = _with_bindings(result, names, show)
        shown = {s.text for s in steps if s.title == "where"}
        steps += [Step("where", t, t_l) for t, t_l in lines if t not in shown]
        steps.append(Step("result", f"{head} = {body[0]}", f"{head_l} = {body[1]}",
                          sides=(unnamed, result)))
    return steps


def _definitions(f: Expr, lets: dict, show: _Show) -> dict:
    """name -> node: the user's let-bindings and the parts the text printer names in
    ``f`` (t1 for a repeated D - m*vector(1)'), in the order they are defined."""
    from .text import TextPrinter
    printer = TextPrinter(f, {node: name for name, node in lets.items()}, True, show.dims)
    printer.run()
    by_id = {id(n): n for n in postorder(f)}
    bound = {name: by_id[i] for i, name in printer.bound.items() if by_id[i] is not f}
    out = dict(lets)
    for name, node in bound.items():
        if node not in out.values():
            out[name] = node
    order = {id(n): k for k, n in enumerate(postorder(f))}
    return dict(sorted(out.items(), key=lambda kv: order.get(id(kv[1]), -1)))


def _with_bindings(e: Expr, names: dict, show: _Show):
    """([(text, LaTeX)] of the bindings a result prints with, (text, LaTeX) of its body):
    definitions on lines of their own, never glued to the result."""
    from .latex import LatexPrinter
    from .text import TextPrinter
    tp = TextPrinter(e, names, True, show.dims)
    t_lines, t_body = tp.run()
    l_lines, l_body = LatexPrinter(e, names, True).run()
    lines = [(f"{n} = {t}", f"{ln} = {lt}") for (n, t), (ln, lt) in zip(t_lines, l_lines)]
    return lines, (t_body, l_body)


# --- Jacobians, Hessians, solutions ------------------------------------------------------

def jacobian_steps(f: Expr, var: Expr, result: Expr, applied, lets: dict) -> list:
    show = _Show(f)
    names = {node: name for name, node in lets.items()}
    steps = [Step("function", f"F = {show.text(f)}", f"F = {show.latex(f)}")]
    dF = Simplifier()(differential(f, {var.name: var}))
    steps.append(Step("differential", f"dF = {show.text(dF)}",
                      f"\\mathrm{{d}}F = {show.latex(dF)}", differential=(f, dF, var)))
    steps.append(Step("vectorised (vec(A*dX*B) = (B' ⊗ A)*vec(dX), vec(dX') = K*vec(dX), "
                      "vec(A .* dX) = diag(vec(A))*vec(dX))",
                      f"vec(dF) = J*vec(d{var.name})",
                      f"\\operatorname{{vec}}(\\mathrm{{d}}F) = J \\operatorname{{vec}}"
                      f"(\\mathrm{{d}}{latex_name(var.name)})"))
    if applied:
        steps.append(Step("simplified", "; ".join(applied), f"\\text{{{text_mode('; '.join(applied))}}}"))
    lines, body = _with_bindings(result, names, show)
    steps += [Step("where", t, t_l) for t, t_l in lines]
    steps.append(Step("result", f"J = {body[0]}", f"J = {body[1]}"))
    return steps


def hessian_steps(f: Expr, var: Expr, gradient: Expr, hessian: Expr, lets: dict) -> list:
    """f; its gradient G; the second differential d²f = <dG, dX> with dX held fixed; its
    identification vec(dX)' H vec(dX), H symmetric."""
    show = _Show(f)
    simp = Simplifier()
    names = {node: name for name, node in lets.items()}
    dx = _d(var.name, var.shape)
    steps = [Step("function", f"f = {show.text(f)}", f"f = {show.latex(f)}"),
             Step("gradient", f"df = tr(G'*d{var.name}), G = {show.text(gradient)}",
                  f"\\mathrm{{d}}f = \\operatorname{{tr}}\\left(G^{{\\top}} \\mathrm{{d}}"
                  f"{latex_name(var.name)}\\right),\\ G = {show.latex(gradient)}")]
    dg = simp(differential(gradient, {var.name: var}))
    steps.append(Step("differential of G", f"dG = {show.text(dg)}",
                      f"\\mathrm{{d}}G = {show.latex(dg)}", differential=(gradient, dg, var)))
    second = simp(E.inner(dg, dx))
    steps.append(Step("second differential", f"d²f = tr(dG'*d{var.name}) = {show.text(second)}",
                      f"\\mathrm{{d}}^2 f = {show.latex(second)}"))
    v = dx if var.is_vector or var.is_scalar else E.apply("vec", dx)
    quad = E.mul(E.transpose(v), hessian, v)
    vt = f"d{var.name}" if var.is_vector or var.is_scalar else f"vec(d{var.name})"
    lines, body = _with_bindings(hessian, names, show)
    steps += [Step("where", t, t_l) for t, t_l in lines]
    steps.append(Step("identification", f"d²f = {vt}'*H*{vt} with H symmetric: H = {body[0]}",
                      f"\\mathrm{{d}}^2 f = {show.latex(quad)},\\ H = {body[1]}",
                      sides=(second, quad)))
    steps.append(Step("result", f"H = {body[0]}", f"H = {body[1]}"))
    return steps


def solution_steps(f: Expr, var: Expr, gradient: Expr, method: str, solution: Expr,
                   verified: str) -> list:
    """∇f = 0; multiplied through by X where that made it linear; the linear equation;
    the solution and how it was verified.  Each equation's side vanishes there."""
    show = _Show(f)
    x = var.name
    at = (var, solution)
    steps = [Step("function", f"f = {show.text(f)}", f"f = {show.latex(f)}"),
             Step("stationary", f"∇f = {show.text(gradient)} = 0",
                  f"\\nabla f = {show.latex(gradient)} = 0", vanishes=(gradient, *at))]
    expand = Simplifier(mode="expand")
    form = expand({"the gradient": lambda: gradient, "X*G*X": lambda: E.mul(var, gradient, var),
                   "X*G": lambda: E.mul(var, gradient), "G*X": lambda: E.mul(gradient, var)}[method]())
    if method != "the gradient":
        how = method.replace("X", x)
        steps.append(Step(f"multiplied through ({x} invertible)", f"{how} = {show.text(form)} = 0",
                          f"{show.latex(form)} = 0", vanishes=(form, *at)))
    else:
        steps.append(Step("linear in " + x, f"{show.text(form)} = 0", f"{show.latex(form)} = 0",
                          vanishes=(form, *at)))
    head = f"{x} = {show.text(solution)}"
    steps.append(Step("solution", head, f"{latex_name(x)} = {show.latex(solution)}",
                      vanishes=(form, *at)))
    steps.append(Step("verified", {"symbolic": f"∇f at {x} = {show.text(solution)} "
                                               "simplifies to 0",
                                   "numeric": "∇f vanishes there at random data"}[verified],
                      "\\text{" + ("the gradient simplifies to 0 there" if verified == "symbolic"
                                   else "the gradient vanishes there at random data") + "}"))
    return steps
