"""Command line: ``mdiff "expr" [wrt X [Y ...]] [options]``.

Exit status: 0 success, 1 a check or comparison that failed, 2 bad input.
Errors go to stderr with a caret (or as JSON with ``--json``); never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys

from . import __version__
from .api import against, diff, gradients
from .errors import MdiffError
from .parser import parse, parse_declaration

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
    ap.add_argument("--kron", action="store_true",
                    help="print the vec/Kronecker form d vec(F)/d vec(X)'")
    ap.add_argument("--check", action="store_true",
                    help="compare with central finite differences at a random point")
    ap.add_argument("--seed", type=int, default=0, help="random seed for --check/--against")
    ap.add_argument("--against", metavar="FORMULA",
                    help="is this hand-derived formula equal to mdiff's derivative?")
    ap.add_argument("--hessian", action="store_true",
                    help="the Hessian d vec(grad f)/d vec(X)' of a scalar f")
    ap.add_argument("--order", type=int, default=1, metavar="K",
                    help="the K-th derivative wrt one variable (a tensor for K >= 3)")
    ap.add_argument("--mixed", action="store_true",
                    help="with 'wrt x y': the mixed derivative d vec(grad_x f)/d vec(y)'")
    ap.add_argument("--vech", action="store_true",
                    help="entry-wise convention for symmetric variables (D'*vec(G), D'*H*D)")
    ap.add_argument("--code", action="store_true",
                    help="print Python source (array API) that evaluates the result")
    ap.add_argument("--json", action="store_true", help="machine-readable output")
    ap.add_argument("--version", action="version", version=f"mdiff {__version__}")
    return ap


def _split(words: list[str]) -> tuple[str | None, list[str]]:
    if "wrt" in words:
        i = words.index("wrt")
        head, names = words[:i], words[i + 1:]
    else:
        head, names = words, []
    if len(head) > 1:
        raise MdiffError(f"expected one expression before 'wrt' (quote it), got {len(head)} words")
    text = head[0] if head else None
    return (None if text in (None, "-") else text), names


def _declarations(decls: list[str]) -> dict:
    out = {}
    for d in decls:
        name, sep, spec = d.partition(":")
        if not sep:
            raise MdiffError(f"a declaration looks like 'A: matrix(n,n)', got {d!r}")
        decl = parse_declaration(name.strip(), spec.strip())
        out[decl.name] = spec.strip()
    return out


def run(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    out = sys.stdout
    try:
        text, names = _split(args.words)
        if text is None:
            text = sys.stdin.read()
        symbols = _declarations(args.declare)
        if "wrt" in args.words and not names:
            raise MdiffError("'wrt' needs at least one variable name")
        if not names:
            if args.check or args.against or args.kron:
                raise MdiffError("--check, --against and --kron need 'wrt X'")
            p = parse(text, symbols)
            if args.json:
                json.dump({"input": text, "expression": str(p), "kind": p.expr.kind,
                           "shape": [str(d) for d in p.shape], "variables": p.symbols()},
                          out, ensure_ascii=False)
                out.write("\n")
            else:
                print(str(p), file=out)
                shapes = p.describe_shapes()
                print(f"{_kind_line(p.expr)}" + (f"; {shapes}" if shapes else ""), file=out)
            return 0
        p = parse(text, symbols)
        convention = "vech" if args.vech else "sym"
        order = 2 if args.hessian else args.order
        if args.mixed:
            if len(names) < 2:
                raise MdiffError("--mixed needs two or more variables: wrt x y")
            results = {" ".join(names): diff(p, names, convention=convention)}
        elif order != 1:
            results = {n: diff(p, n, order=order, convention=convention) for n in names}
        elif len(names) > 1:
            results = gradients(p, names)
        else:
            results = {names[0]: diff(p, names[0], convention=convention)}
        status = 0
        records = []
        for name, r in results.items():
            rec = r.to_dict()
            lines = [r.kron() if args.kron else str(r)]
            if args.code:
                rec["code"] = r.code()
                lines.append(rec["code"].rstrip())
            if args.check:
                rep = r.check(seed=args.seed)
                rec["check"] = rep.to_dict()
                lines.append(str(rep))
                status = status or (0 if rep.ok else 1)
            if args.against:
                cmp = against(r, args.against, seed=args.seed)
                rec["against"] = {"formula": args.against, **cmp.to_dict()}
                lines.append(f"against {args.against}: {cmp}")
                status = status or (0 if cmp.equal else 1)
            records.append(rec)
            if args.vech:
                lines.append(f"convention: {r.convention}")
            if not args.json:
                prefix = f"d/d{name}: " if len(results) > 1 else ""
                print(prefix + "\n".join(lines), file=out)
        if args.json:
            payload = records[0] if len(records) == 1 else {"results": records}
            json.dump(payload, out, ensure_ascii=False)
            out.write("\n")
        return status
    except MdiffError as exc:
        if args.json:
            json.dump(exc.to_dict(), out, ensure_ascii=False)
            out.write("\n")
        print(str(exc), file=sys.stderr)
        return 2
    except RecursionError:
        print("LimitError: expression too deep", file=sys.stderr)
        return 2
    except MemoryError:
        print("LimitError: out of memory", file=sys.stderr)
        return 2


def _kind_line(e) -> str:
    from .expr import fmt_shape
    return fmt_shape(e.shape)


def main(argv: list[str] | None = None) -> None:
    sys.exit(run(argv))


if __name__ == "__main__":  # pragma: no cover
    main()
