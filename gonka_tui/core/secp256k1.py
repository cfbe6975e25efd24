"""secp256k1 signatures as Cosmos wants them: ECDSA over SHA-256, RFC 6979 deterministic,
low-S, 64 bytes r‖s. Verification refuses high-S (the SDK's malleability rule)."""

from __future__ import annotations

import functools

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HALF_N = N // 2
_CURVE = ec.SECP256K1()
_DETERMINISTIC = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
_VERIFY = ec.ECDSA(hashes.SHA256())


class Signer:
    """A private key ready to sign many messages (the key object is built once)."""

    __slots__ = ("_key", "pubkey")

    def __init__(self, private_key: bytes) -> None:
        self._key = ec.derive_private_key(int.from_bytes(private_key, "big"), _CURVE)
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        self.pubkey = self._key.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)

    def __repr__(self) -> str:
        return f"Signer(pubkey={self.pubkey.hex()})"

    def sign(self, message: bytes) -> bytes:
        """Sign sha256(message); returns 64 bytes r‖s with s in the lower half."""
        r, s = decode_dss_signature(self._key.sign(message, _DETERMINISTIC))
        if s > HALF_N:
            s = N - s
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


@functools.lru_cache(maxsize=4096)
def _public_key(pubkey: bytes) -> ec.EllipticCurvePublicKey:
    return ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, pubkey)


def verify(pubkey: bytes, message: bytes, signature: bytes) -> bool:
    """True only for a valid low-S 64-byte signature of sha256(message) by `pubkey`."""
    if len(signature) != 64 or len(pubkey) != 33:
        return False
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (0 < r < N and 0 < s <= HALF_N):
        return False
    try:
        _public_key(pubkey).verify(encode_dss_signature(r, s), message, _VERIFY)
    except (InvalidSignature, ValueError):
        return False
    return True
