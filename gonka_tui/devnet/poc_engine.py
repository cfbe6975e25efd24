"""PoC rounds at the end of each block, as the chain's EndBlock runs them (x/inference module.go):

    poc_start(N)          epoch N begins: its record is made; epoch N − 2's unclaimed rewards burn;
                          one tranche of every vesting reward is released
    poc_validation_start  the batches of round N are closed: up to validation_sample_size distinct
                          nonces per participant are sampled (seeded by the round's block hash, the
                          participant and the height) and sent to the validator process
    poc_validation_end    (or the first block after it at which the validator has answered: block
                          production never waits) weights are set: a participant that passed gets
                          the number of distinct nonces it submitted, one that failed 0 and a line in
                          excluded_participants; epoch N's active participants are these and the node
                          (weight 0). Then epoch N − 1 is settled: its reward (initial_epoch_reward)
                          is split by round-(N − 1) weight, minted to the reward module account and
                          claimable from epoch N's claim_money stage until epoch N + 1 begins.

Everything is written to the committed state of the block being made, so the block's one SQLite
transaction holds it, and a restarted devnet resumes (a validation under way is started again).
"""

from __future__ import annotations

import hashlib
import random
from typing import Callable

from .accounts import LedgerAccount
from .epochs import PocConfig
from .ledger import Ledger
from .poc_rules import REWARD_MODULE, REWARD_MODULE_ADDRESS, VESTING_MODULE_ADDRESS
from .poc_validator import Validator

STATUS_GENERATING = "generating"
STATUS_VALIDATING = "validating"
STATUS_VALIDATED = "validated"


def sample_indices(block_hash: str, address: str, height: int, count: int, size: int) -> list[int]:
    """Which of a participant's `count` distinct nonces are validated: `size` of them (all when fewer),
    drawn by a generator seeded from sha256("{block_hash}:{address}:{height}")."""
    if count <= size:
        return list(range(count))
    seed = int.from_bytes(hashlib.sha256(f"{block_hash}:{address}:{height}".encode()).digest()[:8], "big")
    return sorted(random.Random(seed).sample(range(count), size))


