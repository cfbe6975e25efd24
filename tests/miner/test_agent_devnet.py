"""The miner agent end to end against a real devnet: one devnet (in a thread, 0.2 s blocks, rounds of
25 blocks every 34) shared by the tests, one account each; the agent runs in the test's event loop with
a real Supervisor (one CPU kernel, tiny params) and a real Recorder in tmp_path, or whole through
`run_agent` with its API. Every wait is on a condition with a deadline (the agent's status and records,
or the chain).

What they show: a round end to end (registered, seed, batches accepted, weight, the reward claimed
once and paid exactly); a node that stops answering mid-round (batches queue, the kernels go on, each
batch reaches the chain once); an agent killed mid-round (no kernel left, the next one resumes from
the saved progress, a batch caught mid-broadcast is looked up, not resent); the refusals (PoC v2,
unusable params, a taken port, a second agent); the API while mining; `gonka miner status --json`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import hashlib
import json
import os
import socket
from collections import Counter
from pathlib import Path

import httpx
import pytest

from gonka_tui import cli
from gonka_tui.core.chain_client import PARAMS_PATH, ChainClient
from gonka_tui.core.errors import ChainError, InputError
from gonka_tui.core.msg_sender import MessageSender
from gonka_tui.core.proto.cosmos.tx.v1beta1 import tx_pb2 as cosmos_tx
from gonka_tui.core.proto.inference.inference import tx_pb2 as inference_tx
from gonka_tui.core.tx import MSG_CLAIM_REWARDS, MSG_SUBMIT_NEW_PARTICIPANT, MSG_SUBMIT_POC_BATCH
from gonka_tui.devnet.epochs import EpochParams, PocConfig
from gonka_tui.devnet.server import start_in_thread
from gonka_tui.devnet.testkit import key
from gonka_tui.miner import supervisor as sup
from gonka_tui.miner.agent import ROUND_FILE, V2_REFUSAL, Agent, RoundState
from gonka_tui.miner.agent_client import AGENT_FILE, TOKEN_FILE, AgentClient, find_local_agent
from gonka_tui.miner.records import Recorder
from gonka_tui.miner.service import RunOptions, forward_event, run_agent
from gonka_tui.miner.status import PHASES
from gonka_tui.poc.params import PocParams
from gonka_tui.poc.presets import r_target_for

TINY = PocParams.from_mapping({"dim": 64, "n_layers": 2, "n_heads": 4, "n_kv_heads": 4, "vocab_size": 512,
                               "ffn_dim_multiplier": 1.0, "multiple_of": 64, "norm_eps": 1e-5,
                               "rope_theta": 10000, "seq_len": 8})
BLOCK_TIME = 0.2
EPOCHS = EpochParams(epoch_length=34, poc_stage_duration=25, poc_exchange_duration=2, poc_validation_delay=2,
                     poc_validation_duration=3, set_new_validators_delay=1, inference_validation_cutoff=1,
                     first_poc_start=5)
REWARD = 1000 * 10**9
CONFIG = PocConfig(epochs=EPOCHS, preset=None, params=TINY, r_target=r_target_for(0.25, 512), epoch_reward=REWARD)
EPOCH_S = EPOCHS.epoch_length * BLOCK_TIME
ROUND_WAIT = 2 * EPOCH_S + 15  # the next round, with room for a busy machine
POLL, SUBMIT_EVERY = 0.2, 0.5


# ----- waiting -----

async def until(predicate, what: str, timeout: float = ROUND_WAIT, *, rig: "Rig | None" = None):
    """Poll `predicate` (sync or async) until it returns something truthy; fail with `what` after
    `timeout` s, or at once with the agent's own error when its task ended."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if rig is not None and rig.task is not None and rig.task.done():
            rig.task.result()  # raises what ended it
            raise AssertionError(f"the agent stopped while waiting for {what}")
        if loop.time() > end:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.05)  # the polling interval of a wait with a deadline


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# ----- the node, seen through a switch -----

