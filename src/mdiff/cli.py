"""Command line: ``mdiff "expr" [wrt X [Y ...]] [options]``.

Exit status: 0 success, 1 a check or comparison that failed, 2 bad input.
Errors go to stderr with a caret (or as JSON with ``--json``); never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import __version__
from .errors import DeclarationError, LimitError, MdiffError

EXAMPLES = """\
examples:
  mdiff "x'*A*x"                                 parse and type an expression
  mdiff "tr(A*X*B)" wrt X                        gradient:  A'*B'
  mdiff "x'*A*x" wrt x -d "A: matrix(n,n) symmetric"
  mdiff "A*X*B" wrt X --kron                     Jacobian as a Kronecker product
  mdiff "log(det(X))" wrt X --check --seed 3     compare with finite differences
  mdiff "tr(A*X'*B*X)" wrt X --against "B*X*A + B'*X*A'"
  mdiff "h = tanh(W1*x + b1); 1/2*norm2(W2*h - y)^2" wrt W1 W2 --json
  mdiff "sum(log(1 + exp(-y .* (X*w))))" wrt w --hessian --check
  mdiff "x'*A*y" wrt x y --mixed                 mixed second derivative
  mdiff "logdet(S)" wrt S -d "S: matrix(n,n) spd" --vech
  echo "norm2(A*x - b)^2" | mdiff - wrt x

extrema:
  mdiff solve "norm2(A*x - b)^2" wrt x           closed-form stationary point
  mdiff minimize "sum(log(1 + exp(-y .* (X*w))))" wrt w --data data.npz [--method Newton-CG]
  mdiff maximize "EXPR" wrt m L --data data.npz  (data.npz: the data arrays, and
                                                  optionally starting values)

