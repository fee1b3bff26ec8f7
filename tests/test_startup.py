"""Start-up (issue 19): what a fresh process imports, and the grammar's table cache.

Timings are in ``benchmarks/bench_startup.py``; here only what must hold: ``import
mdiff`` and a plain gradient import neither SymPy nor SciPy (nor NumPy), ``--help`` not
even the parser, and the LALR tables are read from the user's cache, rebuilt quietly
when that is stale."""

import os
import subprocess
import sys

import pytest


def _run(code: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=env)


def _modules_after(code: str) -> set:
    proc = _run(code + "\nimport sys\nprint(' '.join(m for m in ('sympy', 'scipy', 'numpy', "
                "'lark') if m in sys.modules))")
    assert proc.returncode == 0, proc.stderr
    return set(proc.stdout.splitlines()[-1].split())


def test_import_mdiff_is_light():
    assert _modules_after("import mdiff") == set()


@pytest.mark.parametrize("text, wrt", [("tr(A*X'*B*X)", "X"), ("x'*A*x + b'*x", "x"),
                                       ("logdet(X) - tr(S*X)", "X"),
                                       ("h = tanh(W*x + b); norm2(h - y)^2", "W")])
def test_plain_gradient_imports_neither_sympy_nor_scipy(text, wrt):
    """Nor NumPy: a derivative printed as text or LaTeX evaluates nothing."""
    code = f"import mdiff\nr = mdiff.diff({text!r}, {wrt!r})\nprint(r, r.latex())"
    assert _modules_after(code) == {"lark"}


def test_cli_gradient_imports_only_the_parser():
    code = "from mdiff.cli import run\nrun([\"tr(A*X'*B*X)\", 'wrt', 'X'])"
    assert _modules_after(code) == {"lark"}


def test_help_and_version_import_no_engine():
    code = ("import contextlib, io\nfrom mdiff.cli import run\n"
            "for flag in ('--help', '--version'):\n"
            "    with contextlib.redirect_stdout(io.StringIO()):\n"
            "        try:\n            run([flag])\n        except SystemExit:\n            pass")
    assert _modules_after(code) == set()


def test_sympy_comes_with_the_features_that_use_it():
    assert "sympy" in _modules_after("import mdiff\nmdiff.parse('x').to_sympy()")
    assert "scipy" in _modules_after("import mdiff\nmdiff.minimize")
    assert "numpy" in _modules_after("import mdiff\nmdiff.diff(\"x'*x\", 'x').function()")


def test_grammar_tables_cached_in_the_users_folder_and_rebuilt_when_broken(tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    code = "import mdiff\nprint(mdiff.diff(\"x'*A*x\", 'x'))"
    first = _run(code, env)
    assert first.returncode == 0 and first.stdout.strip() == "(A + A')*x", first.stderr
    cached = list((tmp_path / "mdiff").iterdir())
    assert len(cached) == 1 and cached[0].stat().st_size > 1000
    cached[0].write_bytes(cached[0].read_bytes()[:200])        # a torn write
    again = _run(code, env)
    assert again.returncode == 0 and again.stdout == first.stdout
    assert again.stderr == ""                                  # rebuilt without a word
    assert cached[0].stat().st_size > 1000


def test_unwritable_cache_folder_still_parses(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    env = {**os.environ, "XDG_CACHE_HOME": str(blocker)}
    proc = _run("import mdiff\nprint(mdiff.diff(\"x'*x\", 'x'))", env)
    assert proc.returncode == 0 and proc.stdout.strip() == "2*x" and proc.stderr == ""
