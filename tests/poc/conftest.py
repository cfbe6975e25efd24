"""Known answers of Gonka's PoC v1 reference (a copy of ../shared/data/poc-v1-known-answers.json)."""

from __future__ import annotations

import json
from pathlib import Path

KNOWN_ANSWERS = json.loads((Path(__file__).parents[1] / "data" / "poc-v1-known-answers.json").read_text())
CASES = KNOWN_ANSWERS["cases"]
TINY = CASES[0]["params"]
HASH = CASES[0]["block_hash"]
KEY = CASES[0]["public_key"]


def nonce_range(spec: str) -> list[int]:
    first, last = map(int, spec.split("-"))
    return list(range(first, last + 1))
