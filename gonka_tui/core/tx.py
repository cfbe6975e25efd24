"""Cosmos transactions: build, sign (SIGN_MODE_DIRECT), encode, hash and decode.

The bytes are what any correct Cosmos client produces for the same inputs: proto3 encoding
with default values omitted, SignDoc = {body_bytes, auth_info_bytes, chain_id,
account_number}, signature over sha256(SignDoc bytes), txhash = upper-hex sha256(TxRaw bytes).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from google.protobuf import any_pb2
from google.protobuf.message import DecodeError

from gonka_tui.core.address import HRP, decode_address
from gonka_tui.core.errors import InputError, shown
from gonka_tui.core.proto.cosmos.bank.v1beta1 import tx_pb2 as bank_tx
from gonka_tui.core.proto.cosmos.base.v1beta1 import coin_pb2
from gonka_tui.core.proto.cosmos.crypto.secp256k1 import keys_pb2
from gonka_tui.core.proto.cosmos.tx.signing.v1beta1 import signing_pb2
from gonka_tui.core.proto.cosmos.tx.v1beta1 import tx_pb2
from gonka_tui.core.proto.inference.inference import tx_pb2 as inference_tx
from gonka_tui.core.secp256k1 import Signer
from gonka_tui.core.units import BASE_DENOM

MSG_SEND = "/cosmos.bank.v1beta1.MsgSend"
SECP256K1_PUBKEY = "/cosmos.crypto.secp256k1.PubKey"
MAX_MEMO_BYTES = 256
_CHAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,49}")
SIGN_MODE_DIRECT = signing_pb2.SIGN_MODE_DIRECT

# The chain's own messages a miner sends (x/inference); each is signed by its `creator`.
MSG_SUBMIT_NEW_PARTICIPANT = "/inference.inference.MsgSubmitNewParticipant"
MSG_SUBMIT_SEED = "/inference.inference.MsgSubmitSeed"
MSG_SUBMIT_POC_BATCH = "/inference.inference.MsgSubmitPocBatch"
MSG_SUBMIT_POC_VALIDATION = "/inference.inference.MsgSubmitPocValidation"
MSG_CLAIM_REWARDS = "/inference.inference.MsgClaimRewards"
# Paid inference: the escrow and its settlement, sent by the transfer agent / executor (the devnet node).
MSG_START_INFERENCE = "/inference.inference.MsgStartInference"
MSG_FINISH_INFERENCE = "/inference.inference.MsgFinishInference"

# Every message type the decoder knows, by type URL.
MESSAGE_TYPES = {
    MSG_SEND: bank_tx.MsgSend,
    MSG_SUBMIT_NEW_PARTICIPANT: inference_tx.MsgSubmitNewParticipant,
    MSG_SUBMIT_SEED: inference_tx.MsgSubmitSeed,
    MSG_SUBMIT_POC_BATCH: inference_tx.MsgSubmitPocBatch,
    MSG_SUBMIT_POC_VALIDATION: inference_tx.MsgSubmitPocValidation,
    MSG_CLAIM_REWARDS: inference_tx.MsgClaimRewards,
    MSG_START_INFERENCE: inference_tx.MsgStartInference,
    MSG_FINISH_INFERENCE: inference_tx.MsgFinishInference,
}


def message_signer(type_url: str, msg) -> str:
    """The address that must sign a decoded message (the SDK's GetSigners): MsgSend's from_address, the
    inference messages' creator."""
    return msg.from_address if type_url == MSG_SEND else msg.creator


class TxDecodeError(InputError):
    """Bytes that are not a well-formed transaction."""


@dataclass(frozen=True)
class Fee:
    amount: int  # ngonka (0 is valid where the chain's minimum gas price is 0)
    gas_limit: int
    denom: str = BASE_DENOM

    def __post_init__(self) -> None:
        if self.amount < 0 or self.gas_limit <= 0:
            raise InputError("fee must be ≥ 0 and gas must be > 0")


@dataclass(frozen=True)
class SignedTx:
    tx_bytes: bytes
    body_bytes: bytes = field(repr=False)
    auth_info_bytes: bytes = field(repr=False)
    sign_doc_bytes: bytes = field(repr=False)

    @property
    def txhash(self) -> str:
        return tx_hash(self.tx_bytes)


def tx_hash(tx_bytes: bytes) -> str:
    return hashlib.sha256(tx_bytes).hexdigest().upper()


def coin(amount: int, denom: str = BASE_DENOM) -> coin_pb2.Coin:
    return coin_pb2.Coin(denom=denom, amount=str(int(amount)))


def pack_any(type_url: str, message) -> any_pb2.Any:
    return any_pb2.Any(type_url=type_url, value=message.SerializeToString())


def msg_send(from_address: str, to_address: str, amount: int, denom: str = BASE_DENOM,
             hrp: str = HRP) -> any_pb2.Any:
    decode_address(from_address, hrp)
    decode_address(to_address, hrp)
    if amount <= 0:
        raise InputError("amount must be more than zero")
    return pack_any(MSG_SEND, bank_tx.MsgSend(from_address=from_address, to_address=to_address,
                                               amount=[coin(amount, denom)]))


def validate_memo(memo: str) -> str:
    """The memo, if the chain takes it: UTF-8 text of at most MAX_MEMO_BYTES bytes (bytes, as the chain counts)."""
    try:
        size = len(memo.encode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates: argv bytes that were not UTF-8 arrive surrogate-escaped
        raise InputError("memo has bytes that are not UTF-8 text; the chain takes UTF-8 only") from None
    if size > MAX_MEMO_BYTES:
        raise InputError(f"memo is {size} bytes; at most {MAX_MEMO_BYTES} are allowed")
    return memo


def validate_chain_id(chain_id: str) -> str:
    """A chain id as Cosmos chains write them (gonka-mainnet): 1 to 50 ASCII letters, digits, '.', '_'
    or '-' (50: CometBFT's limit); anything else is a typo, and a signature for it is good for no chain."""
    if not _CHAIN_ID.fullmatch(chain_id or ""):
        raise InputError(f"chain id {shown(chain_id or '')} is not valid "
                         "(1–50 letters, digits, '.', '_' or '-', e.g. gonka-devnet)")
    return chain_id


def encode_body(messages: list[any_pb2.Any], memo: str = "", timeout_height: int = 0) -> bytes:
    validate_memo(memo)
    return tx_pb2.TxBody(messages=messages, memo=memo, timeout_height=timeout_height).SerializeToString()


def signer_info(pubkey: bytes | None, sequence: int) -> tx_pb2.SignerInfo:
    """A SIGN_MODE_DIRECT signer; without `pubkey` the chain uses the key it has on record."""
    info = tx_pb2.SignerInfo(mode_info=tx_pb2.ModeInfo(single=tx_pb2.ModeInfo.Single(mode=SIGN_MODE_DIRECT)),
                             sequence=sequence)
    if pubkey is not None:
        info.public_key.CopyFrom(pack_any(SECP256K1_PUBKEY, keys_pb2.PubKey(key=pubkey)))
    return info


def encode_fee(fee: Fee, payer: str = "") -> tx_pb2.Fee:
    return tx_pb2.Fee(amount=[coin(fee.amount, fee.denom)] if fee.amount else [], gas_limit=fee.gas_limit,
                      payer=payer)


def encode_auth_info(pubkey: bytes, sequence: int, fee: Fee) -> bytes:
    return tx_pb2.AuthInfo(signer_infos=[signer_info(pubkey, sequence)], fee=encode_fee(fee)).SerializeToString()


def encode_sign_doc(body_bytes: bytes, auth_info_bytes: bytes, chain_id: str, account_number: int) -> bytes:
    return tx_pb2.SignDoc(body_bytes=body_bytes, auth_info_bytes=auth_info_bytes, chain_id=chain_id,
                          account_number=account_number).SerializeToString()


def encode_tx_raw(body_bytes: bytes, auth_info_bytes: bytes, signatures: list[bytes]) -> bytes:
    return tx_pb2.TxRaw(body_bytes=body_bytes, auth_info_bytes=auth_info_bytes,
                        signatures=signatures).SerializeToString()


def sign_tx(signer: Signer, messages: list[any_pb2.Any], *, chain_id: str, account_number: int, sequence: int,
            fee: Fee, memo: str = "", timeout_height: int = 0) -> SignedTx:
    validate_chain_id(chain_id)
    body = encode_body(messages, memo, timeout_height)
    auth = encode_auth_info(signer.pubkey, sequence, fee)
    doc = encode_sign_doc(body, auth, chain_id, account_number)
    return SignedTx(encode_tx_raw(body, auth, [signer.sign(doc)]), body, auth, doc)


def sign_send(signer: Signer, from_address: str, to_address: str, amount: int, *, chain_id: str,
              account_number: int, sequence: int, fee: Fee, memo: str = "", hrp: str = HRP) -> SignedTx:
    return sign_tx(signer, [msg_send(from_address, to_address, amount, fee.denom, hrp)], chain_id=chain_id,
                   account_number=account_number, sequence=sequence, fee=fee, memo=memo)


# ----- decoding (the devnet, `tx show`, history) -----

@dataclass(frozen=True)
class DecodedSigner:
    pubkey: bytes | None
    sequence: int
    sign_mode: int


@dataclass(frozen=True)
class DecodedTx:
    raw: tx_pb2.TxRaw
    body: tx_pb2.TxBody
    auth_info: tx_pb2.AuthInfo
    signers: tuple[DecodedSigner, ...]

    @property
    def signatures(self) -> list[bytes]:
        return list(self.raw.signatures)

    @property
    def fee_amount(self) -> list[tuple[str, int]]:
        return [(c.denom, int(c.amount)) for c in self.auth_info.fee.amount]

    @property
    def gas_limit(self) -> int:
        return self.auth_info.fee.gas_limit

    def sign_doc(self, chain_id: str, account_number: int) -> bytes:
        return encode_sign_doc(self.raw.body_bytes, self.raw.auth_info_bytes, chain_id, account_number)

    def messages(self) -> list[tuple[str, object]]:
        """(type_url, decoded message or None for types we do not know)."""
        out: list[tuple[str, object]] = []
        for m in self.body.messages:
            cls = MESSAGE_TYPES.get(m.type_url)
            if cls is None:
                out.append((m.type_url, None))
                continue
            msg = cls()
            try:
                msg.ParseFromString(m.value)
            except (DecodeError, RuntimeWarning, ValueError):
                raise TxDecodeError(f"a {cls.__name__} inside the transaction is malformed") from None
            if m.type_url != MSG_SEND and _has_unknown(msg):  # the signer signed fields we would ignore
                raise TxDecodeError(f"a {cls.__name__} inside the transaction has unknown fields")
            out.append((m.type_url, msg))
        return out


def decode_tx(tx_bytes: bytes) -> DecodedTx:
    if not tx_bytes:
        raise TxDecodeError("transaction is empty")
    raw, body, auth = tx_pb2.TxRaw(), tx_pb2.TxBody(), tx_pb2.AuthInfo()
    try:
        raw.ParseFromString(tx_bytes)
        body.ParseFromString(raw.body_bytes)
        auth.ParseFromString(raw.auth_info_bytes)
    except (DecodeError, RuntimeWarning, ValueError):
        raise TxDecodeError("tx parse error: the bytes are not a protobuf-encoded transaction") from None
    # Unknown fields in the signed parts would be ignored here but not by the signer; refuse them.
    if _has_unknown(raw) or _has_unknown(body) or _has_unknown(auth):
        raise TxDecodeError("tx parse error: unknown fields")
    signers: list[DecodedSigner] = []
    for info in auth.signer_infos:
        pub = None
        if info.HasField("public_key"):
            if info.public_key.type_url != SECP256K1_PUBKEY:
                raise TxDecodeError(f"unsupported public key type {info.public_key.type_url}")
            key = keys_pb2.PubKey()
            try:
                key.ParseFromString(info.public_key.value)
            except DecodeError:
                raise TxDecodeError("tx parse error: malformed public key") from None
            pub = key.key
        mode = info.mode_info.single.mode if info.mode_info.HasField("single") else -1
        signers.append(DecodedSigner(pub, info.sequence, mode))
    return DecodedTx(raw, body, auth, tuple(signers))


def _has_unknown(message) -> bool:
    from google.protobuf import unknown_fields

    try:
        return len(unknown_fields.UnknownFieldSet(message)) > 0
    except Exception:
        return False
