"""The command line (DESIGN §4): ``mdiff "expr" [wrt X ...] [options]``.

Exit status: 0 success, 1 a check or comparison that failed, 2 bad input; errors go to
stderr with a caret, never a traceback."""

import io
import json
import subprocess
import sys

import pytest

import mdiff
from mdiff import cli


def run(capsys, *argv, stdin=None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    status = cli.run(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


# --- parse mode -------------------------------------------------------------------------

def test_parse_mode_prints_expression_and_shapes(capsys):
    status, out, err = run(capsys, "x'*A*x")
    assert status == 0
    lines = out.strip().splitlines()
    assert lines[0] == "x'*A*x"
    assert lines[1].startswith("scalar")
    assert "x: vector(n)" in lines[1] and "A: matrix(n,n)" in lines[1]
    assert err == ""


def test_parse_mode_shape_line_for_arrays(capsys):
    status, out, _ = run(capsys, "A*x - b")
    assert status == 0
    expr, shape = out.strip().splitlines()
    assert mdiff.parse(expr).expr is mdiff.parse("A*x - b").expr
    assert shape.startswith("vector(n)")
    status, out, _ = run(capsys, "x*y'")
    assert out.strip().splitlines()[1].startswith("n×m")


def test_parse_mode_with_declaration(capsys):
    status, out, _ = run(capsys, "x'*A*x", "-d", "A: matrix(3,3) spd")
    assert status == 0
    assert "A: matrix(3,3) spd" in out
    assert "x: vector(3)" in out


def test_parse_mode_json(capsys):
    status, out, _ = run(capsys, "W1*x + b1", "--json")
    assert status == 0
    data = json.loads(out)
    assert data["expression"] == "W1*x + b1"
    assert data["kind"] == "vector"
    assert data["variables"]["b1"].startswith("vector(")
    assert data["input"] == "W1*x + b1"


# --- derivatives ------------------------------------------------------------------------

def test_wrt_prints_the_gradient(capsys):
    status, out, err = run(capsys, "tr(A*X*B)", "wrt", "X")
    assert status == 0 and err == ""
    text = out.strip()
    assert text == "A'*B'"


def test_wrt_output_is_the_derivative_numerically(capsys):
    status, out, _ = run(capsys, "tr(A*X'*B*X)", "wrt", "X")
    assert status == 0
    printed = out.strip().splitlines()[0]
    p = mdiff.parse("tr(A*X'*B*X)")
    assert mdiff.equivalent(printed, "B*X*A + B'*X*A'", symbols=p.symbols()).equal


def test_declare_option(capsys):
    status, out, _ = run(capsys, "x'*A*x", "wrt", "x", "-d", "A: matrix(n,n) symmetric")
    assert status == 0
    printed = out.strip()
    r = mdiff.diff("x'*A*x", wrt="x", symbols={"A": "matrix(n,n) symmetric"})
    assert mdiff.parse(printed, r.f.symbols()).expr is r.expr
    assert mdiff.equivalent(printed, "2*A*x", symbols={"A": "matrix(n,n) symmetric",
                                                       "x": "vector(n)"}).equal


def test_declare_long_option_and_repeat(capsys):
    status, out, _ = run(capsys, "x'*A*y", "wrt", "y", "--declare", "A: matrix(2,3)",
                         "--declare", "x: vector(2)")
    assert status == 0
    r = mdiff.diff("x'*A*y", wrt="y", symbols={"A": "matrix(2,3)", "x": "vector(2)"})
    assert out.strip() == str(r)


def test_several_variables(capsys):
    status, out, _ = run(capsys, "h = tanh(W1*x + b1); 1/2*norm2(W2*h - y)^2",
                         "wrt", "W1", "W2")
    assert status == 0
    assert "d/dW1: " in out and "d/dW2: " in out


def test_kron_option(capsys):
    status, out, _ = run(capsys, "A*X*B", "wrt", "X", "--kron")
    assert status == 0
    assert "⊗" in out
    assert out.strip() == "B' ⊗ A"


def test_json_derivative(capsys):
    status, out, _ = run(capsys, "tr(A*X*B)", "wrt", "X", "--json")
    assert status == 0
    data = json.loads(out)
    assert data["wrt"] == "X" and data["result"] == "A'*B'"
    assert data["form"] == "gradient"
    assert data["input"] == "tr(A*X*B)"
    assert isinstance(data["shape"], list) and len(data["shape"]) == 2


def test_json_several_variables(capsys):
    status, out, _ = run(capsys, "h = tanh(W1*x + b1); 1/2*norm2(W2*h - y)^2",
                         "wrt", "W1", "W2", "--json")
    assert status == 0
    data = json.loads(out)
    assert [r["wrt"] for r in data["results"]] == ["W1", "W2"]


def test_stdin(capsys, monkeypatch):
    status, out, _ = run(capsys, "-", "wrt", "x", stdin="norm2(A*x - b)^2\n",
                         monkeypatch=monkeypatch)
    assert status == 0
    p = mdiff.parse("norm2(A*x - b)^2")
    assert mdiff.equivalent(out.strip(), "2*A'*(A*x - b)", symbols=p.symbols()).equal


def test_stdin_without_dash(capsys, monkeypatch):
    status, out, _ = run(capsys, stdin="x'*x", monkeypatch=monkeypatch)
    assert status == 0
    assert out.splitlines()[0] == "x'*x"


def test_stdin_multiline_program(capsys, monkeypatch):
    program = "A: matrix(n,n) symmetric\n# quadratic form\nx'*A*x\n"
    status, out, _ = run(capsys, "-", stdin=program, monkeypatch=monkeypatch)
    assert status == 0
    assert "A: matrix(n,n) symmetric" in out


# --- --check and --against -------------------------------------------------------------------

def test_check_passes_on_correct_derivative(capsys):
    status, out, _ = run(capsys, "log(det(X))", "wrt", "X", "--check", "--seed", "3")
    assert status == 0
    assert "check ok" in out


def test_check_json(capsys):
    status, out, _ = run(capsys, "x'*A*x", "wrt", "x", "--check", "--json")
    assert status == 0
    data = json.loads(out)
    assert "check" in data and data["check"]


def test_against_correct_formula(capsys):
    status, out, _ = run(capsys, "tr(A*X'*B*X)", "wrt", "X", "--against", "B*X*A + B'*X*A'")
    assert status == 0
    assert "equal" in out and "NOT" not in out


def test_against_wrong_formula_exits_1(capsys):
    status, out, err = run(capsys, "tr(A*X'*B*X)", "wrt", "X", "--against", "B*X*A")
    assert status == 1
    assert "NOT equal" in out
    assert "Traceback" not in out + err


def test_against_json(capsys):
    status, out, _ = run(capsys, "tr(A*X'*B*X)", "wrt", "X", "--against", "B*X*A", "--json")
    assert status == 1
    data = json.loads(out)
    assert data["against"]["equal"] is False
    assert data["against"]["formula"] == "B*X*A"


def test_against_unparseable_formula_exits_2(capsys):
    status, _, err = run(capsys, "tr(A*X)", "wrt", "X", "--against", "A' +")
    assert status == 2
    assert "^" in err


# --- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["x'*A*x +"],
    ["x $ y"],
    ["tr(A,B)"],
    ["sinus(x)"],
    ["A: matrix(2,3); B: matrix(4,5); A*B"],
    ["x: vector(n) wibble; x"],
    ["x'*x", "wrt", "y"],
    ["x'*x", "wrt"],
    ["x", "y"],
    ["x'*x", "--check"],
    ["x'*x", "wrt", "x", "-d", "A matrix"],
    ["x'*x", "wrt", "x", "-d", "A: matrix(n"],
    ["sin(" * 2000 + "x" + ")" * 2000],
    [""],
])
def test_bad_input_exits_2_without_traceback(capsys, argv):
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert err.strip()
    assert "Traceback" not in out + err
    assert "lark" not in (out + err).lower()


