"""The PoC queries, in the shapes of the real APIs:

- the API node's `/v1/epochs/latest` and `/v1/epochs/current/participants` (Go encoding/json: numbers);
- the chain's REST gateway under `/chain-api/productscience/inference/…` (int64 and uint64 as strings,
  int32 as numbers, Decimal as {"value": "<int64>", "exponent": <int32>}): params, participant,
  epoch_performance_summary, streamvesting total_vesting.

The node itself is always an active participant (weight 0, inference_url = the devnet's URL) and the
only allowed transfer agent.
"""

from __future__ import annotations

import base64
from decimal import Decimal

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gonka_tui.core.errors import InputError
from gonka_tui.core.network_constants import BASE_DENOM

from .chain import Chain
from .limits import parse_int
from .shapes import coin_json, format_price, gateway_error


def _chain(request: Request) -> Chain:
    return request.app.state.chain


def decimal_json(value: float) -> dict:
    """A float as the chain's Decimal: value × 10^exponent, the shortest exact decimal of its repr."""
    d = Decimal(repr(float(value))).normalize()
    sign, digits, exponent = d.as_tuple()
    number = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
    return {"value": str(number), "exponent": int(exponent)}


# ----- node API (/v1) -----

def latest_epoch_json(chain: Chain) -> dict:
    E = chain.poc_config.epochs
    height = chain.height
    epoch = E.epoch_at(height)
    return {
        "block_height": height,
        "latest_epoch": {"index": epoch, "poc_start_block_height": E.poc_start(epoch)},
        "phase": E.phase(height),
        "epoch_stages": E.stages(epoch),
        "next_epoch_stages": E.stages(epoch + 1),
        "epoch_params": E.to_api_json(),
        "is_confirmation_poc_active": False,
    }


async def epochs_latest(request: Request) -> JSONResponse:
    return JSONResponse(latest_epoch_json(_chain(request)))


async def epoch_by_id(request: Request) -> JSONResponse:
    return JSONResponse({"message": "Only getting info for current epoch is supported at the moment"},
                        status_code=400)


def _seed_json(chain: Chain, address: str, epoch: int) -> dict:
    return {"participant": address, "epoch_index": epoch, "signature": chain.ledger.poc.get(("s", epoch, address)) or ""}


def active_participants(chain: Chain) -> tuple[int, dict | None, list[tuple[str, int]]]:
    """(effective epoch, its record, [(address, weight)] with the node first)."""
    epoch = chain.poc.effective_epoch(chain.height)
    record = chain.poc.epoch_record(epoch) if epoch else None
    weights = sorted((record or {}).get("weights", {}).items())
    return epoch, record, [(chain.node_address, 0)] + [(a, w) for a, w in weights if w > 0]


def current_participants_json(chain: Chain) -> dict:
    epoch, record, members = active_participants(chain)
    E = chain.poc_config.epochs
    participants = []
    for address, weight in members:
        is_node = address == chain.node_address
        info = chain.ledger.poc.get(("p", address)) or {}
        account = chain.ledger.get(address)
        participants.append({
            "index": address,
            "validator_key": base64.b64encode(account.pubkey).decode() if is_node and account and account.pubkey
            else info.get("validator_key", ""),
            "weight": weight,
            "inference_url": chain.base_url if is_node else info.get("url", ""),
            "models": list(chain.inference_models) if is_node else [],  # the node serves paid inference
            "seed": _seed_json(chain, address, epoch),
            "ml_nodes": [] if is_node else [{"ml_nodes": [{"node_id": "", "poc_weight": weight,
                                                           "timeslot_allocation": [True, False]}]}],
        })
    validated = (record or {}).get("validated_height", 0)
    return {
        "active_participants": {
            "participants": participants,
            "epoch_group_id": epoch,
            "poc_start_block_height": E.poc_start(epoch),
            "effective_block_height": validated + E.set_new_validators_delay if validated else 0,
            "created_at_block_height": validated,
            "epoch_id": epoch,
        },
        "addresses": [a for a, _ in members],
        "validators": [],
        "excluded_participants": list((record or {}).get("excluded", [])),
    }


