"""The ML node's check of another host's nonces (PoC v1): recompute each sampled nonce; a nonce whose
recomputed distance is above r_target is invalid; fraud when a one-sided binomial test finds more
invalid nonces than honest hardware differences explain."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

PROBABILITY_MISMATCH = 5e-4  # the reference's allowance for honest float differences
FRAUD_THRESHOLD = 1e-7  # what the API node sends


def binomial_p_greater(k: int, n: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p): scipy's binomtest(k, n, p, alternative='greater').pvalue."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    # Sum the upper tail in log space from its largest term (k, as k ≥ n·p in every case that matters).
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
             for i in range(k, n + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * math.fsum(math.exp(t - top) for t in terms))


@dataclass(frozen=True)
class Validation:
    nonces: tuple[int, ...]
    received: tuple[float, ...]
    computed: tuple[float, ...]
    r_target: float
    fraud_threshold: float
    n_invalid: int
    probability_honest: float
    fraud_detected: bool

    def to_json(self) -> dict:
        return {"nonces": list(self.nonces), "received_dist": list(self.received), "dist": list(self.computed),
                "r_target": self.r_target, "fraud_threshold": self.fraud_threshold, "n_invalid": self.n_invalid,
                "probability_honest": self.probability_honest, "fraud_detected": self.fraud_detected}


def validate(nonces: Sequence[int], received: Sequence[float], computed: Sequence[float], r_target: float,
             fraud_threshold: float = FRAUD_THRESHOLD, p_mismatch: float = PROBABILITY_MISMATCH) -> Validation:
    """Judge a batch: n_invalid = recomputed distances above r_target (a claim above it is invalid
    too: nobody may submit it); fraud iff P(≥ n_invalid | honest) < fraud_threshold."""
    if not len(nonces) == len(received) == len(computed):
        raise ValueError("nonces, received and computed distances differ in length")
    invalid = sum(1 for r, c in zip(received, computed) if not (c <= r_target and r < r_target))
    n = len(nonces)
    prob = binomial_p_greater(invalid, n, p_mismatch) if n else 1.0
    return Validation(tuple(int(x) for x in nonces), tuple(float(x) for x in received),
                      tuple(float(x) for x in computed), float(r_target), float(fraud_threshold), invalid, prob,
                      bool(n and prob < fraud_threshold))
