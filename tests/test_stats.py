"""The 721 mix (GET /api/stats/tiers) on both engines: counts and shares per final tier, an
escalation counted upward and a downgrade at the lower tier, the excluded domains inside and
beside the total, the distance from the target, groups by month (in the bureau's time zone),
park and domain, an empty period, the policy's own target, scope and bad input."""
from __future__ import annotations

import datetime as dt

import pytest

from tests.test_queue import TZ, add_finding, load_world, refused

UTC = dt.timezone.utc
JAN = {"from": "2026-01-01", "to": "2026-01-31"}


@pytest.fixture
def world(app):
    return load_world(app)


def at(y, m, d, hour=10, tz=TZ) -> dt.datetime:
    return dt.datetime(y, m, d, hour, tzinfo=tz)


# Findings as the classifier would leave them: (final tier, catalogue code, rule).
SERVICE = dict(tier="service", code="FIRE-HYDRANT-BLOCKED", rule_id="T1", tolerance_path="service_on_spot",
               severity="minor", corrected_on_spot=True, status="closed", due=None)
MANAGEMENT = dict(tier="management", code="FIRE-ELEC-WIRING", rule_id="T4", status="order_issued")
ENFORCEMENT = dict(tier="enforcement", code="FIRE-ELEC-WIRING", rule_id="T5", status="awaiting_review")
SAFETY_ENF = dict(tier="enforcement", code="SAF-EXIT-BLOCKED", rule_id="X1", status="awaiting_review",
                  flags=["statutory_minor_review"], severity="minor", corrected_on_spot=True)
ENV_MGMT = dict(tier="management", code="ENV-HW-LABEL", rule_id="X2", status="order_issued")


def add(app, world, n, kind, when=None, **kw):
    for i in range(n):
        add_finding(app, world, discovered=when or at(2026, 1, 5 + i), **(kind | kw))


def stats(client, auth, user="sup1", **params):
    r = client.get("/api/stats/tiers", headers=auth.headers(user), query_string=params)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_counts_shares_and_distance_on_target(client, auth, app, world):
    add(app, world, 7, SERVICE)
    add(app, world, 2, MANAGEMENT)
    add(app, world, 1, ENFORCEMENT)
    s = stats(client, auth, **JAN)
    assert (s["from"], s["to"], s["timezone"]) == ("2026-01-01", "2026-01-31", "Asia/Shanghai")
    assert s["target"] == {"service": 70, "management": 20, "enforcement": 10}
    mix = s["all"]
    assert mix["total"] == 10
    assert mix["counts"] == {"service": 7, "management": 2, "enforcement": 1}
    assert mix["shares"] == {"service": 70.0, "management": 20.0, "enforcement": 10.0}
    assert mix["distance"] == {"service": 0.0, "management": 0.0, "enforcement": 0.0}
    assert mix["largest_distance"]["pp"] == 0.0
    assert s["groups"] is None


def test_distance_in_percentage_points_and_the_largest(client, auth, app, world):
    add(app, world, 4, SERVICE)
    add(app, world, 1, MANAGEMENT)
    add(app, world, 1, ENFORCEMENT)
    mix = stats(client, auth, **JAN)["all"]
    # 4/6 = 66.7 %, 1/6 = 16.7 % twice: 3.3 pp under, 3.3 under, 6.7 over.
    assert mix["shares"] == {"service": 66.7, "management": 16.7, "enforcement": 16.7}
    assert mix["distance"] == {"service": -3.3, "management": -3.3, "enforcement": 6.7}
    assert mix["largest_distance"] == {"tier": "enforcement", "pp": 6.7}


def test_an_escalation_counts_upward_and_a_downgrade_at_the_lower_tier(client, auth, app, world):
    add(app, world, 1, MANAGEMENT)
    escalated = MANAGEMENT | dict(tier="enforcement", suggested="management", rule_id="T4", status="escalated")
    add(app, world, 2, escalated)
    downgraded = ENFORCEMENT | dict(tier="management", suggested="enforcement", status="order_issued",
                                    tier_reason="当事人主动消除危害后果，改为责令限期改正")
    add(app, world, 3, downgraded)
    mix = stats(client, auth, **JAN)["all"]
    assert mix["counts"] == {"service": 0, "management": 4, "enforcement": 2}
    assert mix["total"] == 6  # each finding once