async def epochs_current_participants(request: Request) -> JSONResponse:
    return JSONResponse(current_participants_json(_chain(request)))


# ----- chain REST (/chain-api) -----

def params_json(chain: Chain) -> dict:
    cfg = chain.poc_config
    p = cfg.params
    return {"params": {
        "epoch_params": cfg.epochs.to_rest_json(),
        "poc_params": {
            "default_difficulty": 5,
            "validation_sample_size": cfg.validation_sample_size,
            "poc_data_pruning_epoch_threshold": "1",
            "model_params": {
                "dim": str(p.dim), "n_layers": str(p.n_layers), "n_heads": str(p.n_heads),
                "n_kv_heads": str(p.n_kv_heads), "vocab_size": str(p.vocab_size),
                "ffn_dim_multiplier": decimal_json(p.ffn_dim_multiplier), "multiple_of": str(p.multiple_of),
                "norm_eps": decimal_json(p.norm_eps), "rope_theta": str(int(p.rope_theta)),
                "use_scaled_rope": p.use_scaled_rope, "seq_len": str(p.seq_len),
                "r_target": decimal_json(cfg.r_target),
            },
        },
        "bitcoin_reward_params": {
            "use_bitcoin_rewards": True,
            "initial_epoch_reward": str(cfg.epoch_reward),
            "decay_rate": {"value": "0", "exponent": 0},
            "genesis_epoch": "1",
            "utilization_bonus_factor": {"value": "0", "exponent": 0},
            "full_coverage_bonus_factor": {"value": "1", "exponent": 0},
            "partial_coverage_bonus_factor": {"value": "0", "exponent": 0},
        },
        "tokenomics_params": {
            "subsidy_reduction_interval": {"value": "0", "exponent": 0},
            "subsidy_reduction_amount": {"value": "0", "exponent": 0},
            "current_subsidy_percentage": {"value": "0", "exponent": 0},
            "top_reward_allowed_failure": {"value": "0", "exponent": 0},
            "top_miner_poc_qualification": "0",
            "work_vesting_period": "0",
            "reward_vesting_period": str(cfg.reward_vesting_epochs),
            "top_miner_vesting_period": "0",
        },
        "fee_params": {"min_gas_price_ngonka": format_price(chain.rules.min_gas_price)},
        "transfer_agent_access_params": {"allowed_transfer_addresses": [chain.node_address]},
    }}


async def inference_params(request: Request) -> JSONResponse:
    return JSONResponse(params_json(_chain(request)))


def _summary_json(epoch: int, address: str, rec: dict) -> dict:
    rewarded = int(rec.get("rewarded") or 0)
    return {"epoch_index": str(epoch), "participant_id": address, "inference_count": "0", "missed_requests": "0",
            "earned_coins": "0", "rewarded_coins": str(rewarded),
            "burned_coins": str(rewarded if rec.get("burned") else 0), "validated_inferences": "0",
            "invalidated_inferences": "0", "claimed": bool(rec.get("claimed"))}


