"""Sizes: polynomials with rational coefficients over named dimensions.

A size is ``n``, ``3``, ``m*p``, ``n^2``, ``n*(n + 1)/2`` or ``min(m, n)`` — a
polynomial in positive whole dimensions, where ``min(a, b)`` of two sizes is one more
indeterminate.  ``Dim`` keeps it in a canonical expanded form, so equal sizes are equal
objects (``==`` and ``hash`` are structural) and a constant size equals the int it
stands for (``Dim(3) == 3``, with the same hash), as SymPy's integers do.

Sizes are on the path of every parse, so they are ours, not SymPy's: importing SymPy
costs more than the whole derivative.  ``to_sympy`` converts at the interop boundary
(DESIGN §1).  ``str()`` writes SymPy's spelling (``n**2``, ``Min(m, n)``, terms in
SymPy's order), which the printers turn into mdiff's (``n^2``, ``min(m, n)``).
"""

from __future__ import annotations

from fractions import Fraction
from math import gcd, lcm

# a monomial: ((atom, exponent), ...) sorted by atom key; an atom: a name or a _Min
_ONE_MONOMIAL: tuple = ()


class _Min:
    """min(a, b) of two sizes, an indeterminate of its own (its arguments sorted)."""

    __slots__ = ("args", "key", "_hash")

    def __init__(self, a: "Dim", b: "Dim"):
        self.args = tuple(sorted((a, b), key=str))
        self.key = f"~Min({self.args[0]}, {self.args[1]})"   # after the plain names
        self._hash = hash(self.key)

    def __eq__(self, other):
        return isinstance(other, _Min) and self.args == other.args

    def __hash__(self):
        return self._hash

    def __str__(self):
        return f"Min({self.args[0]}, {self.args[1]})"


def _atom_key(atom) -> str:
    return atom if isinstance(atom, str) else atom.key


def _atom_text(atom) -> str:
    return atom if isinstance(atom, str) else str(atom)


def _mono_mul(a: tuple, b: tuple) -> tuple:
    if not a:
        return b
    if not b:
        return a
    exps = dict(a)
    for atom, k in b:
        exps[atom] = exps.get(atom, 0) + k
    return tuple(sorted(exps.items(), key=lambda p: _atom_key(p[0])))


