"""Translation to and from other systems (SymPy's matrix expressions)."""
