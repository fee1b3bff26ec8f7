"""The simplifier: the identity catalogue (``identities``) and the rewriter that applies
it (``engine``)."""