class Dim:
    """A size: ``terms`` maps monomials to nonzero coefficients (ints where whole, else
    Fractions; canonical and immutable)."""

    __slots__ = ("terms", "_hash", "_text", "_const", "_name")

    def __init__(self, terms: dict):
        kept = {}
        for m, c in terms.items():
            if c:
                kept[m] = c.numerator if type(c) is Fraction and c.denominator == 1 else c
        self.terms = kept
        const = name = None
        if not kept:
            const = 0
        elif len(kept) == 1:
            (mono, coef), = kept.items()
            if not mono:
                const = coef
            elif coef == 1 and len(mono) == 1 and mono[0][1] == 1 and isinstance(mono[0][0], str):
                name = mono[0][0]
        self._const, self._name, self._text = const, name, None
        self._hash = hash(const) if const is not None else hash(frozenset(kept.items()))

    # --- construction ---------------------------------------------------------------
    @staticmethod
    def of(value) -> "Dim":
        """A size from a Dim, an int or a Fraction."""
        if type(value) is Dim:
            return value
        if type(value) is int:
            d = _CONSTANTS.get(value)
            if d is None:
                d = Dim({_ONE_MONOMIAL: value})
                if -64 <= value <= 1024:
                    _CONSTANTS[value] = d
            return d
        if isinstance(value, (int, Fraction)) and not isinstance(value, bool):
            return Dim({_ONE_MONOMIAL: value})
        if getattr(value, "is_Integer", False):     # a SymPy integer (interop, tests)
            return Dim.of(int(value))
        raise TypeError(f"not a size: {value!r}")

    # --- what it is ------------------------------------------------------------------
    @property
    def constant(self):
        """The number (int or Fraction) a constant size stands for, else None."""
        return self._const

    @property
    def is_number(self) -> bool:
        return self._const is not None

    @property
    def is_Integer(self) -> bool:
        c = self._const
        return c is not None and c.denominator == 1

    @property
    def is_Symbol(self) -> bool:
        return self._name is not None

    @property
    def name(self) -> str:
        """The name of a single dimension (``is_Symbol``)."""
        if self._name is None:
            raise AttributeError(f"size {self} is not a single dimension")
        return self._name

    @property
    def free_symbols(self) -> set:
        """The named dimensions it is written with (inside min(·, ·) too)."""
        if self._name is not None:
            return {self}
        out = set()
        for mono in self.terms:
            for atom, _ in mono:
                if isinstance(atom, str):
                    out.add(symbol(atom))
                else:
                    for a in atom.args:
                        out |= a.free_symbols
        return out

    def monomial(self):
        """(coefficient, ((atom, exponent), ...)) of a one-term size, else None."""
        if len(self.terms) != 1:
            return None
        (mono, coef), = self.terms.items()
        return coef, mono

    def factors(self) -> list:
        """A one-term size as factors, c*m*n^2 -> [c, m, n^2] (coefficient 1 left out)."""
        one = self.monomial()
        if one is None:
            return [self]
        coef, mono = one
        out = [] if coef == 1 else [Dim.of(coef)]
        return out + [Dim({((atom, k),): 1}) for atom, k in mono]

    def base_exp(self):
        """(base, k) of a power of one indeterminate n^k, else (self, 1)."""
        one = self.monomial()
        if one is not None and one[0] == 1 and len(one[1]) == 1:
            atom, k = one[1][0]
            return Dim({((atom, 1),): 1}), k
        return self, 1

    def degree(self, sym: "Dim") -> int:
        atom = sym.name
        return max((dict(m).get(atom, 0) for m in self.terms), default=0)

    # --- arithmetic --------------------------------------------------------------------
    def __add__(self, other):
        other = _coerce(other)
        if other is NotImplemented:
            return other
        terms = dict(self.terms)
        for m, c in other.terms.items():
            terms[m] = terms.get(m, 0) + c
        return Dim(terms)

    __radd__ = __add__

    def __neg__(self):
        return Dim({m: -c for m, c in self.terms.items()})

    def __sub__(self, other):
        other = _coerce(other)
        return other if other is NotImplemented else self + (-other)

    def __rsub__(self, other):
        other = _coerce(other)
        return other if other is NotImplemented else other + (-self)

    def __mul__(self, other):
        other = _coerce(other)
        if other is NotImplemented:
            return other
        terms: dict = {}
        for ma, ca in self.terms.items():
            for mb, cb in other.terms.items():
                m = _mono_mul(ma, mb)
                terms[m] = terms.get(m, 0) + ca * cb
        return Dim(terms)

    __rmul__ = __mul__

    def __truediv__(self, other):
        """Division by a number, or exact division by a one-term size (m*p/m = p)."""
        other = _coerce(other)
        if other is NotImplemented:
            return other
        const = other.constant
        if const is not None:
            if const == 0:
                raise ZeroDivisionError("size divided by 0")
            return Dim({m: Fraction(c) / const for m, c in self.terms.items()})
        one = other.monomial()
        if one is None:
            raise ValueError(f"size {self} divided by the sum {other}")
        coef, mono = one
        out = {}
        for m, c in self.terms.items():
            exps = dict(m)
            for atom, k in mono:
                if exps.get(atom, 0) < k:
                    raise ValueError(f"size {self} is not a multiple of {other}")
                exps[atom] -= k
            out[tuple(sorted(((a, k) for a, k in exps.items() if k),
                             key=lambda p: _atom_key(p[0])))] = Fraction(c) / coef
        return Dim(out)

    def __pow__(self, k):
        if isinstance(k, Dim) and k.is_Integer:
            k = int(k)
        if not isinstance(k, int) or k < 0:
            raise ValueError(f"a size to the power {k}")
        out = Dim.of(1)
        for _ in range(k):
            out = out * self
        return out

    # --- comparison ----------------------------------------------------------------------
    def __eq__(self, other):
        if isinstance(other, Dim):
            return self.terms == other.terms
        if isinstance(other, (int, Fraction)) and not isinstance(other, bool):
            return self.constant == other
        return NotImplemented

    def __hash__(self):
        return self._hash

    def _number(self, op: str):
        c = self._const
        if c is None:
            raise TypeError(f"size {self} has no value to compare ({op})")
        return c

    def __lt__(self, other):
        return self._number("<") < _value(other)

    def __le__(self, other):
        return self._number("<=") <= _value(other)

    def __gt__(self, other):
        return self._number(">") > _value(other)

    def __ge__(self, other):
        return self._number(">=") >= _value(other)

    def __int__(self):
        c = self._number("int")
        if c.denominator != 1:
            raise ValueError(f"size {self} is not whole")
        return int(c)

    __index__ = __int__

    def __bool__(self):
        return bool(self.terms)

    # --- substitution ------------------------------------------------------------------
    def xreplace(self, mapping: dict) -> "Dim":
        """The size with dimensions replaced (keys: symbols or names; values: sizes)."""
        if self._const is not None or not mapping:
            return self
        values = {(k.name if isinstance(k, Dim) else k): Dim.of(v) for k, v in mapping.items()}
        if self._name is not None:
            return values.get(self._name, self)
        out = Dim.of(0)
        for mono, coef in self.terms.items():
            term = Dim.of(coef)
            for atom, k in mono:
                if isinstance(atom, str):
                    base = values[atom] if atom in values else symbol(atom)
                else:
                    base = smaller(*(a.xreplace(values) for a in atom.args))
                term = term * base ** k
            out = out + term
        return out

    # --- printing ----------------------------------------------------------------------
    def __str__(self):
        if self._text is None:
            self._text = _text(self)
        return self._text

    def __repr__(self):
        return f"Dim({str(self)!r})"

    def to_sympy(self):
        """The SymPy expression (dimensions as positive integer symbols)."""
        import sympy as sp
        out = sp.Integer(0)
        for mono, coef in self.terms.items():
            term = sp.Rational(coef.numerator, coef.denominator)
            for atom, k in mono:
                base = (sp.Symbol(atom, positive=True, integer=True) if isinstance(atom, str)
                        else sp.Min(*(a.to_sympy() for a in atom.args)))
                term *= base ** k
            out += term
        return out


