"""What every printer shares: the walk, the naming of shared subexpressions, the dispatch.

A printer gives each node its output from its children's, children first (``postorder``,
no recursion), through one method per operation, ``_print_<op>`` (``_print_mul``,
``_print_T``), in the manner of SymPy's printers.  A function of the language that has no
method of its own is printed from its registry record (``function``): its spelling, its
code template or its LaTeX.  An operation a printer cannot print is a named
``MdiffError``, never a ``KeyError``.

``BindingPrinter`` adds what the text and LaTeX printers share: repeated or deeply
nested subexpressions become let-bindings (``t1 = ...; body``), named with the user's
own let-names where it has them; ``choose_bindings`` decides which.
"""

from __future__ import annotations

from ..core import ops
from ..core.expr import Expr, data_dims, postorder
from ..errors import MdiffError
from .precedence import ATOM

#: A repeated subexpression is named when it has at least this many nodes ...
MIN_SHARED_WEIGHT = 4
#: ... and any chain of nesting deeper than this is cut by a name (deep networks).
MAX_PRINT_DEPTH = 12


def is_reciprocal(s: Expr) -> bool:
    return s.op == "pow" and s.args[1].op == "num" and bool(s.args[1].data < 0)


def divides(s: Expr, bound) -> bool:
    """A 1/x factor written as a denominator (one let-bound is written as its name)."""
    return is_reciprocal(s) and id(s) not in bound


def choose_bindings(root: Expr, order: list) -> list:
    """Nodes to print as let-bindings, children before parents (``order``: postorder)."""
    uses: dict[int, int] = {}
    for node in order:
        for a in set(map(id, node.args)):
            uses[a] = uses.get(a, 0) + 1
    weight: dict[int, int] = {}
    depth: dict[int, int] = {}
    chosen = []
    for node in order:
        if not node.args:
            weight[id(node)], depth[id(node)] = 1, 0
            continue
        w = 1 + sum(weight[id(a)] for a in node.args)
        weight[id(node)] = min(w, 10**6)
        dep = 1 + max(depth[id(a)] for a in node.args)
        shared = uses.get(id(node), 0) >= 2 and w >= MIN_SHARED_WEIGHT
        if node is not root and (shared or dep > MAX_PRINT_DEPTH):
            chosen.append(node)
            dep = 0
        depth[id(node)] = dep
    return chosen


class Printer:
    """Per-operation dispatch: ``_print_<op>(node)``, else the node's registry record."""

    #: what this printer writes, for the error raised on an operation it lacks
    what = "output"

    def dispatch(self, e: Expr):
        method = getattr(self, "_print_" + e.op, None)
        if method is not None:
            return method(e)
        record = ops.RECORDS.get(e.op)
        if record is not None:
            return self.function(e, record)
        raise MdiffError(f"no {self.what} for the operation {e.op!r}")

    def function(self, e: Expr, record):
        """A registered function of the language, printed from its record."""
        raise MdiffError(f"no {self.what} for the operation {e.op!r}")


class BindingPrinter(Printer):
    """A printer whose output names shared and deep subexpressions.

    ``self.out[id(node)]`` is ``(output, precedence)``; a bound node's is its name, an
    atom.  ``run()`` returns the bindings in order and the body."""

    def __init__(self, root: Expr, names: dict | None = None, bind: bool = True):
        self.root = root
        self.order = list(postorder(root))
        self.out: dict[int, tuple[str, int]] = {}
        self.bound = self._name_bindings(names or {}, bind)

    def display_name(self, name: str) -> str:
        """How a name is written (LaTeX: ``W_{1}`` for ``W1``)."""
        return name

    def _name_bindings(self, names: dict, bind: bool) -> dict:
        """id(node) -> the displayed name of each chosen binding: the user's name for the
        node where it has one that nothing else uses, else t1, t2, ..."""
        order = self.order
        chosen = choose_bindings(self.root, order) if bind else []
        taken = {n.name for n in order if n.op == "var"}
        taken |= {s.name for n in order for d in n.shape for s in getattr(d, "free_symbols", ())}
        taken |= {s.name for n in order for s in data_dims(n)}
        shown = {self.display_name(t) for t in taken}
        bound: dict[int, str] = {}
        counter = 0
        for node in chosen:
            name = names.get(node)
            if name is None or name in taken or self.display_name(name) in shown:
                while True:
                    counter += 1
                    name = f"t{counter}"
                    if name not in taken and self.display_name(name) not in shown:
                        break
            taken.add(name)
            shown.add(self.display_name(name))
            bound[id(node)] = self.display_name(name)
        return bound

    def get(self, e: Expr) -> tuple[str, int]:
        return self.out[id(e)]

    def run(self) -> tuple[list, str]:
        """([(name, output)] for the bindings, in order; the body's output)."""
        lines = []
        for node in self.order:
            item = self.dispatch(node)
            if id(node) in self.bound:
                lines.append((self.bound[id(node)], item[0]))
                item = (self.bound[id(node)], ATOM)
            self.out[id(node)] = item
        return lines, self.out[id(self.root)][0]
