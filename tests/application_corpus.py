"""Application problems: derivatives that ML, statistics, signal processing, control and
optimisation texts actually take, with the form a careful person writes by hand.

None of these is in ``tests/derivative_cases.py`` (that table holds the identities of the
Matrix Cookbook and a handful of one-layer ML gradients).  Each ``Problem`` is one
derivative — the text in mdiff's language, the variable (a list of two names for a mixed
derivative), the declarations it needs — and ``textbook``: the answer as compact as a
textbook writes it, in mdiff's language, using the let-binding names of the text where
the text has them.  Such a textbook form starts with the text's own bindings (so it is
compared like with like: mdiff prints them too), because ``mdiff.against`` reads the
formula on its own — a bare let name there would be a new free variable.  ``tests/test_application_corpus.py`` checks every textbook form
against mdiff's result with ``mdiff.against`` and holds the printed result's length to a
bound relative to it; ``benchmarks/bench_compactness.py`` prints the distribution.

``kind`` is ``"gradient"`` (``mdiff.diff(text, wrt)``), ``"hessian"``
(``mdiff.diff(text, wrt, order=2)``: d vec(grad f)/d vec(x)'), ``"mixed"``
(``mdiff.diff(text, wrt=[x, y])``: d vec(grad_x f)/d vec(y)') or ``"jacobian"``
(a vector- or matrix-valued text: d vec(F)/d vec(x)').

Sources are cited by author, year and equation or section: Bishop 2006 (Pattern
Recognition and Machine Learning), Rasmussen & Williams 2006 (Gaussian Processes for
Machine Learning), Boyd & Vandenberghe 2004 (Convex Optimization), Hastie, Tibshirani &
Friedman 2009 (The Elements of Statistical Learning), Goodfellow, Bengio & Courville 2016
(Deep Learning), Simon 2006 (Optimal State Estimation), Anderson & Moore 1979 (Optimal
Filtering), Bertsekas 2017 (Dynamic Programming and Optimal Control), Golub & Van Loan
2013 (Matrix Computations), McCullagh & Nelder 1989 (Generalized Linear Models),
Pukelsheim 2006 (Optimal Design of Experiments), Nocedal & Wright 2006 (Numerical
Optimization), Kay 1993 (Fundamentals of Statistical Signal Processing).
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("gradient", "hessian", "mixed", "jacobian")


@dataclass(frozen=True)
class Problem:
    source: str
    text: str
    wrt: str | list
    symbols: dict | None
    textbook: str
    kind: str = "gradient"

    @property
    def id(self) -> str:
        """Unique within the corpus: the source (which names the problem) and the variable."""
        wrt = ",".join(self.wrt) if isinstance(self.wrt, list) else self.wrt
        return f"{self.source} [{wrt}]"

    def diff(self):
        """mdiff's derivative of this problem (a ``mdiff.Derivative``)."""
        import mdiff

        order = 2 if self.kind == "hessian" else 1
        return mdiff.diff(self.text, wrt=self.wrt, symbols=self.symbols, order=order)


def compactness(printed: str, textbook: str) -> float:
    """Length of mdiff's printed result over the textbook form's, spaces not counted."""
    return len(printed.replace(" ", "")) / len(textbook.replace(" ", ""))


SYM = "matrix(n,n) symmetric"
SPD = "matrix(n,n) spd"

_MLP_LET = "h = sigmoid(W1*x + b1)"
_MLP = f"{_MLP_LET}; 1/2*norm2(W2*h + b2 - y)^2"
_RNN_LET = "h1 = tanh(W*h0 + U*x1); h2 = tanh(W*h1 + U*x2)"
_RNN = f"{_RNN_LET}; 1/2*norm2(V*h2 - y)^2"
_RNN_D2 = "(1 - h2.^2) .* (V'*(V*h2 - y))"
_GP_LET = "Ky = K + c*eye(n)"
_GP = f"{_GP_LET}; 1/2*y'*inv(Ky)*y + 1/2*logdet(Ky)"
_GP_SYMBOLS = {"K": SPD, "c": "scalar positive", "y": "vector(n)"}
_KF_LET = "S = H*P*H' + R; r = z - H*m"
_KF = f"{_KF_LET}; 1/2*logdet(S) + 1/2*r'*inv(S)*r"
_KF_SYMBOLS = {"H": "matrix(p,n)", "P": SPD, "R": "matrix(p,p) spd", "m": "vector(n)",
               "z": "vector(p)"}
