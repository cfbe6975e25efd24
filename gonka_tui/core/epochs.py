"""The chain's epochs and PoC parameters as typed values: `/v1/epochs/latest` and the inference
module's params (proof-of-compute.md §3, §3.1), read the way the REST gateway writes them (int64 as
strings, Decimal as {"value", "exponent"}).

A PoC round: generation runs from `poc_start` to `poc_generation_end`; batches are accepted in the
exchange window; the chain validates from `poc_validation_start` to `poc_validation_end`; the epoch's
reward becomes claimable from `claim_money` of the next epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from gonka_tui.core.errors import ChainError

PHASES = ("PoCGenerate", "PoCGenerateWindDown", "PoCValidate", "PoCValidateWindDown", "Inference")
GENERATING = ("PoCGenerate", "PoCGenerateWindDown")


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise ChainError(f"the node sent a malformed {what}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit() and value.isascii():
        return int(value)
    raise ChainError(f"the node sent a malformed {what}")


def decimal_value(value: Any, what: str) -> Decimal:
    """The chain's Decimal {value, exponent} (or a plain number or numeric string) as a Decimal."""
    try:
        if isinstance(value, dict):
            return Decimal(_int(value["value"], what)).scaleb(_int(value.get("exponent", 0), what))
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            result = Decimal(str(value))
            if result.is_finite():
                return result
    except (KeyError, InvalidOperation, TypeError):
        pass
    raise ChainError(f"the node sent a malformed {what}")


@dataclass(frozen=True)
class EpochStages:
    epoch_index: int
    poc_start: int
    poc_generation_wind_down: int
    poc_generation_end: int
    poc_validation_start: int
    poc_validation_end: int
    set_new_validators: int
    claim_money: int
    next_poc_start: int
    exchange_start: int
    exchange_end: int

    @classmethod
    def parse(cls, data: Any) -> EpochStages:
        if not isinstance(data, dict):
            raise ChainError("the node sent malformed epoch stages")
        window = data.get("poc_exchange_window") or {}
        g = lambda key: _int(data.get(key), f"epoch stage {key}")  # noqa: E731
        return cls(g("epoch_index"), g("poc_start"), g("poc_generation_wind_down"), g("poc_generation_end"),
                   g("poc_validation_start"), g("poc_validation_end"), g("set_new_validators"), g("claim_money"),
                   g("next_poc_start"), _int(window.get("start", data.get("poc_start")), "exchange window"),
                   _int(window.get("end", data.get("poc_generation_end")), "exchange window"))


@dataclass(frozen=True)
class EpochInfo:
    """`GET /v1/epochs/latest`."""

    block_height: int
    epoch_index: int  # latest_epoch.index
    poc_start_block_height: int  # latest_epoch.poc_start_block_height
    phase: str
    stages: EpochStages
    next_stages: EpochStages | None

    @classmethod
    def parse(cls, data: Any) -> EpochInfo:
        if not isinstance(data, dict) or not isinstance(data.get("latest_epoch"), dict):
            raise ChainError("the node sent a malformed /v1/epochs/latest")
        phase = data.get("phase")
        if phase not in PHASES:
            raise ChainError(f"the node reports an unknown epoch phase {phase!r}")
        latest = data["latest_epoch"]
        nxt = data.get("next_epoch_stages")
        return cls(_int(data.get("block_height"), "block height"), _int(latest.get("index"), "epoch index"),
                   _int(latest.get("poc_start_block_height"), "PoC start height"), phase,
                   EpochStages.parse(data.get("epoch_stages")), EpochStages.parse(nxt) if nxt else None)

    def blocks_to_next_phase(self) -> int | None:
        """Blocks until the phase changes (the next stage boundary above the current height)."""
        s = self.stages
        marks = [s.poc_generation_wind_down, s.poc_generation_end, s.poc_validation_start, s.poc_validation_end,
                 s.next_poc_start]
        ahead = [m for m in marks if m > self.block_height]
        return min(ahead) - self.block_height if ahead else None


@dataclass(frozen=True)
class PocChainParams:
    """What a v1 miner needs from the inference params."""

    model: dict  # the keys and plain values of poc/params.PocParams
    r_target: float
    validation_sample_size: int
    epoch_length: int
    initial_epoch_reward: int  # ngonka
    version: int  # 1, or 2 when the network runs PoC inside vLLM

    @classmethod
    def parse(cls, data: Any) -> PocChainParams:
        params = data.get("params") if isinstance(data, dict) else None
        if not isinstance(params, dict):
            raise ChainError("the node sent malformed inference params")
        poc = params.get("poc_params") or {}
        epoch = params.get("epoch_params") or {}
        reward = params.get("bitcoin_reward_params") or {}
        # PoC v2 (§1.2): per-model entries or the v2 switch, and no v1 model of its own.
        v2 = bool(poc.get("models")) or poc.get("poc_v2_enabled") in (True, "true") or "model_params" not in poc
        if v2:
            return cls({}, 0.0, _int(poc.get("validation_sample_size", 0), "validation sample size"),
                       _int(epoch.get("epoch_length", 0), "epoch length"), 0, 2)
        mp = poc["model_params"]
        if not isinstance(mp, dict):
            raise ChainError("the node sent malformed PoC model params")
        model = {}
        for key, value in mp.items():
            if key == "r_target":
                continue
            if isinstance(value, dict) or (isinstance(value, str) and not value.lstrip("-").isdigit()):
                model[key] = float(decimal_value(value, f"model param {key}"))
            elif isinstance(value, bool):
                model[key] = value
            else:
                model[key] = _int(value, f"model param {key}")
        return cls(model, float(decimal_value(mp.get("r_target"), "r_target")),
                   _int(poc.get("validation_sample_size", 0), "validation sample size"),
                   _int(epoch.get("epoch_length", 0), "epoch length"),
                   _int(reward.get("initial_epoch_reward", 0), "epoch reward"), 1)
