"""A small, known world for the tests: two parks, a few sites, a user of every role.

Built once per engine into a template database that each test copies.
"""
from __future__ import annotations

import datetime as dt

from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Point, box

from server.extensions import db
from server.models import Office, Park, Site
from server.services.users import create_user

PASSWORD = "test-password-1"

# Two parks near Yizheng, side by side, not overlapping (lon/lat boxes).
PARKS = {
    "EDZ": ("经济开发区", "Economic Development Zone", box(119.150, 32.250, 119.190, 32.280)),
    "CHEM": ("化工园区", "Chemical Park", box(119.200, 32.250, 119.240, 32.280)),
}
SITES = [
    # park, name, credit code, lon, lat, risk, hazchem
    ("EDZ", "仪征市恒达机械有限公司", "91321081MA1XK4LL3A", 119.160, 32.260, "medium", False),
    ("EDZ", "仪征市江海包装有限公司", None, 119.170, 32.265, "low", False),
    ("EDZ", "扬州润泽电子科技有限公司", None, 119.180, 32.270, "high", False),
    ("CHEM", "仪征市华瑞化工有限公司", None, 119.210, 32.260, "very_high", True),
    ("CHEM", "扬州天元新材料有限公司", None, 119.220, 32.265, "high", True),
]
USERS = [
    # username, role, parks, certificate, auxiliary
    ("insp1", "inspector", ["EDZ"], "JS-3210-0001", False),
    ("insp2", "inspector", ["EDZ"], "JS-3210-0002", False),
    ("aux1", "inspector", ["EDZ"], None, True),
    ("insp_chem", "inspector", ["CHEM"], "JS-3210-0003", False),
    ("sup1", "supervisor", ["EDZ"], None, False),
    ("sup_chem", "supervisor", ["CHEM"], None, False),
    ("legal1", "legal_reviewer", ["EDZ", "CHEM"], None, False),
    ("sched1", "scheduler", ["EDZ", "CHEM"], None, False),
    ("admin1", "admin", [], None, False),
]


def build_world() -> dict:
    parks = {}
    for code, (zh, en, shape) in PARKS.items():
        park = Park(code=code, name_zh=zh, name_en=en, kind="general",
                    boundary=from_shape(MultiPolygon([shape]), srid=4326))
        db.session.add(park)
        parks[code] = park
    db.session.add(Office(name_zh="综合执法局", name_en="Enforcement Bureau", is_default=True,
                          location=from_shape(Point(119.185, 32.245), srid=4326)))
    db.session.flush()
    for park, name, code, lon, lat, risk, hazchem in SITES:
        db.session.add(Site(park_id=parks[park].id, name=name, credit_code=code, risk_grade=risk,
                            is_hazchem=hazchem, safety_std_grade="2" if hazchem else None,
                            geom=from_shape(Point(lon, lat), srid=4326)))
    expires = dt.date.today() + dt.timedelta(days=365)
    for username, role, park_codes, cert, aux in USERS:
        create_user(username, username, role, PASSWORD, park_codes, certificate_no=cert,
                    certificate_expires=expires if cert else None,
                    certified_domains=["safety", "environment", "fire"] if cert else [], auxiliary=aux)
    ids = {"parks": {c: p.id for c, p in parks.items()}}
    db.session.commit()
    return ids
