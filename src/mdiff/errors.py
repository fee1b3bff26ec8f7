"""The one error hierarchy of mdiff.

Every problem a user can cause ends in an ``MdiffError`` subclass.  Errors that
concern the source text carry a ``Span`` and render the offending line with a caret
under it, so the CLI can print ``str(error)`` and exit 2.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """A position in the source text (1-based line and column, 0-based offsets)."""

    line: int
    column: int
    start: int = 0
    end: int = 0


class MdiffError(Exception):
    """Root of every error mdiff raises on purpose."""

    kind = "error"

    def __init__(self, message: str, span: Span | None = None, text: str | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.text = text

    def with_text(self, text: str) -> "MdiffError":
        """Attach the source text (for the caret) if none is attached yet."""
        if self.text is None:
            self.text = text
        return self

    @property
    def line(self) -> int | None:
        return self.span.line if self.span else None

    @property
    def column(self) -> int | None:
        return self.span.column if self.span else None

    def caret(self) -> str:
        """The source line with a caret under the error's column ('' if unknown)."""
        if self.span is None or self.text is None:
            return ""
        lines = self.text.split("\n")
        if not 1 <= self.span.line <= len(lines):
            return ""
        src = lines[self.span.line - 1]
        col = max(1, self.span.column)
        # Long lines are windowed around the column so the caret stays readable.
        lo = max(0, col - 60)
        shown = src[lo: lo + 120]
        prefix = "..." if lo else ""
        suffix = "..." if lo + 120 < len(src) else ""
        shown = "".join(ch if ch.isprintable() else "?" for ch in shown)
        pad = " " * (len(prefix) + col - 1 - lo)
        return f"    {prefix}{shown}{suffix}\n    {pad}^"

    def to_dict(self) -> dict:
        return {"error": type(self).__name__, "message": self.message,
                "line": self.line, "column": self.column}

    def __str__(self) -> str:
        head = f"{type(self).__name__}: {self.message}"
        if self.span is None:
            return head
        where = f"  at line {self.span.line}, col {self.span.column}"
        caret = self.caret()
        return f"{head}\n{where}" + (f"\n{caret}" if caret else "")


class ParseError(MdiffError):
    """The text is not in the input language."""


class ShapeError(MdiffError):
    """Shapes do not fit (with both shapes and the operator's position)."""


class UnknownFunction(MdiffError):
    """A call names no function of the language."""


class DeclarationError(MdiffError):
    """A name is unknown, declared twice, or used in a way its declaration forbids."""


class DomainError(MdiffError):
    """An operation is outside its domain (e.g. ``logdet`` of a non-square matrix)."""


class LimitError(MdiffError):
    """An explicit resource limit (input length, nesting, output size) was reached."""


class DiffError(MdiffError):
    """A derivative was asked for that mdiff cannot take (no rule, bad variable)."""


class EvaluationError(MdiffError):
    """Numeric evaluation got missing or ill-shaped values."""


class CheckFailed(MdiffError):
    """A numeric check or comparison did not hold (CLI exit status 1)."""


class NoDomainPoint(DomainError):
    """A numeric check found no point where the expression is finite (CLI exit 2, not a
    failed check: nothing was compared)."""
