"""Registers mdiff's Hypothesis profiles before Hypothesis reads ``--hypothesis-profile``:
``python -m pytest --hypothesis-profile=long tests/test_properties.py`` (see README)."""

from strategies import register_profiles

register_profiles()
