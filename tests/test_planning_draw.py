"""The random draw (双随机) exactly as DOMAIN.md section 5 pins it, and its replay."""
from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain.planning.draw import (
    DrawError, DrawRecord, draw, freeze, open_draw, pick, pool_sha256, rank, replay, seed_sha256,
)

SEED = "0123456789abcdef" * 4
POOL = [5, 3, 11, 42, 7, 19, 23, 8]


def test_the_pinned_vector():
    """Computed independently with openssl:
    echo -n 42 | openssl dgst -sha256 -hmac <seed>; echo -n <seed> | sha256sum;
    echo -n '[3,5,7,8,11,19,23,42]' | sha256sum"""
    record = draw(freeze(open_draw("sites", SEED), POOL), 3)
    assert record.seed_sha256 == "a8ae6e6ee929abea3afcfc5258c8ccd6f85273e0d4626d26c7279f3250f77c8e"
    assert record.pool == (3, 5, 7, 8, 11, 19, 23, 42)
    assert record.pool_sha256 == "f45154b41275d9a25b98fd64ee3bf3945e2e11e1ea8c97f93b05dcbc463924fa"
    assert rank(SEED, 42) == "5203556f2f35a0650d5a37c8c42f0a1284170efea5f4920951c41c28b0ca47fb"
    assert record.drawn == (3, 23, 42)


def test_the_seed_hash_is_recorded_before_the_pool_exists():
    record = open_draw("inspectors")
    assert len(record.seed) == 64 and record.seed_sha256 == seed_sha256(record.seed)
    assert record.pool is None and record.pool_sha256 is None and record.drawn is None
    assert open_draw("inspectors").seed != record.seed  # a fresh seed every time


def test_a_replayed_draw_gives_the_identical_result():
    record = draw(freeze(open_draw("sites"), range(1, 301)), 15)
    stored = DrawRecord.from_dict(record.as_dict())  # as the draws table keeps it
    again = replay(stored)
    assert again.ok and again.drawn == record.drawn


def test_a_changed_pool_gives_a_different_hash():
    base = pool_sha256(POOL)
    assert pool_sha256(reversed(POOL)) == base  # the order it was given in does not matter
    assert pool_sha256(POOL + [99]) != base
    assert pool_sha256(POOL[1:]) != base
    assert pool_sha256([m + 1 if m == 42 else m for m in POOL]) != base


def test_replay_names_every_value_that_does_not_match():
    record = draw(freeze(open_draw("sites", SEED), POOL), 3)
    other_seed = "f" * 64
    assert not replay(dataclasses.replace(record, seed=other_seed)).ok
    assert "seed" in replay(dataclasses.replace(record, seed=other_seed)).problems[0]
    swapped = dataclasses.replace(record, pool=(3, 5, 7, 8, 11, 19, 23, 43))
    assert any("pool does not match" in p for p in replay(swapped).problems)
    forged = dataclasses.replace(record, drawn=(5, 7, 8))
    assert replay(forged).problems == ("the members recorded as drawn are not the ones the seed draws from this pool",)


def test_steps_only_in_order_and_only_once():
    opened = open_draw("sites")
    with pytest.raises(DrawError, match="freeze the pool"):
        draw(opened, 1)
    frozen = freeze(opened, POOL)
    with pytest.raises(DrawError, match="already frozen"):
        freeze(frozen, POOL + [1])
    made = draw(frozen, 2)
    with pytest.raises(DrawError, match="replay"):
        draw(made, 2)


@pytest.mark.parametrize("members, message", [
    ([], "empty"), ([1, 1], "twice"), ([1, "2"], "integer"), ([0], "positive"), ([True], "integer"),
])
def test_bad_pools_are_refused(members, message):
    with pytest.raises(DrawError, match=message):
        freeze(open_draw("sites"), members)


def test_bad_counts_subjects_and_seeds_are_refused():
    frozen = freeze(open_draw("sites"), POOL)
    with pytest.raises(DrawError, match="cannot draw 9 from a pool of 8"):
        draw(frozen, 9)
    with pytest.raises(DrawError, match="at least one"):
        draw(frozen, 0)
    with pytest.raises(DrawError, match="sites or inspectors"):
        open_draw("vehicles")
    with pytest.raises(DrawError, match="64 lower-case hex"):
        open_draw("sites", "not a seed")


seeds = st.binary(min_size=32, max_size=32).map(bytes.hex)
pools = st.sets(st.integers(1, 10**9), min_size=1, max_size=60).map(sorted)


@settings(max_examples=80, deadline=None)
@given(seeds, pools, st.data())
def test_a_draw_depends_on_the_seed_and_the_pool_only(seed, pool, data):
    count = data.draw(st.integers(1, len(pool)))
    shuffled = data.draw(st.permutations(pool))
    a = draw(freeze(open_draw("sites", seed), pool), count)
    b = draw(freeze(open_draw("sites", seed), shuffled), count)
    assert a.drawn == b.drawn and a.pool_sha256 == b.pool_sha256
    assert len(a.drawn) == count and set(a.drawn) <= set(pool) and len(set(a.drawn)) == count
    assert replay(a).ok
    # Drawing one more keeps those drawn and adds the next in rank.
    assert pick(seed, pool, count + 1)[:count] == a.drawn


def test_different_seeds_draw_different_members():
    pool = list(range(1, 201))
    results = {pick(open_draw("sites").seed, pool, 5) for _ in range(20)}
    assert len(results) > 15
