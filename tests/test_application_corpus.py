"""The application corpus (``tests/application_corpus.py``): every textbook form equals
mdiff's result, and mdiff's printed result is no longer, relative to the textbook form,
than it was when the corpus was written.

``BOUNDS`` is a ratchet: each entry is the compactness ratio (printed length over the
textbook form's, spaces not counted) last measured (after the simplifier work of issue 18),
rounded up to one decimal, plus 0.1.  A change to the simplifier may lower a
ratio (then lower its bound) but never raise it past the bound.  A problem without an entry
is held to ``DEFAULT_BOUND``.  ``python benchmarks/bench_compactness.py`` prints the
distribution.
"""

from functools import lru_cache

import pytest

import mdiff
from application_corpus import KINDS, PROBLEMS, compactness

DEFAULT_BOUND = 1.3

BOUNDS = {
    'Bishop 2006 eq. 4.91 (binary cross-entropy) [w]': 1.1,
    'Bishop 2006 eq. 4.97 (logistic regression Hessian) [w]': 1.1,
    'Bishop 2006 eq. 4.90 (logistic loss through softplus, L2 penalty) [w]': 1.1,
    'King & Zeng 2001 (weighted logistic regression) [w]': 1.2,
    'McCullagh & Nelder 1989 §6.2 (Poisson regression, log link) [w]': 1.1,
    'McCullagh & Nelder 1989 §6.2 (Poisson regression Fisher information) [w]': 1.1,
    'McCullagh & Nelder 1989 §8.3 (gamma/exponential regression, log link) [w]': 1.1,
    'Bishop 2006 eq. 4.109 (multiclass cross-entropy, a batch) [W]': 1.0,
    'Bishop 2006 eq. 4.109 (softmax regression, the bias) [b]': 1.1,
    'Bishop 2006 eq. 4.110 (softmax cross-entropy Hessian in the logits) [z]': 1.1,
    'van den Oord, Li & Vinyals 2018 (InfoNCE) [q]': 1.1,
    'Hinton, Vinyals & Dean 2015 (softmax temperature) [c]': 1.2,
    'Tenenbaum & Freeman 2000 (bilinear logistic model, mixed) [x,y]': 0.9,
    'Hastie, Tibshirani & Friedman 2009 §3.4.1 (multi-output ridge) [B]': 1.1,
    'Hastie, Tibshirani & Friedman 2009 eq. 3.44 (ridge Hessian) [w]': 1.1,
    'Hastie, Tibshirani & Friedman 2009 §3.4.1 (ridge, d grad_w / d lambda) [w,c]': 1.1,
    'Zou & Hastie 2005 (elastic net, almost everywhere) [w]': 1.1,
    'Schmidt, Fung & Rosales 2007 (smooth-L1 LASSO) [x]': 1.2,
    'Hartley & Zisserman 2003 §A6.8 (pseudo-Huber loss) [x]': 1.1,
    'Hartley & Zisserman 2003 §A6.8 (pseudo-Huber Hessian) [x]': 1.1,
    'Black & Rangarajan 1996 (Cauchy/Lorentzian robust loss) [x]': 1.1,
    'Saleh & Saleh 2022 (log-cosh regression loss) [w]': 1.1,
    'Tikhonov 1963; Hansen 1998 §5.1 (general-form Tikhonov) [x]': 1.1,
    'Hansen 1998 §5.1 (general-form Tikhonov Hessian) [x]': 1.1,
    'Aitken 1935 (generalised least squares) [b]': 1.1,
    'Rohde & Tsybakov 2011 (trace regression, one observation) [B]': 1.1,
    'Rudin, Osher & Fatemi 1992 (smoothed total variation) [x]': 1.1,
    'Shawe-Taylor & Cristianini 2004 §2.2 (kernel ridge, dual) [z]': 1.1,
    'Rasmussen & Williams 2006 eq. 5.9 (GP marginal likelihood, kernel matrix) [K]': 1.0,
    'Rasmussen & Williams 2006 eq. 5.9 (GP marginal likelihood, noise variance) [c]': 1.0,
    'Rasmussen & Williams 2006 §5.4.1 (GP signal variance) [a]': 0.8,
    'Rasmussen & Williams 2006 eq. 2.26 (GP predictive variance) [k]': 1.1,
    'Mahalanobis 1936 (squared distance, the covariance) [S]': 1.2,
    'Mahalanobis 1936 (distance, the point) [x]': 1.1,
    'Friedman, Hastie & Tibshirani 2008 (Gaussian likelihood in the precision) [P]': 1.5,
    'Lange, Little & Taylor 1989 (multivariate Student-t location) [m]': 1.3,
    'Weinberger & Saul 2009 (metric learning, LMNN distance) [L]': 1.2,
    "Simon 2006 §5.2 (Kalman gain minimises the posterior covariance's trace) [K]": 1.3,
    'Anderson & Moore 1979 §3.1 (innovation likelihood, the mean) [m]': 1.0,
    'Anderson & Moore 1979 §3.1 (innovation likelihood, measurement noise) [R]': 1.1,
    'Anderson & Moore 1979 §3.1 (innovation likelihood, prior covariance) [P]': 1.0,
    'Anderson & Moore 1979 §2.4 (Kalman mean update, Jacobian in the prior mean) [m]': 1.1,
    'Anderson & Moore 1979 §2.4 (covariance prediction, Jacobian) [P]': 1.1,
    'Bertsekas 2017 §3.1 (one-step LQR cost with dynamics) [u]': 1.0,
    'Bertsekas 2017 §3.1 (one-step LQR Hessian) [u]': 1.1,
    'Bertsekas 2017 §3.1 (two-step LQR, the first control) [u0]': 1.1,
    'Anderson & Moore 2007 §2.4 (state-feedback gain, one-step cost) [K]': 1.1,
    'Zhou, Doyle & Glover 1996 §3.7 (Lyapunov residual, least squares) [P]': 1.1,
    'Golub & Van Loan 2013 §8.1.1 (Rayleigh quotient) [x]': 1.2,
    'Horn & Johnson 2013 §4.2 (Rayleigh quotient, non-symmetric A) [x]': 1.1,
    "Bishop 2006 eq. 4.26 (Fisher's linear discriminant) [w]": 1.1,
    'Kay 1993 §4.6 (matched-filter output SNR) [w]': 1.1,
    'Capon 1969 (MVDR beamformer output power) [R]': 1.1,
    'Bishop 2006 §12.1.2 (PCA reconstruction error) [W]': 1.1,
    'Koren, Bell & Volinsky 2009 (matrix factorisation, left factor) [U]': 1.1,
    'Koren, Bell & Volinsky 2009 (matrix factorisation, right factor) [V]': 1.1,
    'Koren, Bell & Volinsky 2009 (matrix factorisation Hessian, left factor) [U]': 1.1,
    'Koren, Bell & Volinsky 2009 (regularised factorisation) [V]': 1.1,
    'Srebro & Jaakkola 2003 (weighted low-rank approximation) [U]': 1.1,
    'Olshausen & Field 1996 (sparse coding, smoothed L1 on the codes) [Z]': 1.2,
    'Olshausen & Field 1996 (sparse coding, the dictionary) [D]': 1.2,
    'Boyd & Vandenberghe 2004 §7.5.2 (D-optimal design) [w]': 1.1,
    'Boyd & Vandenberghe 2004 §7.5.2 (D-optimal design Hessian) [w]': 1.1,
    'Pukelsheim 2006 §6.5 (A-optimal design, trace of the inverse) [w]': 1.1,
    'Boyd & Vandenberghe 2004 §11.2 (log barrier) [x]': 1.1,
    'Boyd & Vandenberghe 2004 §11.2 (log barrier Hessian) [x]': 1.1,
    'Boyd & Vandenberghe 2004 §11.2 (barrier method for a QP, centring objective) [x]': 1.1,
    'Boyd & Vandenberghe 2004 §11.2 (barrier method for a QP, Hessian) [x]': 1.1,
    'Boyd & Vandenberghe 2004 §11.6 (LMI barrier, diagonal perturbation) [x]': 1.1,
    'Boyd & Vandenberghe 2004 §11.6 (LMI barrier Hessian) [x]': 0.7,
    'Nocedal & Wright 2006 §17.3 (augmented Lagrangian, equality constraints) [x]': 1.1,
    'Boyd & Vandenberghe 2004 eq. 3.1.5 (log-sum-exp of an affine map, Hessian) [x]': 0.9,
    'Cover & Thomas 2006 §2.3 (KL divergence, second argument) [q]': 1.1,
    'Cover & Thomas 2006 §2.3 (KL divergence, first argument) [p]': 1.1,
    'Boyd & Vandenberghe 2004 §3.1.5 (negative entropy Hessian) [x]': 1.1,
    'Cuturi 2013 (entropy-regularised transport, the plan) [P]': 1.1,
    'Cuturi 2013 (entropy-regularised transport, regularisation weight) [P]': 1.1,
    'Cuturi 2013 (entropy-regularised transport, d grad_P / d c) [P,c]': 1.1,
    'Grandvalet & Bengio 2005 (entropy of a softmax) [x]': 1.9,
    'Goodfellow, Bengio & Courville 2016 §6.5 (two-layer MLP, first weights) [W1]': 1.1,
    'Goodfellow, Bengio & Courville 2016 §6.5 (two-layer MLP, second weights) [W2]': 1.1,
    'Goodfellow, Bengio & Courville 2016 §6.5 (two-layer MLP, first bias) [b1]': 1.1,
    'Goodfellow, Bengio & Courville 2016 §10.2.2 (RNN, two steps, recurrent weights) [W]': 1.1,
    'Goodfellow, Bengio & Courville 2016 §10.2.2 (RNN, two steps, input weights) [U]': 1.1,
    'Goodfellow, Bengio & Courville 2016 §10.2.2 (RNN, two steps, output weights) [V]': 1.0,
    'Goodfellow, Bengio & Courville 2016 §14.1 (tied-weight autoencoder) [W]': 1.1,
    'Vaswani et al. 2017 (attention readout, the query) [q]': 1.3,
    'Vaswani et al. 2017 (attention readout, the values) [V]': 1.1,
    'Vaswani et al. 2017 (attention over a batch of queries) [Q]': 1.0,
    'Ba, Kiros & Hinton 2016 (layer normalisation, the input) [x]': 1.3,
    'Ba, Kiros & Hinton 2016 (layer normalisation, the gain) [g]': 1.1,
    'Ioffe & Szegedy 2015 (mean centring of a layer) [x]': 1.0,
    'Hochreiter & Schmidhuber 1997 (LSTM cell, candidate weights) [C]': 1.0,
    'Hochreiter & Schmidhuber 1997 (LSTM cell, forget-gate weights) [F]': 0.9,
    'Ramachandran, Zoph & Le 2017 (SiLU/swish, Jacobian) [x]': 1.3,
    'He et al. 2016 (residual block, Jacobian in the input) [x]': 1.1,
    'Pascanu, Mikolov & Bengio 2013 (RNN state-to-state Jacobian) [h]': 1.1,
    'Vaswani et al. 2017 (attention output, Jacobian in the query) [q]': 1.2,
    'Bishop 2006 §4.3.2 (logistic gradient map, Jacobian) [w]': 1.1,
    'Salimans & Kingma 2016 (weight normalisation, Jacobian of the direction) [v]': 1.2,
    'Ioffe & Szegedy 2015 (centring, Jacobian) [x]': 1.1,
    'Candès, Li & Soltanolkotabi 2015 (Wirtinger flow, real phase retrieval) [x]': 1.1,
    'Candès, Li & Soltanolkotabi 2015 (real phase retrieval Hessian) [x]': 1.1,
    'Magnus & Neudecker 2019 §10.4 (bilinear plus squared inner product, mixed) [x,y]': 1.1,
    'Magnus & Neudecker 2019 §10.4 (trace of diagonal scalings, Hessian) [x]': 1.1,
}

