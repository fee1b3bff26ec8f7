"""Hostile input (DESIGN §5): whatever the text, mdiff ends in a correct result or an
``MdiffError`` that points at the text, within a bounded time; the CLI exits 0 or 2 and
never prints a traceback.

* fuzzing: random unicode text, random bytes (decoded with ``surrogateescape`` and
  ``latin-1``), soups of language tokens, and grammar-aware mutations (delete, insert,
  swap, duplicate, replace) of valid programs drawn from ``strategies.programs``;
* pathological cases: 10,000 nested parentheses, 100,000-character valid inputs (a long
  sum, long products), 20,000 chained transposes, huge exponents and numbers, names
  that are Python keywords, builtins or mdiff's own function names, 2,000-deep
  let-binding chains, unicode and control characters, huge dimensions;
* differentiation of the valid pathological inputs.

Every case runs under ``time_limit`` (SIGALRM) and is timed with ``time.perf_counter``:
``LIMIT`` seconds for ordinary cases, ``LONG_LIMIT`` for the 100,000-character ones
(their test ids contain ``long``; ``-k long`` selects them, ``-k "not long"`` skips
them).
"""

from __future__ import annotations

import contextlib
import faulthandler
import io
import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mdiff
from mdiff import cli
from strategies import programs, use_profile

PROFILE = use_profile()     # "ci" unless --hypothesis-profile or MDIFF_HYPOTHESIS_PROFILE

#: Seconds an ordinary hostile case may take (parse, or parse + differentiate).
LIMIT = 5.0
#: Seconds for the 100,000-character inputs (parsing them alone takes 1-3 s here).
LONG_LIMIT = 15.0
#: Seconds a derivative of a valid pathological input may take before it counts as a hang.
#: This bounds, it does not benchmark: the slowest case (a 2000-deep tanh chain, stopped
#: by the work limit) takes ~1.7 s on an idle 2-core machine, so a loaded CI runner
#: must not fail it; a real hang runs for minutes.
DIFF_LIMIT = 10.0
#: Seconds for one fuzz example.
FUZZ_LIMIT = 3.0

fuzz_settings = settings(max_examples=settings.default.max_examples, deadline=None,
                         suppress_health_check=[HealthCheck.too_slow,
                                                HealthCheck.data_too_large])


# --- running with a time limit ------------------------------------------------------------


class Hang(BaseException):
    """Raised by the alarm: the case ran past its time limit."""