exit status: 0 success, 1 a --check or --against that failed, 2 bad input.
"""


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="mdiff", description="Symbolic matrix calculus: derivatives of matrix expressions.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("words", nargs="*", metavar="EXPR [wrt X ...]",
                    help="the expression ('-' or nothing: read standard input), then "
                         "optionally 'wrt' and variable names")
    ap.add_argument("-d", "--declare", action="append", default=[], metavar="DECL",
                    help="declare a symbol, e.g. \"A: matrix(n,n) symmetric\" (repeatable)")
    ap.add_argument("--kron", action="store_true", default=None,
                    help="print the vec/Kronecker form d vec(F)/d vec(X)'")
    ap.add_argument("--check", action="store_true", default=None,
                    help="compare with central finite differences at a random point")
    ap.add_argument("--seed", type=int, default=None,
                    help="random seed for --check/--against (minimize: starting values)")
    ap.add_argument("--against", metavar="FORMULA",
                    help="is this hand-derived formula equal to mdiff's derivative?")
    ap.add_argument("--hessian", action="store_true", default=None,
                    help="the Hessian d vec(grad f)/d vec(X)' of a scalar f")
    ap.add_argument("--order", type=int, default=None, metavar="K",
                    help="the K-th derivative wrt one variable (for K >= 3 a tensor, "
                         "printed in index notation; --kron for its vec-Jacobian)")
    ap.add_argument("--mixed", action="store_true", default=None,
                    help="with 'wrt x y': the mixed derivative d vec(grad_x f)/d vec(y)'")
    ap.add_argument("--layout", choices=("denominator", "numerator"), default=None,
                    help="gradient layout: shape of X (default, DESIGN §3) or numerator (X')")
    ap.add_argument("--vech", action="store_true", default=None,
                    help="entry-wise convention for symmetric variables (D'*vec(G), D'*H*D)")
    ap.add_argument("--latex", action="store_true", default=None,
                    help="print the result as LaTeX")
    ap.add_argument("--steps", action="store_true", default=None,
                    help="print the derivation step by step (with --latex: as LaTeX)")
    ap.add_argument("--code", action="store_true", default=None,
                    help="print Python source (array API) that evaluates the result")
    ap.add_argument("--classify", action="store_true", default=None,
                    help="solve: minimum, maximum or saddle, by the Hessian at random data")
    ap.add_argument("--data", metavar="FILE.npz",
                    help="minimize/maximize: arrays for the data and starting points")
    ap.add_argument("--method", default=None,
                    help="minimize/maximize: a scipy.optimize method (default L-BFGS-B)")
    ap.add_argument("--json", action="store_true", default=None, help="machine-readable output")
    ap.add_argument("--version", action="version", version=f"mdiff {__version__}")
    return ap


#: The options each command reads (argparse dests); any other one given is an error
#: naming it, never silently ignored.
APPLIES = {
    "parse": {"declare", "json", "latex", "code"},
    "derivative": {"declare", "json", "latex", "code", "kron", "check", "seed", "against",
                   "hessian", "order", "mixed", "layout", "vech", "steps"},
    "solve": {"declare", "json", "latex", "check", "seed", "code", "classify", "steps"},
    "minimize": {"declare", "json", "data", "method", "seed"},
}
#: Options that cannot be combined: each pair prints or computes different things.
EXCLUSIVE = [("hessian", "order"), ("mixed", "hessian"), ("mixed", "order"),
             ("kron", "latex"), ("kron", "steps"), ("layout", "hessian"), ("layout", "order"),
             ("layout", "mixed")]


def _flag(dest: str) -> str:
    return {"declare": "-d/--declare"}.get(dest, "--" + dest)


def _given(args) -> set:
    return {k for k, v in vars(args).items() if k != "words" and v not in (None, [])}


def _validate(args, command: str) -> None:
    """Every given option applies to the command, and no two exclude each other."""
    given = _given(args)
    for dest in sorted(given - APPLIES[command]):
        where = {"parse": "without 'wrt'", "derivative": "for a derivative"}.get(
            command, f"for 'mdiff {command}'")
        raise MdiffError(f"{_flag(dest)} does not apply {where}")
    for a, b in EXCLUSIVE:
        if a in given and b in given:
            raise MdiffError(f"{_flag(a)} and {_flag(b)} cannot be combined")
    if "seed" in given and command in ("derivative", "solve") and \
            not given & {"check", "against", "classify"}:
        raise MdiffError("--seed is the seed of --check/--against/--classify: give one of them")
    if "seed" in given and args.seed < 0:
        raise MdiffError(f"--seed must be a non-negative integer, not {args.seed}")


def _split(words: list[str]) -> tuple[str | None, list[str] | None]:
    """(the expression or None for standard input, the names after 'wrt' or None when
    there is no 'wrt')."""
    if "wrt" in words:
        i = words.index("wrt")
        head, names = words[:i], words[i + 1:]
    else:
        head, names = words, None
    if len(head) > 1:
        raise MdiffError(f"expected one expression before 'wrt' (quote it), got {len(head)} words")
    text = head[0] if head else None
    return (None if text in (None, "-") else text), names


def _declarations(decls: list[str]) -> dict:
    from .language import parse_declaration
    out, seen = {}, {}
    for d in decls:
        name, sep, spec = d.partition(":")
        if not sep:
            raise MdiffError(f"a declaration looks like 'A: matrix(n,n)', got {d!r}")
        decl = parse_declaration(name.strip(), spec.strip())
        if decl.name in seen and seen[decl.name] != (decl.kind, decl.dims, decl.props):
            raise DeclarationError(f"{decl.name} is declared twice: {out[decl.name]!r} and "
                                   f"{spec.strip()!r}")
        seen[decl.name] = (decl.kind, decl.dims, decl.props)
        out[decl.name] = spec.strip()
    return out


def _words_last(ap: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """argv with every option (and its value) first and the words after '--', so that
    an expression or a formula starting with '-' (``"-x'*x"``, ``--against "-inv(X)"``)
    is read as text, not as an unknown option."""
    options, words = [], []
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok == "--":
            words.extend(argv[i + 1:])
            break
        name = tok.split("=", 1)[0]
        action = _long_option(ap, name) if name.startswith("--") else \
            ap._option_string_actions.get(name)
        short = ap._option_string_actions.get(tok[:2])
        if action is None and not tok.startswith("--") and short is not None \
                and short.nargs != 0 and ":" in tok:
            action, name = short, tok[:2]       # -dA: matrix(n,n) (a declaration has ':')
        if action is None and tok.startswith("--") and len(tok) > 2:
            options.append(tok)                 # an unknown option: argparse says so
        elif action is None:
            words.append(tok)
        elif action.nargs == 0 or "=" in tok or name != tok:
            options.append(tok)
        elif i + 1 < len(argv):     # one token, so a value starting with '-' stays a value
            options.append(f"{tok}={argv[i + 1]}" if tok.startswith("--") else tok + argv[i + 1])
            i += 1
        else:
            options.append(tok)
        i += 1
    return options + ["--"] + words


def _long_option(ap: argparse.ArgumentParser, name: str):
    """The action of a long option, also abbreviated (``--decl``) as argparse allows."""
    if name in ap._option_string_actions:
        return ap._option_string_actions[name]
    matches = {a for opt, a in ap._option_string_actions.items()
               if opt.startswith("--") and opt.startswith(name)}
    return matches.pop() if len(matches) == 1 else None


def run(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["serve"]:           # the local web page: options of its own
        from .web.server import main as serve
        return serve(argv[1:])
    ap = _parser()
    args = ap.parse_args(_words_last(ap, argv))
    out = sys.stdout
    try:
        verb, text, names = _command(args.words)
        status, payload = respond(verb, text, names, args, None if args.json else out)
        if args.json:
            json.dump(payload, out, ensure_ascii=False)
            out.write("\n")
        return status
    except (MdiffError, RecursionError, MemoryError) as exc:
        if not isinstance(exc, MdiffError):
            exc = LimitError("expression too deep" if isinstance(exc, RecursionError)
                             else "out of memory")
        if args.json:
            json.dump(exc.to_dict(), out, ensure_ascii=False)
            out.write("\n")
        print(str(exc), file=sys.stderr)
        return 2


def _command(words: list[str]) -> tuple:
    """(verb or None for a derivative or a parse, the expression, the names after 'wrt')."""
    if words and words[0] in ("solve", "minimize", "maximize"):
        return (words[0], *_split(words[1:]))
    return (None, *_split(words))


def options(**given) -> argparse.Namespace:
    """The command line's options (argparse's defaults) with ``given`` set: what the web
    server passes to ``respond``, so that both are validated by the same rules."""
    args = _parser().parse_args([])
    for key, value in given.items():
        if not hasattr(args, key) or key == "words":
            raise MdiffError(f"unknown option {key!r}")
        setattr(args, key, value)
    return args


def respond(verb: str | None, text: str | None, names: list | None, args,
            out=None, quiet: bool = False) -> tuple[int, dict]:
    """Run one command: (exit status, the record ``--json`` prints).  With ``out`` the
    text form is printed there too (the CLI without --json).  The web server calls this
    with ``out=None``, so its answers are the CLI's JSON by construction.  ``quiet``: do
    not say on stderr which kinds were assumed (the record lists them)."""
    from .api import against, diff, gradients
    from .language import parse
    if verb is not None:
        return _extremum(verb, text, names, args, out, quiet)
    if names is not None and not names:
        raise MdiffError("'wrt' needs at least one variable name")
    names = names or []
    if not names and _given(args) & {"check", "against", "kron"}:
        raise MdiffError("--check, --against and --kron need 'wrt X'")
    _validate(args, "derivative" if names else "parse")
    if text is None:
        text = _read_stdin()
    symbols = _declarations(args.declare)
    p = _announced(parse(text, symbols), quiet)
    if not names:
        return _parse_only(p, text, args, out)
    convention = "vech" if args.vech else "sym"
    order = 2 if args.hessian else (1 if args.order is None else args.order)
    seed = args.seed or 0
    if args.mixed:
        if len(names) < 2:
            raise MdiffError("--mixed needs two or more variables: wrt x y")
        results = {" ".join(names): diff(p, names, convention=convention)}
    elif order != 1:
        results = {n: diff(p, n, order=order, convention=convention) for n in names}
    elif len(names) > 1 and not (args.layout or args.vech):
        results = gradients(p, names)       # one backward sweep for all of them
    elif len(names) > 1:
        results = {n: diff(p, n, convention=convention, layout=args.layout or "denominator")
                   for n in names}
    else:
        results = {names[0]: diff(p, names[0], convention=convention,
                                  layout=args.layout or "denominator")}
    status = 0
    records = []
    for name, r in results.items():
        rec = r.to_dict()
        lines = [r.kron() if args.kron else r.latex() if args.latex else str(r)]
        if args.steps:
            rec["steps"], lines = _steps(r.steps, args.latex)
        if args.code:
            rec["code"] = r.code()
            if len(results) == 1:
                lines.append(rec["code"].rstrip())
        if args.check:
            rep = r.check(seed=seed)
            rec["check"] = rep.to_dict()
            lines.append(str(rep))
            status = status or (0 if rep.ok else 1)
        if args.against:
            cmp = against(r, args.against, seed=seed)
            rec["against"] = {"formula": args.against, **cmp.to_dict()}
            lines.append(f"against {args.against}: {cmp}")
            status = status or (0 if cmp.equal else 1)
        records.append(rec)
        if args.vech:
            lines.append(f"convention: {r.convention}")
        if out is not None:
            prefix = f"d/d{name}: " if len(results) > 1 else ""
            print(prefix + "\n".join(lines), file=out)
    if args.code and len(results) > 1 and out is not None:
        from .printing.code import module      # one prelude for all the functions
        print(module([r.code_function() for r in results.values()]).rstrip(), file=out)
    return status, (records[0] if len(records) == 1 else {"results": records})


def _extremum(verb, text, names, args, out, quiet=False) -> tuple[int, dict]:
    from .api import solve
    from .language import parse
    if text is None:
        text = _read_stdin()
    if not names:
        raise MdiffError(f"'mdiff {verb}' needs 'wrt' and variable names")
    _validate(args, "solve" if verb == "solve" else "minimize")
    p = _announced(parse(text, _declarations(args.declare)), quiet)
    if verb == "solve":
        return _solve(solve(p, names[0] if len(names) == 1 else names), args, out)
    from .optimize import minimize      # SciPy only for the numerical extremum
    values = _load_data(args.data)
    _initial_values(p, names, values, args.seed or 0)
    res = minimize(p, names, values, method=args.method or "L-BFGS-B",
                   maximize=verb == "maximize", progress=None)
    if out is not None:
        print(str(res), file=out)
    return 0, res.to_dict()


def _announced(p, quiet: bool = False):
    """Say on stderr which kinds inference chose between two valid readings."""
    for a in ([] if quiet else p.assumptions()):
        print(f"assuming {a}; declare with -d to change", file=sys.stderr)
    return p


def _parse_only(p, text, args, out) -> tuple[int, dict]:
    """No 'wrt': the expression as mdiff reads it, with its shapes (LaTeX, code)."""
    from .printing.code import to_code
    code = to_code([p.expr], p.variables, "f", text[:200]) if args.code else None
    rec = {"input": text, "expression": str(p), "kind": p.expr.kind,
           "shape": [str(d) for d in p.shape], "variables": p.symbols(),
           "assumed": p.assumptions()}
    if args.latex:
        rec["latex"] = p.latex()
    if code:
        rec["code"] = code
    if out is not None:
        print(p.latex() if args.latex else str(p), file=out)
        shapes = p.describe_shapes()
        print(f"{_kind_line(p.expr)}" + (f"; {shapes}" if shapes else ""), file=out)
        if code:
            print(code.rstrip(), file=out)
    return 0, rec


def _steps(steps, latex: bool) -> tuple:
    """(the steps as JSON records, the lines to print: one a step, or with --latex one
    aligned environment)."""
    from .printing.derivation import aligned
    records = [{"title": s.title, "text": s.text, "latex": s.latex} for s in steps]
    return records, ([aligned(steps)] if latex else [str(s) for s in steps])


def _solve(s, args, out) -> tuple[int, dict]:
    """A solution (or several), with --latex, --check, --classify, --code and --steps."""
    from .api import classify_sampled
    reports = []
    if args.check:
        reports = s.check(seed=args.seed or 0)
        reports = reports if isinstance(reports, list) else [reports]
    status = 0 if all(r.ok for r in reports) else 1
    rec = s.to_dict()
    if reports:
        rec["check"] = [r.to_dict() for r in reports]
    cls = classify_sampled(s, seed=args.seed or 0) if args.classify else None
    if cls is not None:
        rec["classify"] = cls
    if args.code:
        rec["code"] = s.code()
    if args.steps:
        rec["steps"], lines = _steps(s.steps, args.latex)
        if out is not None:
            print("\n".join(lines), file=out)
    if out is not None:
        print(s.latex() if args.latex else str(s), file=out)
        for r in reports:
            print(str(r), file=out)
        if cls is not None:
            print(_classify_line(cls), file=out)
        if args.code:
            print(s.code().rstrip(), file=out)
    return status, rec


def _classify_line(cls: dict) -> str:
    if not cls["counts"]:
        return f"classify: {cls['classification']}"
    counts = ", ".join(f"{k} at {v}" for k, v in cls["counts"].items())
    sets = sum(cls["counts"].values())
    return (f"classify: {cls['classification']} ({counts or 'no data set'} of {sets} random "
            f"data sets, seed {cls['seed']}"
            + (f"; {cls['singular_data_sets']} singular drawn again" if cls["singular_data_sets"]
               else "") + ")")


def _read_stdin() -> str:
    if sys.stdin is None or sys.stdin.isatty():
        raise MdiffError("no expression: give one as an argument or on standard input "
                         "(mdiff --help shows examples)")
    return sys.stdin.read()


def _load_data(path):
    import numpy as np
    if path is None:
        return {}
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise MdiffError(f"cannot read {path}: {exc}") from None


def _initial_values(p, names, values, seed):
    """Small random starting points for the variables the data file does not give."""
    import numpy as np
    from .numeric.evaluate import Env
    given = {n: v for n, v in p.variables.items() if n in values}
    env = Env({n: values[n] for n in given}, given)
    rng = np.random.default_rng(seed)
    for n in names:
        if n in values:
            continue
        node = p.variables[n]
        shape = tuple(env.need(d) for d in node.shape)
        x = 0.1 * rng.standard_normal(shape)
        values[n] = float(x[0, 0]) if node.is_scalar else x[:, 0] if node.is_vector else x


def _kind_line(e) -> str:
    from .core.expr import fmt_shape
    return fmt_shape(e.shape)


def main(argv: list[str] | None = None) -> None:
    try:
        status = run(argv)
        sys.stdout.flush()
    except BrokenPipeError:     # the reader closed the pipe (| head): end quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        status = 0
    sys.exit(status)


if __name__ == "__main__":  # pragma: no cover
    main()
