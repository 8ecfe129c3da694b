"""The demo city: four parks around Yizheng (仪征), the bureau's office, a few hundred
enterprises and project sites, staff of every role, checklists, the violation catalogue,
the 2026 working-day calendar and the default policy.

Everything is drawn from `random.Random(seed)` over the fixed facts in
`server/data/demo_city.json`, so one seed always builds the same city (`city_digest`
of the plan equals `database_digest` of what was stored). The only dates that follow
the clock are those that must stay meaningful whenever the demo is built: certificate
expiries and leave, counted from `today` (default: today in Asia/Shanghai, the policy's
time zone). Nothing else in the city depends on when it was built; the checklists'
publication date is fixed and the calendar holds the years shipped in server/data.

`plan_city` is pure (no database); `build_demo` stores a plan in the caller's
transaction and never commits.
"""
from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from zoneinfo import ZoneInfo

import shapely
import sqlalchemy as sa
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import MultiPolygon, Point, Polygon

from ..domain.canonical import content_hash
from ..domain.credit_code import ALPHABET, check_char
from ..domain.policy import default_policy
from ..extensions import db
from ..models import (
    ChecklistItem, ChecklistTemplate, ConflictDeclaration, Leave, Office, Park, PolicyVersion, Site, User,
)
from . import audit, calendar as calendar_service, catalogue as catalogue_service
from .demo_history import build_history
from .users import create_user, hash_password

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
CITY_FILE = DATA_DIR / "demo_city.json"
CHECKLISTS_FILE = DATA_DIR / "checklists.json"

DEMO_PASSWORD = "fieldcheck-demo"
CHECKLISTS_PUBLISHED_AT = dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))

# The staff: username, role, parks, certified domains (inspectors with a certificate),
# auxiliary, and the certificate's state on `today` (valid, expiring within 30 days, expired).
STAFF = [
    ("insp01", "inspector", ["EDZ"], ["safety", "fire", "city_appearance", "market"], False, "expired"),
    ("insp02", "inspector", ["EDZ", "BIGDATA"], ["safety", "environment", "fire", "illegal_construction"], False, "valid"),
    ("insp03", "inspector", ["BIGDATA", "EDZ"], ["safety", "fire", "illegal_construction", "city_appearance"], False, "valid"),
    ("insp04", "inspector", ["AUTO"], ["safety", "environment", "fire"], False, "valid"),
    ("insp05", "inspector", ["AUTO"], ["safety", "environment", "illegal_construction"], False, "expiring"),
    ("insp06", "inspector", ["CHEM"], ["safety", "environment", "fire"], False, "valid"),
    ("insp07", "inspector", ["CHEM"], ["safety", "environment", "other"], False, "valid"),
    ("insp08", "inspector", ["CHEM", "AUTO"], ["safety", "environment", "fire", "illegal_construction"], False, "valid"),
    ("aux01", "inspector", ["EDZ"], [], True, None),
    ("sup01", "supervisor", ["EDZ", "BIGDATA"], [], False, None),
    ("sup02", "supervisor", ["AUTO", "CHEM"], [], False, None),
    ("legal01", "legal_reviewer", ["EDZ", "BIGDATA", "AUTO", "CHEM"], [], False, None),
    ("sched01", "scheduler", ["EDZ", "BIGDATA", "AUTO", "CHEM"], [], False, None),
    ("admin", "admin", [], [], False, None),
]
DEMO_LOGINS: list[tuple[str, str, str]] = [(username, role, DEMO_PASSWORD) for username, role, *_ in STAFF]

# Conflicts of interest (回避) and leave: (username, park of the site, reason) and
# (username, first day and last day counted from today, note).
CONFLICTS = [
    ("insp02", "EDZ", "曾在该企业任职，离职未满三年"),
    ("insp06", "CHEM", "配偶在该企业担任安全管理人员"),
]
LEAVES = [
    ("insp04", 3, 5, "年休假"),
    ("insp07", 8, 9, "病假"),
]
INNER_MARGIN_DEG = 0.0005  # keep sites about 50 m inside the boundary
MIN_SPACING_DEG = 0.0006   # and about 60 m apart


class DemoError(RuntimeError):
    """The demo city cannot be built here (the database already holds data)."""


def _load_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


# --- pure planning -----------------------------------------------------------------