@contextlib.contextmanager
def time_limit(seconds: float):
    def on_alarm(signum, frame):
        raise Hang(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def bounded(fn, limit: float = LIMIT):
    """``fn()``'s value or the ``MdiffError`` it raised, within ``limit`` seconds.  Any
    other exception (RecursionError, MemoryError, ...) or a hang fails the test."""
    start = time.perf_counter()
    try:
        with time_limit(limit):
            try:
                value = fn()
            except mdiff.MdiffError as exc:
                value = exc
    except Hang as exc:
        raise AssertionError(f"hang: {exc}") from None
    except Exception as exc:   # noqa: BLE001 - that is the point of the test
        raise AssertionError(f"not an MdiffError: {type(exc).__name__}: {exc}") from exc
    elapsed = time.perf_counter() - start
    assert elapsed < limit, f"took {elapsed:.2f} s (limit {limit} s)"
    return value


def assert_points_at_text(err: mdiff.MdiffError, text: str) -> None:
    """An error about the text says where (line, column) and draws a caret."""
    assert isinstance(err, mdiff.MdiffError)
    assert err.line is not None and err.column is not None, f"no position: {err}"
    lines = text.split("\n")
    assert 1 <= err.line <= len(lines) + 1, (err.line, len(lines))
    assert err.column >= 1
    shown = str(err)
    assert f"line {err.line}, col {err.column}" in shown
    if text.strip():
        assert "^" in shown.splitlines()[-1], f"no caret under the text:\n{shown}"


def parse_or_error(text: str, symbols=None, limit: float = LIMIT):
    out = bounded(lambda: mdiff.parse(text, symbols), limit)
    if isinstance(out, mdiff.MdiffError):
        assert_points_at_text(out, text)
    return out


def differentiate_all(p, limit: float = DIFF_LIMIT, max_vars: int = 3) -> dict:
    """d/dv of every variable (at most ``max_vars``): Derivative or MdiffError each, its
    text printed too."""
    out = {}
    for name in list(p.variables)[:max_vars]:
        out[name] = bounded(lambda: _printed(mdiff.diff(p, wrt=name)), limit)
    return out


def _printed(r):
    str(r)
    return r


# --- in a separate process (for the known hangs) -------------------------------------------

#: Seconds a fresh Python needs to import mdiff (numpy, sympy, lark), with slack.
STARTUP = 5.0

#: Run in a child: parse stdin's text, then differentiate wrt argv[1] under an alarm of
#: argv[2] seconds; print the outcome as JSON.  (An alarm cannot stop a stall inside C
#: code, e.g. one long comparison of deep tuples: the parent's timeout kills the child.)
CHILD = r"""
import json, signal, sys, time
import mdiff
class Hang(BaseException):
    pass
def on_alarm(signum, frame):
    raise Hang()
text = sys.stdin.read()
wrt, limit = sys.argv[1], float(sys.argv[2])
out = {}
t0 = time.perf_counter()
try:
    p = mdiff.parse(text)
    out["parse_s"] = time.perf_counter() - t0
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    t1 = time.perf_counter()
    try:
        str(mdiff.diff(p, wrt=wrt))
        out["outcome"] = "result"
    finally:
        out["diff_s"] = time.perf_counter() - t1
        signal.setitimer(signal.ITIMER_REAL, 0)
except Hang:
    out["outcome"] = "hang"
except mdiff.MdiffError as exc:
    out.update(outcome="MdiffError", error=type(exc).__name__, message=exc.message)
except BaseException as exc:
    out.update(outcome="exception", error=type(exc).__name__, message=str(exc)[:300])
print(json.dumps(out))
"""


def _child_env() -> dict:
    """The child imports the same mdiff as this process."""
    env = dict(os.environ)
    src = os.path.dirname(os.path.dirname(os.path.abspath(mdiff.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([src] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def isolated_diff(text: str, wrt: str, parse_limit: float = LIMIT,
                  limit: float = DIFF_LIMIT) -> dict:
    """Differentiate in a child process that is killed if it overruns; the derivative
    must come (or an MdiffError) within ``limit`` seconds."""
    timeout = STARTUP + parse_limit + limit
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD, wrt, str(limit)], input=text,
                              capture_output=True, text=True, timeout=timeout,
                              env=_child_env())
    except subprocess.TimeoutExpired:
        raise AssertionError(f"hang: killed after {timeout:.0f} s (stalled where an "
                             "alarm cannot stop it)") from None
    lines = proc.stdout.strip().splitlines()
    assert lines, f"the child died: status {proc.returncode}, {proc.stderr[-2000:]}"
    out = json.loads(lines[-1])
    assert out["outcome"] != "hang", f"hang: still differentiating after {limit} s"
    assert out["outcome"] != "exception", \
        f"not an MdiffError: {out['error']}: {out['message']}"
    assert out.get("parse_s", 0) < parse_limit, f"parse took {out['parse_s']:.2f} s"
    assert out.get("diff_s", 0) < limit, f"diff took {out['diff_s']:.2f} s"
    return out


def isolated_cli(argv: list, limit: float = LIMIT):
    """The real command line (``python -m mdiff``) in a child: (status, stdout, stderr)."""
    timeout = STARTUP + limit
    try:
        proc = subprocess.run([sys.executable, "-m", "mdiff", *argv], capture_output=True,
                              text=True, timeout=timeout, env=_child_env(),
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"CLI hang: killed after {timeout:.0f} s") from None
    assert proc.returncode in (0, 2), (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-4000:]
    return proc.returncode, proc.stdout, proc.stderr


# --- a backstop: no test of this module may run for ever -----------------------------------

#: If one test of this module runs this long (a stall the alarms could not stop), the
#: whole run is stopped with every thread's traceback rather than hanging CI.
WATCHDOG = 300


def setup_function(function):
    faulthandler.dump_traceback_later(WATCHDOG, exit=True)


def teardown_function(function):
    faulthandler.cancel_dump_traceback_later()


# --- the command line ---------------------------------------------------------------------


def run_cli(argv, limit: float = LIMIT):
    """``cli.run(argv)`` with captured output and an empty stdin: (status, out, err)."""
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO("")
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                time_limit(limit):
            try:
                status = cli.run(list(argv))
            except SystemExit as exc:   # argparse: an option-like text, --help, ...
                status = exc.code
    except Hang as exc:
        raise AssertionError(f"CLI hang: {exc}") from None
    finally:
        sys.stdin = old_stdin
    elapsed = time.perf_counter() - start
    assert elapsed < limit, f"CLI took {elapsed:.2f} s (limit {limit} s)"
    assert status in (0, 2), f"exit status {status}: {err.getvalue()[-2000:]}"
    assert "Traceback" not in err.getvalue(), err.getvalue()[-4000:]
    assert "Traceback" not in out.getvalue()
    return status, out.getvalue(), err.getvalue()


def argv_for(text: str, *rest: str) -> list:
    """The CLI's words for an expression; one that starts with '-' comes after '--' (or
    argparse would read it as an option: that gives status 2, tested separately)."""
    return (["--"] if text.startswith("-") else []) + [text, *rest]


def cli_agrees(text: str, outcome, wrt: str | None = None, limit: float = LIMIT) -> None:
    """The CLI's exit status matches the API's outcome for the same command — a parse,
    or with ``wrt`` a derivative: 0 for a result, 2 for an MdiffError."""
    status, out, err = run_cli(argv_for(text, *(["wrt", wrt] if wrt else [])), limit)
    if text in ("solve", "minimize", "maximize", "wrt", "-"):
        return                      # a subcommand or stdin: 0 or 2 is enough
    if isinstance(outcome, mdiff.MdiffError):
        assert status == 2, (status, out)
        assert type(outcome).__name__ in err or "Error" in err, err
    else:
        assert status == 0, err


# --- fuzzing ------------------------------------------------------------------------------


def fuzz_one(text: str) -> list:
    """Parse ``text`` (and differentiate what parses) through the API and the CLI, each
    bounded in time; the outcomes, each a result or an MdiffError."""
    p = parse_or_error(text, limit=FUZZ_LIMIT)
    cli_agrees(text, p, limit=FUZZ_LIMIT)
    outcomes = [p]
    if isinstance(p, mdiff.Parsed):
        results = differentiate_all(p, limit=FUZZ_LIMIT, max_vars=2)
        outcomes += results.values()
        for name, r in list(results.items())[:1]:
            cli_agrees(text, r, wrt=name, limit=FUZZ_LIMIT)
    return outcomes


def assert_answered(outcomes: list) -> None:
    """Every outcome is a parse, a derivative or an MdiffError (nothing else escaped)."""
    kinds = (mdiff.Parsed, mdiff.Derivative, mdiff.MdiffError)
    assert outcomes and all(isinstance(o, kinds) for o in outcomes), outcomes


@fuzz_settings
@given(st.text())
def test_fuzz_random_text(text):
    assert_answered(fuzz_one(text))


@fuzz_settings
@given(st.binary(), st.sampled_from(["surrogateescape", "latin-1"]))
def test_fuzz_random_bytes(data, how):
    text = data.decode("utf-8", "surrogateescape") if how == "surrogateescape" \
        else data.decode("latin-1")
    assert_answered(fuzz_one(text))


TOKENS = list("xyzcnABXS()+-*/.^'ᵀ⊗⊙;:,=\n\t 0123456789e#") + [
    "eye", "eye(", "kron(", "tr(", "sum(", "inv(", "vector(", "matrix(", "diag(", "vec(",
    "softmax(", "logdet(", "det(", "norm1(", "norm2(", "logsumexp(", "exp(", "log(",
    "sqrt(", "abs(", "sign(", "relu(", "sigmoid(", "softplus(", "tanh(", "arcsin(",
    ": matrix(n,n)", ": vector(n)", ": scalar", " spd", " symmetric", " positive",
    " diagonal", ".*", "./", ".^", "1e400", "1e-3", "0.5", "h = ", "wrt", "lambda",
    "__import__", "μ", "Σ", "\x00", "\u202e", "\ufeff", "😀"]


@fuzz_settings
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map("".join))
def test_fuzz_token_soup(text):
    assert_answered(fuzz_one(text))


#: Valid programs to mutate besides the generated ones (README and DESIGN examples).
CORPUS = [
    "tr(A*X'*B*X)",
    "x'*A*x",
    "A: matrix(n,n) symmetric; x'*A*x",
    "y1 = tanh(W1*x + b1); y2 = tanh(W2*y1 + b2); 1/2*norm2(y2 - y)^2",
    "D: matrix(p,N); S: matrix(p,p) spd; -N/2*logdet(S) - 1/2*tr(inv(S)*D*D')",
    "sum(log(1 + exp(-y .* (X*w))))",
    "A ⊗ B*C",
    "a^b^c",
    "x.^-1 + 2^-a",
    "softmax(W*x + b)",
    "μ: vector(n); Σ: matrix(n,n) spd; (x - μ)ᵀ*inv(Σ)*(x - μ)",
    "h = tanh(W1*x + b1)\n# a comment\n0.5*norm2(W2*h - y)^2",
]

EDIT_CHARS = st.sampled_from(list("()+-*/.^'ᵀ⊗⊙;:,=\n 0123456789xXe") + ["\x00", "é", "😀"])


@st.composite
def mutated(draw):
    """A valid program with 1-4 random edits."""
    if draw(st.booleans()):
        text = draw(st.sampled_from(CORPUS))
    else:
        prog = draw(programs(draw(st.sampled_from(["scalar", "vector", "matrix"])),
                             max_depth=3, max_lets=1))
        text = prog.text if prog.symbols is None else "; ".join(
            [f"{n}: {s}" for n, s in prog.symbols.items()] + [prog.text])
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        how = draw(st.sampled_from(["delete", "insert", "swap", "duplicate", "replace"]))
        if how == "delete" and text:
            j = draw(st.integers(i, min(len(text), i + 3)))
            text = text[:i] + text[j:]
        elif how == "insert":
            text = text[:i] + draw(EDIT_CHARS) + text[i:]
        elif how == "swap" and i + 1 < len(text):
            text = text[:i] + text[i + 1] + text[i] + text[i + 2:]
        elif how == "duplicate":
            j = draw(st.integers(i, min(len(text), i + 12)))
            text = text[:j] + text[i:j] + text[j:]
        elif how == "replace" and i < len(text):
            text = text[:i] + draw(EDIT_CHARS) + text[i + 1:]
    return text


@fuzz_settings
@given(mutated())
def test_fuzz_mutations_of_valid_programs(text):
    assert_answered(fuzz_one(text))


@fuzz_settings
@given(st.dictionaries(st.text(max_size=8), st.one_of(st.text(max_size=20), st.integers(),
                                                      st.none()), max_size=3),
       st.sampled_from(["x", "x'*A*x", "tr(X)", "c*x"]))
def test_fuzz_symbols_argument(symbols, text):
    """Hostile ``symbols=`` dictionaries (names and declarations from anywhere)."""
    assert_answered([bounded(lambda: mdiff.parse(text, symbols), FUZZ_LIMIT)])


# --- pathological inputs ------------------------------------------------------------------


@dataclass
class Case:
    id: str
    text: str
    expect: type | str = "ok"            # "ok" or the MdiffError subclass expected
    check: object = None                 # Parsed -> None (asserts), for "ok"
    wrt: tuple = ()                      # variables to differentiate (checked numerically)
    diff_only: tuple = ()                # variables to differentiate (values overflow)
    long: bool = False                   # a 100,000-character input
    symbols: dict | None = None
    cli: bool = True
    extra: dict = field(default_factory=dict)

    def param(self):
        return pytest.param(self, id=("long-" if self.long else "") + self.id)


def value_of(p, **values):
    return mdiff.function(p)(**values)


def let_chain(k: int, step: str, end: str = "sum(h{last})", head: str = "x: vector(n)") -> str:
    lines = [head, "h0 = x"] + [step.format(i=i, j=i - 1) for i in range(1, k)]
    return "\n".join(lines + [end.format(last=k - 1)])


SUM_TERMS = 25_000                      # "x + x + ... + x": 99,997 characters
PRODUCT_FACTORS = 50_000                # "X*X*...*X": 99,999 characters
V = np.array([0.5, -1.25, 2.0])


def _check_sum(p):
    assert np.allclose(value_of(p, x=V), SUM_TERMS * V)


def _check_transpose(expected):
    def check(p):
        assert str(p) == expected
    return check


CASES = [
    # nesting
    Case("parens-10000", "(" * 10_000 + "x" + ")" * 10_000, mdiff.LimitError),
    Case("parens-10000-unclosed", "(" * 10_000 + "x", mdiff.LimitError),
    Case("parens-10000-closing", "x" + ")" * 10_000, mdiff.ParseError),
    Case("parens-999", "(" * 999 + "x" + ")" * 999, check=_check_transpose("x"), wrt=("x",)),
    Case("negations-999", "-(" * 999 + "x" + ")" * 999, wrt=("x",)),
    Case("nested-subtractions-900", "".join(f"x{i} - (" for i in range(900)) + "y" + ")" * 900,
         wrt=("x0", "y")),
    Case("transposes-in-parens-900", "(" * 900 + "X" + ")'" * 900,
         check=_check_transpose("X"), wrt=("X",)),
    Case("vec-900", "vec(" * 900 + "X" + ")" * 900, wrt=("X",)),
    Case("diag-900", "diag(" * 900 + "X" + ")" * 900, wrt=("X",)),
    Case("inv-400", "inv(" * 400 + "X" + ")" * 400, wrt=("X",)),
    Case("softmax-300", "softmax(" * 300 + "x" + ")" * 300, wrt=("x",)),
    Case("power-tower-5000", "^".join(["c"] * 5000), mdiff.LimitError),
    # long inputs
    Case("sum-100k", " + ".join(["x"] * SUM_TERMS), check=_check_sum, wrt=("x",), long=True),
    Case("unary-minus-100k", "-" * 100_000 + "x", check=_check_transpose("x"), long=True),
    Case("unary-plus-100k", "+" * 100_000 + "x", check=_check_transpose("x"), long=True),
    Case("newlines-100k", "\n" * 100_000 + "x", check=_check_transpose("x"), long=True),
    Case("semicolons-100k", ";" * 100_000, mdiff.ParseError, long=True),
    Case("comment-100k", "#" + "x" * 100_000, mdiff.ParseError, long=True),
    Case("name-100k", "a" * 100_000, long=True),
    Case("input-1000001", "x" + " " * 1_000_000, mdiff.LimitError, long=True),
    Case("variables-5000", " + ".join(f"v{i}" for i in range(5000)), wrt=("v0",), long=True),
    Case("declarations-3000", "; ".join(f"v{i}: vector(n)" for i in range(3000)) + "; "
         + " + ".join(f"v{i}" for i in range(3000)), wrt=("v2999",), long=True),
    Case("transposes-20000", "X" + "'" * 20_000, check=_check_transpose("X"), wrt=("X",)),
    Case("transposes-20001", "X" + "'" * 20_001, check=_check_transpose("X'"), wrt=("X",)),
    Case("transposes-ᵀ-20000", "X" + "ᵀ" * 20_000, check=_check_transpose("X"), wrt=("X",)),
    # huge numbers and exponents
    Case("x^99999999999", "x^99999999999", mdiff.LimitError),
    Case("X^257", "X^257", mdiff.LimitError),
    Case("X^256", "X^256", diff_only=("X",)),
    Case("c^99999999999", "c: scalar; c^99999999999", diff_only=("c",),
         check=lambda p: value_of(p, c=1.0) == 1.0),
    Case("x.^99999999", "x.^99999999", diff_only=("x",)),
    Case("x.^-99999999", "x.^-99999999", diff_only=("x",)),
    Case("1e999999", "1e999999", mdiff.LimitError),
    Case("1e-999999", "1e-999999", mdiff.LimitError),
    Case("x*1e999999", "x*1e999999", mdiff.LimitError),
    Case("2^2^2^2", "2^2^2^2", check=lambda p: value_of(p) == 65536.0),
    Case("2^2^2^2^2^2", "2^2^2^2^2^2", check=lambda p: value_of(p) == math.inf),
    Case("2^99999999999", "2^99999999999", check=lambda p: value_of(p) == math.inf),
    Case("digits-5000", "1" * 5000, mdiff.LimitError),
    Case("fraction-digits-5000", "0." + "1" * 5000, mdiff.LimitError),
    Case("digits-5000-times-x", "x*" + "7" * 5000, mdiff.LimitError),
    Case("arabic-indic-digits", "x: vector(n); ٣*x", wrt=("x",),
         check=lambda p: np.allclose(value_of(p, x=V), 3 * V)),
    # huge sizes
    Case("dimension-10^20", "X: matrix(99999999999999999999,3); sum(X)", mdiff.DeclarationError),
    Case("dimension-n^400", "x: vector(n^400); x", mdiff.DeclarationError),
    Case("eye-10^11", "eye(99999999999)", mdiff.LimitError),
    Case("eye-0", "eye(0)", mdiff.MdiffError),
    Case("kron-chain-30", " ⊗ ".join(["X"] * 30), diff_only=("X",)),
    Case("kron-chain-200-vectors", " ⊗ ".join(["x"] * 200)),
    # names that are keywords, builtins or mdiff's own functions
    Case("lambda", "lambda + 1", wrt=("lambda",)),
    Case("python-names", "None + True + class + def + import + self + __class__ + "
         "__builtins__ + os + sys + np + exec", wrt=("None", "__class__")),
    Case("print", "print(x)", mdiff.UnknownFunction),
    Case("__import__-string", "__import__('os')", mdiff.ParseError),
    Case("__import__", "__import__(x)", mdiff.UnknownFunction),
    Case("exec", "exec(x)", mdiff.UnknownFunction),
    Case("eval", "eval(x)", mdiff.UnknownFunction),
    Case("open", "open(x)", mdiff.UnknownFunction),
    Case("attribute", "x.__class__", mdiff.ParseError),
    Case("tr-variable", "tr: scalar; tr*2", wrt=("tr",)),
    Case("tr-undeclared", "tr*2", wrt=("tr",)),
    Case("tr(tr)", "tr(tr)", wrt=("tr",)),
    Case("sum-without-parens", "sum + 1", wrt=("sum",)),
    Case("sum-alone", "sum", wrt=("sum",)),
    Case("sin-declared", "sin: scalar; sin*2", wrt=("sin",)),
    Case("sin-bound-then-called", "sin = 2; sin(x)", mdiff.ParseError),
    Case("sin-declared-then-called", "sin: scalar; sin(2)", mdiff.ParseError),
    Case("eye-as-variable", "eye: scalar; eye*2", wrt=("eye",)),
    Case("wrt-as-name", "wrt + 1", wrt=("wrt",)),
    # let-binding chains
    Case("let-chain-2000-sum", let_chain(2000, "h{i} = h{j} + x"), wrt=("x",),
         check=lambda p: np.allclose(value_of(p, x=V), 2000 * V.sum())),
    Case("let-chain-2000-scale", let_chain(2000, "h{i} = 2*h{j}"), diff_only=("x",)),
    Case("let-chain-2000-unused", let_chain(2000, "h{i} = x", end="sum(x)"), wrt=("x",)),
    Case("let-self-reference", "x = x; x", mdiff.DeclarationError),
    Case("let-rebinding", "h = x; h = y; h", mdiff.DeclarationError),
    Case("declared-twice", "x: vector(n); x: vector(m); x", mdiff.DeclarationError),
    # unicode
    Case("greek", "μ: vector(n); Σ: matrix(n,n) spd; (x - μ)ᵀ*inv(Σ)*(x - μ)", wrt=("μ", "Σ")),
    Case("cjk", "変数: matrix(n,n); tr(変数*変数ᵀ)", wrt=("変数",)),
    Case("script-letters", "ℓ: scalar; ℌ: matrix(n,n); ℓ*tr(ℌ)", wrt=("ℓ", "ℌ")),
    Case("superscript-in-name", "x²: scalar; x²^2", wrt=("x²",)),
    Case("ligature-is-its-own-name", "ﬁ: scalar; fi: scalar; ﬁ*fi",
         check=lambda p: set(p.variables) == {"ﬁ", "fi"}, wrt=("ﬁ",)),
    Case("combining-accent", "x\u0301 + 1", mdiff.ParseError),
    Case("emoji", "😀 + 1", mdiff.ParseError),
    Case("right-to-left-override", "x + \u202ey", mdiff.ParseError),
    Case("nul", "x\x00", mdiff.ParseError),
    Case("byte-order-mark", "\ufeffx + y", mdiff.ParseError),
    Case("line-separator", "x\u2028+ y", mdiff.ParseError),
    Case("no-break-space", "x\u00a0+ y", mdiff.ParseError),
    Case("vertical-tab", "x\x0b+ y", mdiff.ParseError),
    Case("lone-surrogate", "x\udcff", mdiff.ParseError),
    Case("carriage-returns", "x\r+\ry", wrt=("x",)),
    Case("error-on-line-51", "\n" * 50 + "x +", mdiff.ParseError,
         check=lambda e: e.line == 51),
    # empty
    Case("empty", "", mdiff.ParseError),
    Case("whitespace", "  \n\t ", mdiff.ParseError),
    Case("declaration-only", "x: vector(n)", mdiff.ParseError),
]


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_pathological_input(case):
    limit = LONG_LIMIT if case.long else LIMIT
    p = parse_or_error(case.text, case.symbols, limit)
    if case.expect == "ok":
        assert isinstance(p, mdiff.Parsed), f"expected a result, got {p}"
        if case.check:
            case.check(p)
        for name in case.wrt:
            r = bounded(lambda: mdiff.diff(p, wrt=name), limit)
            assert isinstance(r, mdiff.Derivative), f"d/d{name}: {r}"
            str(r)
            rep = bounded(lambda: r.check(seed=1), limit)
            assert not isinstance(rep, mdiff.MdiffError), rep
            assert rep.ok, f"d/d{name} = {str(r)[:300]}: {rep}"
        for name in case.diff_only:
            r = bounded(lambda: _printed(mdiff.diff(p, wrt=name)), limit)
            assert isinstance(r, mdiff.Derivative), f"d/d{name}: {r}"
    else:
        assert isinstance(p, case.expect), f"expected {case.expect.__name__}, got {p!r}"
        if case.check:
            case.check(p)
    if case.cli:
        names = case.wrt + case.diff_only
        if case.expect == "ok" and names:
            status, out, err = run_cli(argv_for(case.text, "wrt", names[0]), limit=limit)
            assert status == 0, err
        if not (case.long and names):   # (a long text's parse is covered by the wrt run)
            cli_agrees(case.text, p, limit=limit)


# --- the long products: value, and derivative (a known hang) ------------------------------

MATRIX_PRODUCT = "*".join(["X"] * PRODUCT_FACTORS)                  # 99,999 characters
SCALAR_PRODUCT = "c: scalar; " + "*".join(["c"] * 44_000)            # 88,010 characters
HADAMARD_PRODUCT = "x: vector(n); " + " .* ".join(["x"] * 21_427)    # 99,998 characters


@pytest.fixture(scope="module")
def long_matrix_product():
    return parse_or_error(MATRIX_PRODUCT, limit=LONG_LIMIT)


@pytest.fixture(scope="module")
def long_scalar_product():
    return parse_or_error(SCALAR_PRODUCT, limit=LONG_LIMIT)


def test_long_matrix_product_parses_and_evaluates(long_matrix_product):
    """long: 99,999 characters."""
    p = long_matrix_product
    assert isinstance(p, mdiff.Parsed)
    eye = np.eye(2)
    assert np.allclose(bounded(lambda: value_of(p, X=eye), LONG_LIMIT), eye)
    q = np.array([[0.0, -1.0], [1.0, 0.0]])      # a rotation by 90°: q^4 = I
    assert np.allclose(bounded(lambda: value_of(p, X=q), LONG_LIMIT), eye)  # 50,000 = 4*12,500
    cli_agrees(MATRIX_PRODUCT, p, limit=LONG_LIMIT)


def test_long_scalar_product_parses_and_evaluates(long_scalar_product):
    """long: 88,010 characters."""
    p = long_scalar_product
    assert isinstance(p, mdiff.Parsed)
    assert bounded(lambda: value_of(p, c=-1.0), LONG_LIMIT) == 1.0     # 44,000 factors
    cli_agrees(SCALAR_PRODUCT, p, limit=LONG_LIMIT)


# Derivatives of pathological valid inputs: each ends in a result or a LimitError (the work
# limit, expr.MAX_NEW_NODES) within the time limit.  Each runs in a child process (see
# isolated_diff), so that a hang or a crash cannot take the test run with it.
PATHOLOGICAL_DIFFS = [
    pytest.param(MATRIX_PRODUCT, "X", LONG_LIMIT, id="long-matrix-product"),     # LimitError
    pytest.param(SCALAR_PRODUCT, "c", LONG_LIMIT, id="long-scalar-product"),     # 44000*c^43999
    pytest.param(HADAMARD_PRODUCT, "x", LONG_LIMIT, id="long-hadamard-product"),  # LimitError
    pytest.param("x: vector(n); " + "sin(" * 999 + "x" + ")" * 999, "x", LIMIT,
                 id="sin-nested-999"),
    pytest.param("c: scalar; " + "^".join(["c"] * 500), "c", LIMIT, id="power-tower-500"),
    pytest.param(let_chain(2000, "h{i} = tanh(h{j})"), "x", LIMIT, id="let-chain-2000-tanh"),
    pytest.param(let_chain(100, "h{i} = sin(h{j})"), "x", LIMIT, id="let-chain-100-sin"),
    pytest.param(let_chain(400, "h{i} = tanh(W*h{j})", head="W: matrix(n,n); x: vector(n)"),
                 "W", LIMIT, id="mlp-let-chain-400"),
]

#: Deep or long valid inputs whose derivatives come fast (the same runner, as a control).
DIFF_CONTROLS = [
    pytest.param(let_chain(2000, "h{i} = h{j} + x"), "x", LIMIT, id="let-chain-2000-sum"),
    pytest.param(let_chain(2000, "h{i} = 2*h{j} - x"), "x", LIMIT, id="let-chain-2000-affine"),
    pytest.param(let_chain(25, "h{i} = tanh(h{j})"), "x", LIMIT, id="let-chain-25-tanh"),
    pytest.param(let_chain(100, "h{i} = tanh(W*h{j})", head="W: matrix(n,n); x: vector(n)"),
                 "W", LIMIT, id="mlp-let-chain-100"),
    pytest.param(" + ".join(["x"] * SUM_TERMS), "x", LONG_LIMIT, id="long-sum-100k"),
]


@pytest.mark.parametrize("text, wrt, parse_limit", PATHOLOGICAL_DIFFS + DIFF_CONTROLS)
def test_derivative_of_valid_pathological_input(text, wrt, parse_limit):
    out = isolated_diff(text, wrt, parse_limit=parse_limit)
    assert out["outcome"] in ("result", "MdiffError"), out


def test_deep_let_chains_differentiate_right():
    """The linear chains (and a short tanh one) give the right derivative."""
    for step, k in [("h{i} = h{j} + x", 2000), ("h{i} = h{j} - x/2", 2000),
                    ("h{i} = tanh(h{j})", 25)]:
        p = parse_or_error(let_chain(k, step))
        assert isinstance(p, mdiff.Parsed)
        r = bounded(lambda: mdiff.diff(p, wrt="x"), DIFF_LIMIT)
        assert isinstance(r, mdiff.Derivative), r
        assert bounded(lambda: r.check(seed=2)).ok


@pytest.mark.parametrize("argv", [
    pytest.param(["c: scalar; " + "^".join(["c"] * 500), "wrt", "c"], id="power-tower-500"),
    pytest.param(["(" * 10_000 + "x" + ")" * 10_000], id="parens-10000"),
    pytest.param(["x: vector(n); " + "sin(" * 999 + "x" + ")" * 999, "wrt", "x"],
                 id="sin-nested-999"),
])
def test_real_cli_on_deep_inputs_answers_without_a_traceback(argv):
    """``python -m mdiff`` in a child process: status 0 or 2, no traceback, in time."""
    status, out, err = isolated_cli(argv)
    assert status in (0, 2)


# --- evaluation with hostile sizes ----------------------------------------------------------


def test_check_with_a_huge_declared_dimension():
    r = mdiff.diff("X: matrix(1000000,1000000); sum(X)", wrt="X")
    out = bounded(lambda: r.check(seed=0))
    assert isinstance(out, mdiff.MdiffError)


def test_cli_expression_that_looks_like_an_option():
    """An expression or a formula starting with '-' is text, with or without '--'; an
    unknown '--option' is a usage error (status 2), never a traceback."""
    for argv in (["-x'*A*x"], ["--", "-x'*A*x"], ["-h'*h"]):
        status, out, err = run_cli(argv)
        assert status == 0 and out.startswith("-"), (argv, out, err)
    assert cli.run(["x'*x", "wrt", "x", "--against", "-2*x"]) == 1
    status, out, err = run_cli(["x'*x", "--bogus"])
    assert status == 2 and "usage" in err and "Traceback" not in err


def test_evaluation_size_limits():
    out = bounded(lambda: mdiff.function("sum(eye(999999))")())
    assert isinstance(out, mdiff.EvaluationError)
    out = bounded(lambda: mdiff.function("x: vector(n); sum(vector(1))")(n=10**9))
    assert isinstance(out, mdiff.EvaluationError)
    status, out, err = run_cli(["X: matrix(1000000,1000000); sum(X)", "wrt", "X"])
    assert status == 0


def test_hostile_python_arguments():
    """Non-text arguments to the API end in MdiffErrors too (no position: not text)."""
    for call in [lambda: mdiff.parse(None), lambda: mdiff.parse(b"x"),
                 lambda: mdiff.parse("x", symbols={"x": 3}),
                 lambda: mdiff.parse("x", symbols={3: "scalar"}),
                 lambda: mdiff.parse("x", symbols={"x y": "scalar"}),
                 lambda: mdiff.parse("x", symbols={'__import__("os")': "scalar"}),
                 lambda: mdiff.diff("x", wrt=None), lambda: mdiff.diff("x", wrt=3),
                 lambda: mdiff.diff("x", wrt=["x", 3]), lambda: mdiff.diff("x", wrt="nope"),
                 lambda: mdiff.diff("sum(x)", wrt="x", order=0),
                 lambda: mdiff.diff("sum(x)", wrt="x", order=10**9),
                 lambda: mdiff.diff("sum(x)", wrt="x", order=True),
                 lambda: mdiff.function("x: vector(n); sum(x)")(x="abc"),
                 lambda: mdiff.function("x: vector(n); sum(x)")(x=[[1, 2], [3]]),
                 lambda: mdiff.function("x: vector(n); sum(x)")(n=-1)]:
        assert isinstance(bounded(call), mdiff.MdiffError)


@pytest.mark.parametrize("text, wrt", [
    ("det(tanh((kron(u, u')/8)^3)*tanh((kron(u, u')/8)^3)' + eye(m))", ["u", "u", "u"]),
    ("log(sum(exp(x)))", ["x"] * 6),
    ("sum(tanh(A*tanh(B*tanh(C*x))))", ["x"] * 5),
    ("P: matrix(n,n) spd; inv(tanh(det(arctan(P)*arctan(P)' + eye)) + 1)", ["P"] * 3),
])
def test_high_order_derivatives_print_in_bounded_time(text, wrt):
    """Index notation of a large third-or-higher derivative expands products of sums;
    past indexed.MAX_TERMS the matrix form is printed instead (a 6,000-term case once
    took a minute)."""
    r = bounded(lambda: mdiff.diff(text, wrt=wrt), DIFF_LIMIT)
    assert isinstance(r, mdiff.Derivative), r
    text_out = bounded(lambda: str(r) + r.latex(), DIFF_LIMIT)
    assert isinstance(text_out, str) and text_out
