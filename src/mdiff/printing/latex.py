"""LaTeX, as a careful author writes it in a paper.

Same dispatch as the text printer (``text.py``): bottom-up over the DAG with
``postorder`` (no recursion), each node giving ``(latex, prec)`` with the one
precedence table of ``precedence.py``; repeated or deeply nested subexpressions are
named with the text printer's ``_choose_bindings`` and printed in an ``aligned``
block.  Display only: the LaTeX is not parsed back.

Notation: ``X^{\\top}``, ``X^{-1}``, ``X^{-\\top}`` for ``inv(X)'``, ``\\otimes``,
``\\odot`` (Hadamard product), ``\\oslash`` (elementwise division of arrays; scalar
division is ``\\frac``), ``x^{\\circ 2}`` (Hadamard power; ``a^{2}`` for scalars),
``\\mathbf{1}`` (constant fills), ``I_{n}``, ``K_{m,n}``, ``D_{n}``,
``\\lVert x\\rVert_{2}`` (``_{F}`` for a matrix), ``\\sigma(\\cdot)`` for the sigmoid.

Every superscript goes on an atom: a base that already carries a superscript
(``X^{\\top}``, ``x^{\\circ 2}``) or is not an atom is put in ``\\left( \\right)``, so
no output contains a double superscript.
"""

from __future__ import annotations

import re
import unicodedata


from ..core import ops
from ..core.expr import Expr, block_grid, rational, register_printer
from ..core.shapes import as_dim
from .precedence import ADD, ATOM, KRON, MUL, NEG, POSTFIX, POW
from .base import BindingPrinter, divides

# --- names -------------------------------------------------------------------------

GREEK_LOWER = (
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta",
    "vartheta", "iota", "kappa", "lambda", "mu", "nu", "xi", "pi", "varpi", "rho",
    "varrho", "sigma", "varsigma", "tau", "upsilon", "phi", "varphi", "chi", "psi",
    "omega",
)
#: Capital Greek letters LaTeX has a command for (Alpha, Beta, ... look Latin).
GREEK_UPPER = ("Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon",
               "Phi", "Psi", "Omega")
GREEK_WORDS = {w: "\\" + w for w in GREEK_LOWER + GREEK_UPPER}


#: Greek letters that look Latin have no command; authors write the Latin letter.
LATIN_LOOKALIKE = {"Alpha": "A", "Beta": "B", "Epsilon": "E", "Zeta": "Z", "Eta": "H",
                   "Iota": "I", "Kappa": "K", "Mu": "M", "Nu": "N", "Omicron": "O",
                   "Rho": "P", "Tau": "T", "Chi": "X", "omicron": "o"}


def _unicode_greek(ch: str) -> str | None:
    """``μ`` -> ``\\mu``, ``Σ`` -> ``\\Sigma``, ``ς`` -> ``\\varsigma`` (None for other
    characters)."""
    try:
        uname = unicodedata.name(ch)
    except (ValueError, TypeError):
        return None
    m = re.fullmatch(r"GREEK (SMALL|CAPITAL) LETTER ([A-Z ]+)", uname)
    if not m:
        return None
    word = "varsigma" if m.group(2) == "FINAL SIGMA" else m.group(2).lower()
    if m.group(1) == "CAPITAL":
        word = word.capitalize()
    return GREEK_WORDS.get(word) or LATIN_LOOKALIKE.get(word)


#: What text mode cannot take as it is, and how it is written there.
_TEXT_MODE = {"\\": "\\textbackslash{}", "{": "\\{", "}": "\\}", "_": "\\_",
              "^": "\\textasciicircum{}", "%": "\\%", "&": "\\&", "#": "\\#", "$": "\\$",
              "~": "\\textasciitilde{}", "⊗": "$\\otimes$", "∇": "$\\nabla$", "²": "$^2$"}


def text_mode(s: str) -> str:
    """``s`` escaped for LaTeX's text mode (a derivation's titles: a rule's ^, _, ⊗)."""
    return "".join(_TEXT_MODE.get(ch, ch) for ch in s)


def _escape(text: str) -> str:
    return text.replace("_", "\\_")


