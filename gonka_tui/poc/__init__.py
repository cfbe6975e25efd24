"""Proof-of-Compute v1: the math the chain's validators recompute (presets, seeds, weights, distances,
the validation test). numpy only (torch optional); no chain, no keys, no UI."""
