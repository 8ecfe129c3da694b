"""About sixty days of field work in the demo city, made through the services real work goes
through, so that the queue, the dashboard and the photos show real states.

- Visits come in through the field sync's handling of one record (server/services/sync.py: the
  same checks, savepoint, on-site proof, receipt and audit entries as POST /api/sync, without its
  commit): valid teams of demo inspectors in their parks, on working days, a handful a day, a few
  with an off-site, poor or missing fix.
- Their findings are stored and classified by `record_finding` inside that sync: this module
  chooses facts (a catalogue row, severity, harm, corrected on the spot) and never a tier.
- Supervisors' and the legal reviewer's steps go through `lifecycle.act`, as the API's actions
  do; the hourly clock sweep runs on each working day and once more on `today`.
- Photos are made with Pillow (a plain scene, the site's name and the time written on it, EXIF
  GPS beside the fix) and stored through the photo ingest into the app's photo store.

Everything is drawn from `random.Random` over the seed: the same seed and the same `today` give
the same history. It starts 60 days before `today` and ends the day before, in the bureau's time
zone.

The background work never finds the same violation type twice at one site, so none of its
findings is a repeat, none is flagged for legal review and every order it issues passes its
re-inspection. What a demo should show is scripted on top, each state exactly once (`SCRIPTS`):
repeats at two enterprises (a waiver, then no second waiver, then rule E5), a full no-penalty
closing with its tolerance record, a failed re-inspection escalated by rule E4, an order left
without re-inspection that the sweep on `today` finds overdue and escalates, a finding flagged
for statutory minor review that waits for the legal reviewer, one the reviewer cleared without
penalty, and a case filed by two certified investigators and notified to the party.

Time. The services stamp what they do with their clock (an order's issue, a case's filing, a
review, an audit entry, a photo's receipt). During the history they read a simulated clock
(`_simulated_clock`), so each stamp falls when the step was taken; the sync's receive time is the
batch's, made here at the simulated time.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import functools
import io
import json
import logging
import random
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from geoalchemy2.shape import to_shape
from PIL import Image, ImageDraw, ImageFont
from PIL.TiffImagePlugin import IFDRational

from ..access import check_park
from ..domain.geo import destination
from ..extensions import db
from ..models import (
    Case, ConflictDeclaration, Finding, Leave, Order, Park, Photo, Site, ToleranceRecord, User, Visit,
)
from . import audit, lifecycle, photos as photo_service, policy as policy_service, sync
from .calendar import work_calendar

HISTORY_DAYS = 60
WORDS_FILE = Path(__file__).resolve().parent.parent / "data" / "demo_history.json"
PHOTO_SIZE = (640, 480)

# The teams' groups of parks: one team a day each, two certified officers of those parks.
GROUPS = (("EDZ", "BIGDATA"), ("AUTO",), ("CHEM",))
BACKGROUND_VISITS = {("EDZ", "BIGDATA"): (1, 2), ("AUTO",): (1, 2), ("CHEM",): (1, 2)}
# How many findings a visit records, and what the inspector's draw aims at (the tier itself is
# the classifier's): about 70% service, 20% management, 10% enforcement once escalations count.
FINDINGS_PER_VISIT = ((0, 30), (1, 42), (2, 22), (3, 6))
AIMS = (("advisory", 33), ("service", 40), ("management", 19), ("enforcement", 8))

# Catalogue rows the background draws from: (code, aim, severity, corrected on the spot, where).
# The facts are chosen so the row's rule decides (T1/T2 on the spot, X2/T4, X1/T5/E2 without the
# statutory minor flag); `where` names the sites it can be found at.
ROWS = (
    ("FIRE-EQUIP-FAULT", "service", "minor", True, "enterprise"),
    ("FIRE-EXIT-BLOCKED", "service", "minor", True, "enterprise"),
    ("FIRE-HYDRANT-BLOCKED", "service", "minor", True, "enterprise"),
    ("FIRE-LANE-BLOCKED", "service", "minor", True, "enterprise"),
    ("CITY-CARWASH", "service", "minor", True, "street"),
    ("MKT-LICENSE-DISPLAY", "service", "minor", True, "street"),
    ("FIRE-ELEC-WIRING", "management", "general", False, "enterprise"),
    ("FIRE-DUTY", "management", "general", False, "enterprise"),
    ("CITY-STORE-OUTSIDE", "management", "minor", False, "street"),
    ("CITY-SIGN-DISREPAIR", "management", "minor", False, "street"),
    ("OTH-SE-REGISTRATION", "management", "general", False, "industrial"),
    ("CON-ACCEPT-DOCS", "management", "general", False, "project"),
    ("SITE-WARN-SIGN", "management", "general", False, "project"),
    ("SITE-DORM-UNFINISHED", "management", "general", False, "project"),
    ("SAF-WARN-SIGN", "enforcement", "general", False, "enterprise"),
    ("SAF-PPE", "enforcement", "general", False, "industrial"),
    ("SAF-HOT-WORK", "enforcement", "serious", False, "industrial"),
    ("SAF-EMERG-PLAN", "enforcement", "general", False, "enterprise"),
    ("ENV-HW-LEDGER", "enforcement", "general", False, "polluting"),
    ("ENV-VOC-OPEN", "enforcement", "general", False, "polluting"),
    ("SAF-HAZARD-UNREMOVED", "enforcement", "major_hazard", False, "hazchem"),
    ("MKT-PRICE-TAG", "enforcement", "general", False, "street"),
    ("CITY-POSTER", "enforcement", "minor", False, "street"),
    ("SITE-DUST", "enforcement", "general", False, "project"),
    ("CON-NO-CONSTR-PERMIT", "enforcement", "serious", False, "project"),
)
# The checklist item a row's breach fails (none for rows no starting checklist covers).
ITEM_OF = {
    "SAF-WARN-SIGN": "SAF-004", "SAF-PPE": "SAF-010", "SAF-EMERG-PLAN": "SAF-011", "SAF-EXIT-BLOCKED": "SAF-012",
    "SAF-HOT-WORK": "SAF-009", "SAF-HAZARD-UNREMOVED": "SAF-008", "ENV-HW-LABEL": "ENV-009",
    "ENV-HW-LEDGER": "ENV-010", "ENV-VOC-OPEN": "ENV-007", "ENV-HIDDEN-PIPE": "ENV-012",
    "FIRE-EQUIP-FAULT": "FIRE-002", "FIRE-EXIT-BLOCKED": "FIRE-006", "FIRE-HYDRANT-BLOCKED": "FIRE-007",
    "FIRE-LANE-BLOCKED": "FIRE-008", "FIRE-ELEC-WIRING": "FIRE-009", "FIRE-DUTY": "FIRE-001",
    "CON-ACCEPT-DOCS": "CON-006", "CON-NO-CONSTR-PERMIT": "CON-004", "SITE-DUST": "CON-008",
    "SITE-WARN-SIGN": "CON-010", "SITE-DORM-UNFINISHED": "CON-011",
}
DOMAIN_OF_PREFIX = {"SAF": "safety", "ENV": "environment", "FIRE": "fire", "CON": "illegal_construction",
                    "SITE": None, "CITY": "city_appearance", "MKT": "market", "OTH": "other"}
SITE_ROW_DOMAINS = {"SITE-DUST": "environment", "SITE-NIGHT-WORK": "environment", "SITE-WARN-SIGN": "safety",
                    "SITE-DORM-UNFINISHED": "safety"}
DOMAIN_ZH = {"safety": "安全生产", "environment": "生态环境", "fire": "消防", "city_appearance": "市容",
             "illegal_construction": "违法建设", "market": "市场", "other": "其他"}
RISK_WEIGHT = {"low": 1.0, "medium": 2.0, "high": 3.0, "very_high": 4.0}
FIXES = (("on_site", 84), ("near", 7), ("off_site", 4), ("poor_fix", 4), ("no_fix", 1))
SCRIPTS = ("repeat_waived", "repeat_managed", "no_penalty_closing", "failed_reinspection", "overdue_order",
           "flag_pending", "flag_cleared", "case_notified")
CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)


class DemoHistoryError(RuntimeError):
    """A step of the demo's history was refused by the service that took it (a defect here)."""