def _coerce(value):
    if isinstance(value, Dim):
        return value
    if isinstance(value, (int, Fraction)) and not isinstance(value, bool):
        return Dim.of(value)
    return NotImplemented


def _value(value):
    if isinstance(value, Dim):
        return value._number("compare")
    return value


_SYMBOLS: dict = {}
_CONSTANTS: dict = {}


def symbol(name: str) -> Dim:
    """The size named ``name`` (one object per name)."""
    d = _SYMBOLS.get(name)
    if d is None:
        d = _SYMBOLS[name] = Dim({((name, 1),): 1})
    return d


def smaller(a, b) -> Dim:
    """min(a, b) of two sizes: the number of singular values of an a×b matrix."""
    a, b = Dim.of(a), Dim.of(b)
    if a == b:
        return a
    if a.is_number and b.is_number:
        return a if a < b else b
    return Dim({((_Min(a, b), 1),): 1})


def from_sympy(expr) -> Dim:
    """A size from a SymPy expression over positive integer symbols (the interop)."""
    if expr.is_Integer or expr.is_Rational:
        return Dim.of(Fraction(int(expr.p), int(expr.q)))
    if expr.is_Symbol:
        return symbol(expr.name)
    if expr.is_Add:
        out = Dim.of(0)
        for t in expr.args:
            out = out + from_sympy(t)
        return out
    if expr.is_Mul:
        out = Dim.of(1)
        for f in expr.args:
            out = out * from_sympy(f)
        return out
    if expr.is_Pow and expr.exp.is_Integer and expr.exp >= 0:
        return from_sympy(expr.base) ** int(expr.exp)
    if type(expr).__name__ == "Min" and len(expr.args) == 2:
        return smaller(*(from_sympy(a) for a in expr.args))
    raise ValueError(f"not a size: {expr}")


# --- SymPy's spelling ---------------------------------------------------------------------

def _mono_text(mono: tuple) -> str:
    return "*".join(_atom_text(a) + (f"**{k}" if k != 1 else "") for a, k in mono)


def _term_text(coef: Fraction, mono: tuple) -> str:
    """c*m*n**2 with an integer c (sign handled by the caller)."""
    body = _mono_text(mono)
    if not body:
        return str(coef)
    return body if coef == 1 else f"{coef}*{body}"


def _order(terms: dict) -> list:
    """SymPy's order of a sum's terms: by exponent vector over the sorted indeterminates,
    highest first, the constant last (but for a constant less one indeterminate's term)."""
    atoms = sorted({a for m in terms for a, _ in m}, key=_atom_key)

    def key(item):
        exps = dict(item[0])
        return tuple(exps.get(a, 0) for a in atoms)
    out = sorted(terms.items(), key=key, reverse=True)
    if len(out) == 2 and not out[1][0] and out[1][1] > 0 and out[0][1] < 0 \
            and len(out[0][0]) == 1:
        out.reverse()       # SymPy's one exception: 1 - p, 3 - 2*p, 1 - p**2
    return out


def _sum_text(items: list) -> str:
    out = []
    for i, (mono, coef) in enumerate(items):
        t = _term_text(abs(coef), mono)
        if i == 0:
            out.append(("-" if coef < 0 else "") + t)
        else:
            out.append((" - " if coef < 0 else " + ") + t)
    return "".join(out)


def _text(d: Dim) -> str:
    const = d.constant
    if const is not None:
        return str(const)
    den = lcm(*(c.denominator for c in d.terms.values()))
    items = _order({m: c * den for m, c in d.terms.items()})
    if den == 1:
        return _sum_text(items)
    if len(items) == 1:                         # n/2, 3*m*n/2, -n**2/2
        mono, coef = items[0]
        sign = "-" if coef < 0 else ""
        return f"{sign}{_term_text(abs(coef), mono)}/{den}"
    # n*(n + 1)/2: the monomial every term shares, then the rest in parentheses
    shared = dict(items[0][0])
    for mono, _ in items[1:]:
        exps = dict(mono)
        shared = {a: min(k, exps.get(a, 0)) for a, k in shared.items() if exps.get(a, 0)}
    c = gcd(*(int(c) for _, c in items))
    rest = [(tuple((a, k - shared.get(a, 0)) for a, k in mono if k - shared.get(a, 0)), coef // c)
            for mono, coef in items]
    prefix = _term_text(Fraction(c), tuple(sorted(shared.items(), key=lambda p: _atom_key(p[0]))))
    inner = f"({_sum_text(rest)})"
    body = inner if prefix == "1" else f"{prefix}*{inner}"
    return f"{body}/{den}"