class Switch(httpx.AsyncBaseTransport):
    """The agent's HTTP to the node: switched off (every request raises httpx.ConnectError), the
    params reply rewritten, or a broadcast of a PoC batch that reaches the node whose reply never
    comes back (the agent is then killed 'mid-broadcast')."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.on = True
        self.params_patch = None  # callable(params JSON) -> params JSON
        self.trap: asyncio.Event | None = None  # set when a batch broadcast reached the node
        self.trapped_hash: str | None = None
        self.missing: set[tuple[str, str]] = set()  # (method, path) answered 404, as a node without the route
        self.swallow: asyncio.Event | None = None  # set when a batch broadcast was lost on its way to the node
        self.swallowed_hash: str | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.on:
            raise httpx.ConnectError("switched off by the test", request=request)
        if (request.method, request.url.path) in self.missing:
            return httpx.Response(404, json={"message": f"Not Found: {request.url.path}"})
        if self.swallow is not None and not self.swallow.is_set() and request.url.path.endswith("/cosmos/tx/v1beta1/txs"):
            await request.aread()
            tx_bytes = base64.b64decode(json.loads(request.content)["tx_bytes"])
            if any(t == MSG_SUBMIT_POC_BATCH for t, _ in messages_of(tx_bytes)):
                self.swallowed_hash = hashlib.sha256(tx_bytes).hexdigest().upper()
                self.swallow.set()
                await asyncio.Event().wait()  # the request never reaches the node; the agent dies waiting
        response = await self.inner.handle_async_request(request)
        if self.params_patch is not None and request.url.path.endswith(PARAMS_PATH):
            await response.aread()
            data = self.params_patch(json.loads(response.content))
            return httpx.Response(200, json=data)
        if self.trap is not None and not self.trap.is_set() and request.url.path.endswith("/cosmos/tx/v1beta1/txs"):
            await request.aread()
            tx_bytes = base64.b64decode(json.loads(request.content)["tx_bytes"])
            if any(t == MSG_SUBMIT_POC_BATCH for t, _ in messages_of(tx_bytes)):
                await response.aread()
                self.trapped_hash = json.loads(response.content)["tx_response"]["txhash"].upper()
                self.trap.set()
                await asyncio.Event().wait()  # the reply is lost: the agent dies waiting for it
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


# ----- the chain's view -----

def messages_of(tx_bytes: bytes) -> list[tuple[str, bytes]]:
    body = cosmos_tx.TxBody.FromString(cosmos_tx.TxRaw.FromString(tx_bytes).body_bytes)
    return [(m.type_url, m.value) for m in body.messages]


def committed(devnet, address: str, type_url: str) -> list:
    """The account's committed, successful messages of one type, decoded, in chain order."""
    decode = {MSG_SUBMIT_POC_BATCH: inference_tx.MsgSubmitPocBatch, MSG_CLAIM_REWARDS: inference_tx.MsgClaimRewards,
              MSG_SUBMIT_NEW_PARTICIPANT: inference_tx.MsgSubmitNewParticipant}[type_url]
    out, page = [], 1
    while True:
        total, txs = devnet.chain.search(f"message.sender='{address}'", page=page, per_page=100)
        for tx in txs:
            if int(tx.result.get("code") or 0) == 0:
                out += [decode.FromString(v) for t, v in messages_of(tx.tx_bytes) if t == type_url]
        if page * 100 >= total:
            return out
        page += 1


def chain_batches(devnet, address: str, poc_start: int) -> list:
    return [m for m in committed(devnet, address, MSG_SUBMIT_POC_BATCH) if m.poc_stage_start_block_height == poc_start]


def balance(devnet, address: str) -> int:
    account = devnet.chain.ledger.get(address)
    return account.balance if account is not None else 0


def window_closed(devnet, r: RoundState) -> bool:
    return devnet.chain.height > r.exchange_end + 1  # and the block after it committed what came last


# ----- one agent of one test account -----

