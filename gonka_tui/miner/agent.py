"""The miner agent: follows the chain's epochs and mines each PoC v1 round with one kernel per device.

Each poll (about a block) it reads `/v1/epochs/latest` and acts on the stage heights:
- once: the chain's PoC params (a v2 network is refused), the account created by the node if the key
  is new (MessageSender.ensure_account), and registered as a participant (`MsgSubmitNewParticipant`
  with an empty url: a miner is not an inference endpoint);
- at a round's start: `MsgSubmitSeed` for the epoch (the seed kept to reveal in the claim), the
  round's block hash, and the kernels started with the account's public key, the nonce space split
  across devices as the reference's NonceIterator does (one group per device);
- while the exchange window is open: the valid nonces gathered since the last submission go out as
  one `MsgSubmitPocBatch` every few seconds;
- at the generation end: the kernels stop;
- at the claim stage of the next epoch: `MsgClaimRewards` for each epoch it mined, once the chain's
  epoch summary shows the reward settled.

Never loses or doubles work. A batch is written to the records (queued, with its id) before it is
sent, recorded "submitting" with its tx hash just before each broadcast, and marked submitted once the
node's mempool takes it, so it is sent once; a node that does not answer leaves it queued, retried
until the window closes, and a batch caught mid-broadcast (by an outage or a restart) is looked up by
its hash before anything else goes out. No node trouble stops the agent: it logs the problem once,
the kernels go on, and the next poll looks again. The kernels' progress (the next k per device) is
saved with each batch that holds their nonces (and in round.json), so an agent restarted mid-round
resumes where the last recorded batch ended: nothing is computed or sent twice, and nothing sent is
lost.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from gonka_tui import __version__
from gonka_tui.core import poc_messages
from gonka_tui.core.chain_client import ChainClient
from gonka_tui.core.epochs import GENERATING, EpochInfo, PocChainParams
from gonka_tui.core.errors import ChainError, GonkaError, InputError, NodeUnreachable, TxRejected
from gonka_tui.core.fileio import RefusedFile, ensure_private_dir, read_regular_file, write_json_atomic
from gonka_tui.core.msg_sender import MessageSender
from gonka_tui.miner.records import QUEUED
from gonka_tui.miner.status import AgentStatus, DeviceStatus, LogLine, Throughput
from gonka_tui.poc.params import PocParams

ROUND_FILE = "round.json"
SEEDS_FILE = "seeds.json"
LOG_LINES = 200
NODE_ID = "0"  # this agent is one ML node; its devices are the groups of the nonce space
SUBMIT_EVERY = 3.0  # seconds between PoC batch submissions (the reference's sender posts every 5 s)
V2_REFUSAL = ("this network runs PoC v2 (inside vLLM, on the served model); the bundled kernel computes PoC v1 "
              "only, so it cannot mine here")


@dataclass(frozen=True)
class _Refused:
    """A broadcast refused at CheckTx, read like a committed tx that failed."""

    code: int
    raw_log: str


@dataclass
class RoundState:
    """The round being mined (or last mined), saved so a restarted agent resumes it."""

    poc_start: int
    epoch: int
    block_hash: str
    exchange_end: int
    generation_end: int
    progress: dict[str, int] = field(default_factory=dict)  # device name → next k

    def to_json(self) -> dict:
        return {"poc_start": self.poc_start, "epoch": self.epoch, "block_hash": self.block_hash,
                "exchange_end": self.exchange_end, "generation_end": self.generation_end,
                "progress": self.progress}

    @classmethod
    def from_json(cls, data) -> RoundState | None:
        try:
            return cls(int(data["poc_start"]), int(data["epoch"]), str(data["block_hash"]), int(data["exchange_end"]),
                       int(data["generation_end"]), {str(k): int(v) for k, v in dict(data["progress"]).items()})
        except (KeyError, TypeError, ValueError):
            return None


def _read_json(path: Path):
    import json

    try:
        return json.loads(read_regular_file(path, 1 << 20))
    except (OSError, RefusedFile, ValueError):
        return None


class Agent:
    def __init__(self, *, home: Path, address: str, public_key_hex: str, client: ChainClient,
                 sender: MessageSender, signer, supervisor, records, telemetry=None, poll: float = 1.0,
                 submit_every: float = SUBMIT_EVERY, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.dir = ensure_private_dir(Path(home))
        self.address, self.public_key = address, public_key_hex
        self.client, self.sender, self.signer = client, sender, signer
        self.supervisor, self.records, self.telemetry = supervisor, records, telemetry
        self.poll, self.submit_every = poll, submit_every
        self.clock, self.wall = clock, wall
        self.started = clock()
        self.state = "waiting"
        self.error: str | None = None
        self.paused = False
        self.stopping = asyncio.Event()
        self.epoch: EpochInfo | None = None
        self.params: PocChainParams | None = None
        self.round: RoundState | None = RoundState.from_json(_read_json(self.dir / ROUND_FILE) or {})
        self.generating = False  # kernels told to generate for self.round
        self.seeds: dict = _read_json(self.dir / SEEDS_FILE) or {}  # {"<epoch>": {seed, signature, claimed, amount}}
        self.pending: list[tuple[int, float]] = []  # valid nonces since the last batch record
        self.pending_progress: dict[str, int] = {}
        self.weight = 0
        self.log_lines: deque[LogLine] = deque(maxlen=LOG_LINES)
        self.counts = {"accepted": 0, "rejected": 0, "nonces": 0}
        self.rate_points: deque[tuple[float, int]] = deque()  # (clock, nonces computed in total)
        self.computed = 0
        self.max_rate = 0.0
        self.device_rates: dict[str, float] = {}
        self.block_times: deque[tuple[float, int]] = deque(maxlen=60)  # (clock, height)
        self.last_reward: int = 0
        self.telemetry_json: dict = {}
        self._submitting_lock = asyncio.Lock()
        self._trouble: str | None = None  # the node problem last logged (logged once, not every poll)

    # ----- control (API and app) -----

    def pause(self) -> None:
        if self.state in ("stopped", "error"):
            return
        self.paused = True
        self.state = "paused"
        self._log("info", "paused: the kernels stop after their batch")

    def resume(self) -> None:
        if not self.paused:
            return
        self.paused = False
        self.state = "waiting"
        self._log("info", "resumed")

    def request_stop(self) -> None:
        self._log("info", "stopping")
        self.stopping.set()

    def _log(self, level: str, text: str) -> None:
        self.log_lines.append(LogLine(self.wall(), level, text))
        self.records.log(text, level)

    # ----- the loop -----

    async def run(self) -> None:
        """Mine until stopped (request_stop, or a cancelled task); the kernels end with it."""
        try:
            if not await self._prepare_when_reachable():
                return  # stopped while waiting for the node
            await self.settle_unconfirmed()
            submitter = asyncio.create_task(self._submit_loop())
            try:
                while not self.stopping.is_set():
                    await self.step()
                    try:
                        await asyncio.wait_for(self.stopping.wait(), self.poll)
                    except asyncio.TimeoutError:
                        pass
            finally:
                submitter.cancel()
                await asyncio.gather(submitter, return_exceptions=True)
                await self._flush_pending()
        except GonkaError as exc:
            self.state, self.error = "error", str(exc)
            self._log("error", str(exc))
            raise
        finally:
            await self.supervisor.close()
            if self.state != "error":
                self.state = "stopped"

    async def _prepare_when_reachable(self) -> bool:
        """_prepare, waiting for a node that does not answer yet (started before the node, or the node
        restarting): asked again with a back-off doubling to 30 s. False when stopped meanwhile."""
        delay, told = self.poll, None
        while not self.stopping.is_set():
            try:
                await self._prepare()
                return True
            except NodeUnreachable as exc:
                if str(exc) != told:
                    told = str(exc)
                    self._log("warning", f"waiting for the node: {exc}")
            try:
                await asyncio.wait_for(self.stopping.wait(), delay)
            except asyncio.TimeoutError:
                pass
            delay = min(delay * 2, 30.0)
            self.client.retry_now()
        return False

    async def _prepare(self) -> None:
        self.params = params = await self.client.poc_params()
        if params.version != 1:
            raise InputError(V2_REFUSAL)
        try:
            PocParams.from_mapping(params.model)
        except (InputError, ValueError, TypeError) as exc:
            raise InputError(f"the chain's PoC model params are not usable: {exc}") from None
        if await self.sender.ensure_account():
            self._log("info", "the account was new: the node created it with this key")
        if await self.client.participant(self.address) is None:
            self._log("info", "registering the account as a participant (no inference URL: a miner)")
            await self.sender.send([poc_messages.msg_submit_new_participant(self.address, url="")])

    async def step(self) -> None:
        """One look at the chain, and what its stage asks for. A node that does not answer (or answers
        something unusable) stops nothing: the kernels go on, batches wait, the next poll looks again."""
        try:
            await self._step()
        except ChainError as exc:
            if isinstance(exc, NodeUnreachable):
                # The agent paces its own retries (one look per poll): the pool's growing back-off must
                # not hold the queued batches past the window once the node is back.
                self.client.retry_now()
            text = f"the node does not answer: {exc}" if isinstance(exc, NodeUnreachable) else str(exc)
            if text != self._trouble:  # once per distinct problem, not once per poll
                self._trouble = text
                self._log("warning", f"{text}; the kernels go on, batches wait")
            await self._follow_generation_end(None)  # a pause still stops the kernels
            if self.paused:
                self.state = "paused"
            return
        if self._trouble is not None:
            self._trouble = None
            self._log("info", "the node answers again")

    async def _step(self) -> None:
        epoch = await self.client.epoch_latest()
        self.epoch = epoch
        self.block_times.append((self.clock(), epoch.block_height))
        s, height = epoch.stages, epoch.block_height
        in_generation = s.poc_start <= height < s.poc_generation_end and epoch.phase in GENERATING
        if in_generation and not self.paused:
            if self.round is None or self.round.poc_start != s.poc_start:
                await self._start_round(epoch)
            elif not self.generating:
                await self._resume_round()
            self.state = "mining"
            await self._submit_seed(self.round.epoch)  # again if the node did not answer at the round's start
        else:
            await self._follow_generation_end(epoch)
            if self.paused:
                self.state = "paused"
            elif self.state == "mining":
                self.state = "waiting"
        await self._claim_due(epoch)
        await self._read_weight()

    async def _follow_generation_end(self, epoch: EpochInfo | None) -> None:
        r = self.round
        if not self.generating or r is None:
            return
        if self.paused:  # the kernels keep the round and their positions; resume goes on from there
            await self.supervisor.pause()
            self.generating = False
            await self._flush_pending()
        elif epoch is not None and (epoch.block_height >= r.generation_end or epoch.stages.poc_start != r.poc_start):
            await self.supervisor.stop_round()
            self.generating = False
            await self._flush_pending()
            self._log("info", f"round {r.poc_start}: generation ended")
            await self.submit_queued()  # the last nonces now: the exchange window closes soon after

    async def _start_round(self, epoch: EpochInfo) -> None:
        s = epoch.stages
        block_hash = await self.client.block_hash(s.poc_start)
        await self._flush_pending()
        self.round = RoundState(s.poc_start, s.epoch_index, block_hash, s.exchange_end, s.poc_generation_end)
        self._save_round()
        await self._submit_seed(s.epoch_index)
        self._log("info", f"round {s.poc_start} (epoch {s.epoch_index}): mining with block hash {block_hash[:12]}…")
        await self._resume_round()

    async def _resume_round(self) -> None:
        r = self.round
        assert r is not None and self.params is not None
        self._merge_recorded_progress(r)
        if self.supervisor.paused:
            await self.supervisor.resume()
        # The same round again (same key) carries the devices' positions over; a new one replaces it.
        await self.supervisor.start_round(self._round_spec(r))
        self.generating = True

    def _merge_recorded_progress(self, r: RoundState) -> None:
        """Each batch carries the positions that produced it (written in one step with its nonces), so an
        agent killed between recording a batch and saving round.json still resumes after that batch:
        its nonces are never computed, and so never sent, twice."""
        for batch in self.records.batches(epoch=r.epoch, limit=50):
            if batch.poc_start_height != r.poc_start or not isinstance(batch.payload, dict):
                continue
            for device, k in dict(batch.payload.get("progress") or {}).items():
                if isinstance(k, int) and not isinstance(k, bool) and k > r.progress.get(str(device), 0):
                    r.progress[str(device)] = k

    def _round_spec(self, r: RoundState):
        from gonka_tui.miner.supervisor import Round

        return Round(params=dict(self.params.model), block_hash=r.block_hash, public_key=self.public_key,
                     r_target=self.params.r_target, node_id=int(NODE_ID), node_count=1, resume=dict(r.progress))

    def _save_round(self) -> None:
        if self.round is not None:
            write_json_atomic(self.dir / ROUND_FILE, self.round.to_json())

    def _save_seeds(self) -> None:
        write_json_atomic(self.dir / SEEDS_FILE, self.seeds)

    async def _submit_seed(self, epoch: int) -> None:
        """Send the epoch's seed signature; a node that does not answer leaves it to the next poll of the
        round, a refusal (it may hold this very signature already, from a reply that was lost) ends the
        tries, and the claim still goes ahead if the chain shows a reward."""
        key = str(epoch)
        if key in self.seeds and (self.seeds[key].get("sent") or self.seeds[key].get("refused")):
            return
        if key not in self.seeds:
            seed, signature = poc_messages.new_seed(self.signer)
            self.seeds[key] = {"seed": seed, "signature": signature, "sent": False, "claimed": False}
            self._save_seeds()  # before it is sent: the claim must reveal the very seed the chain holds
        entry = self.seeds[key]
        try:
            await self.sender.send([poc_messages.msg_submit_seed(self.address, epoch, entry["signature"])])
        except TxRejected as exc:
            entry["refused"] = True
            self._save_seeds()
            self._log("warning", f"epoch {epoch}: the seed was refused: {exc.log}")
            return
        except ChainError as exc:
            self.sender.forget()
            self._log("warning", f"epoch {epoch}: the seed did not go out: {exc}; trying again")
            return
        entry["sent"] = True
        self._save_seeds()

    # ----- batches -----

    def on_batch(self, device: str, nonces: list[int], dist: list[float], k_end: int) -> None:
        """A kernel's batch (called by the supervisor's event handler)."""
        if not self.generating:
            return
        self.pending.extend(zip(nonces, dist))
        self.pending_progress[device] = k_end

    def on_rate(self, device: str, nonces_per_second: float, computed: int) -> None:
        self.device_rates[device] = nonces_per_second
        self.computed += computed

    async def _flush_pending(self) -> None:
        """Record the gathered nonces as queued batches (one, unless they exceed what one message may
        carry), each with the progress that produced them."""
        r = self.round
        if r is None or (not self.pending and not self.pending_progress):
            return
        r.progress.update(self.pending_progress)
        for i in range(0, len(self.pending), poc_messages.MAX_BATCH_NONCES):  # what one message may carry
            nonces, dist = zip(*self.pending[i:i + poc_messages.MAX_BATCH_NONCES])
            self.records.batch_queue(str(uuid.uuid4()), epoch=r.epoch, poc_start_height=r.poc_start,
                                     nonce_count=len(nonces), payload={"nonces": list(nonces), "dist": list(dist),
                                                                       "progress": dict(r.progress)})
        self._save_round()
        self.pending, self.pending_progress = [], {}

    async def _submit_loop(self) -> None:
        while True:
            await asyncio.sleep(self.submit_every)  # a cadence, not a wait for a condition
            try:
                await self._flush_pending()
                await self.submit_queued()
            except GonkaError as exc:  # logged; the queue stays and the next tick tries again
                self._log("error", f"submitting batches failed: {exc}")

    async def settle_unconfirmed(self) -> bool:
        """A batch whose tx was signed and maybe broadcast (before a restart, or when the node stopped
        answering mid-send) is looked up by its hash: found → accepted or rejected as the chain says
        (never sent again); not found → its same bytes broadcast again (_send_again), and only a tx that
        can no longer land sends the batch back to the queue. A node that does not answer leaves it as it
        is, to be looked up again before the next submission; False then."""
        for batch in self.records.unconfirmed_batches():
            try:
                record = await self.client.get_tx(batch.tx_hash) if batch.tx_hash else None
            except ChainError:
                return False
            if record is None:
                record = await self._send_again(batch)
                if record is None:
                    return False
            if record == "requeue":
                self.records.batch_not_sent(batch.batch_id)
            elif record == "pending":
                continue
            elif record.code == 0:
                self.records.batch_submitted(batch.batch_id)
                self.records.batch_accepted(batch.batch_id)
                self.counts["accepted"] += 1
                self.counts["nonces"] += batch.nonce_count
                self._log("info", f"batch {batch.batch_id[:8]}: found on chain (tx {batch.tx_hash[:12]}…), "
                                  "not sent again")
            else:
                self.records.batch_submitted(batch.batch_id)
                self.records.batch_rejected(batch.batch_id, record.raw_log)
                self.counts["rejected"] += 1
        return True

    async def _send_again(self, batch):
        """A tx the chain does not have (yet): its very bytes broadcast again. In the mempool or taken
        → "pending" (looked up next time); its sequence used by another tx → "requeue" (it can never land:
        the batch is signed anew); refused → the refusal as a record. The same bytes can apply once only,
        so this never sends the batch twice; a node that does not answer leaves it for the next look."""
        from gonka_tui.core.transfer import CODE_IN_MEMPOOL, CODE_WRONG_SEQUENCE

        encoded = (batch.payload or {}).get("tx") if isinstance(batch.payload, dict) else None
        if not isinstance(encoded, str):
            return "requeue"
        self.sender.forget()  # whatever happens, the account's sequence is read again before the next send
        try:
            result = await self.client.broadcast(base64.b64decode(encoded))
            if result.code in (0, CODE_IN_MEMPOOL):
                return "pending"
            if result.code == CODE_WRONG_SEQUENCE:
                found = await self.client.get_tx(batch.tx_hash)
                return found if found is not None else "requeue"
        except ChainError:
            return None
        return _Refused(result.code, result.raw_log)

    def _window_closed(self, poc_start: int, height: int | None) -> bool:
        r = self.round
        if r is not None and poc_start < r.poc_start:
            return True  # a newer round began: the old one's window is long closed
        return r is not None and r.poc_start == poc_start and height is not None and height > r.exchange_end

    async def submit_queued(self) -> None:
        async with self._submitting_lock:  # the submit loop and the generation end may both come here
            await self._submit_queued()

    async def _submit_queued(self) -> None:
        if not await self.settle_unconfirmed():
            return  # a batch may be on chain already: nothing goes out before the node says
        height = self.epoch.block_height if self.epoch else None
        for batch in self.records.queued_batches():
            if self._window_closed(batch.poc_start_height, height):
                self.records.batch_dropped(batch.batch_id)
                self._log("warning", f"batch {batch.batch_id[:8]}: the exchange window closed before it could be sent")
                continue
            payload = batch.payload or {}
            message = poc_messages.msg_submit_poc_batch(self.address, batch.poc_start_height, batch.batch_id,
                                                        payload.get("nonces", []), payload.get("dist", []),
                                                        node_id=NODE_ID)
            try:
                sent = await self.sender.send(
                    [message], before_broadcast=lambda signed, b=batch.batch_id: self._submitting(b, signed))
            except TxRejected as exc:
                self.records.batch_submitted(batch.batch_id)
                self.records.batch_rejected(batch.batch_id, exc.log)
                self.counts["rejected"] += 1
                self._log("warning", f"batch {batch.batch_id[:8]} refused: {exc.log}")
                continue
            except ChainError as exc:  # unreachable, or an answer whose effect is unknown
                if isinstance(exc, NodeUnreachable):
                    self.client.retry_now()  # our own cadence paces the retries
                self._log("warning", f"batch {batch.batch_id[:8]} waits: {exc}")
                self.sender.forget()
                await self.settle_unconfirmed()  # the node may have it, or not: looked up before a resend
                return  # the rest wait too; retried at the next tick
            self.records.batch_submitted(batch.batch_id, sent.txhash)
            self.records.batch_accepted(batch.batch_id)
            self.counts["accepted"] += 1
            self.counts["nonces"] += batch.nonce_count
            self._log("info", f"batch {batch.batch_id[:8]}: {batch.nonce_count} nonces taken (tx {sent.txhash[:12]}…)")

    def _submitting(self, batch_id: str, signed) -> None:
        # A re-signed try (new sequence) has a new hash: the queue holds the batch again first.
        self.records.batch_not_sent(batch_id)
        self.records.batch_submitting(batch_id, signed.txhash, tx_bytes=signed.tx_bytes)

    # ----- rewards and weight -----

    async def _claim_due(self, epoch: EpochInfo) -> None:
        """From the claim stage of epoch e + 1: claim e's reward once the chain shows it settled. The
        settlement comes with the end of the next round's validation, which may take a few blocks past
        the claim stage; the summary is asked each poll until then (no claim is sent for nothing), and an
        epoch whose reward never came is given up when epoch e + 2 begins (the chain burns it then)."""
        s = epoch.stages
        for key, entry in list(self.seeds.items()):
            e = int(key)
            if entry.get("claimed") or not (entry.get("sent") or entry.get("refused")):
                continue
            if s.epoch_index > e + 1:  # too late: unclaimed rewards burn when epoch e + 2 begins
                entry["claimed"], entry["amount"] = True, "0"
                self._save_seeds()
                continue
            if s.epoch_index != e + 1 or epoch.block_height < s.claim_money:
                continue
            summary = await self.client.epoch_summary(e, self.address) or {}
            amount = str(summary.get("rewarded_coins") or "0")
            amount = amount if amount.isdigit() else "0"
            if summary.get("claimed") in (True, "true"):  # claimed already (a reply lost before a restart)
                self._claimed(e, entry, amount, None)
                continue
            if amount == "0":
                continue  # not settled yet (or nothing earned): asked again at the next poll
            try:
                sent = await self.sender.send([poc_messages.msg_claim_rewards(self.address, entry["seed"], e)])
            except TxRejected as exc:
                entry["claimed"], entry["amount"] = True, "0"
                self._log("warning", f"epoch {e}: the claim was refused ({exc.log})")
                self._save_seeds()
                continue
            except ChainError as exc:
                self.sender.forget()
                self._log("warning", f"epoch {e}: the claim did not go out: {exc}; trying again")
                continue
            self._claimed(e, entry, amount, sent.txhash)

    def _claimed(self, e: int, entry: dict, amount: str, txhash: str | None) -> None:
        entry["claimed"], entry["amount"] = True, amount
        self.last_reward = int(amount)
        self._save_seeds()
        self.records.epoch_earned(e, amount)
        self.records.epoch_claimed(e, txhash)
        self._log("info", f"epoch {e}: claimed {amount} ngonka" + (f" (tx {txhash[:12]}…)" if txhash else ""))

    async def _read_weight(self) -> None:
        try:
            for p in await self.client.current_participants():
                if p.get("index") == self.address:
                    self.weight = int(p.get("weight") or 0)
                    return
            self.weight = 0
        except (ChainError, ValueError, TypeError):
            pass

    # ----- status -----

    def _seconds_per_block(self) -> float | None:
        if len(self.block_times) < 2:
            return None
        (t0, h0), (t1, h1) = self.block_times[0], self.block_times[-1]
        return (t1 - t0) / (h1 - h0) if h1 > h0 else None

    def status(self) -> AgentStatus:
        epoch, spb = self.epoch, self._seconds_per_block()
        blocks = epoch.blocks_to_next_phase() if epoch else None
        earned = sum(int(e.get("amount") or 0) for e in self.seeds.values())
        per_day = 0
        if self.last_reward and spb and self.params and self.params.epoch_length:
            per_day = int(self.last_reward * 86400 / (spb * self.params.epoch_length))
            if per_day >= 10**9:  # an estimate: whole GNK, not nine decimals of false precision
                per_day -= per_day % 10**9
        devices = tuple(self._device_status(d) for d in self.supervisor.devices())
        return AgentStatus(
            state=self.state, account=self.address, epoch=epoch.epoch_index if epoch else 0,
            phase=epoch.phase if epoch else "Inference", block_height=epoch.block_height if epoch else 0,
            phase_ends_in_seconds=blocks * spb if blocks is not None and spb else None,
            next_poc_start=epoch.stages.next_poc_start if epoch else None, weight=self.weight,
            earned_ngonka=str(earned), estimate_per_day_ngonka=str(per_day),
            batches_accepted=self.counts["accepted"], batches_rejected=self.counts["rejected"],
            batches_queued=self.records.batch_counts()[QUEUED], nonces_submitted=self.counts["nonces"],
            uptime_seconds=self.clock() - self.started, restarts=sum(d.restarts for d in devices),
            devices=devices, throughput=self._throughput(), log=tuple(self.log_lines)[-50:], error=self.error,
            series_short=tuple(v or 0.0 for v in self.records.series(300, 60)),
            series_long=tuple(v or 0.0 for v in self.records.series(6 * 3600, 72)),
            version=__version__)

    def _device_status(self, d) -> DeviceStatus:
        rate = float(d.nonces_per_second or 0.0)
        figures = self.telemetry.device_telemetry(d.name, rate) if self.telemetry is not None else {
            "unavailable": {"telemetry": "not read by this agent"}}
        return DeviceStatus(name=d.name, pid=d.pid, state=d.state, restarts=d.restarts, nonces_per_second=rate,
                            last_failure=d.last_failure, **figures)

    def _throughput(self) -> Throughput:
        now = self.clock()
        self.rate_points.append((now, self.computed))
        while self.rate_points and now - self.rate_points[0][0] > 900:
            self.rate_points.popleft()

        def over(seconds: float) -> float:
            old = next(((t, n) for t, n in self.rate_points if now - t <= seconds), None)
            if old is None or now - old[0] <= 0:
                return 0.0
            return (self.computed - old[1]) / (now - old[0])

        s10 = over(10)
        self.max_rate = max(self.max_rate, s10)
        return Throughput(s10, over(60), over(900), self.max_rate)
