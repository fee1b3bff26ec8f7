"""One precedence table for every printer (higher binds tighter).

It mirrors the grammar: ``+ -`` < ``* / .* ./`` < unary ``-`` < ``⊗`` < ``^ .^``
< postfix ``'`` < atoms.
"""

ADD = 10
MUL = 20
NEG = 25
KRON = 30
POW = 40
POSTFIX = 50
ATOM = 60