def _name_piece(piece: str, upright: bool) -> str:
    """One part of a name: a letter, a Greek letter, digits or a word."""
    if piece.isdigit():
        return piece
    if piece in GREEK_WORDS:
        return GREEK_WORDS[piece]
    if len(piece) == 1:
        return _unicode_greek(piece) or piece
    if all(_unicode_greek(ch) for ch in piece):   # a run of Greek letters: \mu\nu
        return "".join(_unicode_greek(ch) + " " for ch in piece).rstrip()
    return f"\\{'mathrm' if upright else 'mathit'}{{{_escape(piece)}}}"


def latex_name(name: str) -> str:
    """A variable, dimension or binding name as LaTeX: ``W1`` -> ``W_{1}``,
    ``b12`` -> ``b_{12}``, ``mu`` / ``μ`` -> ``\\mu``, ``Sigma2`` -> ``\\Sigma_{2}``,
    ``x_i`` -> ``x_{i}``, ``W_out`` -> ``W_{\\mathrm{out}}``, ``loss`` ->
    ``\\mathit{loss}``."""
    if "_" in name.strip("_"):
        base, sub = name.strip("_").split("_", 1)
        if base:
            subs = [s for s in sub.split("_") if s]
            inner = ",".join(_name_piece(s, upright=True) for s in subs)
            return f"{_name_piece(base, upright=False)}_{{{inner}}}" if inner else \
                _name_piece(base, upright=False)
    m = re.fullmatch(r"(\D+?)(\d+)", name)
    if m and "_" not in m.group(1):
        return f"{_name_piece(m.group(1), upright=False)}_{{{m.group(2)}}}"
    return _name_piece(name, upright=False)


_DIM_TOKEN = re.compile(r"Min\(|[A-Za-z_]\w*|\*\*\d+|\d+|[*()/+\-, ]")


def _dim_latex(d) -> str:
    """A size as LaTeX: m n, n^{2}, \\frac{n \\left(n + 1\\right)}{2}, \\min(m, n)."""
    d = as_dim(d)
    if d.is_Symbol:
        return latex_name(d.name)
    body, slash, den = str(d).rpartition("/") if "/" in str(d) else (str(d), "", "")
    sign = "-" if body.startswith("-") and slash else ""
    body = body[len(sign):]
    out = []
    for tok in _DIM_TOKEN.findall(body):
        if tok == "Min(":
            out.append("\\min\\left(")
        elif tok == "(":
            out.append("\\left(")
        elif tok == ")":
            out.append("\\right)")
        elif tok.startswith("**"):
            out.append(f"^{{{tok[2:]}}}")
        elif tok == "*":
            out.append(" ")
        elif tok[0].isalpha() or tok[0] == "_":
            out.append(latex_name(tok))
        else:
            out.append(tok)
    text = "".join(out)
    return f"{sign}\\frac{{{text}}}{{{den}}}" if slash else text


# --- numbers -----------------------------------------------------------------------

def number_latex(v) -> tuple[str, int]:
    """``2``, ``-3``, ``\\frac{1}{2}``, ``-\\frac{3}{2}``.  A fraction binds like a
    power: it needs parentheses only under a superscript."""
    v = rational(v)
    if v.denominator == 1:
        return (str(v.numerator), ATOM if v >= 0 else NEG)
    text = f"\\frac{{{abs(v.numerator)}}}{{{v.denominator}}}"
    return (text, POW) if v > 0 else ("-" + text, NEG)


def _exponent_number(v) -> str:
    """A number in a superscript: ``2``, ``-1``, ``1/2`` (inline, as in ``x^{1/2}``)."""
    v = rational(v)
    return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"


# --- helpers -------------------------------------------------------------------------

def _paren(text: str) -> str:
    return f"\\left({text}\\right)"


def _wrap(item, min_prec) -> str:
    text, prec = item
    return text if prec >= min_prec else _paren(text)


def _sup(item, sup: str) -> str:
    """``base^{sup}`` with the base in parentheses unless it is an atom."""
    return f"{_wrap(item, ATOM)}^{{{sup}}}"


