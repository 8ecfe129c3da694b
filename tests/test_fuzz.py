"""The API fuzzed from its own OpenAPI document with Schemathesis: every operation in
/api/openapi.json, as every role, in-process against the WSGI app (no network), on both engines.

What must hold for every generated request, valid or not:
- no 5xx (the `app` fixture also fails the test on any 5xx the server answers);
- the status is one the operation's entry lists by number (a bare `default` does not count:
  every 401/403/404/409/413/415/422/429 an operation can give is documented);
- the body, media type and headers match what the entry documents for that status;
- a request the schema calls invalid (negative mode) is refused with a 4xx.

The operations come from the document, so an endpoint added on another branch is fuzzed as soon
as it is merged. The run is deterministic (derandomized Hypothesis, no example database).
FIELDCHECK_FUZZ_EXAMPLES raises the examples per operation for a deeper run by hand:
    FIELDCHECK_FUZZ_EXAMPLES=200 pytest -q tests/test_fuzz.py
"""
from __future__ import annotations

import collections
import os
import time
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance, negative_data_rejection, response_headers_conformance, response_schema_conformance,
)

from tests.photo_helpers import add_waiting, image_bytes, make_records, upload

ROLES = {"inspector": "insp1", "supervisor": "sup1", "legal_reviewer": "legal1", "scheduler": "sched1",
         "admin": "admin1"}
# CI: a few examples per operation and mode; both engines, every role.
EXAMPLES = int(os.environ.get("FIELDCHECK_FUZZ_EXAMPLES", "3"))
VERBOSE = os.environ.get("FIELDCHECK_FUZZ_VERBOSE") == "1"  # per operation: time and statuses
LOGOUT = "DELETE /api/auth/token"


class UndocumentedStatus(Failure):
    def __init__(self, operation: str, status: int, documented: list[str]):
        super().__init__(operation=operation, code="undocumented_status",
                         title="Status not documented by number",
                         message=f"answered {status}; the operation documents {', '.join(documented)}")


@schemathesis.check
def status_documented_by_number(ctx, response, case):
    """Stricter than status_code_conformance, which lets `default` cover anything."""
    codes = [c for c in case.operation.responses.status_codes if c != "default"]
    if str(response.status_code) not in codes:
        raise UndocumentedStatus(case.operation.label, response.status_code, codes)
    return None


CHECKS = [not_a_server_error, status_documented_by_number, response_schema_conformance, content_type_conformance,
          response_headers_conformance]


def _known_path_values(app, auth) -> dict:
    """Real ids for the path parameters we know, so requests reach the objects and not only 404."""
    rec = make_records(app, "EDZ")
    photo = uuid.uuid4()
    add_waiting(app, photo, finding_id=rec["finding_id"])
    r = upload(app.test_client(), auth.headers("insp1"), photo, image_bytes(fmt="JPEG"), finding_id=rec["finding_id"])
    assert r.status_code == 201, r.get_json()
    return {"park_id": rec["park_id"], "site_id": rec["site_id"], "finding_id": str(rec["finding_id"]),
            "photo_id": str(photo)}


def _operations(schema):
    ops, broken = [], []
    for result in schema.get_all_operations():
        if isinstance(result, Ok):
            ops.append(result.ok())
        else:
            broken.append(str(result.err()))
    assert not broken, f"the OpenAPI document has operations Schemathesis cannot read: {broken}"
    # Logging out revokes the token every other operation is called with: last.
    ops.sort(key=lambda op: op.label == LOGOUT)
    return ops


def _fuzz(op, strategy, headers: dict, checks: list, seen: collections.Counter, failures: list) -> None:
    @given(case=strategy)
    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, print_blob=True,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate, Phase.shrink])
    def run(case):
        case.headers = {**(case.headers or {}), **headers}
        response = case.call_and_validate(checks=checks)
        seen[response.status_code] += 1

    try:
        run()
    except Unsatisfiable:
        pass  # nothing to negate (an operation without parameters or body)
    except Exception as exc:  # noqa: BLE001  (every operation is walked; all failures reported at the end)
        failures.append(f"{op.label}: {str(exc).split('Reproduce with')[0][:2500]}")


# Every role on SpatiaLite; on PostGIS the two that reach the most (the admin everything, the
# inspector sync and photos), to keep CI's cost near two minutes.
RUNS = [("spatialite", role) for role in sorted(ROLES)] + [("postgis", "admin"), ("postgis", "inspector")]


@pytest.mark.slow
@pytest.mark.parametrize("engine,role", RUNS, ids=[f"{e}-{r}" for e, r in RUNS])
def test_every_operation_survives_fuzzing_as_every_role(app, client, auth, role):
    ids = _known_path_values(app, auth)
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    ops = _operations(schema)
    assert len(ops) >= 50, "the document lost its operations"
    headers = auth.headers(ROLES[role])
    statuses: dict[str, collections.Counter] = {}
    failures: list[str] = []
    for op in ops:
        if op.label == LOGOUT:
            # A token of its own, so the revocation it causes is this operation's only.
            auth.tokens.pop(ROLES[role], None)
            headers = auth.headers(ROLES[role])
        started = time.perf_counter()
        seen = statuses.setdefault(op.label, collections.Counter())
        names = {p.name for p in op.path_parameters}
        known = {k: v for k, v in ids.items() if k in names}
        _fuzz(op, op.as_strategy(GenerationMode.POSITIVE, path_parameters=known or None), headers, CHECKS, seen, failures)
        # An operation that answers bad records one by one inside a 200 (POST /api/sync) says so in
        # its entry; for it, invalid data inside the records is not refused with a 4xx, by design.
        one_by_one = op.definition.raw.get("x-records-validated-one-by-one", False)
        negative = CHECKS if one_by_one else CHECKS + [negative_data_rejection]
        _fuzz(op, op.as_strategy(GenerationMode.NEGATIVE), headers, negative, seen, failures)
        if VERBOSE:
            print(f"{op.label}: {time.perf_counter() - started:.1f} s {dict(seen)}")
    assert not failures, f"{len(failures)} operations failed:\n\n" + "\n\n".join(f[:3000] for f in failures)
    # The walk reached past authentication: every role got some 2xx, and not everything was refused.
    ok = sum(n for c in statuses.values() for s, n in c.items() if s < 300)
    assert ok > 10, statuses
