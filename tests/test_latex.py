"""The LaTeX printer: exact strings for every op, and every output rendered by KaTeX.

Rendering uses KaTeX (https://katex.org) through Node: it supports everything a
careful author writes (``\\operatorname``, ``aligned``, ``\\lVert``, ``\\oslash``),
which matplotlib's mathtext does not.  KaTeX is installed once per machine into the
pytest cache (``.pytest_cache/d/katex``, ``npm install katex@0.16``); the rendering
tests skip with the reason when Node, npm or the registry is not available.
"""

from __future__ import annotations

import json
import random
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

import mdiff
from mdiff.core import expr as E
from mdiff.printing.latex import latex_name, to_latex

ROOT = Path(__file__).resolve().parents[1]


def tex(text: str, **kw) -> str:
    return to_latex(mdiff.parse(text).expr, **kw)


def dtex(text: str, wrt, **kw) -> str:
    r = mdiff.diff(text, wrt=wrt, **kw)
    return to_latex(r.expr, r.f.let_names())


GAUSS = ("D: matrix(p,N); S: matrix(p,p) spd; m: vector(p); "
         "-N/2*logdet(S) - 1/2*tr(inv(S)*(D - m*vector(1)')*(D - m*vector(1)')')")
MLP = "y1 = tanh(W1*x + b1); y2 = tanh(W2*y1 + b2); 1/2*norm2(y2 - y)^2"
LOGREG = "sum(log(vector(1) + exp(-y.*(X*w))))"

# --- exact strings, one or more per op -------------------------------------------------

