"""The random draw (双随机, DOMAIN.md section 5), pinned so that anyone can replay it.

The steps, in this order, each recorded as it happens:

1. **Commit to a seed.** `open_draw` makes 32 random bytes (`secrets`), written as 64
   lower-case hex characters, and records the SHA-256 of that text. The seed itself stays
   with the bureau until the draw is made; its hash is recorded before anyone knows the pool.
2. **Freeze the pool.** `freeze` sorts the member ids (integers, ascending), and records
   the SHA-256 of their canonical JSON (`server.domain.canonical`: e.g. `[3,17,42]`). A
   changed pool has a different hash.
3. **Draw.** Each member's rank is HMAC-SHA256 with the seed's UTF-8 text as the key and
   the member id in decimal (UTF-8) as the message; the `count` members with the smallest
   rank (compared as hex text, which orders as the numbers do) are drawn, in rank order.
   Ranks tie only if HMAC-SHA256 collides; the smaller id would go first.

Only `hashlib`, `hmac` and the canonical JSON are involved: no random-number library whose
upgrade could change the result. `replay` recomputes everything from the record and says
what, if anything, does not match.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from ..canonical import content_hash, sha256_hex

SUBJECTS = ("sites", "inspectors")
_SEED = re.compile(r"^[0-9a-f]{64}$")


class DrawError(ValueError):
    """A draw step out of order or with bad input, with what to do."""


@dataclass(frozen=True)
class DrawRecord:
    """Everything needed to audit and replay a draw (the `draws` table holds the same fields)."""

    subject: str
    seed: str
    seed_sha256: str
    pool: tuple[int, ...] | None = None
    pool_sha256: str | None = None
    count: int = 0
    drawn: tuple[int, ...] | None = None

    @property
    def frozen(self) -> bool:
        return self.pool is not None

    def as_dict(self) -> dict:
        return {"subject": self.subject, "seed": self.seed, "seed_sha256": self.seed_sha256,
                "pool": list(self.pool) if self.pool is not None else None, "pool_sha256": self.pool_sha256,
                "count": self.count, "drawn": list(self.drawn) if self.drawn is not None else None}

    @classmethod
    def from_dict(cls, data: dict) -> DrawRecord:
        pool, drawn = data.get("pool"), data.get("drawn")
        return cls(subject=data["subject"], seed=data["seed"], seed_sha256=data["seed_sha256"],
                   pool=tuple(pool) if pool is not None else None, pool_sha256=data.get("pool_sha256"),
                   count=int(data.get("count") or 0), drawn=tuple(drawn) if drawn is not None else None)


@dataclass(frozen=True)
class Replay:
    """The outcome of replaying a record: `ok` when every recorded value is reproduced."""

    drawn: tuple[int, ...]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def new_seed() -> str:
    return secrets.token_hex(32)


def seed_sha256(seed: str) -> str:
    return sha256_hex(seed.encode("utf-8"))


def pool_sha256(members: Iterable[int]) -> str:
    return content_hash(sorted(members))


def rank(seed: str, member_id: int) -> str:
    """HMAC-SHA256(seed, member id) as hex: the smaller, the earlier drawn."""
    return hmac.new(seed.encode("utf-8"), str(member_id).encode("utf-8"), hashlib.sha256).hexdigest()


def pick(seed: str, pool: Sequence[int], count: int) -> tuple[int, ...]:
    """The `count` members of `pool` with the smallest rank, in rank order."""
    return tuple(sorted(pool, key=lambda m: (rank(seed, m), m))[:count])


def open_draw(subject: str, seed: str | None = None) -> DrawRecord:
    """Step 1: a new seed and its hash. Pass `seed` only to rebuild a known draw."""
    if subject not in SUBJECTS:
        raise DrawError(f"a draw is of {' or '.join(SUBJECTS)}, not {subject!r}")
    seed = new_seed() if seed is None else seed
    if not _SEED.match(seed):
        raise DrawError("a seed is 64 lower-case hex characters (32 random bytes)")
    return DrawRecord(subject=subject, seed=seed, seed_sha256=seed_sha256(seed))


def freeze(record: DrawRecord, members: Iterable[int]) -> DrawRecord:
    """Step 2: the pool, sorted, and its hash. A frozen pool cannot change."""
    if record.frozen:
        raise DrawError("the pool is already frozen; open a new draw to draw from another pool")
    pool = []
    for m in members:
        if isinstance(m, bool) or not isinstance(m, int) or m < 1:
            raise DrawError(f"pool members are positive integer ids, not {m!r}")
        pool.append(m)
    if not pool:
        raise DrawError("the pool is empty: nothing to draw from")
    if len(set(pool)) != len(pool):
        raise DrawError("the pool lists a member twice")
    pool.sort()
    return replace(record, pool=tuple(pool), pool_sha256=pool_sha256(pool))


def draw(record: DrawRecord, count: int) -> DrawRecord:
    """Step 3: the members drawn. Only from a frozen pool, only once."""
    if not record.frozen:
        raise DrawError("freeze the pool before drawing: its hash must be recorded first")
    if record.drawn is not None:
        raise DrawError("this draw has been made; replay it instead of drawing again")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise DrawError("draw at least one member")
    if count > len(record.pool):
        raise DrawError(f"cannot draw {count} from a pool of {len(record.pool)}")
    return replace(record, count=count, drawn=pick(record.seed, record.pool, count))


def replay(record: DrawRecord) -> Replay:
    """Recompute a recorded draw and name every value that does not match."""
    problems = []
    if seed_sha256(record.seed) != record.seed_sha256:
        problems.append("the seed does not match the hash recorded before the pool was frozen")
    if record.pool is None:
        return Replay((), tuple(problems + ["the pool was never frozen"]))
    if pool_sha256(record.pool) != record.pool_sha256:
        problems.append("the pool does not match the hash recorded when it was frozen")
    if list(record.pool) != sorted(set(record.pool)):
        problems.append("the recorded pool is not sorted or lists a member twice")
    drawn = pick(record.seed, record.pool, record.count)
    if record.drawn is not None and tuple(record.drawn) != drawn:
        problems.append("the members recorded as drawn are not the ones the seed draws from this pool")
    return Replay(drawn, tuple(problems))
