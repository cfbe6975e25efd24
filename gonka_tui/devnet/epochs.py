"""Epochs on the devnet: the chain's stage formulas (x/inference epoch_params.go, epoch_context.go) and the
PoC configuration fixed at genesis.

Epoch 0 runs from genesis to the first round; epoch N ≥ 1 starts with its PoC round at
poc_start(N) = first_poc_start + (N − 1) · epoch_length. Offsets from poc_start, as the chain has them:
generation [0, poc_stage_duration) with wind-down from 0.8 of it; batches accepted in the exchange
window [poc_start + 1, poc_start + poc_stage_duration + poc_exchange_duration]; validation from
stage + poc_validation_delay for poc_validation_duration blocks (wind-down from 0.8); set_new_validators
= end of validation + set_new_validators_delay; claim_money = set_new_validators + 1.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

from gonka_tui.core.errors import InputError
from gonka_tui.core.units import NGONKA_PER_GNK
from gonka_tui.poc.params import PocParams

WIND_DOWN_FACTOR = 0.8  # PoCGenerateWindDownFactor and PoCValidateWindDownFactor
FIRST_POC_START = 3  # a few blocks after genesis

PHASE_GENERATE = "PoCGenerate"
PHASE_GENERATE_WIND_DOWN = "PoCGenerateWindDown"
PHASE_VALIDATE = "PoCValidate"
PHASE_VALIDATE_WIND_DOWN = "PoCValidateWindDown"
PHASE_INFERENCE = "Inference"


@dataclass(frozen=True)
class EpochParams:
    epoch_length: int = 120
    poc_stage_duration: int = 30
    poc_exchange_duration: int = 2
    poc_validation_delay: int = 2
    poc_validation_duration: int = 10
    set_new_validators_delay: int = 2
    inference_validation_cutoff: int = 2
    first_poc_start: int = FIRST_POC_START

    def check(self) -> EpochParams:
        for name, value in asdict(self).items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0 or value > 10**9:
                raise InputError(f"epoch params: {name} must be a whole number from 0 to 10^9, got {value!r}")
        if self.poc_stage_duration < 2:
            raise InputError("--poc-blocks must be at least 2")
        if self.poc_validation_duration < 1:
            raise InputError("--validation-blocks must be at least 1")
        if self.poc_validation_delay < self.poc_exchange_duration:
            raise InputError("the validation delay must not be shorter than the exchange window")
        if self.first_poc_start < 2:
            raise InputError("the first round starts at block 2 at the earliest")
        need = self.claim_money_offset + 2
        if self.epoch_length < need:
            raise InputError(f"--epoch-blocks {self.epoch_length} is too short for the stages: with "
                             f"--poc-blocks {self.poc_stage_duration} and --validation-blocks "
                             f"{self.poc_validation_duration} an epoch needs at least {need} blocks")
        if self.inference_validation_cutoff >= self.epoch_length - self.claim_money_offset:
            raise InputError("the inference validation cutoff must fall after the claim stage")
        return self

    # offsets from poc_start
    @property
    def generation_wind_down_offset(self) -> int:
        return int(self.poc_stage_duration * WIND_DOWN_FACTOR)

    @property
    def exchange_deadline_offset(self) -> int:
        return self.poc_stage_duration + self.poc_exchange_duration

    @property
    def validation_start_offset(self) -> int:
        return self.poc_stage_duration + self.poc_validation_delay

    @property
    def validation_wind_down_offset(self) -> int:
        return self.validation_start_offset + int(self.poc_validation_duration * WIND_DOWN_FACTOR)

    @property
    def validation_end_offset(self) -> int:
        return self.validation_start_offset + self.poc_validation_duration

    @property
    def set_new_validators_offset(self) -> int:
        return self.validation_end_offset + self.set_new_validators_delay

    @property
    def claim_money_offset(self) -> int:
        return self.set_new_validators_offset + 1

    # absolute heights
    def poc_start(self, epoch: int) -> int:
        if epoch < 1:
            return 0
        return self.first_poc_start + (epoch - 1) * self.epoch_length

    def epoch_at(self, height: int) -> int:
        """The latest epoch at `height`: the last one whose round has started (0 before the first)."""
        if height < self.first_poc_start:
            return 0
        return (height - self.first_poc_start) // self.epoch_length + 1

    def exchange_window(self, epoch: int) -> tuple[int, int]:
        start = self.poc_start(epoch)
        return start + 1, start + self.exchange_deadline_offset

    def phase(self, height: int) -> str:
        epoch = self.epoch_at(height)
        if epoch == 0:
            return PHASE_INFERENCE
        offset = height - self.poc_start(epoch)
        if offset < self.generation_wind_down_offset:
            return PHASE_GENERATE
        if offset < self.validation_start_offset:
            return PHASE_GENERATE_WIND_DOWN
        if offset < self.validation_wind_down_offset:
            return PHASE_VALIDATE
        if offset < self.validation_end_offset:
            return PHASE_VALIDATE_WIND_DOWN
        return PHASE_INFERENCE

    def stages(self, epoch: int) -> dict:
        """EpochStages as the API node writes it (Go encoding/json: block heights as numbers)."""
        start = self.poc_start(epoch)
        next_start = self.poc_start(epoch + 1) if epoch else self.first_poc_start
        if epoch == 0:  # no PoC in epoch 0: the chain reports zeros
            zero = {"start": 0, "end": 0}
            return {"epoch_index": 0, "poc_start": 0, "poc_generation_wind_down": 0, "poc_generation_end": 0,
                    "poc_validation_start": 0, "poc_validation_wind_down": 0, "poc_validation_end": 0,
                    "set_new_validators": 0, "claim_money": 0,
                    "inference_validation_cutoff": next_start - self.inference_validation_cutoff,
                    "next_poc_start": next_start, "poc_exchange_window": zero,
                    "poc_validation_exchange_window": dict(zero)}
        return {
            "epoch_index": epoch,
            "poc_start": start,
            "poc_generation_wind_down": start + self.generation_wind_down_offset,
            "poc_generation_end": start + self.poc_stage_duration,
            "poc_validation_start": start + self.validation_start_offset,
            "poc_validation_wind_down": start + self.validation_wind_down_offset,
            "poc_validation_end": start + self.validation_end_offset,
            "set_new_validators": start + self.set_new_validators_offset,
            "claim_money": start + self.claim_money_offset,
            "inference_validation_cutoff": next_start - self.inference_validation_cutoff,
            "next_poc_start": next_start,
            "poc_exchange_window": {"start": start + 1, "end": start + self.exchange_deadline_offset},
            "poc_validation_exchange_window": {"start": start + self.validation_start_offset + 1,
                                               "end": start + self.validation_end_offset},
        }

    def to_api_json(self) -> dict:
        """EpochParams as the API node writes it (Go encoding/json of the proto struct)."""
        return {"epoch_length": self.epoch_length, "epoch_multiplier": 1,
                "epoch_shift": -self.first_poc_start, "default_unit_of_compute_price": 100,
                "poc_stage_duration": self.poc_stage_duration, "poc_exchange_duration": self.poc_exchange_duration,
                "poc_validation_delay": self.poc_validation_delay,
                "poc_validation_duration": self.poc_validation_duration,
                "set_new_validators_delay": self.set_new_validators_delay,
                "inference_validation_cutoff": self.inference_validation_cutoff,
                "inference_pruning_epoch_threshold": 2}

    def to_rest_json(self) -> dict:
        """EpochParams as the chain's REST gateway writes it (int64 as strings)."""
        return {k: str(v) for k, v in self.to_api_json().items()}


