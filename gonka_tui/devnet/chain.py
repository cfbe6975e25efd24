"""The devnet's chain: committed state, check state, mempool, block production and queries.

All methods are synchronous and meant to run on one thread (the server's event loop), which
is what makes CheckTx, the mempool and block commits race-free without locks.

    broadcast(tx)   CheckTx against the check state (committed + mempool); accepted txs join the
                    mempool in order, so a sender can pipeline sequences N, N+1, N+2 …
    produce_block() takes the whole mempool, runs DeliverTx for each tx on the committed state,
                    and writes the block, results, index and changed accounts in one SQLite
                    transaction; then the check state is reset to the new committed state.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

from gonka_tui.core.address import address_from_pubkey
from gonka_tui.core.errors import InputError
from gonka_tui.core.fileio import ensure_private_dir
from gonka_tui.core.network_constants import DEVNET_CHAIN_ID
from gonka_tui.core.tx import Fee, msg_send, sign_tx, validate_chain_id
from gonka_tui.core.units import NGONKA_PER_GNK, format_gnk

from . import codes, inference_rules
from .accounts import LedgerAccount
from .ante import Mode, Outcome, Rules, required_fee
from .blocks import Header, merkle_root, state_hash
from .epochs import PocConfig
from .events import index_pairs, to_json
from .genesis import DB_FILE, Fund, genesis_accounts, load_or_create_node_key
from .ledger import InvariantError, Ledger, Overlay
from .limits import MAX_MEMPOOL_TXS
from .poc_engine import PocEngine
from .poc_state import PocState, key_from_text
from .search import parse_query
from .store import SCHEMA_VERSION, Store

FAUCET_CAP = 10_000 * NGONKA_PER_GNK
FAUCET_GAS = 100_000
NODE_TX_GAS = 1_000_000
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 30


@dataclass(frozen=True)
class CheckTxReply:
    """The answer to a broadcast: the CheckTx outcome of a tx entering the mempool (the client's
    view is core.chain_client.BroadcastResult)."""

    hash: str
    code: int
    log: str
    gas_wanted: int = 0
    gas_used: int = 0
    space: str = codes.CODESPACE

    @property
    def codespace(self) -> str:
        return self.space if self.code else ""


@dataclass(frozen=True)
class BlockInfo:
    height: int
    hash: bytes
    time_ns: int
    last_block_hash: bytes
    data_hash: bytes
    app_hash: bytes
    num_txs: int

    @classmethod
    def from_row(cls, row) -> BlockInfo:
        h, bh, t, last, data, app, n = row
        return cls(h, bytes(bh), t, bytes(last), bytes(data), bytes(app), n)


@dataclass(frozen=True)
class StoredTx:
    """A committed tx as the store holds it (the client's view is core.txrecords.TxRecord)."""

    hash: str
    height: int
    index: int
    tx_bytes: bytes
    result: dict  # code, data (b64), log, info, gas_wanted, gas_used (strings), events, codespace
    time_ns: int


@dataclass(frozen=True)
class _Pending:
    tx_bytes: bytes
    hash: str
    digest: bytes


def _now_ns() -> int:
    return time.time_ns()


LOCK_FILE = "devnet.lock"


def _lock_home(home: Path):
    """Hold an exclusive lock on the home while the devnet runs: two devnets on one state would diverge."""
    handle = open(home / LOCK_FILE, "a+")
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, as before
        return handle
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise InputError(f"another devnet is running with the home {home}; stop it first, or use another --home") \
            from None
    return handle


class Chain:
    def __init__(self, store: Store, ledger: Ledger, rules: Rules, node_signer, *, genesis_time_ns: int,
                 latest: BlockInfo, log: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.ledger = ledger
        self.rules = rules
        self.node_signer = node_signer
        self.node_address = address_from_pubkey(node_signer.pubkey)
        self.proposer = hashlib.sha256(node_signer.pubkey).digest()[:20]
        self.genesis_time_ns = genesis_time_ns
        self.check = Overlay(ledger)
        self.mempool: list[_Pending] = []
        self.mempool_hashes: set[str] = set()
        self.latest = latest
        self.log = log or (lambda _msg: None)
        self.block_listeners: list[Callable[[BlockInfo], None]] = []
        earliest = store.earliest_block()
        self.earliest = BlockInfo.from_row(earliest) if earliest else latest
        self.created = False  # True when this open made the genesis
        self._lock = None
        self.base_url = ""  # set by the server: the node's own inference_url
        self.inference_models: list[str] = []  # set by the server: the models the node serves
        rules.node_address = self.node_address
        self.poc_config = rules.poc
        self.poc = PocEngine(rules.poc, ledger, self._block_hash_at, self.node_address, self.log)

    def _block_hash_at(self, height: int) -> bytes | None:
        if height == self.latest.height:
            return self.latest.hash
        row = self.store.block(height)
        return bytes(row[1]) if row else None

    # ----- opening -----

    @classmethod
    def open(cls, home: Path, *, chain_id: str | None = None, min_gas_price: Fraction = Fraction(0),
             funds: list[Fund] = (), log: Callable[[str], None] | None = None,
             poc: PocConfig | None = None) -> tuple[Chain, list[str]]:
        """Open the devnet in `home`, making genesis when the state is fresh. Returns notes for the user:
        on an existing state, funds for accounts that exist are ignored and new ones get a faucet transfer;
        the PoC configuration is the one fixed at genesis (`poc`, or the defaults), whatever is passed later."""
        home = Path(home)
        if chain_id is not None:
            validate_chain_id(chain_id)
        ensure_private_dir(home)
        lock = _lock_home(home)
        try:
            signer = load_or_create_node_key(home)
            store = Store(home / DB_FILE)
        except BaseException:
            lock.close()
            raise
        node_address = address_from_pubkey(signer.pubkey)
        notes: list[str] = []
        try:
            meta = store.meta()
            if "height" not in meta:
                chain = cls._genesis(store, signer, chain_id or DEVNET_CHAIN_ID, min_gas_price, list(funds), log,
                                     poc or PocConfig())
                chain.created = True
                chain._lock = lock
                return chain, notes
            stored_chain = meta["chain_id"]
            if chain_id and chain_id != stored_chain:
                raise InputError(f"the devnet in {home} is chain '{stored_chain}', not '{chain_id}': start it with "
                                 f"--chain-id {stored_chain}, or use another --home for a new chain")
            if meta.get("schema_version") != SCHEMA_VERSION:
                raise InputError(f"the devnet in {home} was written by another version; use a fresh --home")
            accounts = store.load_accounts()
            node = next((a for a in accounts.values() if a.number == 0), None)
            if node is None or node.address != node_address:
                raise InputError(f"the node key in {home} does not belong to this devnet's state; "
                                 "restore the key or use a fresh --home")
            try:
                ledger = Ledger(accounts, int(meta["next_account_number"]), height=int(meta["height"]),
                                block_time_ns=int(meta["block_time_ns"]),
                                last_block_hash=bytes.fromhex(meta["last_block_hash"]),
                                app_hash=bytes.fromhex(meta["app_hash"]))
                stored_poc = PocConfig.from_json(json.loads(meta["poc_config"]))
                ledger.poc = PocState({key_from_text(k): json.loads(v) for k, v in store.load_poc()})
            except InvariantError as exc:  # never serve a state the rules could not have written
                raise InputError(f"the devnet state in {home} is damaged: {exc}; use a fresh --home") from None
            except (KeyError, ValueError, TypeError, InputError) as exc:
                raise InputError(f"the devnet's PoC state in {home} is damaged ({exc}); use a fresh --home") from None
            if poc is not None and poc != stored_poc:
                notes.append("the epoch and PoC flags are ignored: this devnet keeps the ones it was created with "
                             "(use a fresh --home for others)")
            latest = BlockInfo.from_row(store.block(ledger.height))
            chain = cls(store, ledger, Rules(stored_chain, min_gas_price, poc=stored_poc), signer,
                        genesis_time_ns=int(meta["genesis_time_ns"]), latest=latest, log=log)
            chain.poc.resume()
        except BaseException:
            store.close()
            lock.close()
            raise
        chain._lock = lock
        for fund in funds:
            if chain.ledger.get(fund.address) is not None:
                notes.append(f"--fund{'-vesting' if fund.vesting_seconds else ''} {fund.address}: ignored, "
                             "the account already exists in this devnet's state")
            elif fund.vesting_seconds is not None:
                notes.append(f"--fund-vesting {fund.address}: ignored, vesting accounts are made at genesis "
                             "only (use a fresh --home)")
            else:
                result = chain.transfer_from_node(fund.address, fund.amount)
                if result.code:
                    notes.append(f"--fund {fund.address}: the faucet transfer failed: {result.log}")
                else:
                    notes.append(f"--fund {fund.address}: credited {format_gnk(fund.amount)} by a faucet "
                                 f"transfer (tx {result.hash}, in the next block)")
        return chain, notes

    @classmethod
    def _genesis(cls, store: Store, signer, chain_id: str, min_gas_price: Fraction, funds: list[Fund],
                 log, poc: PocConfig) -> Chain:
        validate_chain_id(chain_id)
        now = _now_ns()
        accounts = genesis_accounts(signer, funds, now // 1_000_000_000)
        ledger = Ledger({a.address: a for a in accounts}, len(accounts), height=0, block_time_ns=now,
                        last_block_hash=b"", app_hash=b"")
        ledger.dirty.update(a.address for a in accounts)
        genesis_block = BlockInfo(0, b"", now, b"", b"", b"", 0)
        chain = cls(store, ledger, Rules(chain_id, min_gas_price, poc=poc), signer, genesis_time_ns=now,
                    latest=genesis_block, log=log)
        chain.produce_block(now)  # block 1 commits the genesis state
        chain.earliest = chain.latest
        return chain

    @property
    def chain_id(self) -> str:
        return self.rules.chain_id

    @property
    def height(self) -> int:
        return self.latest.height

    def close(self) -> None:
        self.poc.close()
        self.store.close()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    # ----- CheckTx, Simulate -----

    def broadcast(self, tx_bytes: bytes) -> CheckTxReply:
        digest = hashlib.sha256(tx_bytes).digest()
        txhash = digest.hex().upper()
        if txhash in self.mempool_hashes:
            return CheckTxReply(txhash, codes.TX_IN_MEMPOOL, codes.sdk_log(codes.TX_IN_MEMPOOL))
        if len(self.mempool) >= MAX_MEMPOOL_TXS:
            return CheckTxReply(txhash, codes.MEMPOOL_FULL, codes.sdk_log(
                codes.MEMPOOL_FULL, f"{len(self.mempool)} txs wait for the next block; try again after it"))
        out = self.rules.run(self.check, tx_bytes, Mode.CHECK, digest)
        if out.ok:
            self.mempool.append(_Pending(tx_bytes, txhash, digest))
            self.mempool_hashes.add(txhash)
        else:
            self.log(f"refused tx {txhash[:12]}…: code {out.code}: {out.log}")
        return CheckTxReply(txhash, out.code, out.log, out.gas_wanted, out.gas_used, out.space)

    def simulate(self, tx_bytes: bytes) -> Outcome:
        return self.rules.run(Overlay(self.check), tx_bytes, Mode.SIMULATE)

    # ----- blocks -----

    def produce_block(self, now_ns: int | None = None) -> BlockInfo:
        """Commit a block with every mempool tx (empty blocks too)."""
        pending, self.mempool, self.mempool_hashes = self.mempool, [], set()
        ledger = self.ledger
        height = self.latest.height + 1
        time_ns = max(now_ns or _now_ns(), self.latest.time_ns + 1)
        ledger.height, ledger.block_time_ns = height, time_ns
        tx_rows: list[tuple] = []
        event_rows: list[tuple] = []
        failed = 0
        for idx, p in enumerate(pending):
            out = self.rules.run(ledger, p.tx_bytes, Mode.DELIVER, p.digest)
            if not out.ok:
                failed += 1
                self.log(f"tx {p.hash[:12]}… failed in block {height}: code {out.code}: {out.log}")
            result = {
                "code": out.code, "data": base64.b64encode(out.data).decode(), "log": out.log, "info": "",
                "gas_wanted": str(out.gas_wanted), "gas_used": str(out.gas_used), "events": to_json(out.events),
                "codespace": out.codespace,
            }
            tx_rows.append((p.hash, height, idx, p.tx_bytes, json.dumps(result, separators=(",", ":"))))
            event_rows.extend((k, v, height, idx) for k, v in index_pairs(out.events))
        self.poc.end_block(height)  # the PoC stages: in this block's state and its one SQLite transaction
        inference_rules.end_block(ledger, height, self.log)  # refunds of inferences never finished
        changed = ledger.take_dirty()
        poc_changes = ledger.poc.take_dirty()
        app_hash = state_hash(ledger.app_hash, [a.record() for a in changed]
                              + [("poc", k, v) for k, v in poc_changes[0]] + [("poc-", k) for k in poc_changes[1]])
        header = Header(self.chain_id, height, time_ns, self.latest.hash, merkle_root([p.digest for p in pending]),
                        app_hash, self.proposer, len(pending))
        block_hash = header.hash()
        meta = {
            "schema_version": SCHEMA_VERSION, "chain_id": self.chain_id, "genesis_time_ns": str(self.genesis_time_ns),
            "height": str(height), "block_time_ns": str(time_ns), "last_block_hash": block_hash.hex(),
            "app_hash": app_hash.hex(), "next_account_number": str(ledger.next_number),
            "poc_config": self.poc_config.dumps(),
        }
        self.store.commit_block(header.to_row(), tx_rows, event_rows, changed, meta, poc_changes)
        ledger.app_hash, ledger.last_block_hash = app_hash, block_hash
        self.latest = BlockInfo(height, block_hash, time_ns, header.last_block_hash, header.data_hash, app_hash,
                                len(pending))
        self.check.reset()
        if pending:
            self.log(f"block {height}: {len(pending)} tx{'s' if len(pending) != 1 else ''}"
                     + (f" ({failed} failed)" if failed else ""))
        for listener in list(self.block_listeners):
            listener(self.latest)
        return self.latest

    # ----- direct state changes (node API) -----

    def register_pubkey(self, address: str, pubkey: bytes) -> LedgerAccount:
        """POST /v1/participants: record `pubkey` for `address` (creating the account if needed)."""
        if len(pubkey) != 33 or pubkey[0] not in (2, 3):
            raise InputError("pub_key must be a 33-byte compressed secp256k1 public key")
        address = self.rules.canonical_address(address)
        derived = address_from_pubkey(pubkey)
        if derived != address:
            raise InputError(f"pub_key belongs to {derived}, not to {address}")
        account = self.ledger.get(address)
        if account is not None and account.pubkey == pubkey:
            return account
        updated = account.copy() if account is not None else self.ledger.create(address)
        updated.pubkey = pubkey
        self.ledger.put(updated)
        self._recheck()
        return updated

    def _recheck(self) -> None:
        """Rebuild the check state from the committed state and re-run the mempool (as after a commit)."""
        self.check.reset()
        kept = []
        for p in self.mempool:
            if self.rules.run(self.check, p.tx_bytes, Mode.CHECK, p.digest).ok:
                kept.append(p)
        self.mempool = kept
        self.mempool_hashes = {p.hash for p in kept}

    def transfer_from_node(self, address: str, amount: int, memo: str = "") -> CheckTxReply:
        """A real MsgSend signed by the node key, through CheckTx like any other tx."""
        to = self.rules.canonical_address(address)
        return self.broadcast_from_node([msg_send(self.node_address, to, amount)], memo=memo,
                                        fee=required_fee(self.rules.min_gas_price, FAUCET_GAS), gas=FAUCET_GAS)

    def broadcast_from_node(self, messages: list, *, fee: int = 0, gas: int = NODE_TX_GAS,
                            memo: str = "") -> CheckTxReply:
        """A tx of `messages` (Any) signed by the node key, through CheckTx like any other tx."""
        node = self.check.get(self.node_address)
        signed = sign_tx(self.node_signer, list(messages), chain_id=self.chain_id, account_number=node.number,
                         sequence=node.sequence, fee=Fee(fee, gas), memo=memo)
        return self.broadcast(signed.tx_bytes)

    def faucet(self, address: str, amount: int) -> CheckTxReply:
        if amount <= 0:
            raise InputError("amount must be more than 0 ngonka")
        if amount > FAUCET_CAP:
            raise InputError(f"the faucet gives at most {FAUCET_CAP} ngonka ({format_gnk(FAUCET_CAP)}) per request")
        return self.transfer_from_node(address, amount, memo="faucet")

    # ----- queries (committed state) -----

    def account(self, address: str) -> LedgerAccount | None:
        return self.ledger.get(self.rules.canonical_address(address))

    def spendable(self, account: LedgerAccount | None) -> int:
        return account.spendable(self.ledger.block_time_s) if account else 0

    def block(self, height: int | None = None) -> tuple[BlockInfo, list[bytes]] | None:
        if height is None or height == self.latest.height:
            info = self.latest
        else:
            row = self.store.block(height)
            if row is None:
                return None
            info = BlockInfo.from_row(row)
        return info, (self.store.block_txs(info.height) if info.num_txs else [])

    def tx(self, txhash: str) -> StoredTx | None:
        row = self.store.tx(txhash)
        return StoredTx(*row) if row else None

    def search(self, query: str, *, page: int = 1, per_page: int = DEFAULT_PER_PAGE,
               descending: bool = False) -> tuple[int, list[StoredTx]]:
        conditions = parse_query(query)
        per_page = max(1, min(per_page, MAX_PER_PAGE))
        if page < 1:
            raise InputError(f"page should be within [1, …] range, given {page}")
        total, rows = self.store.search(conditions, offset=(page - 1) * per_page, limit=per_page,
                                        descending=descending)
        pages = max(1, -(-total // per_page))
        if page > pages:
            raise InputError(f"page should be within [1, {pages}] range, given {page}")
        return total, [StoredTx(*r) for r in rows]
