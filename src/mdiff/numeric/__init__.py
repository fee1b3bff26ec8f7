"""Numbers: numpy evaluation of expressions, the sampler and finite-difference checks,
and compiling generated code for an array library."""