def _tall(text: str) -> bool:
    return any(t in text for t in ("\\frac", "\\left", "\\begin", "\\sum"))


def _delims(text: str, left: str, right: str) -> str:
    """``\\lVert x\\rVert`` or ``\\left\\lVert ... \\right\\rVert`` for tall content."""
    if _tall(text) or left == "|":
        return f"\\left{left} {text} \\right{right}"
    return f"{left} {text} {right}"


def _juxtapose(factors: list[str]) -> str:
    """Factors of a product side by side: a space, ``\\cdot`` before a factor that
    starts with a digit (``3 \\cdot 2^{a}``), a thin space next to a long name
    (``\\mathit{loss} \\, x``)."""
    out = factors[0] if factors else ""
    for prev, f in zip(factors, factors[1:]):
        if f[:1].isdigit():
            out += " \\cdot " + f
        elif prev.startswith("\\mathit{") or f.startswith("\\mathit{"):
            out += " \\, " + f
        else:
            out += " " + f
    return out


class _Tools:
    """What a record's LaTeX function is handed (``ops.Function.latex``)."""
    sup = staticmethod(_sup)
    delims = staticmethod(_delims)
    paren = staticmethod(_paren)
    ATOM, POSTFIX, POW = ATOM, POSTFIX, POW


TOOLS = _Tools()


