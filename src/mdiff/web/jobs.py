"""One API request as a CLI command: a JSON body checked field by field, turned into the
command line's options (``cli.options``) and answered by ``cli.respond`` — so the answer
is the record ``mdiff ... --json`` prints, and the same rules refuse the same mistakes.

Runs inside a worker process; needs no web library.  Nothing of the request is executed:
its texts are read by mdiff's parser, as the CLI reads its arguments.
"""

from __future__ import annotations

import json
import math

from ..errors import LimitError, MdiffError
from .server import record

#: The fields each endpoint reads, with their types; any other field is a 400 naming it.
#: They are the CLI's options of the same name (``order`` is ``--order``/``--hessian``).
FIELDS = {
    "diff": {"expr": str, "wrt": list, "declare": list, "order": int, "mixed": bool,
             "vech": bool, "layout": str, "steps": bool, "check": bool, "against": str,
             "seed": int},
    "solve": {"expr": str, "wrt": list, "declare": list, "check": bool, "classify": bool,
              "code": bool, "steps": bool, "seed": int},
}


class BadRequest(MdiffError):
    """The request body is not a valid request (400): not JSON, a wrong field or type."""


_KINDS = {str: "a string", int: "an integer", bool: "true or false"}


def _field(body: dict, key: str, kind: type):
    value = body[key]
    if kind is list:
        if isinstance(value, str):          # "wrt": "W1 W2" is read as the CLI's words
            value = value.replace(",", " ").split() if key == "wrt" else [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise BadRequest(f"{key!r} must be a list of strings")
        return [v.strip() for v in value if v.strip()]
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        raise BadRequest(f"{key!r} must be {_KINDS[kind]}")
    return value


def request_options(endpoint: str, body) -> tuple:
    """(verb, expression, names, options) for ``cli.respond`` from a request body."""
    from ..cli import options
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    fields = FIELDS[endpoint]
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise BadRequest(f"unknown field(s) {', '.join(map(repr, unknown))}; this endpoint "
                         f"reads {', '.join(fields)}")
    if not isinstance(body.get("expr"), str) or not body["expr"].strip():
        raise BadRequest("'expr' (the expression, a string) is required")
    given = {k: _field(body, k, fields[k]) for k in body if body[k] is not None}
    text, names = given.pop("expr"), given.pop("wrt", [])
    if endpoint == "solve" and not names:
        raise BadRequest("'wrt' (the variables to solve for) is required")
    if given.get("layout") not in (None, "denominator", "numerator"):
        raise BadRequest("'layout' must be \"denominator\" or \"numerator\"")
    if given.get("seed", 0) < 0:
        raise BadRequest("'seed' must be a non-negative integer")
    order = given.pop("order", 1)
    if order == 2 and not given.get("mixed"):
        given["hessian"] = True
    elif order != 1:
        given["order"] = order
    for flag in [k for k, v in given.items() if v is False]:
        del given[flag]             # a false switch is an option not given
    opts = options(json=True, **given)
    return ("solve" if endpoint == "solve" else None), text, (names or None), opts


def parse_body(raw) -> object:
    """The JSON of a request body as received (bytes, UTF-8); ``BadRequest`` when it is
    not UTF-8, not JSON, or nested too deeply for the parser."""
    if not isinstance(raw, (bytes, bytearray)):
        return raw                  # already parsed (the tests, ``warm_up``)
    try:
        return json.loads(bytes(raw).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("the body is not JSON this server reads: nested too deeply") from None


def run(job: tuple) -> tuple[int, dict]:
    """(HTTP status, JSON body) for ``(endpoint, body)``, the body as received (bytes) or
    parsed: 200 with the CLI's record (a failed check or comparison too: the record says
    so), 400 with the CLI's error record plus ``text`` (the text its line and column point
    into) and ``field`` (which input that text is: ``expr``, ``against``, ``declare``;
    null when none)."""
    from ..cli import respond
    endpoint, body = job
    try:
        body = parse_body(body)
        verb, text, names, opts = request_options(endpoint, body)
        _, payload = respond(verb, text, names, opts, out=None, quiet=True)
        return 200, _json_safe(payload)
    except MdiffError as exc:
        return 400, error_record(exc, body)
    except RecursionError:
        return 400, error_record(LimitError("expression too deep"), body)
    except MemoryError:
        return 400, error_record(LimitError("out of memory"), body)
    except Exception as exc:      # a bug of mdiff's: say so, and keep the worker
        return 500, record("InternalError", f"{type(exc).__name__}: {exc}")


def _json_safe(obj):
    """JSON has no infinity or NaN (``json.dumps`` writes ``Infinity``, which browsers
    refuse): such floats become the strings "Infinity", "-Infinity", "NaN"."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return "NaN" if obj != obj else ("Infinity" if obj > 0 else "-Infinity")
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def error_record(exc: MdiffError, body) -> dict:
    """The CLI's error record, with the text the caret belongs under and its field."""
    rec = exc.to_dict()
    text = exc.text if exc.span is not None else None
    field = None
    if text is not None and isinstance(body, dict):
        decls = body.get("declare") or []
        decls = [decls] if isinstance(decls, str) else decls
        if text == body.get("expr"):
            field = "expr"
        elif text == body.get("against"):
            field = "against"
        elif any(isinstance(d, str) and text.replace(" ", "") == d.replace(" ", "")
                 for d in decls):
            field = "declare"
    return {**rec, "text": text, "field": field}


def warm_up() -> None:
    """Import what a request needs (the engine, NumPy, the printers) before the worker
    says it is ready, so the first request does not pay for it."""
    run(("diff", {"expr": "x'*A*x", "wrt": ["x"], "steps": True, "check": True}))
