"""Retake the README's screenshots of the page (docs/web.png, docs/web-phone.png).

    python docs/screenshots.py          # needs ".[web]" and Debian's chromium

Starts ``mdiff serve`` on a free localhost port, opens the seed article's Gaussian (both
variables, solved, its derivation unfolded) in headless Chromium at a desktop and at a
phone's width, and writes the two PNGs.  Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
GAUSSIAN = ("D: matrix(p,N); S: matrix(p,p) spd; m: vector(p);\n"
            "-N/2*logdet(S) - 1/2*tr((D - m*vector(1)')'*inv(S)*(D - m*vector(1)'))")
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars")


def shoot(url: str, path: Path, width: int, height: int) -> None:
    profile = tempfile.mkdtemp(prefix="mdiff-shot-")
    try:
        subprocess.run([shutil.which("chromium") or "/usr/bin/chromium", *CHROMIUM_FLAGS,
                        f"--user-data-dir={profile}", f"--window-size={width},{height}",
                        "--virtual-time-budget=20000", f"--screenshot={path}", url],
                       check=True, capture_output=True, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def main() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "mdiff", "serve", "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        base = re.search(r"http://127\.0\.0\.1:\d+/", proc.stdout.readline()).group(0)
        query = urllib.parse.urlencode({"expr": GAUSSIAN, "wrt": "m S", "solve": "1"})
        shoot(f"{base}?{query}", HERE / "web.png", 1000, 1900)
        shoot(f"{base}?{query}", HERE / "web-phone.png", 390, 1600)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)


if __name__ == "__main__":
    main()