class PocEngine:
    def __init__(self, config: PocConfig, ledger: Ledger, block_hash_at: Callable[[int], bytes | None],
                 node_address: str, log: Callable[[str], None] = lambda _m: None) -> None:
        self.config = config
        self.ledger = ledger
        self.block_hash_at = block_hash_at
        self.node_address = node_address
        self.log = log
        self.validator = Validator(log)
        self._pending = {k[1] for k, v in ledger.poc.scan("e") if v.get("status") == STATUS_VALIDATING}

    # ----- helpers -----

    @property
    def poc(self):
        return self.ledger.poc

    def epoch_record(self, epoch: int) -> dict | None:
        return self.poc.get(("e", epoch))

    def _account(self, address: str, module: str | None = None) -> LedgerAccount:
        current = self.ledger.get(address)
        account = current.copy() if current is not None else self.ledger.create(address)
        if module:
            account.module = module
        return account

    def _move(self, source: str, target: str, amount: int) -> None:
        """Move coins between two accounts of the committed state (both stored, or neither)."""
        if amount <= 0:
            return
        a, b = self._account(source), self._account(target)
        a.balance -= amount
        b.balance += amount
        self.ledger.put_many([a, b])

    def round_block_hash(self, epoch: int) -> str | None:
        h = self.block_hash_at(self.config.epochs.poc_start(epoch))
        return h.hex().upper() if h else None

    def pending(self) -> list[int]:
        """The epochs whose validation has started and not finished, oldest first."""
        return sorted(self._pending)

    # ----- the block hook -----

    def end_block(self, height: int) -> None:
        E = self.config.epochs
        epoch = E.epoch_at(height)
        if epoch >= 1:
            start = E.poc_start(epoch)
            if height == start:
                self._begin_epoch(epoch, height)
            if height == start + E.validation_start_offset:
                self._start_validation(epoch, height)
        for pending in self.pending():
            record = self.epoch_record(pending)
            if height < E.poc_start(pending) + E.validation_end_offset:
                break
            if not self.validator.submitted(pending):  # a restart dropped it: start it again
                self._submit(pending, record)
            result = self.validator.result(pending)
            if result is None:
                break  # not in yet: the end of validation waits for the first block after it is
            self._finish_validation(pending, record, result, height)

    def resume(self) -> None:
        """After opening a stored state: restart the validations that were under way."""
        for epoch in self.pending():
            self._submit(epoch, self.epoch_record(epoch))

    def close(self) -> None:
        self.validator.close()

    # ----- stages -----

    def _begin_epoch(self, epoch: int, height: int) -> None:
        self.poc.put(("e", epoch), {"status": STATUS_GENERATING, "poc_start": height})
        self._burn_unclaimed(epoch - 2, height)
        self._release_vesting()

    def _burn_unclaimed(self, epoch: int, height: int) -> None:
        if epoch < 1:
            return
        burned = 0
        for key, rec in self.poc.scan("r", epoch):
            if rec.get("settled") and rec.get("rewarded") and not rec.get("claimed") and not rec.get("burned"):
                burned += int(rec["rewarded"])
                self.poc.put(key, {**rec, "burned": True})
        if burned:
            module = self._account(REWARD_MODULE_ADDRESS, REWARD_MODULE)
            module.balance -= burned
            self.ledger.put(module)
            self.log(f"epoch {epoch}: {burned} ngonka of unclaimed rewards burned at block {height}")

    def _release_vesting(self) -> None:
        for key, tranches in self.poc.scan("v"):
            if not tranches:
                continue
            first, rest = int(tranches[0]), list(tranches[1:])
            self._move(VESTING_MODULE_ADDRESS, key[1], first)
            if rest:
                self.poc.put(key, rest)
            else:
                self.poc.delete(key)

    def _collect(self, epoch: int) -> dict[str, tuple[list[int], list[float]]]:
        """Each participant's distinct nonces of round `epoch` with the first distance it claimed."""
        start = self.config.epochs.poc_start(epoch)
        seen: dict[str, dict[int, float]] = {}
        for key, batch in self.poc.scan("b", start):
            mine = seen.setdefault(key[2], {})
            for n, d in zip(batch["nonces"], batch["dist"]):
                mine.setdefault(int(n), float(d))
        return {a: (list(m), list(m.values())) for a, m in seen.items()}

    def _jobs(self, epoch: int, record: dict) -> list[dict]:
        collected = self._collect(epoch)
        jobs = []
        for address in sorted(collected):
            nonces, dist = collected[address]
            account = self.ledger.get(address)
            if account is None or account.pubkey is None:
                continue  # cannot happen for a signer; such a participant simply gets no weight
            picks = sample_indices(record["block_hash"], address, record["validation_height"], len(nonces),
                                   self.config.validation_sample_size)
            jobs.append({"address": address, "public_key": account.pubkey.hex(),
                         "nonces": [nonces[i] for i in picks], "dist": [dist[i] for i in picks]})
        return jobs

    def _submit(self, epoch: int, record: dict) -> None:
        jobs = self._jobs(epoch, record)
        self.validator.submit(epoch, self.config.params.to_json(), record["block_hash"], self.config.r_target, jobs)

    def _start_validation(self, epoch: int, height: int) -> None:
        record = dict(self.epoch_record(epoch) or {"poc_start": self.config.epochs.poc_start(epoch)})
        collected = self._collect(epoch)
        record.update(status=STATUS_VALIDATING, block_hash=self.round_block_hash(epoch) or "",
                      validation_height=height, submitted={a: len(n) for a, (n, _) in collected.items()})
        self.poc.put(("e", epoch), record)
        self._pending.add(epoch)
        self._submit(epoch, record)
        if collected:
            self.log(f"epoch {epoch}: validating {len(collected)} participant(s) at block {height}")

    def _finish_validation(self, epoch: int, record: dict, result: dict, height: int) -> None:
        weights: dict[str, int] = {}
        excluded: list[dict] = []
        verdicts: dict[str, dict] = {}
        error = result.get("_error")
        for address, submitted in sorted(record.get("submitted", {}).items()):
            verdict = result.get(address)
            if error or verdict is None:
                reason = f"PoC validation failed: {error or 'no public key on record'}"
            elif verdict["fraud_detected"]:
                reason = (f"PoC fraud detected: {verdict['n_invalid']} of {verdict['n']} sampled nonces invalid "
                          f"(p = {verdict['probability_honest']:.3g})")
            else:
                weights[address] = int(submitted)
                verdicts[address] = verdict
                continue
            verdicts[address] = verdict or {}
            excluded.append({"address": address, "reason": reason, "exclusion_block_height": height})
        done = {**record, "status": STATUS_VALIDATED, "weights": weights, "excluded": excluded,
                "verdicts": verdicts, "validated_height": height,
                "validation_seconds": self.validator.durations.get(epoch)}
        self.poc.put(("e", epoch), done)
        self._pending.discard(epoch)
        for address, weight in weights.items():
            if weight > 0:
                self.poc.put(("r", epoch, address), {"weight": weight, "rewarded": 0, "settled": False,
                                                     "claimed": False, "burned": False})
        start = self.config.epochs.poc_start(epoch)
        for key, _ in self.poc.scan("b", start):  # the round is judged: its batches are not needed any more
            self.poc.delete(key)
        for key, _ in self.poc.scan("n", start):
            self.poc.delete(key)
        self.log(f"epoch {epoch}: validated at block {height}: {len(weights)} passed, {len(excluded)} excluded")
        self._settle(epoch - 1, height)

    def _settle(self, epoch: int, height: int) -> None:
        """Split epoch `epoch`'s reward by its round's weights and mint it to the reward module."""
        record = self.epoch_record(epoch) if epoch >= 1 else None
        if record is None or record.get("status") != STATUS_VALIDATED or record.get("settled_height"):
            return
        weights = {a: w for a, w in record.get("weights", {}).items() if w > 0}
        total = sum(weights.values())
        reward = self.config.epoch_reward
        minted = 0
        for address, weight in sorted(weights.items()):
            amount = reward * weight // total
            key = ("r", epoch, address)
            rec = self.poc.get(key) or {"weight": weight, "claimed": False, "burned": False}
            self.poc.put(key, {**rec, "rewarded": amount, "settled": True})
            minted += amount
        if minted:
            module = self._account(REWARD_MODULE_ADDRESS, REWARD_MODULE)
            module.balance += minted
            self.ledger.put(module)
        self.poc.put(("e", epoch), {**record, "settled_height": height, "minted": str(minted)})
        if minted:
            self.log(f"epoch {epoch}: {minted} ngonka of rewards settled at block {height} for "
                     f"{len(weights)} participant(s)")

    # ----- views for the APIs -----

    def effective_epoch(self, height: int) -> int:
        """The epoch whose participants are active now: the latest validated one (0 before any)."""
        latest = self.config.epochs.epoch_at(height)
        for epoch in range(latest, 0, -1):
            rec = self.epoch_record(epoch)
            if rec is not None and rec.get("status") == STATUS_VALIDATED:
                return epoch
        return 0