def _gb11714_check(body8: str) -> str:
    """The organisation code's own check character (GB 11714), digits 9 of a credit code."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body8, weights))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def _credit_code(rng: random.Random, region: str) -> str:
    """A unified social credit code of a company (registered by market regulation: 9, 1)."""
    if rng.random() < 0.6:  # registered since 2015: organisation codes "MA" + 6 characters
        body = "MA" + "".join(rng.choice(ALPHABET) for _ in range(6))
    else:  # older companies keep their 8-digit organisation code
        body = "".join(rng.choice("0123456789") for _ in range(8))
    first17 = "91" + region + body + _gb11714_check(body)
    return first17 + check_char(first17)


def _weighted(rng: random.Random, pairs: list[tuple[object, float]]):
    return rng.choices([v for v, _ in pairs], weights=[w for _, w in pairs], k=1)[0]


def _pick_weighted(rng: random.Random, items: list, weight, k: int) -> list:
    """k distinct items, each drawn with probability proportional to its weight
    (Efraimidis-Spirakis keys); items of weight 0 are never drawn."""
    keyed = [(rng.random() ** (1.0 / weight(it)), i) for i, it in enumerate(items) if weight(it) > 0]
    keyed.sort(reverse=True)
    return [items[i] for _, i in keyed[:k]]


def _quota(shares: dict[str, float], n: int) -> list[str]:
    """n labels in the given shares (largest remainders), each present when n allows."""
    raw = {k: v * n for k, v in shares.items()}
    counts = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: raw[k] - counts[k], reverse=True)[: n - sum(counts.values())]:
        counts[k] += 1
    for k in counts:  # every grade shows up in the demo
        if counts[k] == 0 and n >= len(counts):
            donor = max(counts, key=counts.get)
            counts[donor] -= 1
            counts[k] += 1
    return [k for k in shares for _ in range(counts[k])]


def _points_in(rng: random.Random, polygon: Polygon, n: int) -> list[tuple[float, float]]:
    inner = polygon.buffer(-INNER_MARGIN_DEG)
    shapely.prepare(inner)
    minx, miny, maxx, maxy = inner.bounds
    points: list[tuple[float, float]] = []
    spacing = MIN_SPACING_DEG
    attempts = 0
    while len(points) < n:
        attempts += 1
        if attempts % 5000 == 0:  # a crowded park: let sites stand closer rather than loop for ever
            spacing *= 0.8
        x = round(rng.uniform(minx, maxx), 6)
        y = round(rng.uniform(miny, maxy), 6)
        if not inner.contains(Point(x, y)):
            continue
        if any((x - px) ** 2 + (y - py) ** 2 < spacing ** 2 for px, py in points):
            continue
        points.append((x, y))
    return points


def _person_names(rng: random.Random, city: dict, n: int, taken: set[str]) -> list[str]:
    names = []
    while len(names) < n:
        name = rng.choice(city["surnames"]) + rng.choice(city["given"])
        if name not in taken:
            taken.add(name)
            names.append(name)
    return names


def _phone(rng: random.Random, city: dict) -> str:
    return city["landline_prefix"] + "".join(rng.choice("0123456789") for _ in range(6))


def _bureau_today() -> dt.date:
    """Today in the bureau's time zone (the policy's default), whatever the server's clock zone."""
    return dt.datetime.now(ZoneInfo(default_policy()["timezone"])).date()