def row_domain(code: str) -> str:
    """The catalogue row's domain, as the finding must claim it (the sync refuses another)."""
    return SITE_ROW_DOMAINS.get(code) or DOMAIN_OF_PREFIX[code.split("-", 1)[0]]


# --- the services' clock -----------------------------------------------------------------------


class _SimulatedClock:
    def __init__(self) -> None:
        self.at: dt.datetime | None = None

    def __call__(self) -> dt.datetime:
        return self.at


@contextlib.contextmanager
def _simulated_clock():
    """The services read this clock while the history is made (see the module's docstring)."""
    clock = _SimulatedClock()
    seams = ((lifecycle, "now"), (audit, "utcnow"), (photo_service, "utcnow"), (sync, "utcnow"))
    saved = [(module, name, getattr(module, name)) for module, name in seams]
    for module, name in seams:
        setattr(module, name, clock)
    try:
        yield clock
    finally:
        for module, name, original in saved:
            setattr(module, name, original)


@contextlib.contextmanager
def _one_transaction():
    """The field sync and the hourly sweep commit their own work (a phone's batch is durable
    before it is acknowledged; the job runs alone). Inside the demo their commits only flush:
    the caller commits the whole demo at once, or nothing of it."""
    session = db.session()
    session.commit = session.flush
    try:
        yield
    finally:
        del session.commit


def _sweep(day: dt.date) -> dict:
    """The hourly job's sweep as of `day`."""
    quiet = logging.getLogger("fieldcheck.lifecycle")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the scheduler reports the clocks once the demo runs
    try:
        return lifecycle.sweep_clocks(today=day)
    finally:
        quiet.setLevel(level)


