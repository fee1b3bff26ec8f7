"""Printers: plain text in the input language (and later LaTeX, Kronecker, code).

Every printer uses the one precedence table in ``precedence.py``; printers never
differentiate and never simplify.
"""