def plan_city(seed: int = 1, today: dt.date | None = None) -> dict:
    """The whole demo city as plain data, drawn from the seed (no database)."""
    today = today or _bureau_today()
    rng = random.Random(seed)
    city = _load_json(CITY_FILE)
    region = city["region_code"]
    trades = [a + b for a in city["trade_first"] for b in city["trade_second"] if a != b]
    rng.shuffle(trades)
    places = [(p, w) for p, w in city["name_places"]]
    credit_weights = list(city["credit_class_weights"].items())
    codes_taken: set[str] = set()
    people_taken: set[str] = set()
    parks, sites = [], []
    for park in city["parks"]:
        polygon = Polygon(park["boundary"])
        parks.append({"code": park["code"], "name_zh": park["name_zh"], "name_en": park["name_en"],
                      "kind": park["kind"], "boundary": [list(c) for c in polygon.exterior.coords]})
        n_ent, n_proj = park["enterprises"], park["project_sites"]
        points = _points_in(rng, polygon, n_ent + n_proj)
        contacts = _person_names(rng, city, n_ent + n_proj, people_taken)
        enterprises = []
        for i in range(n_ent):
            industry = _weighted(rng, [(ind, ind["weight"]) for ind in park["industries"]])
            trade = trades.pop()
            word = rng.choice(industry["words"])
            suffix = "股份有限公司" if rng.random() < 0.1 else "有限公司"
            code = _credit_code(rng, region)
            while code in codes_taken:
                code = _credit_code(rng, region)
            codes_taken.add(code)
            hazchem = rng.random() < industry.get("hazchem", 0.0)
            risk = _weighted(rng, list(zip(("low", "medium", "high", "very_high"), industry["risk"])))
            enterprises.append({
                "park": park["code"], "kind": "enterprise",
                "name": f"{_weighted(rng, places)}{trade}{word}{suffix}",
                "short": trade + word,
                "credit_code": code,
                "address": f"江苏省仪征市{park['place']}{rng.choice(park['roads'])}{rng.randint(1, 288)}号",
                "industry": industry["industry"],
                "lon": points[i][0], "lat": points[i][1],
                "risk_grade": risk, "credit_class": _weighted(rng, credit_weights),
                "safety_std_grade": None, "is_hazchem": hazchem, "is_major_hazard": False,
                "is_key_polluter": False,
                "contact_name": contacts[i], "contact_phone": _phone(rng, city),
                "_industry": industry,
            })
        hazchem_plants = [e for e in enterprises if e["is_hazchem"]]
        grades = _quota(city["hazchem"]["safety_std_grade_shares"], len(hazchem_plants))
        rng.shuffle(grades)
        for plant, grade in zip(hazchem_plants, grades):
            plant["safety_std_grade"] = grade
        n_major = round(city["hazchem"]["major_hazard_share"] * len(hazchem_plants))
        for plant in _pick_weighted(rng, hazchem_plants, lambda e: e["_industry"].get("major_hazard", 1), n_major):
            plant["is_major_hazard"] = True
            if plant["risk_grade"] in ("low", "medium"):  # a major hazard source is never low-risk
                plant["risk_grade"] = "high"
        for polluter in _pick_weighted(rng, enterprises, lambda e: e["_industry"].get("polluter", 0.02),
                                       park["key_polluters"]):
            polluter["is_key_polluter"] = True
        for e in enterprises:
            del e["_industry"]
        names = {e["name"] for e in enterprises}
        for j in range(n_proj):
            lon, lat = points[n_ent + j]
            while True:
                owner = rng.choice(enterprises)
                name = owner["short"] + rng.choice(city["projects"])
                if name not in names:
                    break
            names.add(name)
            enterprises.append({
                "park": park["code"], "kind": "project_site", "name": name, "short": owner["short"],
                "credit_code": None,
                "address": "江苏省仪征市{}{}与{}交叉口".format(park["place"], *rng.sample(park["roads"], 2)),
                "industry": "房屋建筑工程",
                "lon": lon, "lat": lat,
                "risk_grade": rng.choice(("medium", "high")), "credit_class": _weighted(rng, credit_weights),
                "safety_std_grade": None, "is_hazchem": False, "is_major_hazard": False, "is_key_polluter": False,
                "contact_name": contacts[n_ent + j], "contact_phone": _phone(rng, city),
            })
        sites.extend(enterprises)
    for s in sites:
        del s["short"]

    staff_names = _person_names(rng, city, len(STAFF), people_taken)
    cert_numbers = rng.sample(range(1, 10000), len(STAFF))
    users = []
    for (username, role, park_codes, domains, auxiliary, cert_state), name, number in zip(STAFF, staff_names,
                                                                                         cert_numbers):
        user = {"username": username, "name": name, "role": role, "parks": park_codes,
                "certificate_no": None, "certificate_expires": None, "certified_domains": [],
                "auxiliary": auxiliary}
        if cert_state is not None:
            issued = rng.randint(2019, 2024)
            user["certificate_no"] = f"JS-{region}-{issued}-{number:04d}"
            user["certified_domains"] = domains
            user["certificate_expires"] = {
                "valid": today + dt.timedelta(days=rng.randint(200, 1100)),
                "expiring": today + dt.timedelta(days=rng.randint(7, 25)),
                "expired": today - dt.timedelta(days=rng.randint(5, 40)),
            }[cert_state]
        users.append(user)

    conflicts = []
    for username, park_code, reason in CONFLICTS:
        candidates = [s for s in sites if s["park"] == park_code and s["kind"] == "enterprise"]
        conflicts.append({"username": username, "site": rng.choice(candidates)["name"], "reason": reason})
    leaves = [{"username": u, "start": today + dt.timedelta(days=a), "end": today + dt.timedelta(days=b), "note": n}
              for u, a, b, n in LEAVES]
    return {
        "seed": seed, "today": today,
        "office": city["office"], "parks": parks, "sites": sites, "users": users,
        "conflicts": conflicts, "leaves": leaves,
    }


