"""The audit hash chain: each entry's hash covers its fields and the previous entry's hash,
so an edited, inserted or deleted entry breaks the chain from that point on."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable

from .canonical import content_hash

GENESIS = "0" * 64


def entry_hash(prev_hash: str, at: dt.datetime, actor_id: int | None, action: str,
               entity_type: str, entity_id: str, summary: dict) -> str:
    return content_hash({
        "prev": prev_hash,
        "at": at.astimezone(dt.timezone.utc).isoformat(timespec="microseconds"),
        "actor": actor_id,
        "action": action,
        "entity": [entity_type, str(entity_id)],
        "summary": summary,
    })


@dataclass(frozen=True)
class Break:
    entry_id: int
    reason: str


def verify(entries: Iterable) -> tuple[int, Break | None]:
    """Walk entries in id order. Answer how many verified and the first break, if any.

    An entry is anything with id, at, actor_id, action, entity_type, entity_id,
    summary, prev_hash and hash.
    """
    prev = GENESIS
    count = 0
    for e in entries:
        if e.prev_hash != prev:
            return count, Break(e.id, "prev_hash does not match the previous entry's hash (an entry before it was changed, removed or inserted)")
        expected = entry_hash(e.prev_hash, e.at, e.actor_id, e.action, e.entity_type, e.entity_id, e.summary)
        if e.hash != expected:
            return count, Break(e.id, "hash does not match the entry's content (the entry was edited)")
        prev = e.hash
        count += 1
    return count, None