def participant_json(chain: Chain, address: str) -> dict | None:
    is_node = address == chain.node_address
    info = chain.ledger.poc.get(("p", address))
    if info is None and not is_node:
        return None
    info = info or {"url": "", "validator_key": "", "worker_key": "", "join_height": 1}
    epoch, _record, members = active_participants(chain)
    weights = dict(members)
    row = chain.store.block(int(info.get("join_height") or 1))
    stats = chain.ledger.poc.get(("r", epoch, address)) or {}
    account = chain.ledger.get(address)
    completed = sum(1 for k, _ in chain.ledger.poc.scan("r") if k[2] == address)
    return {"participant": {
        "index": address, "address": address, "weight": weights.get(address, 0),
        "join_time": str(row[2] // 1_000_000 if row else 0), "join_height": str(info.get("join_height") or 0),
        "last_inference_time": "0", "inference_url": chain.base_url if is_node else info.get("url", ""),
        "status": "ACTIVE" if address in weights else "INACTIVE", "coin_balance": "0",
        "validator_key": (base64.b64encode(account.pubkey).decode() if is_node and account and account.pubkey
                          else info.get("validator_key", "")),
        "consecutive_invalid_inferences": "0", "worker_public_key": info.get("worker_key", ""),
        "epochs_completed": completed,
        "current_epoch_stats": {
            "inference_count": "0", "missed_requests": "0", "earned_coins": "0",
            "rewarded_coins": str(int(stats.get("rewarded") or 0)),
            "burned_coins": str(int(stats.get("rewarded") or 0) if stats.get("burned") else 0),
            "validated_inferences": "0", "invalidated_inferences": "0",
        },
    }}


def _address(chain: Chain, request: Request) -> str:
    """The path's {address}, canonical; InputError naming what is wrong with it."""
    try:
        return chain.rules.canonical_address(request.path_params["address"])
    except InputError as exc:
        raise InputError(f"invalid address: {exc}") from None


async def participant(request: Request) -> JSONResponse:
    chain = _chain(request)
    try:
        address = _address(chain, request)
    except InputError as exc:
        return gateway_error(400, 3, str(exc))
    body = participant_json(chain, address)
    if body is None:
        return gateway_error(404, 5, "not found")
    return JSONResponse(body)


async def performance_summary(request: Request) -> JSONResponse:
    chain = _chain(request)
    try:
        epoch = parse_int(request.path_params["epoch"], "epoch_index")
        address = _address(chain, request)
    except InputError as exc:
        return gateway_error(400, 3, str(exc))
    rec = chain.ledger.poc.get(("r", epoch, address))
    if rec is None:
        return gateway_error(404, 5, "not found")
    return JSONResponse({"epochPerformanceSummary": _summary_json(epoch, address, rec)})


async def performance_summaries(request: Request) -> JSONResponse:
    chain = _chain(request)
    raw = request.path_params.get("epoch")
    try:
        epoch = parse_int(raw, "epoch_index") if raw is not None else None
    except InputError as exc:
        return gateway_error(400, 3, str(exc))
    prefix = ("r",) if epoch is None else ("r", epoch)
    items = [_summary_json(k[1], k[2], rec) for k, rec in chain.ledger.poc.scan(*prefix)]
    return JSONResponse({"epochPerformanceSummary": items, "pagination": {"next_key": None, "total": str(len(items))}})


def vesting_total(chain: Chain, address: str) -> int:
    return sum(int(x) for x in chain.ledger.poc.get(("v", address)) or [])


async def total_vesting(request: Request) -> JSONResponse:
    chain = _chain(request)
    try:
        address = _address(chain, request)
    except InputError as exc:
        return gateway_error(400, 3, str(exc))
    total = vesting_total(chain, address)
    return JSONResponse({"total_amount": [coin_json(total, BASE_DENOM)] if total else []})


async def vesting_schedule(request: Request) -> JSONResponse:
    chain = _chain(request)
    try:
        address = _address(chain, request)
    except InputError as exc:
        return gateway_error(400, 3, str(exc))
    tranches = chain.ledger.poc.get(("v", address)) or []
    epoch = chain.poc_config.epochs.epoch_at(chain.height)
    return JSONResponse({"vesting_schedule": {"participant_address": address, "epoch_amounts": [
        {"coins": [coin_json(int(a))], "release_epoch": str(epoch + 1 + i)} for i, a in enumerate(tranches)]}})


I = "/chain-api/productscience/inference/inference"
V = "/chain-api/productscience/inference/streamvesting"
NODE_ROUTES = [
    Route("/v1/epochs/latest", epochs_latest),
    Route("/v1/epochs/current/participants", epochs_current_participants),
    Route("/v1/epochs/{epoch}", epoch_by_id),
]
CHAIN_ROUTES = [
    Route(f"{I}/params", inference_params),
    Route(f"{I}/participant/{{address}}", participant),
    Route(f"{I}/epoch_performance_summary", performance_summaries),
    Route(f"{I}/epoch_performance_summary/{{epoch}}", performance_summaries),
    Route(f"{I}/epoch_performance_summary/{{epoch}}/{{address}}", performance_summary),
    Route(f"{V}/total_vesting/{{address}}", total_vesting),
    Route(f"{V}/vesting_schedule/{{address}}", vesting_schedule),
]
