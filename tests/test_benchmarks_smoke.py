"""The benchmark scripts run (tiny sizes), so they cannot rot."""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_symbolic_benchmark_quick(tmp_path, capsys):
    out = tmp_path / "symbolic.md"
    _load("bench_symbolic").main(["--quick", "--out", str(out)])
    text = out.read_text()
    assert "median" in text and "| 4 | let |" in text
