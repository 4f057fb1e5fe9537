#!/usr/bin/env python3
"""Independent reference for src/rank/private.rs: the analytic Gaussian mechanism's sigma,
written from Balle & Wang (2018), Algorithm 1 (the B+/B- reparametrisation with v* / u*),
not from the Rust code's direct bisection on sigma. Standard library only (math.erfc).

    python3 scripts/dp_sigma_reference.py 1 1e-5 1   # epsilon delta sensitivity
"""
import math
import sys


def Phi(t):
    return 0.5 * math.erfc(-t / math.sqrt(2.0))


def calibrate(eps, delta, gs, tol=1e-15):
    delta0 = Phi(0.0) - math.exp(eps) * Phi(-math.sqrt(2.0 * eps))
    if delta >= delta0:
        # B+(v) = Phi(sqrt(eps v)) - e^eps Phi(-sqrt(eps (v + 2))), increasing in v;
        # v* = sup {v >= 0 : B+(v) <= delta}.
        def f(v):
            return Phi(math.sqrt(eps * v)) - math.exp(eps) * Phi(-math.sqrt(eps * (v + 2.0)))
        lo, hi = 0.0, 1.0
        while f(hi) <= delta:
            hi *= 2.0
        while hi - lo > tol * max(hi, 1.0):
            mid = (lo + hi) / 2.0
            if f(mid) <= delta:
                lo = mid
            else:
                hi = mid
        v = lo
        alpha = math.sqrt(1.0 + v / 2.0) - math.sqrt(v / 2.0)
    else:
        # B-(u) = Phi(-sqrt(eps u)) - e^eps Phi(-sqrt(eps (u + 2))), decreasing in u;
        # u* = inf {u >= 0 : B-(u) <= delta}.
        def f(u):
            return Phi(-math.sqrt(eps * u)) - math.exp(eps) * Phi(-math.sqrt(eps * (u + 2.0)))
        lo, hi = 0.0, 1.0
        while f(hi) > delta:
            hi *= 2.0
        while hi - lo > tol * max(hi, 1.0):
            mid = (lo + hi) / 2.0
            if f(mid) <= delta:
                hi = mid
            else:
                lo = mid
        u = hi
        alpha = math.sqrt(1.0 + u / 2.0) + math.sqrt(u / 2.0)
    return alpha * gs / math.sqrt(2.0 * eps)


if __name__ == "__main__":
    eps, delta, gs = (float(a) for a in sys.argv[1:4])
    print(repr(calibrate(eps, delta, gs)))
