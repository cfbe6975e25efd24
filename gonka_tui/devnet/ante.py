"""The chain rules: what CheckTx, DeliverTx and Simulate do with a transaction's bytes.

One function runs every check in a fixed order against a state view (`ledger.py`) and, when
all pass, applies the transaction to that view. The order and the codes (codespace "sdk"):

 2 tx parse error             (anything the decoder refuses; also a tx over 1 MiB → 21)
15 no signatures supplied      4 wrong number of signatures vs signer infos
 6 unrecognized message type  (MsgSend, and the x/inference messages of `poc_rules.py`)
12 memo too large (> 256 bytes); 30 timeout height passed; 31 extension options; 37 unordered/tips
 7 invalid address            10 invalid coins (ngonka only, > 0)      13 invalid fee coins
 4 number of signers: the signers are the messages' senders in order of first appearance, one
   SignerInfo and one signature each (signer i ↔ SignerInfo i ↔ signature i); the first signer is
   the fee payer (a fee payer field naming anyone else → 4)
For each signer i, in order:
 9 unknown account             8 pubkey that is not the signer's (or none supplied nor recorded;
                                 Simulate allows none)
32 account sequence mismatch (against the check state in CheckTx)
 4 signature verification failed, for each signer i: SIGN_MODE_DIRECT over the SignDoc with this
   chain id and signer i's own account number, verified with signer i's key; high-S refused —
   skipped in Simulate, as a node does
13 insufficient fees: fee < ceil(min_gas_price × gas_limit), ngonka only — skipped in Simulate
11 out of gas: gas_used > gas_limit — skipped in Simulate (it has no limit)
 5 insufficient funds: for each signer, its debits (the fee for the payer, plus every amount it sends
   in any message) > its spendable balance (vesting-locked coins excluded); all are checked before
   anything moves, and coins a signer receives in the same tx do not count

The x/inference messages (MsgSubmitNewParticipant, MsgSubmitSeed, MsgSubmitPocBatch,
MsgClaimRewards) are signed by their creator (7 for a bad one); a tx made only of them needs no fee;
their own checks and effects are in `poc_rules.py` (codespace "inference"), run after the ones above
in the same scratch layer. MsgSubmitPocValidation is refused (4): the devnet is the only validator.
MsgStartInference / MsgFinishInference (paid inference, `inference_rules.py`) are free too, and refused (4)
from anyone but the devnet node.

A refused transaction changes nothing. A passing one pays its fee from the first signer to the fee
collector, increments every signer's sequence, records every signer's pubkey, and moves the coins;
it is applied in a scratch layer committed in one step. The ledger refuses to store a negative
balance (`ledger.InvariantError`); should a rule ever compute one, the tx is refused with code 5
and nothing is written.

Gas is deterministic (`gas_for`):
    10_000                                   fixed: account load, fee deduction, sequence write
  + 10 × tx bytes                            (SDK TxSizeCostPerByte)
  + 1_000 × signatures                       (SDK SigVerifyCostSecp256k1)
  + per MsgSend 20_000 + 30 × message bytes  (two balance reads and writes; SDK WriteCostPerByte)
Simulate counts each signature shorter than 64 bytes as 64 bytes (cosmjs sends an empty one),
so simulating a signed tx gives exactly the gas its execution uses.
"""

from __future__ import annotations

import enum
import hashlib
import math
from dataclasses import dataclass
from fractions import Fraction

from google.protobuf import any_pb2

from gonka_tui.core.address import address_from_pubkey, normalize_address
from gonka_tui.core.errors import InputError
from gonka_tui.core.network_constants import ADDRESS_HRP, BASE_DENOM
from gonka_tui.core.secp256k1 import verify
from gonka_tui.core.tx import MAX_MEMO_BYTES, MSG_SEND, SIGN_MODE_DIRECT, TxDecodeError, decode_tx
from gonka_tui.core.proto.cosmos.tx.signing.v1beta1 import signing_pb2

