"""Files that must never be half-written (temp file, fsync, rename, fsync the directory), files
that may be hostile (read only if regular and small), and an inter-process lock."""

from __future__ import annotations

import json
import os
import secrets
import stat
import time
from contextlib import contextmanager
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def ensure_private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    try:
        os.chmod(path, PRIVATE_DIR)
    except PermissionError:  # a directory we do not own: leave its mode alone
        pass
    return path


def create_private_file(path: Path) -> None:
    """Make `path` exist with mode 0600, never through a symlink, before another library opens it: SQLite
    creates its database by the umask, and its -wal and -shm files with the database file's mode."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), PRIVATE_FILE))
    try:
        os.chmod(path, PRIVATE_FILE)  # one made earlier by the umask
    except PermissionError:
        pass


def write_atomic(path: Path, data: bytes, mode: int = PRIVATE_FILE) -> None:
    """Replace `path` with `data` so that a crash at any moment leaves the old or the new file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def write_json_atomic(path: Path, obj: object, mode: int = PRIVATE_FILE) -> None:
    write_atomic(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode("utf-8"), mode)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on directories
        pass
    finally:
        os.close(fd)


def is_temp_file(path: Path) -> bool:
    return path.name.startswith(".") and path.name.endswith(".tmp")


class RefusedFile(ValueError):
    """Not a small regular file; the message says what it is ("is a symbolic link ...")."""


def read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes.

    RefusedFile for a symbolic link, a FIFO, a device, a directory or a bigger file: one hostile
    file costs an error, never a hang or the memory. OSError as usual.
    """
    if stat.S_ISLNK(os.lstat(path).st_mode):
        raise RefusedFile("is a symbolic link (not followed)")
    # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise RefusedFile("is not a regular file")
        chunks, left = [], limit + 1
        while left > 0 and (chunk := os.read(fd, left)):
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    if left <= 0:
        raise RefusedFile(f"is larger than {limit // 1024} KiB")
    return b"".join(chunks)


@contextmanager
def locked(path: Path, timeout: float = 30.0):
    """Hold an exclusive lock on `path` (a lock file, created 0600) against other processes.

    TimeoutError when another process holds it longer than `timeout`: polling with a deadline
    rather than a blocking flock, so a stuck process cannot hang every other one forever.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no inter-process lock
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0),
                 PRIVATE_FILE)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"{path} is held by another process") from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # releases the lock
