"""Every ``$ mdiff ...`` example in the README prints what the README says."""

import re
import shlex
from pathlib import Path

import pytest

from mdiff.cli import run

README = Path(__file__).resolve().parents[1] / "README.md"


def _examples():
    text = README.read_text(encoding="utf-8")
    out = []
    for block in re.findall(r"```\n(.*?)```", text, flags=re.S):
        lines = block.splitlines()
        i = 0
        while i < len(lines):
            if lines[i].startswith("$ mdiff "):
                cmd = lines[i][2:]
                expected = []
                i += 1
                while i < len(lines) and not lines[i].startswith("$ "):
                    expected.append(lines[i])
                    i += 1
                out.append((cmd, "\n".join(expected).strip()))
            else:
                i += 1
    return out


EXAMPLES = _examples()


def test_readme_has_examples():
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("cmd,expected", EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_readme_example(cmd, expected, capsys):
    argv = shlex.split(cmd)[1:]
    status = run(argv)
    captured = capsys.readouterr()
    shown = (captured.out + captured.err).strip()
    assert shown == expected
    assert status == (2 if "Error" in expected else 0)