DEFAULT_SAMPLE_SIZE = 200
DEFAULT_EPOCH_REWARD = 1000 * NGONKA_PER_GNK
MAX_EPOCH_REWARD = 10**9 * NGONKA_PER_GNK


@dataclass(frozen=True)
class PocConfig:
    """What PoC on this devnet is, fixed at genesis and kept in the state."""

    epochs: EpochParams = field(default_factory=EpochParams)
    preset: str | None = "cpu"  # None: model params given explicitly (--poc-params)
    params: PocParams | None = None
    r_target: float = 0.0
    validation_sample_size: int = DEFAULT_SAMPLE_SIZE
    epoch_reward: int = DEFAULT_EPOCH_REWARD  # ngonka, bitcoin_reward_params.initial_epoch_reward
    reward_vesting_epochs: int = 0  # 0: liquid

    def __post_init__(self) -> None:
        if self.params is None:
            from gonka_tui.poc import presets

            p = presets.preset(self.preset or presets.DEFAULT)
            object.__setattr__(self, "params", p.params)
            if not self.r_target:
                object.__setattr__(self, "r_target", p.r_target)
        if not (isinstance(self.r_target, float) and math.isfinite(self.r_target) and 0 < self.r_target < 2):
            raise InputError(f"r_target must be a number between 0 and 2, got {self.r_target!r}")
        if not 1 <= self.validation_sample_size <= 100_000:
            raise InputError("validation_sample_size must be from 1 to 100000")
        if not 0 <= self.epoch_reward <= MAX_EPOCH_REWARD:
            raise InputError("--epoch-reward must be from 0 to 1e9 GNK")
        if not 0 <= self.reward_vesting_epochs <= 1000:
            raise InputError("--reward-vesting-epochs must be from 0 to 1000")
        self.epochs.check()

    def to_json(self) -> dict:
        return {"epochs": asdict(self.epochs), "preset": self.preset, "params": self.params.to_json(),
                "r_target": self.r_target, "validation_sample_size": self.validation_sample_size,
                "epoch_reward": str(self.epoch_reward), "reward_vesting_epochs": self.reward_vesting_epochs}

    @classmethod
    def from_json(cls, data: dict) -> PocConfig:
        return cls(EpochParams(**data["epochs"]), data.get("preset"), PocParams.from_mapping(data["params"]),
                   float(data["r_target"]), int(data["validation_sample_size"]), int(data["epoch_reward"]),
                   int(data["reward_vesting_epochs"]))

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))


def parse_poc_params(text: str) -> tuple[PocParams, float, int | None]:
    """--poc-params JSON: the model params (PocParams keys) plus "r_target" (required) and, optionally,
    "validation_sample_size"."""
    try:
        data = json.loads(text)
    except (ValueError, TypeError):
        raise InputError("--poc-params must be a JSON object, e.g. "
                         '{"dim": 64, …, "seq_len": 8, "r_target": 1.41}') from None
    if not isinstance(data, dict):
        raise InputError("--poc-params must be a JSON object")
    data = dict(data)
    r_target = data.pop("r_target", None)
    sample = data.pop("validation_sample_size", None)
    if isinstance(r_target, bool) or not isinstance(r_target, (int, float)) or not math.isfinite(r_target) \
            or not 0 < r_target < 2:
        raise InputError("--poc-params needs \"r_target\": a number between 0 and 2")
    if sample is not None and (isinstance(sample, bool) or not isinstance(sample, int) or not 1 <= sample <= 100_000):
        raise InputError("--poc-params: validation_sample_size must be a whole number from 1 to 100000")
    try:
        params = PocParams.from_mapping(data)
    except InputError as exc:
        raise InputError(f"--poc-params: {exc}") from None
    return params, float(r_target), sample
