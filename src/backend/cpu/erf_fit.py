#!/usr/bin/env python3
"""Derives the erf/erfc polynomial coefficients used in vec_math-inl.h.

Run with plain Python 3 (no packages): python3 src/backend/cpu/erf_fit.py

Two fits, both by Chebyshev interpolation (near-minimax) in double precision, then converted to
monomial coefficients for Horner evaluation:

  erfc(a) = t * exp(-a^2 + Q(t)),  t = 2 / (2 + a),  a >= 0, Q of degree 11 over t in [0, 1].
      Q(t) = log(erfc(a) * exp(a^2) / t) is smooth on [0, 1] (at t -> 0 it tends to
      log(1 / (2 sqrt(pi)))), so one polynomial covers the whole half line.
  erf(z) = z * P(z^2) for |z| < 0.75,  P of degree 5 in z^2.

The script prints the coefficients (as f32 literals, lowest degree first) and the error of each
fit with every operation rounded to f32 (Horner's rule here; the kernel evaluates Q with Estrin's
scheme, whose measured error is the same: see tests/unit/backend/tolerances.h).
"""
import math
import struct
from fractions import Fraction


def f32(v):
    return struct.unpack("f", struct.pack("f", v))[0]


def erfcx(z):
    """erfc(z) * exp(z^2) for z >= 0, accurate to double precision."""
    if z < 5.0:
        return math.erfc(z) * math.exp(z * z)
    if z < 8.0:
        return math.exp(math.log(math.erfc(z)) + z * z)
    # Asymptotic series; at z >= 8 its 13-term truncation error is below 1e-14.
    s, term = 1.0, 1.0
    for k in range(1, 14):
        term *= -(2 * k - 1) / (2 * z * z)
        s += term
    return s / (z * math.sqrt(math.pi))


def chebyshev_fit(f, a, b, degree, nodes):
    """Monomial coefficients (lowest first) of the Chebyshev interpolant of f on [a, b]."""
    xs = [math.cos(math.pi * (k + 0.5) / nodes) for k in range(nodes)]
    fs = [f(a + (b - a) * (x + 1) / 2) for x in xs]
    c = [2.0 / nodes * sum(fs[k] * math.cos(math.pi * j * (k + 0.5) / nodes) for k in range(nodes))
         for j in range(degree + 1)]
    c[0] /= 2
    # Chebyshev polynomials T_j(u) as exact monomials in u.
    T = [[Fraction(1)], [Fraction(0), Fraction(1)]]
    for j in range(2, degree + 1):
        p = [Fraction(0)] + [2 * v for v in T[j - 1]]
        q = T[j - 2] + [Fraction(0)] * (len(p) - len(T[j - 2]))
        T.append([p[i] - q[i] for i in range(len(p))])
    in_u = [Fraction(0)] * (degree + 1)
    for j in range(degree + 1):
        for i, v in enumerate(T[j]):
            in_u[i] += Fraction(c[j]) * v
    # u = A x + B maps [a, b] to [-1, 1].
    A = Fraction(2) / (Fraction(b) - Fraction(a))
    B = -(Fraction(a) + Fraction(b)) / (Fraction(b) - Fraction(a))
    in_x = [Fraction(0)] * (degree + 1)
    for i, v in enumerate(in_u):
        for k in range(i + 1):
            in_x[k] += v * math.comb(i, k) * A**k * B**(i - k)
    return [float(v) for v in in_x]


def horner_f32(coeffs, x):
    r = coeffs[-1]
    for v in reversed(coeffs[:-1]):
        r = f32(r * x + v)  # fused multiply-add: one rounding
    return r


def main():
    def q_target(t):
        if t == 0.0:
            return math.log(1.0 / (2.0 * math.sqrt(math.pi)))
        return math.log(erfcx(2.0 / t - 2.0) / t)

    q = [f32(v) for v in chebyshev_fit(q_target, 0.0, 1.0, 11, 60)]
    q_err = max(abs(horner_f32(q, t) - q_target(t)) for t in (i / 20000 for i in range(20001)))
    worst = (0.0, 0.0)
    for i in range(1, 100001):
        a = f32(i * 9.0 / 100000)
        t = f32(2.0 / f32(2.0 + a))
        e = f32(t * f32(math.exp(f32(horner_f32(q, t) - f32(a * a)))))
        rel = abs(e - math.erfc(a)) / math.erfc(a)
        worst = max(worst, (rel, a))
    print("Q(t), degree 11:", ", ".join("%.9ef" % v for v in q))
    print("  max |Q - target| (f32 Horner): %.3g" % q_err)
    print("  max relative error of erfc(a), a in (0, 9]: %.3g at a = %.4g" % worst)

    def p_target(s):
        return math.erf(math.sqrt(s)) / math.sqrt(s) if s > 0 else 2.0 / math.sqrt(math.pi)

    p = [f32(v) for v in chebyshev_fit(p_target, 0.0, 0.75**2, 5, 40)]
    worst = 0.0
    for i in range(1, 100001):
        z = f32(i * 0.75 / 100000)
        e = f32(z * horner_f32(p, f32(z * z)))
        worst = max(worst, abs(e - math.erf(z)) / math.erf(z))
    print("P(s), degree 5:", ", ".join("%.9ef" % v for v in p))
    print("  max relative error of erf(z), |z| < 0.75: %.3g" % worst)


if __name__ == "__main__":
    main()