def test_excluded_domains_inside_and_beside_the_total(client, auth, app, world):
    add(app, world, 6, SERVICE)
    add(app, world, 1, MANAGEMENT)
    add(app, world, 1, ENFORCEMENT)
    add(app, world, 2, SAFETY_ENF)  # safety and environment are excluded by the default policy
    add(app, world, 2, ENV_MGMT)
    s = stats(client, auth, **JAN)
    assert s["excluded_domains"] == ["environment", "illegal_construction", "safety"]
    assert s["all"]["counts"] == {"service": 6, "management": 3, "enforcement": 3}
    assert s["all"]["shares"] == {"service": 50.0, "management": 25.0, "enforcement": 25.0}
    assert s["without_excluded"]["counts"] == {"service": 6, "management": 1, "enforcement": 1}
    assert s["without_excluded"]["shares"] == {"service": 75.0, "management": 12.5, "enforcement": 12.5}
    assert s["without_excluded"]["largest_distance"] == {"tier": "management", "pp": 7.5}
    assert s["excluded"]["counts"] == {"service": 0, "management": 2, "enforcement": 2}


def test_the_policy_in_force_gives_the_target_and_the_excluded_domains(client, auth, app, world):
    from server.extensions import db
    from server.services import policy

    add(app, world, 3, SERVICE)
    add(app, world, 1, SAFETY_ENF)
    with app.app_context():
        policy.change({"target_mix": {"service": 60, "management": 30, "enforcement": 10},
                       "excluded_domains": ["environment"]}, "2026年度调整", world.users["admin1"])
        db.session.commit()
    s = stats(client, auth, **JAN)
    assert s["policy_version"] == 2 and s["excluded_domains"] == ["environment"]
    assert s["target"] == {"service": 60, "management": 30, "enforcement": 10}
    assert s["without_excluded"]["counts"] == s["all"]["counts"] == {"service": 3, "management": 0,
                                                                     "enforcement": 1}
    assert s["all"]["distance"] == {"service": 15.0, "management": -30.0, "enforcement": 15.0}


def test_months_and_the_period_follow_the_bureaus_time_zone(client, auth, app, world):
    add(app, world, 1, SERVICE, when=dt.datetime(2026, 1, 14, 15, 30, tzinfo=UTC))  # 14 Jan 23:30 local: before
    add(app, world, 1, SERVICE, when=dt.datetime(2026, 1, 14, 16, 30, tzinfo=UTC))  # 15 Jan 00:30 local: January
    add(app, world, 1, MANAGEMENT, when=dt.datetime(2026, 1, 31, 17, 0, tzinfo=UTC))  # 1 Feb 01:00 local
    add(app, world, 2, ENFORCEMENT, when=dt.datetime(2026, 2, 28, 15, 59, tzinfo=UTC))  # 28 Feb 23:59 local
    add(app, world, 1, SERVICE, when=dt.datetime(2026, 2, 28, 16, 0, tzinfo=UTC))  # 1 Mar 00:00 local
    add(app, world, 1, SERVICE, when=dt.datetime(2026, 4, 30, 16, 0, tzinfo=UTC))  # 1 May local: after
    s = stats(client, auth, **{"from": "2026-01-15", "to": "2026-04-30", "group_by": "month"})
    assert [g["key"] for g in s["groups"]] == ["2026-01", "2026-02", "2026-03", "2026-04"]
    counts = {g["key"]: g["all"]["counts"] for g in s["groups"]}
    assert counts["2026-01"] == {"service": 1, "management": 0, "enforcement": 0}
    assert counts["2026-02"] == {"service": 0, "management": 1, "enforcement": 2}
    assert counts["2026-03"] == {"service": 1, "management": 0, "enforcement": 0}
    april = s["groups"][3]["all"]
    assert april["total"] == 0 and april["shares"]["service"] is None and april["largest_distance"] is None
    assert s["all"]["total"] == 5 == sum(g["all"]["total"] for g in s["groups"])