from . import codes, inference_rules, poc_rules
from .accounts import FEE_COLLECTOR, FEE_COLLECTOR_ADDRESS, LedgerAccount
from .codes import TxError
from .events import Event, ante_events, coins_str, fee_events, send_events
from .epochs import PocConfig
from .ledger import InvariantError, Overlay
from .models import Pricing

MAX_TX_BYTES = 1024 * 1024  # CometBFT mempool max_tx_bytes
MAX_GAS_WANTED = 2**63 - 1

GAS_TX_FIXED = 10_000
GAS_PER_TX_BYTE = 10
GAS_PER_SIGNATURE = 1_000
GAS_PER_MSG_SEND = 20_000
GAS_PER_MSG_BYTE = 30
SIMULATED_SIGNATURE_BYTES = 64

# Data of a successful tx: TxMsgData{msg_responses: [Any(MsgSendResponse)]}, one entry per message.
_SEND_RESPONSE = any_pb2.Any(type_url="/cosmos.bank.v1beta1.MsgSendResponse").SerializeToString()
_SEND_RESPONSE_ENTRY = b"\x12" + bytes([len(_SEND_RESPONSE)]) + _SEND_RESPONSE


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _response_entry(response: any_pb2.Any) -> bytes:
    data = response.SerializeToString()
    return b"\x12" + _varint(len(data)) + data


class Mode(enum.IntEnum):
    CHECK = 0
    DELIVER = 1
    SIMULATE = 2


@dataclass(slots=True)
class Outcome:
    code: int
    log: str
    gas_wanted: int = 0
    gas_used: int = 0
    events: tuple[Event, ...] | list[Event] = ()
    data: bytes = b""
    sender: str | None = None
    space: str = codes.CODESPACE

    @property
    def ok(self) -> bool:
        return self.code == 0

    @property
    def codespace(self) -> str:
        return self.space if self.code else ""


def gas_for(tx_bytes_len: int, signature_count: int, message_sizes: list[int]) -> int:
    return (GAS_TX_FIXED + GAS_PER_TX_BYTE * tx_bytes_len + GAS_PER_SIGNATURE * signature_count
            + sum(GAS_PER_MSG_SEND + GAS_PER_MSG_BYTE * n for n in message_sizes))


def required_fee(min_gas_price: Fraction, gas_limit: int) -> int:
    return math.ceil(min_gas_price * gas_limit) if min_gas_price else 0


def _parse_amount(text: str, what: str) -> int:
    """A coin amount as the SDK's math.Int reads it; anything else fails decoding (code 2)."""
    s = text.strip() if isinstance(text, str) else ""
    body = s[1:] if s[:1] in "+-" else s
    if not body or not body.isdigit() or s != text or len(body) > 78:
        raise TxError(codes.TX_DECODE, f"invalid {what} amount {text!r}")
    return int(s)