def _digest_parts(parks, office, sites, users) -> dict:
    return {
        "parks": sorted([p["code"], p["name_zh"], [[round(x, 6), round(y, 6)] for x, y in p["boundary"]]]
                        for p in parks),
        "office": [office["name_zh"], round(office["lon"], 6), round(office["lat"], 6)],
        "sites": sorted([s["park"], s["kind"], s["name"], s["credit_code"] or "", round(s["lon"], 6),
                         round(s["lat"], 6), s["risk_grade"], s["credit_class"], s["safety_std_grade"] or "",
                         s["is_hazchem"], s["is_major_hazard"], s["is_key_polluter"]] for s in sites),
        "users": sorted([u["username"], u["name"], u["role"], u["certificate_no"] or "", sorted(u["parks"])]
                        for u in users),
    }


def city_digest(plan: dict) -> str:
    """SHA-256 of the city's names, codes, grades and coordinates."""
    return content_hash(_digest_parts(plan["parks"], plan["office"], plan["sites"], plan["users"]))


def database_digest() -> str:
    """The same digest, read back from the database (equal to city_digest of the plan stored)."""
    parks = db.session.execute(sa.select(Park)).scalars().all()
    codes = {p.id: p.code for p in parks}
    park_rows = [{"code": p.code, "name_zh": p.name_zh,
                  "boundary": list(to_shape(p.boundary).geoms[0].exterior.coords)} for p in parks]
    office = db.session.execute(sa.select(Office).where(Office.is_default.is_(True))).scalar_one()
    pt = to_shape(office.location)
    office_row = {"name_zh": office.name_zh, "lon": pt.x, "lat": pt.y}
    site_rows = []
    for s in db.session.execute(sa.select(Site)).scalars():
        g = to_shape(s.geom)
        site_rows.append({"park": codes[s.park_id], "kind": s.kind, "name": s.name, "credit_code": s.credit_code,
                          "lon": g.x, "lat": g.y, "risk_grade": s.risk_grade, "credit_class": s.credit_class,
                          "safety_std_grade": s.safety_std_grade, "is_hazchem": s.is_hazchem,
                          "is_major_hazard": s.is_major_hazard, "is_key_polluter": s.is_key_polluter})
    user_rows = [{"username": u.username, "name": u.name, "role": u.role, "certificate_no": u.certificate_no,
                  "parks": [p.code for p in u.parks]} for u in db.session.execute(sa.select(User)).scalars()]
    return content_hash(_digest_parts(park_rows, office_row, site_rows, user_rows))


# --- storing -------------------------------------------------------------------------


def _refuse_non_empty() -> None:
    counts = {label: db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()
              for label, model in (("parks", Park), ("sites", Site), ("users", User),
                                   ("checklists", ChecklistTemplate))}
    held = {k: v for k, v in counts.items() if v}
    if held:
        listed = ", ".join(f"{v} {k}" for k, v in held.items())
        raise DemoError(f"the database already holds data ({listed}); the demo city loads only into an "
                        "empty database (create a new one, or use `fieldcheck init --no-demo` for a real bureau)")


def _store_checklists() -> tuple[int, int]:
    doc = _load_json(CHECKLISTS_FILE)
    n_items = 0
    for t in doc["templates"]:
        template = ChecklistTemplate(code=t["code"], version=1, domain=t["domain"], name_zh=t["name_zh"],
                                     name_en=t["name_en"], status="published", published_at=CHECKLISTS_PUBLISHED_AT)
        template.items = [ChecklistItem(code=i["code"], position=pos, domain=i["domain"], text_zh=i["text_zh"],
                                        text_en=i["text_en"], legal_basis=i["legal_basis"])
                          for pos, i in enumerate(t["items"], start=1)]
        n_items += len(template.items)
        db.session.add(template)
    db.session.flush()
    return len(doc["templates"]), n_items


