"""The calculus: the table of differentials, the two readings of a linear map (adjoint,
vec-Jacobian), the chain rule over the DAG, and higher derivatives read as index
notation."""