_LQR_SYMBOLS = {"Q": SYM, "R": "matrix(m,m) symmetric", "B": "matrix(n,m)",
                "u": "vector(m)", "u0": "vector(m)", "u1": "vector(m)"}
_LN_LET = "z = x - sum(x)/n*vector(1); s = sqrt(z'*z/n + c)"
_LN = f"{_LN_LET}; w'*(g .* z/s)"
_LN_SYMBOLS = {"x": "vector(n)", "g": "vector(n)", "c": "scalar positive"}
_ATT_LET = "s = softmax(K'*q/c)"
_ATT = f"{_ATT_LET}; 1/2*norm2(V*s - y)^2"
_ATT_SYMBOLS = {"c": "scalar positive"}
_ATTM_LET = "P = softmax(K'*Q/c)"
_ATTM = f"{_ATTM_LET}; 1/2*norm2(V*P - Y)^2"
_DOPT = "-logdet(A'*diag(w)*A)"
_DOPT_SYMBOLS = {"A": "matrix(m,n)", "w": "vector(m) positive"}
_BARRIER = "-sum(log(b - A*x))"
_LSTM_LET = "c1 = sigmoid(F*x) .* c0 + sigmoid(G*x) .* tanh(C*x)"
_LSTM = f"{_LSTM_LET}; u'*tanh(c1)"