def test_parse_error_shows_caret_on_stderr(capsys):
    status, out, err = run(capsys, "x'*A*x + $ y")
    assert status == 2
    assert out == ""
    lines = err.rstrip("\n").splitlines()
    assert lines[0].startswith("ParseError")
    assert "line 1, col 10" in err
    assert lines[-2] == "    x'*A*x + $ y"
    assert lines[-1] == "    " + " " * 9 + "^"


def test_error_json_is_valid(capsys):
    status, out, err = run(capsys, "x'*A*x +", "--json")
    assert status == 2
    data = json.loads(out)
    assert data["error"] == "ParseError"
    assert data["line"] == 1 and data["column"] == 9
    assert data["message"]


def test_diff_error_json_is_valid(capsys):
    status, out, _ = run(capsys, "x'*A*x", "wrt", "q", "--json")
    assert status == 2
    data = json.loads(out)
    assert data["error"] == "DiffError"
    assert "q" in data["message"]


def test_empty_stdin_exits_2(capsys, monkeypatch):
    status, _, err = run(capsys, "-", stdin="", monkeypatch=monkeypatch)
    assert status == 2
    assert "ParseError" in err


def test_huge_number_exits_2(capsys):
    status, out, err = run(capsys, "9" * 5000)
    assert status == 2


# --- --version and --help ---------------------------------------------------------------------

def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        cli.run(["--version"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert mdiff.__version__ in out


def test_help_exits_0_and_shows_examples(capsys):
    with pytest.raises(SystemExit) as info:
        cli.run(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "examples" in out.lower()
    for option in ("--declare", "--check", "--against", "--json", "--kron", "--version", "wrt"):
        assert option in out
    assert "exit status" in out


def test_unknown_option_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        cli.run(["x", "--bogus"])
    assert info.value.code == 2


def test_python_dash_m_version():
    proc = subprocess.run([sys.executable, "-m", "mdiff", "--version"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"mdiff {mdiff.__version__}"
    assert "Traceback" not in proc.stderr