# --- photos ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _font(size: int) -> tuple[ImageFont.ImageFont, bool]:
    """A font for the caption and whether it writes Chinese (else the caption stays ASCII)."""
    for path in CJK_FONTS:
        if Path(path).exists():
            try:
                return ImageFont.truetype(path, size), True
            except OSError:
                continue
    return ImageFont.load_default(size), False


def _dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60 * 10000)
    return IFDRational(degrees, 1), IFDRational(minutes, 1), IFDRational(seconds, 10000)


def make_photo(rng: random.Random, lines: tuple[str, str], ascii_lines: tuple[str, str],
               when: dt.datetime, gps: tuple[float, float] | None) -> bytes:
    """A small JPEG as a phone would send it: a plain scene with a caption, the capture time
    (local, with its offset) and the GPS position in EXIF."""
    im = Image.new("RGB", PHOTO_SIZE)
    draw = ImageDraw.Draw(im)
    sky = rng.randint(-20, 20)
    for y in range(0, 270, 10):
        c = 140 + y // 5 + sky
        draw.rectangle((0, y, PHOTO_SIZE[0], y + 10), fill=(c - 25, c + 5, min(255, c + 55)))
    ground = rng.randint(95, 135)
    draw.rectangle((0, 270, PHOTO_SIZE[0], PHOTO_SIZE[1]), fill=(ground, ground - 4, ground - 12))
    x, w, h = rng.randint(10, 220), rng.randint(220, 400), rng.randint(110, 210)
    wall = rng.choice(((205, 200, 190), (180, 190, 200), (210, 190, 170), (190, 190, 190)))
    draw.rectangle((x, 270 - h, x + w, 305), fill=wall, outline=(80, 80, 80))
    for wx in range(x + 14, x + w - 30, 42):
        for wy in range(270 - h + 14, 270, 36):
            draw.rectangle((wx, wy, wx + 24, wy + 18), fill=(70, 100, 130))
    for _ in range(rng.randint(2, 5)):  # what the photo is about: boxes, drums, a barrier
        bx, by = rng.randint(20, 560), rng.randint(300, 380)
        colour = rng.choice(((170, 120, 60), (200, 40, 40), (40, 110, 190), (230, 180, 40), (90, 140, 70)))
        draw.rectangle((bx, by, bx + rng.randint(30, 80), by + rng.randint(25, 50)), fill=colour,
                       outline=(40, 40, 40))
    font, chinese = _font(20)
    caption = lines if chinese else ascii_lines
    draw.rectangle((0, 416, PHOTO_SIZE[0], PHOTO_SIZE[1]), fill=(20, 20, 20))
    draw.text((12, 420), caption[0], font=font, fill=(255, 255, 255))
    draw.text((12, 447), caption[1], font=font, fill=(255, 225, 120))
    exif = Image.Exif()
    stamp = when.strftime("%Y:%m:%d %H:%M:%S")
    exif[0x0132] = stamp
    tags = exif.get_ifd(0x8769)
    tags[0x9003] = stamp
    tags[0x9011] = when.strftime("%z")[:3] + ":" + when.strftime("%z")[3:]
    if gps is not None:
        position = exif.get_ifd(0x8825)
        position[0] = b"\x02\x03\x00\x00"
        position[1], position[2] = "N", _dms(gps[1])
        position[3], position[4] = "E", _dms(gps[0])
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=80, exif=exif)
    return buf.getvalue()


# --- the history -------------------------------------------------------------------------------


def build_history(seed: int, today: dt.date) -> dict:
    """Make the history in the caller's transaction (no commit); answer a short summary."""
    with _simulated_clock() as clock, _one_transaction():
        return _History(seed, today, clock).run()