CASES = [
    # leaves: var, num, dim, fill, eye
    ("X", "X"),
    ("W1*x + b12", "W_{1} x + b_{12}"),
    ("2/3", "\\frac{2}{3}"),
    ("D: matrix(p,N); N*x'*x", "N x^{\\top} x"),
    ("vector(1)", "\\mathbf{1}"),
    ("vector(1)'", "\\mathbf{1}^{\\top}"),
    ("matrix(1)", "\\mathbf{1}"),
    ("vector(2)", "2\\,\\mathbf{1}"),
    ("matrix(-3)", "-3\\,\\mathbf{1}"),
    ("1/2*vector(1)", "\\frac{1}{2}\\,\\mathbf{1}"),
    ("eye", "I_{n}"),
    ("A: matrix(3,3); A + eye", "A + I_{3}"),
    # add (negative terms print as ' - ') and mul (coefficients, fractions)
    ("A - 2*B", "A - 2 B"),
    ("-x + y", "-x + y"),
    ("1 - y.^2", "\\mathbf{1} - y^{\\circ 2}"),
    ("A*B'", "A B^{\\top}"),
    ("a/b", "\\frac{a}{b}"),
    ("2/b", "\\frac{2}{b}"),
    ("a/(b*c)", "\\frac{a}{b c}"),
    ("(a + b)/c", "\\frac{a + b}{c}"),
    ("a*b/c", "\\frac{a b}{c}"),
    ("-2/3*x", "-\\frac{2}{3} x"),
    ("-1/2*a*X", "-\\frac{a}{2} X"),
    ("1/2*a*b*X", "\\frac{1}{2} a b X"),
    ("3*2^a", "3 \\cdot 2^{a}"),
    ("-(x'*y)*A", "-\\left(x^{\\top} y\\right) A"),
    # had, elementwise division, pow, mpow
    ("x .* y", "x \\odot y"),
    ("x ⊙ y .* z", "x \\odot y \\odot z"),
    ("x ./ y", "x \\oslash y"),
    ("1 ./ y", "\\mathbf{1} \\oslash y"),
    ("x.^-2", "\\mathbf{1} \\oslash x^{\\circ 2}"),
    ("x .* (A*y)", "x \\odot \\left(A y\\right)"),
    ("x.^2", "x^{\\circ 2}"),
    ("x.^(1/2)", "x^{\\circ 1/2}"),
    ("x.^c", "x^{\\circ c}"),
    ("c^2", "c^{2}"),
    ("b^-2", "\\frac{1}{b^{2}}"),
    ("a^b^c", "a^{b^{c}}"),
    ("X^3", "X^{3}"),
    ("X^-2", "X^{-2}"),
    ("(A*B)^2", "\\left(A B\\right)^{2}"),
    ("(X')^2", "\\left(X^{\\top}\\right)^{2}"),
    ("(x.^2)'", "\\left(x^{\\circ 2}\\right)^{\\top}"),
    # transpose, inverse
    ("X'", "X^{\\top}"),
    ("(A*B)'", "\\left(A B\\right)^{\\top}"),
    ("inv(X)", "X^{-1}"),
    ("inv(X)'", "X^{-\\top}"),
    ("inv(X')", "X^{-\\top}"),
    ("inv(A*B)", "\\left(A B\\right)^{-1}"),
    ("inv(X)^2", "X^{-2}"),
    ("W1'*x", "W_{1}^{\\top} x"),
    # kron
    ("kron(A, B)", "A \\otimes B"),
    ("A ⊗ B'", "A \\otimes B^{\\top}"),
    ("kron(A, B)*x", "\\left(A \\otimes B\\right) x"),
    ("kron(A*B, C)", "\\left(A B\\right) \\otimes C"),
    # reductions
    ("tr(X)", "\\operatorname{tr}\\left(X\\right)"),
    ("det(X)", "\\det\\left(X\\right)"),
    ("logdet(X)", "\\log\\det\\left(X\\right)"),
    ("log(det(X))", "\\log\\left(\\det\\left(X\\right)\\right)"),
    ("sum(X)", "\\operatorname{sum}\\left(X\\right)"),
    ("norm1(x)", "\\lVert x \\rVert_{1}"),
    ("norm2(x)", "\\lVert x \\rVert_{2}"),
    ("norm2(X)", "\\lVert X \\rVert_{F}"),
    ("norm2(x)^2", "\\lVert x \\rVert_{2}^{2}"),
    ("norm2(x ./ y)", "\\lVert x \\oslash y \\rVert_{2}"),
    ("norm2(x/a)", "\\left\\lVert \\frac{1}{a} x \\right\\rVert_{2}"),
    ("logsumexp(x)", "\\operatorname{logsumexp}\\left(x\\right)"),
    # matrix functions
    ("vec(X)", "\\operatorname{vec}\\left(X\\right)"),
    ("diag(x)", "\\operatorname{diag}\\left(x\\right)"),
    ("diag(X)", "\\operatorname{diag}\\left(X\\right)"),
    ("softmax(x)", "\\operatorname{softmax}\\left(x\\right)"),
    # elementwise functions
    ("sigmoid(x)", "\\sigma\\left(x\\right)"),
    ("tanh(x)", "\\tanh\\left(x\\right)"),
    ("exp(x)", "\\exp\\left(x\\right)"),
    ("log(x)", "\\log\\left(x\\right)"),
    ("sqrt(x)", "\\sqrt{x}"),
    ("sqrt(x)'", "\\sqrt{x}^{\\top}"),
    ("abs(x)", "\\left| x \\right|"),
    ("relu(x)", "\\operatorname{relu}\\left(x\\right)"),
    ("softplus(x)", "\\operatorname{softplus}\\left(x\\right)"),
    ("sign(x)", "\\operatorname{sign}\\left(x\\right)"),
    ("sin(x) + cos(x) + tan(x)",
     "\\sin\\left(x\\right) + \\cos\\left(x\\right) + \\tan\\left(x\\right)"),
    ("arcsin(x) + arccos(x) + arctan(x)",
     "\\arcsin\\left(x\\right) + \\arccos\\left(x\\right) + \\arctan\\left(x\\right)"),
    ("sinh(x) - cosh(x)", "\\sinh\\left(x\\right) - \\cosh\\left(x\\right)"),
    ("tanh(x).^2", "\\tanh\\left(x\\right)^{\\circ 2}"),
    # names
    ("mu'*Sigma*mu", "\\mu^{\\top} \\Sigma \\mu"),
    ("μ'*Σ*μ", "\\mu^{\\top} \\Sigma \\mu"),
    ("x_i + y_out", "x_{i} + y_{\\mathrm{out}}"),
    ("Weights*x", "\\mathit{Weights} \\, x"),
]