PROBLEMS: list[Problem] = [
    # ---- classification and generalised linear models ---------------------------------
    Problem("Bishop 2006 eq. 4.91 (binary cross-entropy)",
            "-sum(y .* log(sigmoid(X*w)) + (1 - y) .* log(1 - sigmoid(X*w)))", "w", None,
            "X'*(sigmoid(X*w) - y)"),
    Problem("Bishop 2006 eq. 4.97 (logistic regression Hessian)",
            "-sum(y .* log(sigmoid(X*w)) + (1 - y) .* log(1 - sigmoid(X*w)))", "w", None,
            "X'*diag(sigmoid(X*w) .* (1 - sigmoid(X*w)))*X", "hessian"),
    Problem("Bishop 2006 eq. 4.90 (logistic loss through softplus, L2 penalty)",
            "sum(softplus(X*w)) - y'*X*w + c/2*norm2(w)^2", "w", None,
            "X'*(sigmoid(X*w) - y) + c*w"),
    Problem("King & Zeng 2001 (weighted logistic regression)",
            "a'*(softplus(X*w) - y .* (X*w))", "w", {"a": "vector(m)"},
            "X'*(a .* (sigmoid(X*w) - y))"),
    Problem("McCullagh & Nelder 1989 §6.2 (Poisson regression, log link)",
            "sum(exp(X*w)) - y'*X*w", "w", None, "X'*(exp(X*w) - y)"),
    Problem("McCullagh & Nelder 1989 §6.2 (Poisson regression Fisher information)",
            "sum(exp(X*w)) - y'*X*w", "w", None, "X'*diag(exp(X*w))*X", "hessian"),
    Problem("McCullagh & Nelder 1989 §8.3 (gamma/exponential regression, log link)",
            "sum(y .* exp(-X*w) + X*w)", "w", None, "X'*(1 - y .* exp(-X*w))"),
    Problem("Bishop 2006 eq. 4.109 (multiclass cross-entropy, a batch)",
            "-sum(Y .* log(softmax(W*X)))", "W", None,
            "(softmax(W*X)*diag(Y'*vector(1)) - Y)*X'"),
    Problem("Bishop 2006 eq. 4.109 (softmax regression, the bias)",
            "-y'*log(softmax(W*x + b))", "b", None, "softmax(W*x + b)*sum(y) - y"),
    Problem("Bishop 2006 eq. 4.110 (softmax cross-entropy Hessian in the logits)",
            "logsumexp(z) - y'*z", "z", None,
            "diag(softmax(z)) - softmax(z)*softmax(z)'", "hessian"),
    Problem("van den Oord, Li & Vinyals 2018 (InfoNCE)",
            "logsumexp(K*q) - k'*q", "q", None, "K'*softmax(K*q) - k"),
    Problem("Hinton, Vinyals & Dean 2015 (softmax temperature)",
            "logsumexp(x/c)", "c", {"c": "scalar positive"}, "-x'*softmax(x/c)/c^2"),
    Problem("Tenenbaum & Freeman 2000 (bilinear logistic model, mixed)",
            "s = x'*A*y; softplus(s)", ["x", "y"], None,
            "s = x'*A*y; sigmoid(s)*A + sigmoid(s)*(1 - sigmoid(s))*A*y*x'*A", "mixed"),
    # ---- regression and regularisation ----------------------------------------------------
    Problem("Hastie, Tibshirani & Friedman 2009 §3.4.1 (multi-output ridge)",
            "norm2(Y - X*B)^2 + c*norm2(B)^2", "B", None, "2*X'*(X*B - Y) + 2*c*B"),
    Problem("Hastie, Tibshirani & Friedman 2009 eq. 3.44 (ridge Hessian)",
            "norm2(X*w - y)^2 + c*norm2(w)^2", "w", None,
            "2*(X'*X + c*eye(m))", "hessian"),
    Problem("Hastie, Tibshirani & Friedman 2009 §3.4.1 (ridge, d grad_w / d lambda)",
            "norm2(X*w - y)^2 + c*norm2(w)^2", ["w", "c"], None, "2*w", "mixed"),
    Problem("Zou & Hastie 2005 (elastic net, almost everywhere)",
            "1/2*norm2(X*w - y)^2 + a*norm1(w) + c/2*norm2(w)^2", "w", None,
            "X'*(X*w - y) + a*sign(w) + c*w"),
    Problem("Schmidt, Fung & Rosales 2007 (smooth-L1 LASSO)",
            "1/2*norm2(A*x - b)^2 + c*sum(sqrt(x.^2 + 1e-2))", "x", None,
            "A'*(A*x - b) + c*x ./ sqrt(x.^2 + 1e-2)"),
    Problem("Hartley & Zisserman 2003 §A6.8 (pseudo-Huber loss)",
            "sum(sqrt(1 + (A*x - b).^2) - 1)", "x", None,
            "A'*((A*x - b) ./ sqrt(1 + (A*x - b).^2))"),
    Problem("Hartley & Zisserman 2003 §A6.8 (pseudo-Huber Hessian)",
            "sum(sqrt(1 + (A*x - b).^2) - 1)", "x", None,
            "A'*diag((1 + (A*x - b).^2).^(-3/2))*A", "hessian"),
    Problem("Black & Rangarajan 1996 (Cauchy/Lorentzian robust loss)",
            "sum(log(1 + (A*x - b).^2))", "x", None,
            "2*A'*((A*x - b) ./ (1 + (A*x - b).^2))"),
    Problem("Saleh & Saleh 2022 (log-cosh regression loss)",
            "sum(log(cosh(X*w - y)))", "w", None, "X'*tanh(X*w - y)"),
    Problem("Tikhonov 1963; Hansen 1998 §5.1 (general-form Tikhonov)",
            "norm2(A*x - b)^2 + c*norm2(L*x)^2", "x", None,
            "2*A'*(A*x - b) + 2*c*L'*L*x"),
    Problem("Hansen 1998 §5.1 (general-form Tikhonov Hessian)",
            "norm2(A*x - b)^2 + c*norm2(L*x)^2", "x", None,
            "2*(A'*A + c*L'*L)", "hessian"),
    Problem("Aitken 1935 (generalised least squares)",
            "(y - X*b)'*inv(S)*(y - X*b)", "b", {"b": "vector(p)", "S": SPD},
            "-2*X'*inv(S)*(y - X*b)"),
    Problem("Rohde & Tsybakov 2011 (trace regression, one observation)",
            "(c - tr(X'*B))^2", "B", None, "-2*(c - tr(X'*B))*X"),
    Problem("Rudin, Osher & Fatemi 1992 (smoothed total variation)",
            "sum(sqrt((D*x).^2 + 1e-2))", "x", None,
            "D'*((D*x) ./ sqrt((D*x).^2 + 1e-2))"),
    Problem("Shawe-Taylor & Cristianini 2004 §2.2 (kernel ridge, dual)",
            "1/2*z'*(K + c*eye(n))*z - y'*z", "z", {"K": SYM, "z": "vector(n)"},
            "(K + c*eye(n))*z - y"),
    # ---- Gaussian models, Mahalanobis distances, Gaussian processes ------------------------
    Problem("Rasmussen & Williams 2006 eq. 5.9 (GP marginal likelihood, kernel matrix)",
            _GP, "K", _GP_SYMBOLS, f"{_GP_LET}; 1/2*(inv(Ky) - inv(Ky)*y*y'*inv(Ky))"),
    Problem("Rasmussen & Williams 2006 eq. 5.9 (GP marginal likelihood, noise variance)",
            _GP, "c", _GP_SYMBOLS, f"{_GP_LET}; 1/2*tr(inv(Ky)) - 1/2*y'*inv(Ky)^2*y"),
    Problem("Rasmussen & Williams 2006 §5.4.1 (GP signal variance)",
            "1/2*y'*inv(a*K + c*eye(n))*y + 1/2*logdet(a*K + c*eye(n))", "a",
            {"K": SPD, "a": "scalar positive", "c": "scalar positive"},
            "1/2*tr(inv(a*K + c*eye(n))*K)"
            " - 1/2*y'*inv(a*K + c*eye(n))*K*inv(a*K + c*eye(n))*y"),
    Problem("Rasmussen & Williams 2006 eq. 2.26 (GP predictive variance)",
            "c - k'*inv(K)*k", "k", {"K": SPD}, "-2*inv(K)*k"),
    Problem("Mahalanobis 1936 (squared distance, the covariance)",
            "(x - m)'*inv(S)*(x - m)", "S", {"S": SPD, "m": "vector(n)"},
            "-inv(S)*(x - m)*(x - m)'*inv(S)"),
    Problem("Mahalanobis 1936 (distance, the point)",
            "sqrt((x - m)'*inv(S)*(x - m))", "x", {"S": SPD, "m": "vector(n)"},
            "inv(S)*(x - m)/sqrt((x - m)'*inv(S)*(x - m))"),
    Problem("Friedman, Hastie & Tibshirani 2008 (Gaussian likelihood in the precision)",
            "-1/2*logdet(P) + 1/2*tr(P*C)", "P", {"P": SPD, "C": SYM},
            "(C - inv(P))/2"),
    Problem("Lange, Little & Taylor 1989 (multivariate Student-t location)",
            "e/2*log(1 + (x - m)'*inv(S)*(x - m)/d)", "m",
            {"S": SPD, "m": "vector(n)", "d": "scalar positive"},
            "-e*inv(S)*(x - m)/(d + (x - m)'*inv(S)*(x - m))"),
    Problem("Weinberger & Saul 2009 (metric learning, LMNN distance)",
            "(x - y)'*L'*L*(x - y)", "L", None, "2*L*(x - y)*(x - y)'"),
    # ---- Kalman filtering and control --------------------------------------------------------
    Problem("Simon 2006 §5.2 (Kalman gain minimises the posterior covariance's trace)",
            "tr((eye(n) - K*H)*P*(eye(n) - K*H)' + K*R*K')", "K",
            {"P": SPD, "R": "matrix(p,p) spd", "H": "matrix(p,n)"},
            "2*K*(H*P*H' + R) - 2*P*H'"),
    Problem("Anderson & Moore 1979 §3.1 (innovation likelihood, the mean)",
            _KF, "m", _KF_SYMBOLS, f"{_KF_LET}; -H'*inv(S)*r"),
    Problem("Anderson & Moore 1979 §3.1 (innovation likelihood, measurement noise)",
            _KF, "R", _KF_SYMBOLS, f"{_KF_LET}; 1/2*(inv(S) - inv(S)*r*r'*inv(S))"),
    Problem("Anderson & Moore 1979 §3.1 (innovation likelihood, prior covariance)",
            _KF, "P", _KF_SYMBOLS, f"{_KF_LET}; 1/2*H'*(inv(S) - inv(S)*r*r'*inv(S))*H"),
    Problem("Anderson & Moore 1979 §2.4 (Kalman mean update, Jacobian in the prior mean)",
            "m + K*(z - H*m)", "m", None, "eye(n) - K*H", "jacobian"),
    Problem("Anderson & Moore 1979 §2.4 (covariance prediction, Jacobian)",
            "F*P*F' + Q", "P", None, "F ⊗ F", "jacobian"),
    Problem("Bertsekas 2017 §3.1 (one-step LQR cost with dynamics)",
            "x1 = A*x0 + B*u; x1'*Q*x1 + u'*R*u", "u", _LQR_SYMBOLS,
            "x1 = A*x0 + B*u; 2*(B'*Q*x1 + R*u)"),
    Problem("Bertsekas 2017 §3.1 (one-step LQR Hessian)",
            "x1 = A*x0 + B*u; x1'*Q*x1 + u'*R*u", "u", _LQR_SYMBOLS,
            "2*(B'*Q*B + R)", "hessian"),
    Problem("Bertsekas 2017 §3.1 (two-step LQR, the first control)",
            "x1 = A*x0 + B*u0; x2 = A*x1 + B*u1;"
            " x1'*Q*x1 + x2'*Q*x2 + u0'*R*u0 + u1'*R*u1", "u0", _LQR_SYMBOLS,
            "x1 = A*x0 + B*u0; x2 = A*x1 + B*u1; 2*(B'*Q*x1 + B'*A'*Q*x2 + R*u0)"),
    Problem("Anderson & Moore 2007 §2.4 (state-feedback gain, one-step cost)",
            "tr((A + B*K)'*P*(A + B*K)) + tr(K'*R*K)", "K",
            {"P": SYM, "R": "matrix(m,m) symmetric", "B": "matrix(n,m)"},
            "2*(B'*P*(A + B*K) + R*K)"),
    Problem("Zhou, Doyle & Glover 1996 §3.7 (Lyapunov residual, least squares)",
            "R = A'*P + P*A + Q; norm2(R)^2", "P", {"P": SYM, "Q": SYM},
            "R = A'*P + P*A + Q; 2*(A*R + R*A')"),
    # ---- dimensionality reduction, factorisation, quotients ----------------------------------
    Problem("Golub & Van Loan 2013 §8.1.1 (Rayleigh quotient)",
            "(x'*A*x)/(x'*x)", "x", {"A": SYM},
            "2*(A*x - (x'*A*x)/(x'*x)*x)/(x'*x)"),
    Problem("Horn & Johnson 2013 §4.2 (Rayleigh quotient, non-symmetric A)",
            "(x'*A*x)/(x'*x)", "x", None,
            "((A + A')*x - 2*(x'*A*x)/(x'*x)*x)/(x'*x)"),
    Problem("Bishop 2006 eq. 4.26 (Fisher's linear discriminant)",
            "(w'*Sb*w)/(w'*Sw*w)", "w", {"Sb": SYM, "Sw": SPD},
            "2*(Sb*w - (w'*Sb*w)/(w'*Sw*w)*Sw*w)/(w'*Sw*w)"),
    Problem("Kay 1993 §4.6 (matched-filter output SNR)",
            "(w'*s)^2/(w'*R*w)", "w", {"R": SPD, "s": "vector(n)"},
            "2*(w'*s)*s/(w'*R*w) - 2*(w'*s)^2*R*w/(w'*R*w)^2"),
    Problem("Capon 1969 (MVDR beamformer output power)",
            "1/(a'*inv(R)*a)", "R", {"R": SPD, "a": "vector(n)"},
            "inv(R)*a*a'*inv(R)/(a'*inv(R)*a)^2"),
    Problem("Bishop 2006 §12.1.2 (PCA reconstruction error)",
            "R = X - W*W'*X; norm2(R)^2", "W", None,
            "R = X - W*W'*X; -2*(R*X'*W + X*R'*W)"),
    Problem("Koren, Bell & Volinsky 2009 (matrix factorisation, left factor)",
            "norm2(M - U*V')^2", "U", None, "-2*(M - U*V')*V"),
    Problem("Koren, Bell & Volinsky 2009 (matrix factorisation, right factor)",
            "norm2(M - U*V')^2", "V", None, "-2*(M - U*V')'*U"),
    Problem("Koren, Bell & Volinsky 2009 (matrix factorisation Hessian, left factor)",
            "norm2(M - U*V')^2", "U", None, "2*((V'*V) ⊗ eye(n))", "hessian"),
    Problem("Koren, Bell & Volinsky 2009 (regularised factorisation)",
            "norm2(M - U*V')^2 + c*(norm2(U)^2 + norm2(V)^2)", "V", None,
            "2*c*V - 2*(M - U*V')'*U"),
    Problem("Srebro & Jaakkola 2003 (weighted low-rank approximation)",
            "norm2(W .* (M - U*V'))^2", "U", None, "-2*(W .* W .* (M - U*V'))*V"),
    Problem("Olshausen & Field 1996 (sparse coding, smoothed L1 on the codes)",
            "1/2*norm2(X - D*Z)^2 + c*sum(sqrt(Z.^2 + 1e-2))", "Z", None,
            "D'*(D*Z - X) + c*Z ./ sqrt(Z.^2 + 1e-2)"),
    Problem("Olshausen & Field 1996 (sparse coding, the dictionary)",
            "1/2*norm2(X - D*Z)^2 + c*sum(sqrt(Z.^2 + 1e-2))", "D", None,
            "(D*Z - X)*Z'"),
    # ---- experiment design, barriers, constrained optimisation -------------------------------
    Problem("Boyd & Vandenberghe 2004 §7.5.2 (D-optimal design)",
            _DOPT, "w", _DOPT_SYMBOLS, "-diag(A*inv(A'*diag(w)*A)*A')"),
    Problem("Boyd & Vandenberghe 2004 §7.5.2 (D-optimal design Hessian)",
            _DOPT, "w", _DOPT_SYMBOLS, "(A*inv(A'*diag(w)*A)*A').^2", "hessian"),
    Problem("Pukelsheim 2006 §6.5 (A-optimal design, trace of the inverse)",
            "tr(inv(A'*diag(w)*A))", "w", _DOPT_SYMBOLS,
            "-diag(A*inv(A'*diag(w)*A)^2*A')"),
    Problem("Boyd & Vandenberghe 2004 §11.2 (log barrier)",
            _BARRIER, "x", None, "A'*(1 ./ (b - A*x))"),
    Problem("Boyd & Vandenberghe 2004 §11.2 (log barrier Hessian)",
            _BARRIER, "x", None, "A'*diag(1 ./ (b - A*x).^2)*A", "hessian"),
    Problem("Boyd & Vandenberghe 2004 §11.2 (barrier method for a QP, centring objective)",
            "c*(1/2*x'*P*x + q'*x) - sum(log(b - A*x))", "x", {"P": SYM},
            "c*(P*x + q) + A'*(1 ./ (b - A*x))"),
    Problem("Boyd & Vandenberghe 2004 §11.2 (barrier method for a QP, Hessian)",
            "c*(1/2*x'*P*x + q'*x) - sum(log(b - A*x))", "x", {"P": SYM},
            "c*P + A'*diag(1 ./ (b - A*x).^2)*A", "hessian"),
    Problem("Boyd & Vandenberghe 2004 §11.6 (LMI barrier, diagonal perturbation)",
            "-logdet(F + diag(x))", "x", {"F": SPD, "x": "vector(n) positive"},
            "-diag(inv(F + diag(x)))"),
    Problem("Boyd & Vandenberghe 2004 §11.6 (LMI barrier Hessian)",
            "-logdet(F + diag(x))", "x", {"F": SPD, "x": "vector(n) positive"},
            "inv(F + diag(x)) .* inv(F + diag(x))'", "hessian"),
    Problem("Nocedal & Wright 2006 §17.3 (augmented Lagrangian, equality constraints)",
            "1/2*x'*P*x + q'*x - u'*(A*x - b) + c/2*norm2(A*x - b)^2", "x", {"P": SYM},
            "P*x + q - A'*u + c*A'*(A*x - b)"),
    Problem("Boyd & Vandenberghe 2004 eq. 3.1.5 (log-sum-exp of an affine map, Hessian)",
            "logsumexp(A*x + b)", "x", None,
            "A'*(diag(softmax(A*x + b)) - softmax(A*x + b)*softmax(A*x + b)')*A", "hessian"),
    # ---- entropy and divergences --------------------------------------------------------------
    Problem("Cover & Thomas 2006 §2.3 (KL divergence, second argument)",
            "sum(p .* log(p ./ q))", "q", {"p": "vector(n) positive", "q": "vector(n) positive"},
            "-p ./ q"),
    Problem("Cover & Thomas 2006 §2.3 (KL divergence, first argument)",
            "sum(p .* log(p ./ q))", "p", {"p": "vector(n) positive", "q": "vector(n) positive"},
            "log(p ./ q) + 1"),
    Problem("Boyd & Vandenberghe 2004 §3.1.5 (negative entropy Hessian)",
            "sum(x .* log(x))", "x", {"x": "vector(n) positive"}, "diag(1 ./ x)", "hessian"),
    Problem("Cuturi 2013 (entropy-regularised transport, the plan)",
            "tr(C'*P) + sum(P .* (log(P) - 1))", "P", {"P": "matrix(n,m) positive"},
            "C + log(P)"),
    Problem("Cuturi 2013 (entropy-regularised transport, regularisation weight)",
            "tr(C'*P) + c*sum(P .* (log(P) - 1))", "P", {"P": "matrix(n,m) positive"},
            "C + c*log(P)"),
    Problem("Cuturi 2013 (entropy-regularised transport, d grad_P / d c)",
            "tr(C'*P) + c*sum(P .* (log(P) - 1))", ["P", "c"], {"P": "matrix(n,m) positive"},
            "vec(log(P))", "mixed"),
    Problem("Grandvalet & Bengio 2005 (entropy of a softmax)",
            "s = softmax(x); -s'*log(s)", "x", None,
            "s = softmax(x); s*(s'*log(s)) - s .* log(s)"),
    # ---- neural networks --------------------------------------------------------------------
    Problem("Goodfellow, Bengio & Courville 2016 §6.5 (two-layer MLP, first weights)",
            _MLP, "W1", None, f"{_MLP_LET}; ((W2'*(W2*h + b2 - y)) .* h .* (1 - h))*x'"),
    Problem("Goodfellow, Bengio & Courville 2016 §6.5 (two-layer MLP, second weights)",
            _MLP, "W2", None, f"{_MLP_LET}; (W2*h + b2 - y)*h'"),
    Problem("Goodfellow, Bengio & Courville 2016 §6.5 (two-layer MLP, first bias)",
            _MLP, "b1", None, f"{_MLP_LET}; (W2'*(W2*h + b2 - y)) .* h .* (1 - h)"),
    Problem("Goodfellow, Bengio & Courville 2016 §10.2.2 (RNN, two steps, recurrent weights)",
            _RNN, "W", None,
            f"{_RNN_LET}; d2 = {_RNN_D2}; d2*h1' + ((1 - h1.^2) .* (W'*d2))*h0'"),
    Problem("Goodfellow, Bengio & Courville 2016 §10.2.2 (RNN, two steps, input weights)",
            _RNN, "U", None,
            f"{_RNN_LET}; d2 = {_RNN_D2}; d2*x2' + ((1 - h1.^2) .* (W'*d2))*x1'"),
    Problem("Goodfellow, Bengio & Courville 2016 §10.2.2 (RNN, two steps, output weights)",
            _RNN, "V", None, f"{_RNN_LET}; (V*h2 - y)*h2'"),
    Problem("Goodfellow, Bengio & Courville 2016 §14.1 (tied-weight autoencoder)",
            "h = sigmoid(W*x + b); norm2(W'*h - x)^2", "W", None,
            "h = sigmoid(W*x + b); 2*h*(W'*h - x)' + 2*((W*(W'*h - x)) .* h .* (1 - h))*x'"),
    Problem("Vaswani et al. 2017 (attention readout, the query)",
            _ATT, "q", _ATT_SYMBOLS, f"{_ATT_LET}; K*(diag(s) - s*s')*V'*(V*s - y)/c"),
    Problem("Vaswani et al. 2017 (attention readout, the values)",
            _ATT, "V", _ATT_SYMBOLS, f"{_ATT_LET}; (V*s - y)*s'"),
    Problem("Vaswani et al. 2017 (attention over a batch of queries)",
            _ATTM, "Q", _ATT_SYMBOLS,
            f"{_ATTM_LET}; K*(P .* (V'*(V*P - Y) - matrix(1)*(P .* (V'*(V*P - Y)))))/c"),
    Problem("Ba, Kiros & Hinton 2016 (layer normalisation, the input)",
            _LN, "x", _LN_SYMBOLS,
            f"{_LN_LET}; (g .* w - sum(g .* w)/n*vector(1))/s - (z'*(g .* w))/(n*s^3)*z"),
    Problem("Ba, Kiros & Hinton 2016 (layer normalisation, the gain)",
            _LN, "g", _LN_SYMBOLS, f"{_LN_LET}; w .* z/s"),
    Problem("Ioffe & Szegedy 2015 (mean centring of a layer)",
            "z = x - sum(x)/n*vector(1); 1/2*norm2(z - y)^2", "x", {"x": "vector(n)"},
            "z = x - sum(x)/n*vector(1); z - y - sum(z - y)/n*vector(1)"),
    Problem("Hochreiter & Schmidhuber 1997 (LSTM cell, candidate weights)",
            _LSTM, "C", None,
            f"{_LSTM_LET}; (u .* (1 - tanh(c1).^2) .* sigmoid(G*x) .* (1 - tanh(C*x).^2))*x'"),
    Problem("Hochreiter & Schmidhuber 1997 (LSTM cell, forget-gate weights)",
            _LSTM, "F", None,
            f"{_LSTM_LET}; (u .* (1 - tanh(c1).^2) .* c0 .* sigmoid(F*x) .* (1 - sigmoid(F*x)))*x'"),
    Problem("Ramachandran, Zoph & Le 2017 (SiLU/swish, Jacobian)",
            "x .* sigmoid(x)", "x", None,
            "diag(sigmoid(x) .* (1 + x .* (1 - sigmoid(x))))", "jacobian"),
    Problem("He et al. 2016 (residual block, Jacobian in the input)",
            "x + W2*tanh(W1*x)", "x", None,
            "eye(n) + W2*diag(1 - tanh(W1*x).^2)*W1", "jacobian"),
    Problem("Pascanu, Mikolov & Bengio 2013 (RNN state-to-state Jacobian)",
            "tanh(W*h + U*x)", "h", None, "diag(1 - tanh(W*h + U*x).^2)*W", "jacobian"),
    Problem("Vaswani et al. 2017 (attention output, Jacobian in the query)",
            "s = softmax(K'*q); V*s", "q", None,
            "s = softmax(K'*q); V*(diag(s) - s*s')*K'", "jacobian"),
    Problem("Bishop 2006 §4.3.2 (logistic gradient map, Jacobian)",
            "X'*(sigmoid(X*w) - y)", "w", None,
            "X'*diag(sigmoid(X*w) .* (1 - sigmoid(X*w)))*X", "jacobian"),
    Problem("Salimans & Kingma 2016 (weight normalisation, Jacobian of the direction)",
            "v/norm2(v)", "v", None, "(eye(n) - v*v'/(v'*v))/norm2(v)", "jacobian"),
    Problem("Ioffe & Szegedy 2015 (centring, Jacobian)",
            "x - sum(x)/n*vector(1)", "x", {"x": "vector(n)"}, "eye(n) - matrix(1)/n",
            "jacobian"),
    # ---- signal processing ---------------------------------------------------------------------
    Problem("Candès, Li & Soltanolkotabi 2015 (Wirtinger flow, real phase retrieval)",
            "1/4*norm2((A*x).^2 - y)^2", "x", None, "A'*(((A*x).^2 - y) .* (A*x))"),
    Problem("Candès, Li & Soltanolkotabi 2015 (real phase retrieval Hessian)",
            "1/4*norm2((A*x).^2 - y)^2", "x", None, "A'*diag(3*(A*x).^2 - y)*A", "hessian"),
    # ---- mixed derivatives, Hessians of the issue -------------------------------------------
    Problem("Magnus & Neudecker 2019 §10.4 (bilinear plus squared inner product, mixed)",
            "x'*A*y + (x'*y)^2", ["x", "y"], None, "A + 2*(x'*y)*eye(n) + 2*y*x'", "mixed"),
    Problem("Magnus & Neudecker 2019 §10.4 (trace of diagonal scalings, Hessian)",
            "tr(diag(x)*A*diag(x)*B)", "x", None, "A' .* B + A .* B'", "hessian"),
]