class _History:
    def __init__(self, seed: int, today: dt.date, clock: _SimulatedClock):
        self.rng = random.Random(f"fieldcheck demo history {seed}")
        self.clock = clock
        self.today = today
        self.words = json.loads(WORDS_FILE.read_text(encoding="utf-8"))
        self.policy = policy_service.values()
        self.tz = ZoneInfo(self.policy["timezone"])
        self.calendar = work_calendar()
        first = today - dt.timedelta(days=HISTORY_DAYS)
        self.days = [first + dt.timedelta(days=k) for k in range(HISTORY_DAYS)
                     if self.calendar.is_working_day(first + dt.timedelta(days=k))]
        # Working days after the history too, so a step planned beyond it has an index (and is
        # never taken: that is the state on `today`).
        future, day = [], self.days[-1] if self.days else today
        while len(future) < 120:
            day = self.calendar.next_working_day(day)
            future.append(day)
        self.all_days = self.days + future
        self.index = {d: i for i, d in enumerate(self.all_days)}
        self.users = {u.username: u for u in db.session.execute(sa.select(User).order_by(User.id)).scalars()}
        self.supervisor = {}
        for u in self.users.values():
            if u.role == "supervisor":
                for p in u.parks:
                    self.supervisor.setdefault(p.code, u)
        self.legal = next(u for u in self.users.values() if u.role == "legal_reviewer")
        codes = dict(db.session.execute(sa.select(Park.id, Park.code)).all())
        conflicted = {(c.user_id, c.site_id) for c in db.session.execute(sa.select(ConflictDeclaration)).scalars()}
        self.leaves = [(lv.user_id, lv.start_date, lv.end_date)
                       for lv in db.session.execute(sa.select(Leave)).scalars()]
        self.sites: dict[str, list[dict]] = {}
        for s in db.session.execute(sa.select(Site).order_by(Site.id)).scalars():
            point = to_shape(s.geom)
            self.sites.setdefault(codes[s.park_id], []).append({
                "id": s.id, "name": s.name, "park": codes[s.park_id], "kind": s.kind, "lon": point.x,
                "lat": point.y, "risk": s.risk_grade, "hazchem": s.is_hazchem or s.is_major_hazard,
                "polluter": s.is_key_polluter, "conflicts": {u for u, site in conflicted if site == s.id}})
        self.desk: dict[int, list] = {}
        self.field: dict[int, dict[tuple, list[dict]]] = {}
        self.used: set[tuple[int, str]] = set()
        self.last_visit: dict[int, int] = {}
        self.scripted: dict[str, list[str]] = {name: [] for name in SCRIPTS}

    # -- small helpers

    def _uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def _at(self, day: dt.date, minutes: int) -> dt.datetime:
        return dt.datetime(day.year, day.month, day.day, tzinfo=self.tz) + dt.timedelta(minutes=minutes)

    def _desk_on(self, index: int, step) -> None:
        """A supervisor's or reviewer's step on that working day's morning (never, beyond the history)."""
        if index < len(self.days):
            self.desk.setdefault(index, []).append(step)

    def _stop_on(self, index: int, park: str, stop: dict) -> None:
        group = next(g for g in GROUPS if park in g)
        self.field.setdefault(index, {}).setdefault(group, []).append(stop)

    def _act(self, finding_id: str, action: str, park: str, **fields):
        """An action taken as lifecycle.act takes it for the API (the finding locked, the actor's
        park checked), answering what the action made (an order) rather than the finding's
        summary, which the demo does not read."""
        actor = self.legal if action == "legal-review" else self.supervisor[park]
        finding = lifecycle.load(uuid.UUID(finding_id))
        check_park(actor, finding.park_id)
        return lifecycle.ACTIONS[action](finding, actor, commit=False, **fields)

    def _pick_site(self, park: str, where, taken: set[int]) -> dict:
        candidates = [s for s in self.sites[park] if where(s) and s["id"] not in taken and not s["conflicts"]]
        site = self.rng.choice(candidates)
        taken.add(site["id"])
        return site

    # -- the run

    def run(self) -> dict:
        self._script()
        for i, day in enumerate(self.days):
            self.clock.at = self._at(day, 5)
            _sweep(day)
            minute = 8 * 60
            for step in self.desk.pop(i, []):
                minute += 1
                self.clock.at = self._at(day, minute)
                step()
            self._field_day(i, day)
        self.clock.at = self._at(self.today, 5)
        last = _sweep(self.today)
        summary = self._summary(last)
        audit.record("demo.history", "demo", self.today.isoformat(), summary)
        return summary

    # -- the scripted states

    def _script(self) -> None:
        n = len(self.days)
        if n < 30:  # 60 days hold 34 working days at the least, even over the Spring Festival
            raise DemoHistoryError(f"{HISTORY_DAYS} days before {self.today} hold only {n} working days")
        taken: set[int] = set()
        enterprise = lambda s: s["kind"] == "enterprise"  # noqa: E731
        # A waiver (T1), the same breach again (no second waiver: T5), and a third time (E5).
        hydrant = self._pick_site("AUTO", enterprise, taken)
        self._scripted_visit(1, hydrant, "repeat_waived", "FIRE-HYDRANT-BLOCKED", "minor", True, self._close_on_spot)
        self._scripted_visit(int(n * 0.45), hydrant, "repeat_waived", "FIRE-HYDRANT-BLOCKED", "minor", False,
                             self._confirm_only)
        self._scripted_visit(n - 6, hydrant, "repeat_waived", "FIRE-HYDRANT-BLOCKED", "minor", False,
                             self._confirm_only)
        # Two orders that passed (T4), then a third finding of the type (E5).
        store = self._pick_site("EDZ", enterprise, taken)
        for index in (2, int(n * 0.4)):
            self._scripted_visit(index, store, "repeat_managed", "CITY-STORE-OUTSIDE", "minor", False,
                                 self._managed(tolerance=False))
        self._scripted_visit(n - 4, store, "repeat_managed", "CITY-STORE-OUTSIDE", "minor", False, self._confirm_only)
        # Not corrected on the spot (T1, no penalty if corrected): order, letter, re-inspection with
        # a photo by the deadline, closing with the tolerance record.
        self._scripted_visit(5, self._pick_site("BIGDATA", enterprise, taken), "no_penalty_closing",
                             "FIRE-EQUIP-FAULT", "minor", False, self._managed(tolerance=True))
        # Minor, harmless, corrected on the spot in an excluded domain (X1, flagged): cleared by the
        # legal reviewer and closed with an education record.
        self._scripted_visit(8, self._pick_site("CHEM", lambda s: enterprise(s) and s["hazchem"], taken),
                             "flag_cleared", "ENV-HW-LABEL", "minor", True, self._cleared)
        # A hidden discharge pipe (E3): filed as a case by two certified investigators, notified.
        self._scripted_visit(10, self._pick_site("CHEM", lambda s: enterprise(s) and s["polluter"], taken),
                             "case_notified", "ENV-HIDDEN-PIPE", "general", False, self._case, intentional=True)
        # A re-inspection that fails: escalated at once (E4).
        self._scripted_visit(n // 3, self._pick_site("EDZ", enterprise, taken), "failed_reinspection",
                             "CITY-SIGN-DISREPAIR", "minor", False, self._failing)
        # An order left without re-inspection: the hourly sweep finds it overdue once its window
        # closes, a few working days before `today`, and escalates the finding (E4).
        deadline = self._overdue_deadline()
        issue = max(1, self.index[deadline] - 6)
        self._scripted_visit(issue - 1, self._pick_site("CHEM", enterprise, taken), "overdue_order", "FIRE-DUTY",
                             "general", False, self._overdue(deadline))
        # Flagged for statutory minor review, waiting for the legal reviewer.
        self._scripted_visit(n - 3, self._pick_site("EDZ", enterprise, taken), "flag_pending", "SAF-EXIT-BLOCKED",
                             "minor", True, lambda *a: None)

    def _overdue_deadline(self) -> dt.date:
        """The deadline of the order left without re-inspection: its window closes a few working
        days before `today`, so the hourly sweep has found it overdue by then."""
        within = dt.timedelta(days=int(self.policy["reinspection_within_days"]))
        return next(d for d in reversed(self.days) if self.calendar.on_or_after(d + within) <= self.days[-3])

    def _scripted_visit(self, index: int, site: dict, script: str, code: str, severity: str, corrected: bool,
                        then, intentional: bool = False) -> None:
        self.used.add((site["id"], code))
        note = self.rng.choice(self.words["notes"][code])
        finding = {"code": code, "severity": severity, "corrected": corrected, "intentional": intentional,
                   "note": note, "photos": 1, "then": then, "script": script}
        self._stop_on(index, site["park"], {"site": site, "findings": [finding]})

    # -- what follows a finding (called with its receipt when it is stored)

    def _confirm(self, f: dict, i: int) -> int:
        c = i + self.rng.choice((1, 1, 1, 2))
        self._desk_on(c, lambda: self._act(f["id"], "confirm-tier", f["park"]))
        return c

    def _confirm_only(self, f: dict, i: int) -> None:
        self._confirm(f, i)

    def _close_on_spot(self, f: dict, i: int, lag: int = 0) -> None:
        c = self._confirm(f, i)
        education = self.rng.choice(self.words["education"])
        self._desk_on(c + lag, lambda: self._act(
            f["id"], "close", f["park"], education=education,
            conditions_confirmed=f["tolerance_path"] == "service_on_spot"))

    def _managed(self, tolerance: bool, fail: bool = False, within: int | None = None):
        """Confirmed, then an order (due `within` working days, else by the row's period)."""
        def then(f: dict, i: int) -> None:
            c = self._confirm(f, i)
            deadline = self.all_days[c + within] if within is not None else None
            self._desk_on(c, lambda: self._order(f, c, tolerance, fail, deadline, True))
        return then

    def _failing(self, f: dict, i: int) -> None:
        self._managed(tolerance=False, fail=True, within=6)(f, i)

    def _overdue(self, deadline: dt.date):
        def then(f: dict, i: int) -> None:
            self._desk_on(i + 1, lambda: self._act(f["id"], "confirm-tier", f["park"]))
            self._desk_on(i + 1, lambda: self._order(f, i + 1, False, False, deadline, reinspect=False))
        return then

    def _order(self, f: dict, c: int, tolerance: bool, fail: bool, deadline: dt.date | None, reinspect: bool) -> None:
        order = self._act(f["id"], "issue-order", f["park"], deadline=deadline, note="责令限期改正")
        letter = self.rng.choices(("signed", "refused", None), weights=(85, 10, 5))[0]
        if tolerance or fail or not reinspect:
            letter = "signed"
        if letter is not None:
            note = self.words["commitment_notes"][0 if letter == "signed" else 1]
            self._desk_on(c + 1, lambda: self._act(f["id"], "record-commitment", f["park"], commitment=letter,
                                                   note=note))
        if not reinspect:
            return
        d = self.index[order.deadline]
        low = max(c + 2, d - 2)
        high = d if (tolerance or fail) else d + 2
        r = self.rng.randint(low, max(low, high))
        while r > low and self.all_days[r] > order.reinspection_due:
            r -= 1
        outcome = "failed" if fail else "passed"
        self._stop_on(r, f["park"], {"site": f["site"], "order_id": order.id, "outcome": outcome,
                                     "finding_id": f["id"],
                                     "then": None if fail else (lambda i: self._closing_after(f, i, tolerance))})

    def _closing_after(self, f: dict, i: int, tolerance: bool) -> None:
        fields = {"note": "复查合格，结案"}
        if tolerance:
            fields.update(education=self.rng.choice(self.words["education"]), conditions_confirmed=True)
        self._desk_on(i + 1, lambda: self._act(f["id"], "close", f["park"], **fields))

    def _cleared(self, f: dict, i: int) -> None:
        self._desk_on(i + 2, lambda: self._act(f["id"], "legal-review", f["park"], outcome="no_penalty",
                                               reason=self.words["legal_review_no_penalty"]))
        education = self.rng.choice(self.words["education"])
        self._desk_on(i + 3, lambda: self._act(f["id"], "close", f["park"], education=education))

    def _case(self, f: dict, i: int) -> None:
        c = self._confirm(f, i)
        self._desk_on(c + 1, lambda: self._act(f["id"], "file-case", f["park"], investigator_ids=f["officers"][:2],
                                               note=self.words["case_note"]))
        self._desk_on(c + 4, lambda: self._act(f["id"], "case/notify", f["park"],
                                               statement=self.words["party_statement"],
                                               note=self.words["notify_note"]))

    def _background(self, f: dict, i: int) -> None:
        tier = f["tier"]
        if tier == "service":
            self._close_on_spot(f, i, lag=self.rng.choice((0, 0, 1, 2, 3)))
        elif tier == "management":
            self._managed(tolerance=False)(f, i)
        else:
            self._confirm(f, i)

    # -- a day in the field

    def _team(self, group: tuple, day: dt.date, busy: set[int]) -> list[User] | None:
        free = [u for u in self.users.values()
                if u.role == "inspector" and not u.auxiliary and u.active and u.id not in busy
                and u.certified_on(day) and any(p.code in group for p in u.parks)
                and not any(uid == u.id and a <= day <= b for uid, a, b in self.leaves)]
        if len(free) < 2:
            return None
        team = self.rng.sample(free, 2)
        busy.update(u.id for u in team)
        helper = self.users.get("aux01")
        if helper is not None and "EDZ" in group and self.rng.random() < 0.4:
            team.append(helper)  # auxiliary staff: recorded, never counted
        return team

    def _field_day(self, i: int, day: dt.date) -> None:
        busy: set[int] = set()
        planned = self.field.pop(i, {})
        events = []
        for group in GROUPS:
            stops = planned.get(group, [])
            team = self._team(group, day, busy)
            if team is None:  # nobody to send: the stops wait for the next working day
                if stops:
                    self.field.setdefault(i + 1, {}).setdefault(group, []).extend(stops)
                continue
            taken = {s["site"]["id"] for s in stops}
            park = group[0] if len(group) == 1 or self.rng.random() < 0.65 else group[1]
            low, high = BACKGROUND_VISITS[group]
            for _ in range(max(0, self.rng.randint(low, high) - len(stops) // 2)):
                site = self._background_site(park, team, i, taken)
                if site is not None:
                    stops.append({"site": site, "findings": self._background_findings(site)})
            minute = 9 * 60 + self.rng.randint(0, 25)
            for stop in stops:
                self.last_visit[stop["site"]["id"]] = i
                duration = self.rng.randint(20, 45)
                events.append(self._visit(i, day, team, stop, minute, duration))
                minute += duration + self.rng.randint(12, 35)
        for _, make in sorted(events, key=lambda e: e[0]):
            make()

    def _background_site(self, park: str, team: list[User], i: int, taken: set[int]) -> dict | None:
        ids = {u.id for u in team}
        candidates = [s for s in self.sites[park] if s["id"] not in taken and not (s["conflicts"] & ids)
                      and i - self.last_visit.get(s["id"], -99) > 20]
        if not candidates:
            return None
        weights = [RISK_WEIGHT[s["risk"]] * (1.5 if s["hazchem"] or s["polluter"] else 1.0) for s in candidates]
        site = self.rng.choices(candidates, weights=weights)[0]
        taken.add(site["id"])
        return site

    @staticmethod
    def _fits(where: str, site: dict) -> bool:
        if where == "project":
            return site["kind"] == "project_site"
        if site["kind"] != "enterprise":
            return False
        return {"enterprise": True, "street": site["park"] in ("EDZ", "BIGDATA"),
                "industrial": site["park"] != "BIGDATA",
                "polluting": site["polluter"] or site["hazchem"] or site["park"] in ("CHEM", "AUTO"),
                "hazchem": site["hazchem"]}[where]

    def _background_findings(self, site: dict) -> list[dict]:
        count = self.rng.choices([n for n, _ in FINDINGS_PER_VISIT], weights=[w for _, w in FINDINGS_PER_VISIT])[0]
        findings, codes = [], set()
        for _ in range(count):
            aim = self.rng.choices([a for a, _ in AIMS], weights=[w for _, w in AIMS])[0]
            rows = [r for r in ROWS if r[1] == aim and self._fits(r[4], site) and (site["id"], r[0]) not in self.used
                    and r[0] not in codes]
            if aim == "advisory" or not rows:
                findings.append(self._advisory(site))
                continue
            code, _, severity, corrected, _ = self.rng.choice(rows)
            self.used.add((site["id"], code))
            codes.add(code)
            findings.append({"code": code, "severity": severity, "corrected": corrected, "intentional": False,
                             "note": self.rng.choice(self.words["notes"][code]), "then": self._background,
                             "photos": {"service": 1 if self.rng.random() < 0.4 else 0,
                                        "management": 1 if self.rng.random() < 0.8 else 0,
                                        "enforcement": self.rng.choice((1, 1, 2))}[aim]})
        return findings

    def _advisory(self, site: dict) -> dict:
        if site["kind"] == "project_site":
            domains = ["illegal_construction", "safety", "environment"]
        else:
            domains = ["safety", "safety", "fire", "fire", "city_appearance"]
            if self._fits("polluting", site):
                domains.append("environment")
        domain = self.rng.choice(domains)
        return {"code": None, "domain": domain, "severity": "advisory", "corrected": False, "intentional": False,
                "note": self.rng.choice(self.words["advisory"][domain]), "then": self._background,
                "photos": 1 if self.rng.random() < 0.2 else 0}

    def _fix(self, site: dict, reinspection: bool) -> tuple[str, dict | None]:
        kind = "on_site" if reinspection else self.rng.choices([k for k, _ in FIXES], weights=[w for _, w in FIXES])[0]
        if kind == "no_fix":
            return kind, None
        distance, accuracy = {
            "on_site": (self.rng.uniform(3, 95), self.rng.uniform(4, 25)),
            "near": (self.rng.uniform(170, 280), self.rng.uniform(6, 20)),
            "off_site": (self.rng.uniform(500, 1600), self.rng.uniform(5, 15)),
            "poor_fix": (self.rng.uniform(20, 160), self.rng.uniform(65, 240)),
        }[kind]
        lon, lat = destination(site["lon"], site["lat"], self.rng.uniform(0, 360), distance)
        return kind, {"lon": round(lon, 7), "lat": round(lat, 7), "accuracy_m": round(accuracy, 1)}

    def _results(self, site: dict, failing: set[str]) -> list[dict]:
        """The checklist results of a visit: a sample of the site's lists, the findings' items failed."""
        if site["kind"] == "project_site":
            items = [f"CON-{k:03d}" for k in range(1, 12)] + self.rng.sample([f"SAF-{k:03d}" for k in range(1, 13)], 3)
        else:
            items = (self.rng.sample([f"SAF-{k:03d}" for k in range(1, 13)], self.rng.randint(5, 8))
                     + self.rng.sample([f"FIRE-{k:03d}" for k in range(1, 12)], self.rng.randint(4, 7)))
            if self._fits("polluting", site):
                items += self.rng.sample([f"ENV-{k:03d}" for k in range(1, 13)], self.rng.randint(3, 6))
        items = sorted(set(items) | failing)
        return [{"item": item, "outcome": "fail" if item in failing else ("na" if self.rng.random() < 0.06 else "pass")}
                for item in items]

    def _visit(self, i: int, day: dt.date, team: list[User], stop: dict, minute: int, duration: int):
        """Plan one visit (every draw made now, in order) and answer (receive time, store it)."""
        site = stop["site"]
        lead = next(u for u in team if not u.auxiliary and site["park"] in [p.code for p in u.parks])
        reinspection = "order_id" in stop
        started = self._at(day, minute)
        finished = started + dt.timedelta(minutes=duration)
        evening = self.rng.random() < 0.15 and not reinspection
        received = finished + dt.timedelta(minutes=self.rng.randint(1, 20))
        if evening:  # no signal at the site: the phone sent it from home
            received = max(received, self._at(day, self.rng.randint(18 * 60, 21 * 60)))
        verdict, fix = self._fix(site, reinspection)
        vid = self._uuid()
        findings, photos = [], []
        for spec in stop.get("findings", []):
            fid = self._uuid()
            pids = [self._uuid() for _ in range(spec["photos"])]
            code = spec["code"]
            findings.append((spec, {
                "id": str(fid), "item": ITEM_OF.get(code) if code else None, "violation_code": code,
                "domain": row_domain(code) if code else spec["domain"], "severity": spec["severity"],
                "harm": "none", "intentional": spec["intentional"], "obstruction": False, "suspected_crime": False,
                "no_fault_proven": False, "corrected_on_spot": spec["corrected"], "note": spec["note"],
                "photo_ids": [str(p) for p in pids]}))
            label = (code, code) if code else (f"{DOMAIN_ZH[spec['domain']]} · 建议", f"{spec['domain']} advice")
            photos += [(p, {"finding_id": fid, "purpose": "finding"}, label) for p in pids]
        visit_photos = [self._uuid()] if reinspection else []
        photos += [(p, {"finding_id": uuid.UUID(stop["finding_id"]), "purpose": "reinspection"},
                    ("复查", "re-inspection")) for p in visit_photos]
        failing = {f["item"] for _, f in findings if f["item"]}
        kind = "reinspection" if reinspection else (
            "key" if (site["hazchem"] or site["polluter"]) and self.rng.random() < 0.7
            else "random" if self.rng.random() < 0.12 else "routine")
        record = {
            "id": str(vid), "site_id": site["id"], "kind": kind, "plan_stop_id": None,
            "officer_ids": [u.id for u in team], "certificates_shown": True,
            "started_at": started.isoformat(), "finished_at": finished.isoformat(), "location": fix,
            "results": [] if reinspection else self._results(site, failing),
            "findings": [f for _, f in findings],
            "record": {"party_signature_photo_id": None, "party_refused": self.rng.random() < 0.03},
            "order_id": stop.get("order_id"), "outcome": stop.get("outcome"),
            "photo_ids": [str(p) for p in visit_photos],
            "note": self.rng.choice(self.words["reinspection_notes"][stop["outcome"]]) if reinspection else "",
        }
        # The photos' pixels are drawn now too, so the draws stay in planning order.
        images = []
        for k, (pid, meta, label) in enumerate(photos):
            taken_at = started + dt.timedelta(minutes=3 + 2 * k)
            gps = None
            if fix is not None:
                gps = destination(fix["lon"], fix["lat"], self.rng.uniform(0, 360), self.rng.uniform(0, 6))
            stamp = f"{taken_at:%Y-%m-%d %H:%M}"
            data = make_photo(self.rng, (site["name"], f"{stamp}  {label[0]}"),
                              (f"{site['park']} site {site['id']}", f"{stamp}  {label[1]}"), taken_at, gps)
            claim = {**meta, "captured_at": taken_at}
            if fix is not None:
                claim.update(lon=fix["lon"], lat=fix["lat"], accuracy_m=fix["accuracy_m"])
            images.append((pid, data, claim))

        def store() -> None:
            self.clock.at = received
            (result,) = sync.sync_batch(f"demo-{lead.username}", [record], lead)["results"]
            if result["status"] != "created":
                raise DemoHistoryError(f"the demo's visit to {site['name']} on {day} was {result['status']}: "
                                       f"{result.get('message')}")
            receipt = result["visit"]
            actor = photo_service.Actor.of(lead)
            for k, (pid, data, claim) in enumerate(images):
                self.clock.at = received + dt.timedelta(seconds=20 * (k + 1))
                photo_service.ingest_bytes(pid, data, claim, actor)
            for (spec, _), stored in zip(findings, receipt["findings"]):
                f = {"id": stored["id"], "park": site["park"], "site": site, "tier": stored["final_tier"],
                     "tolerance_path": stored["tolerance_path"], "officers": [u.id for u in team if not u.auxiliary]}
                if spec.get("script"):
                    self.scripted[spec["script"]].append(stored["id"])
                spec["then"](f, i)
            if reinspection and stop["then"] is not None:
                stop["then"](i)

        return received, store

    # -- what the history holds

    def _summary(self, last_sweep: dict) -> dict:
        def count(*columns, where=None):
            stmt = sa.select(*columns, sa.func.count()).group_by(*columns)
            if where is not None:
                stmt = stmt.where(where)
            return {"/".join(str(v) for v in row[:-1]): row[-1] for row in db.session.execute(stmt)}

        visits = db.session.execute(sa.select(sa.func.count(Visit.id))).scalar_one()
        return {
            "from": self.days[0].isoformat(), "to": self.days[-1].isoformat(), "working_days": len(self.days),
            "visits": visits, "on_site": count(Visit.geofence),
            "findings": sum(count(Finding.final_tier).values()), "final_tiers": count(Finding.final_tier),
            "statuses": count(Finding.status), "orders": count(Order.status), "cases": count(Case.status),
            "tolerance_records": db.session.execute(sa.select(sa.func.count(ToleranceRecord.id))).scalar_one(),
            "photos": db.session.execute(sa.select(sa.func.count(Photo.id)).where(Photo.status == "stored"))
            .scalar_one(),
            "escalated_today": last_sweep["escalated"], "scripted": self.scripted,
        }