def build_demo(seed: int = 1, today: dt.date | None = None, history: bool = True) -> dict:
    """Build the demo city in the current transaction (the caller commits) and answer a
    short JSON-serialisable summary. Refuses a database that already holds a city.
    With `history`, about 60 days of field work up to yesterday follow, made through the
    services (server/services/demo_history.py)."""
    _refuse_non_empty()
    today = today or _bureau_today()
    plan = plan_city(seed, today)

    parks = {}
    for p in plan["parks"]:
        park = Park(code=p["code"], name_zh=p["name_zh"], name_en=p["name_en"], kind=p["kind"],
                    boundary=from_shape(MultiPolygon([Polygon(p["boundary"])]), srid=4326))
        parks[p["code"]] = park
    db.session.add_all(parks.values())
    o = plan["office"]
    db.session.add(Office(name_zh=o["name_zh"], name_en=o["name_en"], address=o["address"], is_default=True,
                          location=from_shape(Point(o["lon"], o["lat"]), srid=4326)))
    db.session.flush()

    site_rows = {}
    for s in plan["sites"]:
        fields = {k: v for k, v in s.items() if k not in ("park", "lon", "lat")}
        site = Site(park_id=parks[s["park"]].id, geom=from_shape(Point(s["lon"], s["lat"]), srid=4326), **fields)
        site_rows[s["name"]] = site
    db.session.add_all(site_rows.values())
    db.session.flush()

    password_hash = hash_password(DEMO_PASSWORD)  # Argon2 is slow on purpose: hash once for everyone
    users = {}
    for u in plan["users"]:
        users[u["username"]] = create_user(
            u["username"], u["name"], u["role"], DEMO_PASSWORD, u["parks"], is_demo=True,
            password_hash=password_hash, certificate_no=u["certificate_no"],
            certificate_expires=u["certificate_expires"], certified_domains=u["certified_domains"],
            auxiliary=u["auxiliary"])

    for c in plan["conflicts"]:
        db.session.add(ConflictDeclaration(user_id=users[c["username"]].id, site_id=site_rows[c["site"]].id,
                                           reason=c["reason"]))
    for leave in plan["leaves"]:
        db.session.add(Leave(user_id=users[leave["username"]].id, start_date=leave["start"],
                             end_date=leave["end"], note=leave["note"]))
    db.session.flush()

    n_templates, n_items = _store_checklists()
    catalogue = catalogue_service.load_bundled(record_audit=False)
    calendar = calendar_service.load_bundled(record_audit=False)
    policy_created = False
    if db.session.execute(sa.select(sa.func.count(PolicyVersion.version))).scalar_one() == 0:
        db.session.add(PolicyVersion(version=1, values=default_policy(),
                                     reason="默认策略（演示城市） / the defaults (demo city)"))
        policy_created = True
    db.session.flush()

    enterprises = [s for s in plan["sites"] if s["kind"] == "enterprise"]
    roles: dict[str, int] = {}
    for u in plan["users"]:
        roles[u["role"]] = roles.get(u["role"], 0) + 1
    summary = {
        "seed": seed,
        "digest": city_digest(plan),
        "parks": len(plan["parks"]),
        "enterprises": len(enterprises),
        "project_sites": len(plan["sites"]) - len(enterprises),
        "hazchem": sum(s["is_hazchem"] for s in enterprises),
        "major_hazards": sum(s["is_major_hazard"] for s in enterprises),
        "key_polluters": sum(s["is_key_polluter"] for s in enterprises),
        "users": roles,
        "conflicts": len(plan["conflicts"]),
        "leaves": len(plan["leaves"]),
        "checklists": n_templates,
        "checklist_items": n_items,
        "violation_types": catalogue["created"] + catalogue["unchanged"],
        "calendar_days": sum(c["holidays"] + c["workdays"] for c in calendar),
        "policy_version_created": policy_created,
    }
    audit.record("demo.build", "demo", seed, {**summary, "today": plan["today"].isoformat()})
    if history:
        made = build_history(seed, today)
        summary["history"] = {k: made[k] for k in ("from", "to", "visits", "findings", "final_tiers", "photos")}
    return summary