DERIVATIVES = [
    (("tr(A*X'*B*X)", "X"), "B X A + B^{\\top} X A^{\\top}"),
    (("tr(A*X*B)", "X"), "A^{\\top} B^{\\top}"),
    ((GAUSS, "m"), "S^{-1} \\left(D \\mathbf{1} - N m\\right)"),
    ((GAUSS, "S"), "\\begin{aligned}\n"
                   "t_{1} &= D - m \\mathbf{1}^{\\top} \\\\\n"
                   "& \\frac{1}{2} S^{-1} t_{1} t_{1}^{\\top} S^{-1} - \\frac{N}{2} S^{-1}\n"
                   "\\end{aligned}"),
    ((MLP, "W1"), "\\begin{aligned}\n"
                  "y_{1} &= \\tanh\\left(W_{1} x + b_{1}\\right) \\\\\n"
                  "y_{2} &= \\tanh\\left(W_{2} y_{1} + b_{2}\\right) \\\\\n"
                  "& \\left(W_{2}^{\\top} \\left(\\left(\\mathbf{1} - y_{2}^{\\circ 2}\\right) "
                  "\\odot \\left(y_{2} - y\\right)\\right) \\odot "
                  "\\left(\\mathbf{1} - y_{1}^{\\circ 2}\\right)\\right) x^{\\top}\n"
                  "\\end{aligned}"),
    (("log(det(X))", "X"), "X^{-\\top}"),
    (("u'*inv(X)*v", "X"), "-X^{-\\top} u v^{\\top} X^{-\\top}"),
    (("A*X*B", "X"), "B^{\\top} \\otimes A"),
    (("X'", "X"), "K_{n,m}"),
]


DERIVATIVE_IDS = [f"d{a[1]} {a[0][:30]}" for a, _ in DERIVATIVES]


@pytest.mark.parametrize("text, expected", CASES, ids=[c[0] for c in CASES])
def test_latex_of_expression(text, expected):
    assert tex(text) == expected


@pytest.mark.parametrize("args, expected", DERIVATIVES, ids=DERIVATIVE_IDS)
def test_latex_of_derivative(args, expected):
    assert dtex(*args) == expected


def test_gaussian_loglikelihood_reads_like_the_paper():
    out = tex(GAUSS)
    assert "-\\frac{N}{2} \\log\\det\\left(S\\right)" in out
    assert "\\frac{1}{2} \\operatorname{tr}\\left(S^{-1} t_{1} t_{1}^{\\top}\\right)" in out


def test_symmetric_jacobian_uses_identity_and_commutation():
    r = mdiff.diff("A*S*B", wrt="S", symbols={"S": "matrix(n,n) symmetric"})
    assert to_latex(r.expr) == ("\\frac{1}{2} \\left(B^{\\top} \\otimes A\\right) "
                                "\\left(I_{n^{2}} + K_{n,n}\\right)")


def test_duplication_matrix():
    h = mdiff.hessian("tr(S*S*S)", wrt="S", symbols={"S": "matrix(n,n) symmetric"},
                      convention="vech")
    out = to_latex(h.expr)
    assert out.startswith("3 D_{n}^{\\top} ")     # (I + K)*D = 2*D
    assert out.endswith(" D_{n}")
    assert "I_{n} \\otimes S + S \\otimes I_{n}" in out


def test_logistic_hessian():
    out = to_latex(mdiff.hessian(LOGREG, wrt="w").expr)
    assert out == ("\\begin{aligned}\n"
                   "t_{1} &= \\sigma\\left(-y \\odot \\left(X w\\right)\\right) \\\\\n"
                   "& X^{\\top} \\operatorname{diag}\\left(y^{\\circ 2} \\odot t_{1} \\odot "
                   "\\left(\\mathbf{1} - t_{1}\\right)\\right) X\n"
                   "\\end{aligned}")


# --- nodes the parser does not make directly --------------------------------------------

