"""The policy: every number of DOMAIN.md as data with its default, in one place.

Local rules differ from city to city and year to year, so nothing here is a constant
in code: an admin changes a value through the API (a new PolicyVersion, audited),
and every classification records the version it used.
"""
from __future__ import annotations

import copy

DEFAULT_POLICY: dict = {
    # Section 2: prudent and tolerant supervision.
    "excluded_domains": ["safety", "environment", "illegal_construction"],
    "repeat_window_days": 365,
    "repeat_threshold": 2,
    # Section 1: the 721 target mix, in percent.
    "target_mix": {"service": 70, "management": 20, "enforcement": 10},
    # Section 6: clocks.
    "timezone": "Asia/Shanghai",
    "reinspection_within_days": 10,
    "case_decision_days": 90,
    "hearing_request_days": 5,
    "decision_service_days": 7,
    "fine_payment_days": 15,
    "limitation_years": 2,
    "limitation_years_harm": 5,
    "clock_warning_days": 3,
    # Document numbers, per year: 仪执责改〔2026〕0001号 (rectification notices), 仪执立〔2026〕0001号 (cases),
    # 仪执检录〔2026〕0001号 (inspection records, docs/documents.md).
    "order_number_prefix": "仪执责改",
    "case_number_prefix": "仪执立",
    "record_number_prefix": "仪执检录",
    # Section 7 / on-site proof.
    "geofence_radius_m": 150,
    "gps_accuracy_threshold_m": 50,
    "device_clock_tolerance_h": 24,
    # Section 5: planning.
    "yearly_max_visits": {
        "hazchem_std_grade": {"1": 2, "2": 4, "3": 8, "ungraded": 12},
        "risk_grade": {"low": 1, "medium": 2, "high": 4, "very_high": 6},
    },
    "key_object_min_per_quarter": 1,
    "no_proactive_visit": {"risk_grade": "low", "credit_class": "A"},
    "merge_window_days": 5,
    "working_day_hours": 8,
    "minutes_on_site": 20,
    "road_speed_kmh": 30,
    "road_factor": 1.3,
    "day_start": "08:30",
    # Public results of random inspections (双随机一公开, docs/exports.md): whether the public page
    # names the officers who inspected. Off by default: no personal data the bureau did not decide to publish.
    "public_results_show_inspectors": False,
    # People: admins are warned this many days before a law-enforcement certificate (执法证) expires.
    "certificate_warning_days": 30,
}


def default_policy() -> dict:
    return copy.deepcopy(DEFAULT_POLICY)