def test_grouping_by_park_within_scope(client, auth, app, world):
    add(app, world, 3, SERVICE)
    add(app, world, 1, ENFORCEMENT)
    add(app, world, 2, MANAGEMENT, park="CHEM")
    add(app, world, 1, SAFETY_ENF, park="CHEM")
    every = stats(client, auth, "admin1", group_by="park", **JAN)
    assert [g["park"]["code"] for g in every["groups"]] == ["EDZ", "CHEM"]
    assert [g["key"] for g in every["groups"]] == [str(world.parks["EDZ"]), str(world.parks["CHEM"])]
    assert [g["all"]["total"] for g in every["groups"]] == [4, 3]
    chem = every["groups"][1]
    assert chem["without_excluded"]["counts"] == {"service": 0, "management": 2, "enforcement": 0}
    assert chem["excluded"]["counts"] == {"service": 0, "management": 0, "enforcement": 1}
    assert every["all"]["total"] == 7
    # A supervisor of EDZ sees EDZ only, in the groups and in the totals.
    mine = stats(client, auth, "sup1", group_by="park", **JAN)
    assert [g["park"]["code"] for g in mine["groups"]] == ["EDZ"]
    assert mine["all"]["counts"] == {"service": 3, "management": 0, "enforcement": 1}
    one = stats(client, auth, "admin1", park=world.parks["CHEM"], **JAN)
    assert one["park"] == world.parks["CHEM"] and one["all"]["total"] == 3


def test_grouping_by_domain_marks_the_excluded_ones(client, auth, app, world):
    add(app, world, 2, SERVICE)
    add(app, world, 1, SAFETY_ENF)
    add(app, world, 1, ENV_MGMT)
    add(app, world, 1, SERVICE | dict(code=None, rule_id="S0", severity="advisory"))
    s = stats(client, auth, group_by="domain", **JAN)
    groups = {g["key"]: g for g in s["groups"]}
    assert set(groups) == {"safety", "environment", "fire", "city_appearance", "illegal_construction", "market",
                           "other"}
    assert {k for k, g in groups.items() if g["excluded_domain"]} == {"safety", "environment",
                                                                      "illegal_construction"}
    assert groups["fire"]["all"]["counts"]["service"] == 2
    assert groups["other"]["all"]["counts"]["service"] == 1
    assert groups["safety"]["all"]["counts"]["enforcement"] == 1 and groups["safety"]["without_excluded"]["total"] == 0
    assert groups["market"]["all"]["total"] == 0


def test_an_empty_period_has_counts_of_zero_and_no_shares(client, auth, app, world):
    add(app, world, 2, SERVICE)
    s = stats(client, auth, **{"from": "2025-06-01", "to": "2025-06-30", "group_by": "month"})
    for section in ("all", "without_excluded", "excluded"):
        assert s[section]["total"] == 0
        assert s[section]["counts"] == {"service": 0, "management": 0, "enforcement": 0}
        assert s[section]["shares"] == {"service": None, "management": None, "enforcement": None}
        assert s[section]["largest_distance"] is None
    assert [g["key"] for g in s["groups"]] == ["2025-06"]


def test_the_default_period_is_the_last_twelve_months(client, auth, app, world):
    s = stats(client, auth)
    to = dt.date.fromisoformat(s["to"])
    assert to == dt.datetime.now(TZ).date()
    start = dt.date.fromisoformat(s["from"])
    assert start.day == 1 and (to.year * 12 + to.month) - (start.year * 12 + start.month) == 11


def test_roles_scope_and_bad_input(client, auth, app, world):
    for user in ("legal1", "insp1", "sched1"):
        refused(client.get("/api/stats/tiers", headers=auth.headers(user)), 403, "supervisor")
    assert client.get("/api/stats/tiers").status_code == 401
    refused(client.get("/api/stats/tiers", headers=auth.headers("sup1"),
                       query_string={"park": world.parks["CHEM"]}), 403, "park")
    h = auth.headers("admin1")
    for params, field in [
        ({"from": "2026-03-01", "to": "2026-02-01"}, "from"),
        ({"from": "2026-02-30"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"group_by": "week"}, "group_by"),
        ({"park": 999999}, "park"),
        ({"park": 0}, "park"),
        ({"from": "2000-01-01", "to": "2026-01-01"}, "from"),
        ({"grop_by": "month"}, "grop_by"),
    ]:
        refused(client.get("/api/stats/tiers", headers=h, query_string=params), 422, field)