def test_constructed_nodes():
    n = E.dim_symbol("n")
    m = E.dim_symbol("m")
    X = E.var("X", (n, m))
    v = E.var("v", (n * m, 1))
    assert to_latex(E.commutation(m, n)) == "K_{m,n}"
    assert to_latex(E.duplication(n)) == "D_{n}"
    assert to_latex(E.placeholder("X", (n, m))) == "\\mathrm{d}X"
    assert to_latex(E.transpose(E.placeholder("W1", (n, m)))) == \
        "\\left(\\mathrm{d}W_{1}\\right)^{\\top}"
    assert to_latex(E.unvec(v, (n, m))) == \
        "\\operatorname{unvec}_{n \\times m}\\left(v\\right)"
    assert to_latex(E.zeros((n, m))) == "\\mathbf{0}"
    assert to_latex(E.dim_scalar(n)) == "n"
    assert to_latex(E.eye(n * m)) == "I_{m n}"
    assert to_latex(E.apply("vec", X)) == "\\operatorname{vec}\\left(X\\right)"


# --- names ------------------------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("x", "x"), ("W1", "W_{1}"), ("b12", "b_{12}"), ("mu", "\\mu"), ("Sigma", "\\Sigma"),
    ("μ", "\\mu"), ("Σ", "\\Sigma"), ("σ2", "\\sigma_{2}"), ("mu1", "\\mu_{1}"),
    ("x_1", "x_{1}"), ("W_out", "W_{\\mathrm{out}}"), ("x_i_j", "x_{i,j}"),
    ("loss", "\\mathit{loss}"), ("W1a", "\\mathit{W1a}"), ("Mu", "\\mathit{Mu}"),
    ("Α", "A"), ("ς", "\\varsigma"), ("t_", "\\mathit{t\\_}"),
])
def test_latex_name(name, expected):
    assert latex_name(name) == expected


def test_sigmoid_is_named_when_a_variable_is_called_sigma():
    out = tex("sigma: scalar; sigma*sigmoid(x)")
    assert "\\operatorname{sigmoid}\\left(x\\right)" in out
    assert out.count("\\sigma") == 1


# --- let-bindings -----------------------------------------------------------------------

def test_bindings_are_an_aligned_block():
    out = tex("t = tanh(A*x); t .* t + A*t")
    assert out.startswith("\\begin{aligned}\n") and out.endswith("\n\\end{aligned}")
    assert "t_{1} &= \\tanh\\left(A x\\right) \\\\\n" in out
    assert out.splitlines()[-2] == "& t_{1} \\odot t_{1} + A t_{1}"


def test_user_names_are_reused_and_bind_false_inlines():
    p = mdiff.parse("h = tanh(A*x); h .* h + A*h")
    named = to_latex(p.expr, p.let_names())
    assert "h &= \\tanh\\left(A x\\right)" in named
    inline = to_latex(p.expr, p.let_names(), bind=False)
    assert "aligned" not in inline and "&" not in inline
    assert inline == ("\\tanh\\left(A x\\right) \\odot \\tanh\\left(A x\\right) + "
                      "A \\tanh\\left(A x\\right)")


def test_binding_names_avoid_the_expressions_names():
    # t1 is a variable, so the binding must not be printed as t_{1} too
    out = tex("u = tanh(A*x); u .* u + A*u + t1")
    assert "t_{2} &= \\tanh" in out
    assert out.count("t_{1}") == 1


def test_bound_inverse_is_not_merged_into_its_transpose():
    # inv(A*B) is bound; its transpose must be t^T, not (AB)^{-T} with the binding lost
    out = tex("A: matrix(n,n); B: matrix(n,n); t = inv(A*B); t*C*t' + t")
    assert out.splitlines()[1] == "t_{1} &= \\left(A B\\right)^{-1} \\\\"
    assert out.splitlines()[-2] == "& t_{1} C t_{1}^{\\top} + t_{1}"


def test_deep_chain_is_cut_into_bindings():
    text = "; ".join(f"h{i} = tanh(W*h{i - 1})" for i in range(1, 40)).replace("h0", "x")
    out = tex(text + "; sum(h39)")
    assert out.count("&=") >= 2
    assert "\\tanh" in out


# --- rendering with KaTeX ---------------------------------------------------------------

