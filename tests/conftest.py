"""Registers mdiff's Hypothesis profiles (importing ``strategies`` does) before
Hypothesis reads ``--hypothesis-profile``:
``python -m pytest --hypothesis-profile=long tests/test_properties.py`` (see README)."""

import strategies  # noqa: F401
