"""The kernel's presets (assets/poc_presets.json): model params, r_target and the pass rate it gives;
and the pass-rate arithmetic that ties the two together."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from statistics import NormalDist

from gonka_tui.core.errors import InputError
from gonka_tui.poc.params import PocParams

DEFAULT = "cpu"


@dataclass(frozen=True)
class Preset:
    name: str
    params: PocParams
    r_target: float
    pass_rate: float
    needs_gpu: bool
    about: str


@lru_cache(maxsize=1)
def presets() -> dict[str, Preset]:
    data = json.loads(files("gonka_tui.assets").joinpath("poc_presets.json").read_text())
    return {name: Preset(name, PocParams.from_mapping(p["params"]), float(p["r_target"]), float(p["pass_rate"]),
                         bool(p["needs_gpu"]), str(p.get("about", "")))
            for name, p in data["presets"].items()}


def preset(name: str) -> Preset:
    try:
        return presets()[name]
    except KeyError:
        raise InputError(f"no preset '{name}' (there are: {', '.join(presets())})") from None


def r_target_for(pass_rate: float, vocab_size: int) -> float:
    """Random unit vectors in R^V meet the target at cos ≈ N(0, 1/V): the distance below which a
    share `pass_rate` of nonces falls, sqrt(2 − 2·z(1−p)/√V)."""
    z = NormalDist().inv_cdf(1 - pass_rate)
    return math.sqrt(2 - 2 * z / math.sqrt(vocab_size))


def pass_rate_for(r_target: float, vocab_size: int) -> float:
    return 1 - NormalDist().cdf((2 - r_target * r_target) / 2 * math.sqrt(vocab_size))