class Rules:
    """The chain rules for one chain id and minimum gas price; keeps the caches between calls."""

    def __init__(self, chain_id: str, min_gas_price: Fraction = Fraction(0), hrp: str = ADDRESS_HRP,
                 poc: PocConfig | None = None) -> None:
        self.chain_id = chain_id
        self.poc = poc if poc is not None else PocConfig()
        self.min_gas_price = Fraction(min_gas_price)
        self.hrp = hrp
        self._addresses: dict[str, str | InputError] = {}
        self._pub_addresses: dict[bytes, str | InputError] = {}
        self._verified: set[tuple[bytes, int, bytes, bytes]] = set()
        # Paid inference (inference_rules.py): only the node sends its messages; the price is set by the server.
        self.node_address: str | None = None
        self.price_per_token = Pricing().price_per_token

    # ----- cached helpers -----

    def canonical_address(self, text: str) -> str:
        """The canonical form of an address (raises InputError with the precise reason)."""
        hit = self._addresses.get(text)
        if hit is None:
            try:
                hit = normalize_address(text, self.hrp)
            except InputError as exc:
                hit = exc
            if len(self._addresses) > 200_000:
                self._addresses.clear()
            self._addresses[text] = hit
        if isinstance(hit, InputError):
            raise hit
        return hit

    def _address_of_pubkey(self, pubkey: bytes) -> str:
        hit = self._pub_addresses.get(pubkey)
        if hit is None:
            try:
                hit = address_from_pubkey(pubkey, self.hrp)
            except InputError as exc:
                hit = exc
            if len(self._pub_addresses) > 100_000:
                self._pub_addresses.clear()
            self._pub_addresses[pubkey] = hit
        if isinstance(hit, InputError):
            raise hit
        return hit

    def _verify(self, digest: bytes, account_number: int, pubkey: bytes, tx, sig: bytes) -> bool:
        # Everything the signature's validity depends on: the tx (its digest; the chain id is fixed),
        # the account number in the SignDoc, the key and the signature. One signer's check can thus
        # never stand in for another's.
        key = (digest, account_number, pubkey, sig)
        if key in self._verified:  # DeliverTx of a tx CheckTx already verified
            return True
        if not verify(pubkey, tx.sign_doc(self.chain_id, account_number), sig):
            return False
        if len(self._verified) > 100_000:
            self._verified.clear()
        self._verified.add(key)
        return True

    # ----- the rules -----

    def run(self, view, tx_bytes: bytes, mode: Mode, digest: bytes | None = None) -> Outcome:
        """Check `tx_bytes` against `view` and, if every rule passes, apply it to `view`."""
        if len(tx_bytes) > MAX_TX_BYTES:
            return Outcome(codes.TX_TOO_LARGE, codes.sdk_log(
                codes.TX_TOO_LARGE, f"tx is {len(tx_bytes)} bytes; at most {MAX_TX_BYTES} are allowed"))
        try:
            tx = decode_tx(tx_bytes)
        except TxDecodeError as exc:
            detail = str(exc).removeprefix("tx parse error: ").removeprefix("tx parse error")
            return Outcome(codes.TX_DECODE, codes.sdk_log(codes.TX_DECODE, detail))
        except Exception:  # noqa: BLE001 - any malformed input is a parse error, never a crash
            return Outcome(codes.TX_DECODE, codes.sdk_log(codes.TX_DECODE))
        gas_wanted = tx.auth_info.fee.gas_limit
        try:
            return self._execute(view, tx, tx_bytes, mode, digest or hashlib.sha256(tx_bytes).digest())
        except TxError as exc:
            return Outcome(exc.code, exc.log, gas_wanted, exc.gas_used, space=exc.codespace)
        except InvariantError as exc:  # a rule let through what the ledger refuses: nothing was written
            return Outcome(codes.INSUFFICIENT_FUNDS,
                           codes.sdk_log(codes.INSUFFICIENT_FUNDS, f"refused by the ledger: {exc}"), gas_wanted)
        except TxDecodeError as exc:
            detail = str(exc).removeprefix("tx parse error: ")
            return Outcome(codes.TX_DECODE, codes.sdk_log(codes.TX_DECODE, detail), gas_wanted)

    def _execute(self, view, tx, tx_bytes: bytes, mode: Mode, digest: bytes) -> Outcome:
        raw, body, auth = tx.raw, tx.body, tx.auth_info
        sigs = list(raw.signatures)
        if not sigs:
            raise TxError(codes.NO_SIGNATURES)
        if len(sigs) != len(tx.signers):
            raise TxError(codes.UNAUTHORIZED,
                          f"wrong number of signatures; expected {len(tx.signers)}, got {len(sigs)}")
        if not body.messages:
            raise TxError(codes.INVALID_REQUEST, "must contain at least one message")
        msgs = tx.messages()
        for type_url, msg in msgs:
            if msg is None:
                raise TxError(codes.UNKNOWN_REQUEST, f"unrecognized message type: {type_url}")
        memo_len = len(body.memo.encode("utf-8"))
        if memo_len > MAX_MEMO_BYTES:
            raise TxError(codes.MEMO_TOO_LARGE,
                          f"maximum number of characters is {MAX_MEMO_BYTES} but received {memo_len} characters")
        next_height = view.height + (0 if mode == Mode.DELIVER else 1)
        if body.timeout_height and next_height > body.timeout_height:
            raise TxError(codes.TX_TIMEOUT_HEIGHT,
                          f"block height: {next_height}, timeout height: {body.timeout_height}")
        if body.unordered:
            raise TxError(codes.NOT_SUPPORTED, "unordered transactions are not supported on the devnet")
        if body.HasField("timeout_timestamp") and body.timeout_timestamp.seconds \
                and view.block_time_s > body.timeout_timestamp.seconds:
            raise TxError(codes.TX_TIMEOUT_HEIGHT, "tx timeout timestamp has passed")
        if body.extension_options:
            raise TxError(codes.UNKNOWN_EXTENSION_OPTIONS,
                          f"rejecting tx with unknown extension option: {body.extension_options[0].type_url}")
        if auth.HasField("tip"):
            raise TxError(codes.NOT_SUPPORTED, "tips are not supported on the devnet")

        # Messages: addresses, then coins. transfers[i] is message i's (signer, recipient, amount); the
        # recipient is None and the amount 0 for the x/inference messages.
        transfers: list[tuple[str, str | None, int]] = []
        for type_url, msg in msgs:
            if type_url != MSG_SEND:
                if type_url == poc_rules.MSG_SUBMIT_POC_VALIDATION:
                    poc_rules.refuse_validation()
                creator = poc_rules.check_creator(self.canonical_address, msg.creator)
                msg.creator = creator  # the canonical form keys the PoC records
                if type_url in inference_rules.MESSAGES and creator != self.node_address:
                    raise TxError(codes.UNAUTHORIZED, f"{type_url} is sent by the devnet node only (the transfer "
                                  "agent and executor): request inference over POST /v1/chat/completions")
                transfers.append((creator, None, 0))
                continue
            try:
                sender = self.canonical_address(msg.from_address)
            except InputError as exc:
                raise TxError(codes.INVALID_ADDRESS, f"invalid from address: {exc}") from None
            try:
                recipient = self.canonical_address(msg.to_address)
            except InputError as exc:
                raise TxError(codes.INVALID_ADDRESS, f"invalid to address: {exc}") from None
            transfers.append((sender, recipient, 0))
        for i, (type_url, msg) in enumerate(msgs):
            if type_url == MSG_SEND:
                transfers[i] = (transfers[i][0], transfers[i][1], self._send_amount(msg.amount))
        free = all(type_url in poc_rules.FREE_MESSAGES or type_url in inference_rules.MESSAGES
                   for type_url, _ in msgs)

        fee = auth.fee
        fee_total = 0
        seen: set[str] = set()
        for c in fee.amount:
            amount = _parse_amount(c.amount, "fee")
            if amount < 0:
                raise TxError(codes.INSUFFICIENT_FEE, "invalid fee provided")
            if c.denom != BASE_DENOM:
                raise TxError(codes.INSUFFICIENT_FEE,
                              f"only {BASE_DENOM} is accepted as fee; got: {c.amount}{c.denom}")
            if c.denom in seen:
                raise TxError(codes.INVALID_COINS, f"duplicate denomination {c.denom} in the fee")
            seen.add(c.denom)
            fee_total += amount
        fee_str = ",".join(f"{c.amount}{c.denom}" for c in fee.amount)
        gas_limit = fee.gas_limit
        if gas_limit > MAX_GAS_WANTED:
            raise TxError(codes.INVALID_REQUEST, f"invalid gas supplied; {gas_limit} > {MAX_GAS_WANTED}")
        if fee.granter:
            raise TxError(codes.INVALID_REQUEST, "fee grants are not enabled on the devnet")

        signers = list(dict.fromkeys(t[0] for t in transfers))  # the SDK's GetSigners: first appearance
        if len(signers) != len(tx.signers):
            raise TxError(codes.UNAUTHORIZED,
                          f"invalid number of signer; expected: {len(signers)}, got {len(tx.signers)}")
        payer = signers[0]
        if fee.payer:
            try:
                named = self.canonical_address(fee.payer)
            except InputError as exc:
                raise TxError(codes.INVALID_ADDRESS, f"invalid fee payer address: {exc}") from None
            if named != payer:
                raise TxError(codes.UNAUTHORIZED, f"fee payer {named} is not the first signer {payer}; "
                              "on the devnet the first signer pays the fee")

        # Each signer i: its account, the key its SignerInfo i supplies or the one on record, its sequence.
        accounts: list[LedgerAccount] = []
        pubkeys: list[bytes | None] = []
        for i, (address, info) in enumerate(zip(signers, tx.signers)):
            account = view.get(address)
            if account is None:
                raise TxError(codes.UNKNOWN_ADDRESS, f"account {address} does not exist")
            pubkeys.append(self._signer_pubkey(i, address, account, info.pubkey, mode))
            if info.sequence != account.sequence:
                raise TxError(codes.WRONG_SEQUENCE,
                              f"account sequence mismatch, expected {account.sequence}, got {info.sequence}")
            accounts.append(account)

        size = len(tx_bytes)
        if mode == Mode.SIMULATE:
            size += sum(max(0, SIMULATED_SIGNATURE_BYTES - len(s)) for s in sigs)
        gas_used = gas_for(size, len(sigs), [len(m.value) for m in body.messages])

        if mode != Mode.SIMULATE:
            for info, account, pubkey, sig in zip(tx.signers, accounts, pubkeys, sigs):
                self._check_signature(tx, digest, info.sign_mode, account, pubkey, sig, gas_used)
            required = 0 if free else required_fee(self.min_gas_price, gas_limit)
            if fee_total < required:
                raise TxError(codes.INSUFFICIENT_FEE,
                              f"insufficient fees; got: {fee_total}{BASE_DENOM} required: {required}{BASE_DENOM}",
                              gas_used=gas_used)
            if gas_used > gas_limit:
                raise TxError(codes.OUT_OF_GAS, f"out of gas in location: txSize; gasWanted: {gas_limit}, "
                              f"gasUsed: {gas_used}", gas_used=gas_used)

        # Every debit of every account against what it can spend, before anything moves.
        debits = dict.fromkeys(signers, 0)
        debits[payer] += fee_total
        for src, _, amount in transfers:
            debits[src] += amount
        for account in accounts:
            need, spendable = debits[account.address], account.spendable(view.block_time_s)
            if spendable < need:
                whose = f"{account.address}: " if len(accounts) > 1 else ""
                raise TxError(codes.INSUFFICIENT_FUNDS, f"{whose}spendable balance {spendable}{BASE_DENOM} is smaller "
                              f"than {need}{BASE_DENOM}", gas_used=gas_used)

        # Every rule passed: apply, in a scratch layer committed in one step (all or nothing).
        scratch = Overlay(view)
        touched: dict[str, LedgerAccount] = {}

        def mutable(address: str) -> LedgerAccount:
            acc = touched.get(address)
            if acc is None:
                current = scratch.get(address)
                acc = current.copy() if current is not None else scratch.create(address)
                touched[address] = acc
            return acc

        events: list[Event] = []
        if fee_total > 0:
            mutable(payer).balance -= fee_total
            collector = mutable(FEE_COLLECTOR_ADDRESS)
            collector.module = FEE_COLLECTOR
            collector.balance += fee_total
            events += fee_events(payer, FEE_COLLECTOR_ADDRESS, coins_str(fee_total))
        events += ante_events(payer, fee_str, [(a.address, a.sequence, s) for a, s in zip(accounts, sigs)])
        for account, pubkey in zip(accounts, pubkeys):
            me = mutable(account.address)
            me.sequence += 1
            if me.pubkey is None and pubkey is not None:
                me.pubkey = pubkey
        data = b""
        context = None
        signer_keys = dict(zip(signers, pubkeys))
        for i, ((type_url, msg), (src, dst, amount)) in enumerate(zip(msgs, transfers)):
            if type_url == MSG_SEND:
                mutable(src).balance -= amount
                mutable(dst).balance += amount
                events += send_events(i, src, dst, coins_str(amount))
                data += _SEND_RESPONSE_ENTRY
                continue
            if context is None:
                context = poc_rules.MessageContext(next_height, self.poc, scratch, mutable, mode == Mode.SIMULATE)
            if type_url in inference_rules.MESSAGES:
                msg_events, response = inference_rules.apply(
                    context, i, type_url, msg, canonical=self.canonical_address, price_per_token=self.price_per_token)
            else:
                msg_events, response = poc_rules.apply(context, i, type_url, msg, signer_keys[src])
            events += msg_events
            data += _response_entry(response)
        scratch.put_many(touched.values())
        scratch.commit()
        return Outcome(0, "", gas_limit, gas_used, events, data, payer)

    def _signer_pubkey(self, index: int, address: str, account: LedgerAccount, supplied: bytes | None,
                       mode: Mode) -> bytes | None:
        """The key signer `index` signs with: the one its SignerInfo supplies, which must be the address's
        (and the recorded one, if any), else the recorded one. Simulate needs none, as in the SDK."""
        if supplied is not None:
            try:
                pub_address = self._address_of_pubkey(supplied)
            except InputError as exc:
                raise TxError(codes.INVALID_PUBKEY, str(exc)) from None
            if pub_address != address or (account.pubkey is not None and account.pubkey != supplied):
                raise TxError(codes.INVALID_PUBKEY,
                              f"pubKey does not match signer address {address} with signer index: {index}")
            return supplied
        if account.pubkey is None and mode != Mode.SIMULATE:
            raise TxError(codes.INVALID_PUBKEY, "pubkey on account is not set")
        return account.pubkey

    def _check_signature(self, tx, digest: bytes, sign_mode: int, account: LedgerAccount, pubkey: bytes, sig: bytes,
                         gas_used: int) -> None:
        if sign_mode != SIGN_MODE_DIRECT:
            if sign_mode < 0:
                what = "multisignatures are"
            else:
                name = signing_pb2.SignMode.Name(sign_mode) if sign_mode in \
                    signing_pb2.SignMode.values() else f"SIGN_MODE({sign_mode})"
                what = f"sign mode {name} is"
            raise TxError(codes.UNAUTHORIZED, f"signature verification failed; {what} not supported by the "
                          f"devnet, only SIGN_MODE_DIRECT single signers", gas_used=gas_used)
        if not self._verify(digest, account.number, pubkey, tx, sig):
            raise TxError(codes.UNAUTHORIZED,
                          f"signature verification failed; please verify account number ({account.number}), "
                          f"sequence ({account.sequence}) and chain-id ({self.chain_id})", gas_used=gas_used)

    def _send_amount(self, coins) -> int:
        if not coins:
            raise TxError(codes.INVALID_COINS, "no coins to send")
        total = 0
        seen: set[str] = set()
        for c in coins:
            amount = _parse_amount(c.amount, "coin")
            text = f"{c.amount}{c.denom}"
            if amount <= 0:
                raise TxError(codes.INVALID_COINS, f"{text}: amounts must be positive")
            if c.denom != BASE_DENOM:
                raise TxError(codes.INVALID_COINS, f"{text}: the only denom on this chain is {BASE_DENOM}")
            if c.denom in seen:
                raise TxError(codes.INVALID_COINS, f"duplicate denomination {c.denom}")
            seen.add(c.denom)
            total += amount
        return total