IDS = [p.id for p in PROBLEMS]


@lru_cache(maxsize=None)
def _derivative(index):
    return PROBLEMS[index].diff()


def test_corpus_size():
    assert len(PROBLEMS) >= 60


def test_ids_are_unique_and_bounds_name_problems():
    assert len(set(IDS)) == len(IDS)
    assert set(BOUNDS) <= set(IDS), sorted(set(BOUNDS) - set(IDS))


def test_kinds():
    for p in PROBLEMS:
        assert p.kind in KINDS, p.id
        assert isinstance(p.wrt, list) == (p.kind == "mixed"), p.id


@pytest.mark.parametrize("index", range(len(PROBLEMS)), ids=IDS)
def test_textbook_form_equals_mdiff(index):
    p = PROBLEMS[index]
    r = _derivative(index)
    verdict = mdiff.against(r, p.textbook)
    assert verdict.equal, f"{verdict}\n  mdiff:    {r}\n  textbook: {p.textbook}"


@pytest.mark.parametrize("index", range(len(PROBLEMS)), ids=IDS)
def test_printed_result_is_compact(index):
    p = PROBLEMS[index]
    shown = str(_derivative(index))
    ratio = compactness(shown, p.textbook)
    bound = BOUNDS.get(p.id, DEFAULT_BOUND)
    assert ratio <= bound, f"ratio {ratio:.2f} > {bound}\n  mdiff:    {shown}\n  textbook: {p.textbook}"
