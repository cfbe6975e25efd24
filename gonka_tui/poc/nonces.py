"""Nonce sets: the command line's specs ("0-7", "3,17,100-120") and the share of the nonce space one
kernel works through, split as the reference's NonceIterator splits it among ML nodes and their
GPU groups."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from gonka_tui.core.errors import InputError

MAX_NONCE = (1 << 63) - 1  # nonces are int64 on the chain
MAX_SPEC_NONCES = 1_000_000
_PART = re.compile(r"(\d+)(?:-(\d+))?")


def parse_nonce_spec(spec: str, *, limit: int = MAX_SPEC_NONCES) -> list[int]:
    """'0-7' or '3,17,100-120': the nonces in the order written (repeats kept once)."""
    text = (spec or "").strip()
    if not text:
        raise InputError("nonces: empty (write e.g. 0-7 or 3,17,100-120)")
    out: dict[int, None] = {}
    for part in text.split(","):
        m = _PART.fullmatch(part.strip())
        if not m:
            raise InputError(f"nonces: '{part.strip()}' is not a number or a range a-b (e.g. 0-7 or 3,17,100-120)")
        first = int(m.group(1))
        last = int(m.group(2)) if m.group(2) is not None else first
        if last < first:
            raise InputError(f"nonces: the range {first}-{last} runs backwards")
        if last > MAX_NONCE:
            raise InputError(f"nonces: {last} is larger than a nonce can be ({MAX_NONCE})")
        if len(out) + (last - first + 1) > limit:
            raise InputError(f"nonces: more than {limit:,} nonces in one spec")
        out.update(dict.fromkeys(range(first, last + 1)))
    return list(out)


@dataclass(frozen=True)
class NonceRange:
    """nonce = node_id + group_id·node_count + k·(group_count·node_count), k = 0, 1, …: every ML node
    (node_id of node_count) and GPU group inside it (group_id of group_count) gets its own nonces."""

    node_id: int = 0
    node_count: int = 1
    group_id: int = 0
    group_count: int = 1

    def __post_init__(self) -> None:
        for name in ("node_id", "node_count", "group_id", "group_count"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise InputError(f"{name} must be a whole number, got {v!r}")
        if self.node_count < 1 or self.group_count < 1:
            raise InputError("node_count and group_count must be at least 1")
        if not 0 <= self.node_id < self.node_count:
            raise InputError(f"node_id must be in 0..{self.node_count - 1}, got {self.node_id}")
        if not 0 <= self.group_id < self.group_count:
            raise InputError(f"group_id must be in 0..{self.group_count - 1}, got {self.group_id}")

    @property
    def offset(self) -> int:
        return self.node_id + self.group_id * self.node_count

    @property
    def step(self) -> int:
        return self.group_count * self.node_count

    def nonce(self, k: int) -> int:
        return self.offset + k * self.step

    def take(self, start_k: int, count: int) -> list[int]:
        """The nonces k = start_k … start_k + count − 1 of this share."""
        return list(range(self.nonce(start_k), self.nonce(start_k + count), self.step)) if count > 0 else []

    def __iter__(self) -> Iterator[int]:
        k = 0
        while True:
            yield self.nonce(k)
            k += 1
