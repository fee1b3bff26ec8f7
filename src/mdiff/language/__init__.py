"""The input language: text -> typed expression DAG, in four steps, each owning its
errors: reading (``reading``: Lark grammar, carets), declarations (``declarations``),
shape inference (``inference``) and building the DAG (``building``)."""

from .building import Parsed, parse
from .declarations import parse_declaration

__all__ = ["Parsed", "parse", "parse_declaration"]