class Rig:
    """An Agent in the test's loop, with a real Supervisor (one CPU kernel) and Recorder in `home`."""

    def __init__(self, devnet, home: Path, n: int) -> None:
        self.devnet, self.home, self.key = devnet, home, key(n)
        self.address = self.key.address
        self.switch = Switch()
        self.client = ChainClient([devnet.url], transport=self.switch)
        self.records = Recorder(home)
        self.batches: list[sup.Batch] = []
        self.pids: list[int] = []
        self.supervisor = sup.Supervisor([sup.KernelSpec("cpu", threads=1)], on_event=self._on_event)
        self.agent = Agent(home=home / "miner", address=self.address, public_key_hex=self.key.pubkey.hex(),
                           client=self.client, sender=MessageSender(self.client, self.key.signer, self.address),
                           signer=self.key.signer, supervisor=self.supervisor, records=self.records, poll=POLL,
                           submit_every=SUBMIT_EVERY)
        self.task: asyncio.Task | None = None
        self.began = devnet.chain.height

    def _on_event(self, event) -> None:
        if isinstance(event, sup.Batch):
            self.batches.append(event)
        elif isinstance(event, sup.KernelStarted):
            self.pids.append(event.pid)
        forward_event(self.agent, event)

    def start(self) -> Rig:
        self.began = self.devnet.chain.height
        self.task = asyncio.create_task(self.agent.run())
        return self

    def accepted(self, r: RoundState) -> list:
        return [b for b in self.records.batches(epoch=r.epoch, limit=10_000)
                if b.poc_start_height == r.poc_start and b.state == "accepted"]

    async def fresh_round(self) -> RoundState:
        """The first round mined from its start (one already under way when the agent began is skipped),
        once a batch of it was accepted."""
        def mining() -> RoundState | None:
            r = self.agent.round
            if r is not None and r.poc_start > self.began and self.agent.generating and self.accepted(r):
                return r
            return None
        return await until(mining, "a round mined from its start, with an accepted batch", rig=self)

    async def stop(self) -> None:
        self.agent.request_stop()
        await asyncio.wait_for(self.task, 30)

    async def close(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        await self.supervisor.close()
        self.records.close()
        await self.client.aclose()


@pytest.fixture(scope="module")
def devnet(tmp_path_factory):
    with start_in_thread(tmp_path_factory.mktemp("devnet") / "chain", block_time=BLOCK_TIME, poc=CONFIG) as d:
        yield d


@pytest.fixture
async def rigs():
    made: list[Rig] = []
    yield made
    for rig in made:
        await rig.close()


# ----- 1. a round end to end -----

async def test_a_round_end_to_end_registers_mines_gets_weight_and_claims_the_reward_once(devnet, tmp_path, rigs):
    rig = Rig(devnet, tmp_path, 101)
    rigs.append(rig.start())
    r = await rig.fresh_round()

    joined = committed(devnet, rig.address, MSG_SUBMIT_NEW_PARTICIPANT)
    assert len(joined) == 1 and joined[0].url == ""  # a miner, not an inference endpoint
    assert devnet.chain.ledger.poc.get(("s", r.epoch, rig.address)), "the round's seed is on chain"
    round_start = devnet.chain.block(r.poc_start)[0].time_ns / 1e9
    first = min(b.settled_at for b in rig.accepted(r))
    print(f"\nround start (block {r.poc_start}) → first accepted batch: {first - round_start:.2f} s")

    async def weighted():
        for p in await rig.client.current_participants():
            if p.get("index") == rig.address and int(p.get("weight") or 0) > 0:
                return int(p["weight"])
        return None
    weight = await until(weighted, f"a weight for round {r.poc_start} on chain", rig=rig)
    assert weight == sum(len(set(m.nonces)) for m in chain_batches(devnet, rig.address, r.poc_start))
    await until(lambda: rig.agent.status().weight == weight, "the agent's status to show its weight", rig=rig)

    before = balance(devnet, rig.address)
    assert before == 0 and not committed(devnet, rig.address, MSG_CLAIM_REWARDS)
    await until(lambda: rig.agent.seeds.get(str(r.epoch), {}).get("claimed"), f"the claim of epoch {r.epoch}",
                rig=rig)
    summary = await until(lambda: rig.client.epoch_summary(r.epoch, rig.address), "the epoch's summary")
    rewarded = int(summary["rewarded_coins"])
    assert rewarded > 0
    await until(lambda: balance(devnet, rig.address) > before, "the claim to be committed", rig=rig)
    assert balance(devnet, rig.address) - before == rewarded
    assert rig.agent.seeds[str(r.epoch)]["amount"] == str(rewarded)
    assert (await rig.client.epoch_summary(r.epoch, rig.address))["claimed"] is True
    # Claimed once: a few polls later there is still one claim of that epoch on chain.
    later = devnet.chain.height + 5
    await until(lambda: devnet.chain.height >= later, "five more blocks", rig=rig)
    claims = [m for m in committed(devnet, rig.address, MSG_CLAIM_REWARDS) if m.epoch_index == r.epoch]
    assert len(claims) == 1
    assert int(rig.agent.status().earned_ngonka) >= rewarded
    await rig.stop()


# ----- 2. the node unreachable mid-round -----

async def test_a_node_unreachable_mid_round_queues_batches_and_sends_each_once(devnet, tmp_path, rigs):
    rig = Rig(devnet, tmp_path, 102)
    rigs.append(rig.start())
    r = await rig.fresh_round()

    rig.switch.on = False
    seen = len(rig.batches)
    await until(lambda: rig.agent.status().batches_queued > 0, "a batch queued while the node is off", rig=rig)
    await until(lambda: len(rig.batches) >= seen + 3, "the kernels to go on computing meanwhile", rig=rig)
    assert [d.state for d in rig.supervisor.devices()] == ["generating"]
    assert devnet.chain.height < r.exchange_end, "the test's outage outlasted the window: the machine is too slow"
    rig.switch.on = True

    def settled():
        return (window_closed(devnet, r) and not rig.records.queued_batches(poc_start_height=r.poc_start)
                and not rig.records.unconfirmed_batches(poc_start_height=r.poc_start))
    await until(settled, "the queue to empty and the window to close", rig=rig)
    on_chain = chain_batches(devnet, rig.address, r.poc_start)
    ids = Counter(m.batch_id for m in on_chain)
    assert ids and max(ids.values()) == 1, "each batch id once on chain"
    mine = rig.accepted(r)
    assert set(ids) == {b.batch_id for b in mine}
    assert sum(len(m.nonces) for m in on_chain) == sum(b.nonce_count for b in mine)
    assert max(Counter(n for m in on_chain for n in m.nonces).values()) == 1, "no nonce twice"
    assert rig.records.batch_counts(epoch=r.epoch)["dropped"] == 0, "no batch lost"
    await rig.stop()


# ----- 3. the agent killed mid-round resumes -----

async def test_an_agent_killed_mid_round_resumes_from_its_progress_without_resending(devnet, tmp_path, rigs):
    first = Rig(devnet, tmp_path, 103)
    rigs.append(first.start())
    r = await first.fresh_round()
    await until(lambda: len(first.accepted(r)) >= 2, "two accepted batches", rig=first)
    first.switch.trap = asyncio.Event()
    await until(first.switch.trap.is_set, "a batch broadcast that reaches the node", rig=first)
    first.task.cancel()  # killed while waiting for the node's reply
    with pytest.raises(asyncio.CancelledError):
        await first.task
    assert first.pids and not any(alive(p) for p in first.pids), "no kernel outlives the agent"
    caught = first.records.unconfirmed_batches(poc_start_height=r.poc_start)
    assert [b.tx_hash for b in caught] == [first.switch.trapped_hash]
    await until(lambda: devnet.chain.tx(first.switch.trapped_hash), "the caught batch's tx to be committed")
    saved = RoundState.from_json(json.loads((tmp_path / "miner" / ROUND_FILE).read_text()))
    assert saved.poc_start == r.poc_start and saved.progress["cpu"] > 0
    await first.close()
    assert devnet.chain.height < r.poc_start + EPOCHS.poc_stage_duration - 3, "the machine is too slow for this test"

    second = Rig(devnet, tmp_path, 103)
    rigs.append(second.start())
    await until(lambda: second.batches, "the resumed kernel's first batch", rig=second)
    assert second.agent.round.poc_start == r.poc_start, "the same round continued"
    assert second.batches[0].k_start >= saved.progress["cpu"]
    assert second.records.batch(caught[0].batch_id).state == "accepted"  # looked up, not resent

    def settled():
        return (window_closed(devnet, r) and not second.records.queued_batches(poc_start_height=r.poc_start)
                and not second.records.unconfirmed_batches(poc_start_height=r.poc_start))
    await until(settled, "the round's batches sent and its window closed", rig=second)
    on_chain = chain_batches(devnet, second.address, r.poc_start)
    ids = Counter(m.batch_id for m in on_chain)
    assert max(ids.values()) == 1 and ids[caught[0].batch_id] == 1
    assert max(Counter(n for m in on_chain for n in m.nonces).values()) == 1, "no nonce submitted twice"
    await second.stop()


async def test_a_batch_whose_broadcast_never_arrived_goes_out_as_the_same_bytes(devnet, tmp_path, rigs):
    first = Rig(devnet, tmp_path, 110)
    rigs.append(first.start())
    r = await first.fresh_round()
    first.switch.swallow = asyncio.Event()
    await until(first.switch.swallow.is_set, "a batch broadcast lost on its way", rig=first)
    first.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first.task
    (lost,) = first.records.unconfirmed_batches(poc_start_height=r.poc_start)
    assert lost.tx_hash == first.switch.swallowed_hash and devnet.chain.tx(lost.tx_hash) is None
    await first.close()

    second = Rig(devnet, tmp_path, 110)
    rigs.append(second.start())
    # The tx lands under the hash recorded before the lost broadcast: the batch went out once.
    await until(lambda: devnet.chain.tx(lost.tx_hash), "the lost tx itself on chain", rig=second)
    await until(lambda: second.records.batch(lost.batch_id).state == "accepted", "the lost batch accepted",
                rig=second)
    await until(lambda: window_closed(devnet, r), "the round's window to close", rig=second)
    ids = Counter(m.batch_id for m in chain_batches(devnet, second.address, r.poc_start))
    assert ids[lost.batch_id] == 1 and max(ids.values()) == 1
    await second.stop()


async def test_an_agent_started_before_its_node_answers_waits_for_it_then_mines(devnet, tmp_path, rigs):
    rig = Rig(devnet, tmp_path, 111)
    rig.switch.on = False
    rigs.append(rig.start())
    await until(lambda: any("waiting for the node" in line.text for line in rig.agent.log_lines),
                "the agent to say it waits for the node", rig=rig)
    assert not rig.task.done() and rig.agent.state == "waiting"
    rig.switch.on = True
    r = await rig.fresh_round()
    assert rig.accepted(r)
    await rig.stop()


# ----- 4. refusals -----

def _v2(data: dict) -> dict:
    poc = data["params"]["poc_params"]
    poc.pop("model_params")
    poc["models"] = [{"model_id": "Qwen/Qwen3-32B-FP8", "seq_len": "1024"}]
    return data


def _bad_heads(data: dict) -> dict:
    data["params"]["poc_params"]["model_params"]["n_heads"] = "3"
    return data


@pytest.mark.parametrize("patch, message", [(_v2, V2_REFUSAL), (_bad_heads, "the chain's PoC model params are not "
                                                                             "usable: params: dim 64 is not a "
                                                                             "multiple of n_heads 3")])
async def test_a_v2_network_or_unusable_params_are_refused_in_one_line(devnet, tmp_path, rigs, patch, message):
    rig = Rig(devnet, tmp_path, 104)
    rigs.append(rig)
    rig.switch.params_patch = patch
    with pytest.raises(InputError) as refused:
        await rig.agent.run()
    assert str(refused.value) == message and "\n" not in message
    assert rig.agent.state == "error" and rig.agent.status().error == message
    assert not rig.pids and devnet.chain.account(rig.address) is None, "refused before anything was done"


async def test_a_new_key_gets_its_account_from_the_node_or_is_told_to_get_funds_first(devnet, tmp_path, rigs):
    rig = Rig(devnet, tmp_path, 109)
    rigs.append(rig)
    rig.switch.missing.add(("POST", "/v1/participants"))  # a node that does not create accounts
    with pytest.raises(ChainError) as refused:
        await rig.agent.run()
    assert str(refused.value) == (f"{rig.address} has no account on chain yet and the node does not create one: "
                                  "send it some GNK first (any transfer creates the account), then start again")
    assert devnet.chain.account(rig.address) is None

    rig.switch.missing.clear()  # the devnet's node creates it with the key, and the agent goes on
    assert await rig.agent.sender.ensure_account() is True
    account = devnet.chain.account(rig.address)
    assert account is not None and account.pubkey == rig.key.pubkey
    assert await rig.agent.sender.ensure_account() is False  # there already: nothing asked


def _options(port: int = 0) -> RunOptions:
    return RunOptions("miner", status_port=port, device="cpu", threads=1, poll=POLL, submit_every=SUBMIT_EVERY)


def _run(devnet, home: Path, n: int, port: int = 0):
    k = key(n)
    client = ChainClient([devnet.url])

    async def go():
        try:
            await run_agent(home, _options(port), client=client, signer=k.signer, address=k.address,
                            public_key_hex=k.pubkey.hex())
        finally:
            await client.aclose()
    return go()


async def test_a_taken_status_port_is_one_line_naming_the_flag(devnet, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(InputError, match=rf"^port {port} on 127\.0\.0\.1 is taken .*--status-port$"):
            await _run(devnet, tmp_path, 105, port)
    assert not (tmp_path / "miner" / AGENT_FILE).exists()


async def test_a_second_agent_for_the_same_home_is_refused(devnet, tmp_path):
    running = asyncio.create_task(_run(devnet, tmp_path, 106))
    try:
        await until(lambda: find_local_agent(tmp_path) or running.done(), "the first agent to listen")
        with pytest.raises(InputError, match=r"^a miner agent already runs for this home"):
            await _run(devnet, tmp_path, 106)
        assert find_local_agent(tmp_path) is not None, "the first one runs on"
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert not (tmp_path / "miner" / AGENT_FILE).exists()


# ----- 5. the API while mining -----

STATUS_KEYS = {"state", "devices", "batches_accepted", "batches_rejected", "epoch", "phase", "weight",
               "earned_ngonka"}


def check_status_json(data: dict) -> None:
    assert STATUS_KEYS <= set(data)
    assert all({"name", "pid", "restarts", "nonces_per_second"} <= set(d) for d in data["devices"])
    assert isinstance(data["epoch"], int) and isinstance(data["weight"], int)
    assert isinstance(data["batches_accepted"], int) and data["phase"] in PHASES
    assert isinstance(data["earned_ngonka"], str) and data["earned_ngonka"].isdigit()


async def test_the_api_shows_mining_and_pauses_resumes_and_stops_the_agent(devnet, tmp_path):
    began, pids = devnet.chain.height, set()
    running = asyncio.create_task(_run(devnet, tmp_path, 107))
    try:
        found = await until(lambda: find_local_agent(tmp_path) or running.done(), "the agent's agent.json")
        assert found and (tmp_path / "miner" / TOKEN_FILE).stat().st_mode & 0o777 == 0o600
        async with AgentClient(found) as api, httpx.AsyncClient(base_url=found.url) as raw:
            assert (await raw.get("/v1/miner/status")).status_code == 401

            async def mining():
                s = await api.status()
                fresh = s.block_height and s.state == "mining" and s.batches_accepted > 0
                return s if fresh and any(d.state == "generating" for d in s.devices) else None
            s = await until(mining, "the agent mining with batches accepted")
            assert s.epoch > 0 and [d.name for d in s.devices] == ["cpu"] and s.devices[0].pid
            check_status_json((await raw.get("/v1/miner/status", headers={
                "Authorization": f"Bearer {found.token}"})).json())
            pids = {d.pid for d in s.devices}

            await api.control("pause")

            async def paused():
                s = await api.status()
                quiet = s.state == "paused" and s.batches_queued == 0
                return s if quiet and not any(d.state == "generating" for d in s.devices) else None
            await until(paused, "the kernels to stop")
            # The nonces gathered before the pause still go out (one flush, one submission): let them.
            at = devnet.chain.height + 10
            await until(lambda: devnet.chain.height >= at, "ten blocks while paused")
            s = await api.status()
            at = devnet.chain.height + 5
            await until(lambda: devnet.chain.height >= at, "five more blocks while paused")
            after = await api.status()
            assert after.state == "paused" and after.batches_accepted == s.batches_accepted
            assert after.nonces_submitted == s.nonces_submitted and all(
                d.nonces_per_second == 0 for d in after.devices)

            await api.control("resume")
            accepted = after.batches_accepted

            async def mining_again():
                s = await api.status()
                return s.state == "mining" and s.batches_accepted > accepted
            await until(mining_again, "mining again after resume")
            assert devnet.chain.height > began

            await api.control("stop")
            await asyncio.wait_for(asyncio.shield(running), 30)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert running.exception() is None, "run_agent returned"
    assert not (tmp_path / "miner" / AGENT_FILE).exists()
    assert not any(alive(p) for p in pids), "no kernel left"


# ----- 6. the CLI -----

async def test_miner_status_json_from_the_cli(devnet, tmp_path, capsys):
    home = tmp_path / "home"
    argv = ["miner", "status", "--json", "--home", str(home)]
    assert await asyncio.to_thread(cli.main, argv) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: no miner agent is running for this home") and err.count("\n") == 1

    running = asyncio.create_task(_run(devnet, home, 108))
    try:
        await until(lambda: find_local_agent(home) or running.done(), "the agent to listen")
        assert await asyncio.to_thread(cli.main, argv) == 0
        out, _ = capsys.readouterr()
        data = json.loads(out)
        check_status_json(data)
        assert data["state"] in ("waiting", "mining") and data["account"] == key(108).address
        assert await asyncio.to_thread(cli.main, ["miner", "stop", "--home", str(home)]) == 0
        await asyncio.wait_for(asyncio.shield(running), 30)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert not (home / "miner" / AGENT_FILE).exists()
