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


def test_run_quick(tmp_path):
    """``benchmarks/run.py --quick`` end to end, in its own process (JAX's float64 switch
    stays out of this one); peers that are not installed are marked, not fatal."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, str(BENCH / "run.py"), "--quick", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    text = (tmp_path / "RESULTS.md").read_text()
    for heading in ("## Targets", "## 1. Symbolic speed", "## 2. Scaling with depth",
                    "## 3. Generated code"):
        assert heading in text
    assert "| sympy |" in text and "| mdiff |" in text
    assert (tmp_path / "corpus.csv").exists()
    if importlib.util.find_spec("matplotlib") is not None:
        for name in ("corpus.png", "depth.png", "numeric.png"):
            assert (tmp_path / name).stat().st_size > 0