class LatexPrinter(BindingPrinter):
    """(LaTeX, precedence) of each node from its children's, one method per operation."""

    what = "LaTeX"

    def __init__(self, root: Expr, names: dict | None = None, bind: bool = True):
        super().__init__(root, names, bind)
        # \sigma(x) would read as a variable sigma applied to x when one is present
        self.sigma_taken = any(n.op == "var" and latex_name(n.name) == "\\sigma"
                               for n in self.order)

    def display_name(self, name: str) -> str:
        return latex_name(name)

    def _simple(self, e: Expr) -> bool:
        """A lone symbol (``N``, ``a``, a bound name) that reads well in ``\\frac{N}{2}``."""
        return e.op in ("var", "dim") or id(e) in self.bound

    # --- products ------------------------------------------------------------------
    def _power_of(self, base: Expr, k) -> tuple[str, int]:
        """``base^{k}`` (scalars) or ``base^{\\circ k}`` (arrays), k a positive number."""
        if k == 1:
            return self.get(base)
        circ = "" if base.is_scalar else "\\circ "
        return (_sup(self.get(base), circ + _exponent_number(k)), POW)

    def _print_mul(self, e: Expr) -> tuple[str, int]:
        coef, nscal = e.data
        coef = rational(coef)
        scalars, chain = e.args[:nscal], e.args[nscal:]
        numer = [s for s in scalars if not divides(s, self.bound)]
        denom = [self._power_of(s.args[0], -s.args[1].data) for s in scalars
                 if divides(s, self.bound)]
        chain_text = [_wrap(self.get(c), KRON + 1) for c in chain]   # (A ⊗ B) x
        if len(chain) == 1 and not scalars and chain[0].op == "had" \
                and id(chain[0]) not in self.bound:
            chain_text = [self.get(chain[0])[0]]   # -(a ⊙ b) reads as -a ⊙ b
        sign = "-" if coef < 0 else ""
        p, q = abs(coef.numerator), coef.denominator
        rest = []      # scalar factors written after the fraction
        fold = bool(denom)
        if not denom and q != 1:
            simple = [s for s in numer if self._simple(s)]
            if len(simple) == 1:     # -\frac{N}{2} \log\det(S): one symbol meets the coefficient
                rest = [s for s in numer if s is not simple[0]]
                numer, fold = simple, True
        if fold:
            # one fraction for the scalar part: \frac{a}{2 b} X, -\frac{N}{2} S^{-1}
            one = len(numer) + (p != 1) == 1
            top = ([str(p)] if p != 1 else []) + [
                self.get(s)[0] if one else _wrap(self.get(s), MUL + 1) for s in numer]
            one = len(denom) + (q != 1) == 1
            bottom = ([str(q)] if q != 1 else []) + [
                d[0] if one else _wrap(d, MUL + 1) for d in denom]
            frac = f"\\frac{{{_juxtapose(top) or '1'}}}{{{_juxtapose(bottom)}}}"
            after = [_wrap(self.get(s), MUL + 1) for s in rest] + chain_text
            if not after:
                return (sign + frac, NEG if sign else POW)
            return (sign + _juxtapose([frac] + after), MUL)
        factors = [_wrap(self.get(s), MUL + 1) for s in numer] + chain_text
        if coef == 1:
            return (_juxtapose(factors), MUL)
        if coef == -1:
            return ("-" + _juxtapose(factors), MUL)
        return (_juxtapose([number_latex(coef)[0]] + factors), MUL)

    def _print_add(self, e: Expr) -> tuple[str, int]:
        parts = []
        for i, t in enumerate(e.args):
            body = _wrap(self.get(t), ADD + 1)
            if i == 0:
                parts.append(body)
            elif body.startswith("-"):   # every leading minus is a factor -1
                parts.append(" - " + body[1:])
            else:
                parts.append(" + " + body)
        return ("".join(parts), ADD)

    def _print_had(self, e: Expr) -> tuple[str, int]:
        x, y = e.args
        if divides(x, self.bound) and not divides(y, self.bound):
            x, y = y, x
        if divides(y, self.bound):      # a ⊙ b^{∘-k} reads as a ⊘ b^{∘k}
            den = self._power_of(y.args[0], -y.args[1].data)
            return (f"{_wrap(self.get(x), MUL)} \\oslash {_wrap(den, MUL + 1)}", MUL)
        return (f"{_wrap(self.get(x), MUL)} \\odot {_wrap(self.get(y), MUL + 1)}", MUL)

    def _print_pow(self, e: Expr) -> tuple[str, int]:
        base, ex = e.args
        if ex.op == "num":
            k = rational(ex.data)
            if k < 0:
                den = self._power_of(base, -k)
                if base.is_scalar:
                    return (f"\\frac{{1}}{{{den[0]}}}", POW)
                return (f"\\mathbf{{1}} \\oslash {_wrap(den, MUL + 1)}", MUL)
            return self._power_of(base, k)
        circ = "" if base.is_scalar else "\\circ "
        return (_sup(self.get(base), circ + self.get(ex)[0]), POW)

    # --- leaves --------------------------------------------------------------------
    @staticmethod
    def _print_fill(e: Expr) -> tuple[str, int]:
        v = rational(e.data)
        if e.rows == 1:                       # a row: 1^T
            ones, prec = "\\mathbf{1}^{\\top}", POSTFIX
        else:
            ones, prec = "\\mathbf{1}", ATOM
        if v == 0:
            return ("\\mathbf{0}^{\\top}" if e.rows == 1 else "\\mathbf{0}", prec)
        if v == 1:
            return (ones, prec)
        if v == -1:
            return ("-" + ones, NEG)
        num, _ = number_latex(v)
        return (f"{num}\\,{ones}", NEG if v < 0 else MUL)

    # --- dispatch ------------------------------------------------------------------
    def _print_var(self, e):
        return (latex_name(e.name), ATOM)

    def _print_num(self, e):
        return number_latex(e.data)

    def _print_const(self, e):
        return ("\\" + e.data, ATOM)

    def _print_dim(self, e):
        return (_dim_latex(e.data), ATOM)

    def _print_eye(self, e):
        return (f"I_{{{_dim_latex(e.rows)}}}", ATOM)

    def _print_comm(self, e):
        return (f"K_{{{_dim_latex(e.data[0])},{_dim_latex(e.data[1])}}}", ATOM)

    def _print_dup(self, e):
        return (f"D_{{{_dim_latex(e.data)}}}", ATOM)

    def _print_delta(self, e):
        if isinstance(e.data, tuple) and e.data[0] == "shown":   # d(part) in a derivation
            inner = e.data[2]
            simple = e.data[1].isidentifier()
            return (f"\\mathrm{{d}}{inner}" if simple
                    else f"\\mathrm{{d}}\\left({inner}\\right)", POSTFIX)
        return (f"\\mathrm{{d}}{latex_name(str(e.data))}", POSTFIX)

    def _print_T(self, e):
        x = e.args[0]
        if x.op == "inv" and id(x) not in self.bound:    # inv(X)' = X^{-T}
            return (_sup(self.get(x.args[0]), "-\\top"), POSTFIX)
        return (_sup(self.get(x), "\\top"), POSTFIX)

    def _print_inv(self, e):
        x = e.args[0]
        if x.op == "T" and id(x) not in self.bound:      # inv(X') = X^{-T}
            return (_sup(self.get(x.args[0]), "-\\top"), POSTFIX)
        return self.function(e, ops.RECORDS["inv"])

    def _print_mpow(self, e):
        x = e.args[0]
        if x.op == "inv" and id(x) not in self.bound:    # inv(X)^k = X^{-k}
            return (_sup(self.get(x.args[0]), f"-{e.data}"), POW)
        return (_sup(self.get(x), str(e.data)), POW)

    def _print_kron(self, e):
        a, b = e.args
        return (f"{_wrap(self.get(a), KRON)} \\otimes {_wrap(self.get(b), KRON + 1)}", KRON)

    def _print_sigmoid(self, e):
        if self.sigma_taken:
            return ("\\operatorname{sigmoid}" + _paren(self.get(e.args[0])[0]), ATOM)
        return self.function(e, ops.RECORDS["sigmoid"])

    def _print_index(self, e):
        """x_{i}, X_{i,j}, X_{:,j}, X_{1:m,:} (1-based, as the text); the eye(n) of a unit
        vector is e: eye(n)[:, i] is e_{i}, eye(n)[i, :] is e_{i}^T."""
        x = e.args[0]
        spans = [_span_latex(s) for s in e.data]
        if x.op == "eye" and None in e.data and e.data != (None, None):
            k = e.data[1] if e.data[0] is None else e.data[0]
            if k[0] == k[1]:
                unit = f"e_{{{_dim_latex(k[0])}}}"
                return (unit, ATOM) if e.data[0] is None else (_sup((unit, ATOM), "\\top"), POSTFIX)
        if x.cols == 1 and e.data[1] is None:
            spans = spans[:1]
        base, prec = self.get(x)
        base = base if prec >= ATOM and "_" not in base else f"\\left({base}\\right)"
        return (f"{base}_{{{','.join(spans)}}}", POSTFIX)

    def _print_block(self, e):
        body = " \\\\ ".join(" & ".join(self.get(x)[0] for x in row) for row in block_grid(e))
        return (f"\\begin{{bmatrix}} {body} \\end{{bmatrix}}", ATOM)

    def _print_unvec(self, e):
        return (f"\\operatorname{{unvec}}_{{{_dim_latex(e.rows)} \\times "
                f"{_dim_latex(e.cols)}}}{_paren(self.get(e.args[0])[0])}", ATOM)

    def function(self, e, record):
        if callable(record.latex):
            return record.latex(e, self.get(e.args[0]), TOOLS)
        return (ops.latex_of(record, ", ".join(self.get(a)[0] for a in e.args), _paren), ATOM)


def _span_latex(span) -> str:
    if span is None:
        return ":"
    first, last = (_dim_latex(d) for d in span)
    return first if span[0] == span[1] else f"{first}:{last}"


def to_latex(root: Expr, names: dict | None = None, bind: bool = True) -> str:
    """LaTeX of ``root``.  Repeated or deeply nested subexpressions are named (the
    text printer's choice, ``names`` — node -> name — where given, else ``t_{1}``,
    ``t_{2}``, ...) and the result is an ``aligned`` block::

        \\begin{aligned}
        y_{1} &= \\tanh\\left(W_{1} x + b_{1}\\right) \\\\
        & \\dots
        \\end{aligned}

    ``bind=False`` writes everything inline."""
    lines, body = LatexPrinter(root, names, bind).run()
    lines = [f"{name} &= {text}" for name, text in lines]
    if not lines:
        return body
    return "\\begin{aligned}\n" + " \\\\\n".join(lines + [f"& {body}"]) + "\n\\end{aligned}"


register_printer("latex", to_latex)
