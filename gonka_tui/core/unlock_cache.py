"""Opt-in: remember the keystore's derived key in the OS keyring, where a real one exists.

On a headless box keyring has no backend (it raises NoKeyringError or picks the 'fail'
backend); then every function here is a quiet no-op and the passphrase is asked as usual.
"""

from __future__ import annotations

import base64

SERVICE = "gonka"


def _backend():
    try:
        import keyring
        from keyring.backends import chainer, fail

        backend = keyring.get_keyring()
    except Exception:
        return None
    if isinstance(backend, fail.Keyring) or type(backend).__module__.startswith("keyring.backends.null"):
        return None
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return None
    try:
        if backend.priority <= 0:
            return None
    except Exception:
        return None
    return backend


def available() -> bool:
    return _backend() is not None


def remember(store_id: str, key: bytes) -> bool:
    backend = _backend()
    if backend is None:
        return False
    try:
        backend.set_password(SERVICE, store_id, base64.b64encode(key).decode("ascii"))
    except Exception:
        return False
    return True


def recall(store_id: str) -> bytes | None:
    backend = _backend()
    if backend is None:
        return None
    try:
        value = backend.get_password(SERVICE, store_id)
        return base64.b64decode(value) if value else None
    except Exception:
        return None


def forget(store_id: str) -> None:
    backend = _backend()
    if backend is None:
        return
    try:
        backend.delete_password(SERVICE, store_id)
    except Exception:
        pass
