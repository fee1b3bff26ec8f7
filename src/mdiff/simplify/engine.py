"""The rewriter: applies the identity catalogue (``identities.py``) to a fixed point.

``simplify`` rewrites bottom-up: children first, then the rules of the node's op until
none applies.  A rewritten node is simplified again (its new children too), with a
global step budget so that no input can make it loop, and a node that comes back to
itself is a ``LimitError`` naming the identities that undo each other.  Three modes:
the printing catalogue, an expanded normal form, a factored one."""

from __future__ import annotations

from ..core import expr as E
from ..core.expr import Expr, postorder, rebuild
from ..errors import LimitError
from .identities import EXPAND_RULES_BY_OP, FACTOR_RULES_BY_OP, RULES_BY_OP

MAX_REWRITES = 20000


class Simplifier:
    """Applies the catalogue to a fixed point; records which identities fired.
    ``mode``: "print" (default), "expand" (sums of products, for the solver) or
    "factor" (common factors pulled out, for printed solutions)."""

    def __init__(self, budget: int = MAX_REWRITES, mode: str = "print", rules=None):
        self.memo: dict = {}
        self.budget = budget
        self.applied: list[str] = []
        self.rules = rules if rules is not None else {
            "print": RULES_BY_OP, "expand": EXPAND_RULES_BY_OP, "factor": FACTOR_RULES_BY_OP}[mode]
        self.active: dict = {}        # node being rewritten -> len(trail) when it began
        self.trail: list[str] = []    # the identities applied, in order

    def __call__(self, root: Expr) -> Expr:
        for node in postorder(root, done=self.memo.__contains__):
            new = rebuild(node, tuple(self.memo[a] for a in node.args)) if node.args else node
            out = self._fixpoint(new)
            self.memo[node] = out
            self.memo.setdefault(out, out)
        return self.memo[root]

    def _fixpoint(self, e: Expr) -> Expr:
        if e in self.memo:
            return self.memo[e]
        mine = []
        try:
            while self.budget > 0:
                self._enter(e, mine)
                for ident in self.rules.get(e.op, ()):
                    out = ident.rule(e)
                    if out is not None and out is not e:
                        self.budget -= 1
                        self.trail.append(ident.name)
                        if ident.name not in self.applied and ident.name != "canonical term order":
                            self.applied.append(ident.name)
                        e = self(out) if out.args else out
                        break
                else:
                    return e
            return e
        finally:
            for node in mine:
                self.active.pop(node, None)

    def _enter(self, e: Expr, mine: list) -> None:
        """Note that ``e`` is being rewritten; meeting it again while it still is means
        the identities applied since then undo each other."""
        if e in self.active:
            rules = list(dict.fromkeys(self.trail[self.active[e]:]))
            raise LimitError(f"the identity catalogue loops on {str(e)[:200]}: "
                             f"{' -> '.join(rules)} rewrite it back to itself")
        self.active[e] = len(self.trail)
        mine.append(e)


MAX_PASSES = 6


def simplify_fully(root: Expr, mode: str = "print") -> tuple:
    """(result, identities applied): fresh passes until one changes nothing, so the
    result is a fixed point of the whole catalogue (simplify is idempotent)."""
    applied: list = []
    with E.bounded_work():
        for _ in range(MAX_PASSES):
            simp = Simplifier(mode=mode)
            out = simp(root)
            applied += [a for a in simp.applied if a not in applied]
            if out is root:
                break
            root = out
    return root, tuple(applied)


def simplify(root: Expr) -> Expr:
    """The expression rewritten with the identity catalogue until nothing applies."""
    return simplify_fully(root)[0]