KATEX_SERVER = r"""
const katex = require(process.argv[2]);
const rl = require("readline").createInterface({input: process.stdin});
rl.on("line", (line) => {
  const src = JSON.parse(line);
  let res;
  try {
    const html = katex.renderToString(src, {throwOnError: true, displayMode: true,
                                            strict: "error"});
    res = {ok: !html.includes("katex-error"), error: null};
  } catch (e) {
    res = {ok: false, error: String(e.message || e)};
  }
  process.stdout.write(JSON.stringify(res) + "\n");
});
"""


def _install_katex(where: Path) -> Path:
    """``npm install katex@0.16`` into ``where`` (once); the package directory."""
    pkg = where / "node_modules" / "katex"
    if (pkg / "package.json").exists():
        return pkg
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: cannot install KaTeX for the rendering tests")
    where.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--no-save", "--prefix", str(where),
             "katex@0.16"], capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        pytest.skip("npm install katex timed out (no registry?)")
    if proc.returncode != 0 or not (pkg / "package.json").exists():
        pytest.skip(f"npm install katex failed: {proc.stderr.strip()[-300:]}")
    return pkg


class KaTeX:
    """A Node process that renders one LaTeX string per line."""

    def __init__(self, node: str, pkg: Path, workdir: Path):
        script = workdir / "katex_server.js"
        script.write_text(KATEX_SERVER, encoding="utf-8")
        self.proc = subprocess.Popen([node, str(script), str(pkg)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, encoding="utf-8")

    def render(self, latex: str) -> tuple[bool, str | None]:
        self.proc.stdin.write(json.dumps(latex) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the KaTeX process died")
        res = json.loads(line)
        return res["ok"], res["error"]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def katex(request, tmp_path_factory):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the KaTeX rendering tests need Node.js")
    cache = getattr(request.config, "cache", None)
    where = Path(cache.mkdir("katex")) if cache is not None else tmp_path_factory.mktemp("katex")
    pkg = _install_katex(where)
    renderer = KaTeX(node, pkg, tmp_path_factory.mktemp("katex_run"))
    yield renderer
    renderer.close()


def assert_renders(katex, latex: str):
    ok, err = katex.render(latex)
    assert ok, f"KaTeX cannot render {latex!r}: {err}"


def test_renderer_rejects_bad_latex(katex):
    """The renderer really checks: the errors this printer must avoid are caught."""
    for bad in ("x^{a}^{b}", "\\operatorname{tr}\\left(X", "\\notacommand x",
                "\\begin{aligned} a &= b \\end{align}", "x_{1}_{2}"):
        ok, err = katex.render(bad)
        assert not ok and err, bad
    assert katex.render("\\left\\lVert x \\right\\rVert_{2}") == (True, None)


@pytest.mark.parametrize("text, expected", CASES, ids=[c[0] for c in CASES])
def test_expression_renders(katex, text, expected):
    assert_renders(katex, tex(text))
    assert_renders(katex, tex(text, bind=False))


@pytest.mark.parametrize("args, expected", DERIVATIVES, ids=DERIVATIVE_IDS)
def test_derivative_renders(katex, args, expected):
    assert_renders(katex, dtex(*args))


# Every example of DESIGN.md and README.md (the README's `$ mdiff` lines are harvested
# below as well, so new ones are covered when they are added).
DOC_EXAMPLES = [
    ("tr(A*X'*B*X)", "X", {}),
    ("tr(A*X*B)", "X", {}),
    ("x'*A*x", "x", {"symbols": {"A": "matrix(n,n) symmetric"}}),
    ("A*X*B", "X", {}),
    (GAUSS, "m", {}),
    (GAUSS, "S", {}),
    ("D: matrix(p,N); S: matrix(p,p) spd; C: matrix(p,p) symmetric; "
     "-N/2*logdet(S) - 1/2*tr(inv(S)*C)", "S", {}),
    (MLP, "W1", {}),
    (MLP, "W2", {}),
    (MLP, "b1", {}),
    ("0.5*norm2(tanh(W2*tanh(W1*x+b1)+b2) - y)^2", "W1", {}),
    ("h = tanh(W1*x + b1); 1/2*norm2(W2*h - y)^2", "b1", {}),
    ("log(det(X))", "X", {}),
    ("u'*inv(X)*v", "X", {}),
    ("sum(log(1 + exp(-y .* (X*w))))", "w", {}),
]


@pytest.mark.parametrize("text, wrt, kw", DOC_EXAMPLES,
                         ids=[f"d{w} {t[:40]}" for t, w, _ in DOC_EXAMPLES])
def test_documented_example_renders(katex, text, wrt, kw):
    r = mdiff.diff(text, wrt=wrt, **kw)
    out = to_latex(r.expr, r.f.let_names())
    assert out.strip()
    assert_renders(katex, out)
    assert_renders(katex, to_latex(r.jacobian_expr, r.f.let_names()))   # the vec/Kronecker form
    assert_renders(katex, to_latex(r.f.expr, r.f.let_names()))          # the input itself


def test_hessians_render(katex):
    for text, wrt, kw in [(LOGREG, "w", {}), ("sum(log(1 + exp(-y .* (X*w))))", "w", {}),
                          ("x'*A*x", "x", {}),
                          ("logdet(S)", "S", {"symbols": {"S": "matrix(n,n) spd"}}),
                          ("tr(S*S*S)", "S", {"symbols": {"S": "matrix(n,n) symmetric"},
                                              "convention": "vech"})]:
        out = to_latex(mdiff.hessian(text, wrt=wrt, **kw).expr)
        assert_renders(katex, out)


@pytest.mark.parametrize("text, wrt", [
    ("sum(x.^4)", "x"), ("(x'*A*x)^2", "x"), ("log(sum(exp(x)))", "x"), ("sum(log(x))", "x"),
    ("w_1: vector(n); norm2(exp(arctan(w_1)))", "w_1"), ("sum(sqrt(x))", "x"),
    ("sum(log(vector(1) + exp(A*x)))", "x"), ("logdet(X)", "X"), ("tr(X*X*X)", "X")])
def test_index_notation_renders(katex, text, wrt):
    r = mdiff.diff(text, wrt=wrt, order=3)
    assert r.index_form() is not None
    assert_renders(katex, r.latex())


def _readme_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    out = []
    for line in re.findall(r"^\$ mdiff (.*)$", text, flags=re.M):
        try:
            argv = shlex.split(line)
        except ValueError:
            continue
        decls, rest, i = [], [], 0
        while i < len(argv):
            if argv[i] in ("-d", "--declare") and i + 1 < len(argv):
                decls.append(argv[i + 1])
                i += 2
            elif argv[i].startswith("-"):
                i += 1
            else:
                rest.append(argv[i])
                i += 1
        if len(rest) >= 3 and rest[1] == "wrt":
            out.append(("; ".join(decls + [rest[0]]), rest[2]))
    return out


def test_readme_examples_render(katex):
    commands = _readme_commands()
    assert len(commands) >= 3, "the README's `$ mdiff EXPR wrt X` examples were not found"
    for text, wrt in commands:
        r = mdiff.diff(text, wrt=wrt)
        assert_renders(katex, to_latex(r.expr, r.f.let_names()))


def test_every_function_and_its_derivative_renders(katex):
    for fn in E.ELEMENTWISE + ("softmax",):
        decl = "x: vector(n) positive; " if fn in ("sqrt", "log") else ""
        text = f"{decl}sum({fn}(x))"
        assert_renders(katex, tex(text))
        assert_renders(katex, dtex(text, "x"))
    for fn in ("tr", "det", "logdet", "sum", "norm1", "norm2", "logsumexp"):
        text = f"X: matrix(n,n) spd; {fn}(X)" if fn in ("det", "logdet") else f"{fn}(X)"
        assert_renders(katex, tex(text))
        assert_renders(katex, dtex(text, "X"))


def _random_expressions(count: int, seed: int = 0):
    """Random expressions over the constructors (square matrices, vectors, scalars)."""
    rng = random.Random(seed)
    n = E.dim_symbol("n")
    leaves = {
        "s": [E.var("a"), E.var("beta"), E.num(E.Rational(3, 2)), E.num(-2),
              E.dim_scalar(n)],
        "v": [E.var("x", (n, 1)), E.var("y1", (n, 1)), E.ones((n, 1)), E.fill(2, (n, 1))],
        "m": [E.var("A", (n, n)), E.var("W2", (n, n)), E.var("Sigma", (n, n)), E.eye(n),
              E.ones((n, n))],
    }

    def build(kind, depth):
        if depth == 0 or rng.random() < 0.2:
            return rng.choice(leaves[kind])
        sub = lambda k: build(k, depth - 1)   # noqa: E731
        if kind == "s":
            choice = rng.randrange(9)
            if choice == 0:
                return E.add(sub("s"), E.neg(sub("s")))
            if choice == 1:
                return E.mul(sub("s"), E.power(sub("s"), E.num(-rng.randint(1, 2))))
            if choice == 2:
                return E.power(sub("s"), rng.choice([E.num(2), E.num(E.Rational(1, 2)), sub("s")]))
            if choice == 3:
                return E.apply(rng.choice(["tr", "det", "logdet", "sum", "norm2", "norm1",
                                           "logsumexp"]), sub("m"))
            if choice == 4:
                return E.mul(E.transpose(sub("v")), sub("m"), sub("v"))
            if choice == 5:
                return E.apply(rng.choice(E.ELEMENTWISE), sub("s"))
            if choice == 6:
                c = E.Rational(rng.choice([-3, -1, 1, 5]), rng.choice([1, 2, 7]))
                return E.scale(c, sub("s"))
            if choice == 7:
                return E.mul(sub("s"), sub("s"), sub("s"))
            return E.apply(rng.choice(["norm2", "sum", "logsumexp"]), sub("v"))
        if kind == "v":
            choice = rng.randrange(8)
            if choice == 0:
                return E.add(sub("v"), E.neg(sub("v")), sub("v"))
            if choice == 1:
                return E.mul(sub("m"), sub("v"))
            if choice == 2:
                return E.hadamard(sub("v"), sub("v"))
            if choice == 3:
                return E.ediv(sub("v"), sub("v"))
            if choice == 4:
                return E.power(sub("v"), E.num(rng.choice([2, -1, -2, E.Rational(1, 3)])))
            if choice == 5:
                return E.apply(rng.choice(E.ELEMENTWISE + ("softmax",)), sub("v"))
            if choice == 6:
                return E.mul(sub("s"), sub("v"))
            return E.apply("diag", sub("m"))
        choice = rng.randrange(11)
        if choice == 0:
            return E.add(sub("m"), E.neg(sub("m")))
        if choice == 1:
            return E.mul(sub("m"), sub("m"), E.transpose(sub("m")))
        if choice == 2:
            return E.transpose(sub("m"))
        if choice == 3:
            return E.inv(sub("m"))
        if choice == 4:
            return E.matrix_power(sub("m"), rng.choice([2, 3, -2]))
        if choice == 5:
            return E.hadamard(sub("m"), sub("m"))
        if choice == 6:
            return E.apply("diag", sub("v"))
        if choice == 7:
            return E.mul(sub("v"), E.transpose(sub("v")))
        if choice == 8:
            return E.mul(sub("s"), sub("m"))
        if choice == 9:
            return E.power(sub("m"), E.num(rng.choice([2, -1])))
        return E.apply(rng.choice(["exp", "tanh", "abs", "sqrt"]), sub("m"))

    return [build(rng.choice("svm"), rng.randint(1, 6)) for _ in range(count)]


def test_random_expressions_render(katex):
    """Nested combinations of every constructor: no double superscripts, no unbalanced
    delimiters, whatever the nesting."""
    exprs = _random_expressions(300)
    assert len({id(e) for e in exprs}) > 150
    for e in exprs:
        for bind in (True, False):
            out = to_latex(e, bind=bind)
            ok, err = katex.render(out)
            assert ok, f"{e} -> {out!r}: {err}"


def test_kron_products_render(katex):
    n, m = E.dim_symbol("n"), E.dim_symbol("m")
    A, B = E.var("A", (n, m)), E.var("B", (m, n))
    k = E.kron(A, B)
    for e in (k, E.transpose(k), E.mul(k, E.kron(B, A)), E.kron(E.neg(A), E.inv(E.mul(B, A))),
              E.mul(E.commutation(n, m), E.apply("vec", A)), E.kron(E.kron(A, B), A)):
        assert_renders(katex, to_latex(e))
