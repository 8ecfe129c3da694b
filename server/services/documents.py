"""Official documents as PDF: the rectification notice of an order and the inspection record of
a visit (docs/documents.md).

The words come from server/domain/documents.py; this module gathers the facts, gives an
inspection record its number the first time it is asked for, and lays the words out on A4 pages
with fpdf2: the title centred, the number under it, the fields, the findings with their legal
basis, the photos with when and where they were taken, the signature lines and the seal area,
and a QR code that opens the finding (or the visit) in the app for staff.

Reproducible: the same data gives the same bytes. The PDF's creation date is the document's
date, its file id is a hash of its content (fpdf2's default), the font is subset the same way
every time, photos are embedded as the stored JPEG bytes, and the QR code is drawn as squares.
The font must have the Chinese glyphs: FIELDCHECK_PDF_FONT, or one of the Debian fonts in
FONT_CANDIDATES (scripts/setup.sh installs fonts-wqy-microhei); without one the request is
refused at once with a message that says what to install.
"""
from __future__ import annotations

import datetime as dt
import functools
import io
import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from flask import current_app, request
from fpdf import FPDF
from fpdf.enums import TextMode
from geoalchemy2.shape import to_shape
from sqlalchemy.exc import IntegrityError

from ..db import write_intent
from ..domain import documents as words
from ..domain.lifecycle import document_number
from ..domain.policy import default_policy
from ..extensions import db
from ..models import (
    ChecklistItem, ChecklistTemplate, Finding, InspectionRecordNumber, Office, Order, Photo, PolicyVersion, Site, User,
    ViolationType, Visit, visit_officers,
)
from ..models.types import utcnow
from ..storage import StorageUnavailable, derived_key, photo_store
from . import audit, numbering
from .errors import NotFound, ServiceError

log = logging.getLogger("fieldcheck.documents")

# Debian's fonts with TrueType or CFF outlines fpdf2 embeds and subsets; the first that exists is used.
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # fonts-wqy-microhei (scripts/setup.sh)
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # fonts-wqy-zenhei
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # fonts-noto-cjk
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
)
# Characters every document prints: a font without them cannot set these documents.
PROBE = "责令限期整改通知书现场检查笔录执法证号当事人签字"
DEFAULT_AUTHORITY = "综合行政执法局"
FONT = "doc"


@dataclass(frozen=True)
class Rendered:
    pdf: bytes
    filename: str
    ascii_filename: str
    number: str


# --- the font ------------------------------------------------------------------------------------


def font_path(configured: str | None = None) -> str:
    """The font file to set the documents in, checked to have the Chinese glyphs; a 503 that
    says what to install or set when there is none."""
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise ServiceError(f"FIELDCHECK_PDF_FONT names {configured}, which is not a file: point it at a TTF, "
                               "OTF or TTC font with Chinese glyphs", status=503)
        _check_glyphs(str(path), os.path.getmtime(path))
        return str(path)
    for candidate in FONT_CANDIDATES:
        if os.path.isfile(candidate):
            _check_glyphs(candidate, os.path.getmtime(candidate))
            return candidate
    raise ServiceError("no font with Chinese glyphs is installed, so no document can be made: install Debian's "
                       "fonts-wqy-microhei (apt-get install -y fonts-wqy-microhei, as scripts/setup.sh does) or set "
                       "FIELDCHECK_PDF_FONT to a TTF, OTF or TTC font file", status=503)


@functools.lru_cache(maxsize=8)
def _check_glyphs(path: str, _mtime: float) -> None:
    from fontTools.ttLib import TTFont

    try:
        font = TTFont(path, fontNumber=0, lazy=True)
        cmap = font.getBestCmap() or {}
    except Exception as err:  # noqa: BLE001 - any unreadable file is the same mistake
        raise ServiceError(f"the document font {path} cannot be read ({err}): set FIELDCHECK_PDF_FONT to a TTF, OTF "
                           "or TTC font", status=503) from None
    missing = [ch for ch in PROBE if ord(ch) not in cmap]
    if missing:
        raise ServiceError(f"the document font {path} has no Chinese glyphs (it lacks {''.join(missing[:6])}): "
                           "install fonts-wqy-microhei or set FIELDCHECK_PDF_FONT to a font that has them",
                           status=503)


# --- facts from the database ---------------------------------------------------------------------


def _policy() -> dict:
    row = db.session.execute(
        sa.select(PolicyVersion.values).order_by(PolicyVersion.version.desc()).limit(1)).scalar()
    return {**default_policy(), **(row or {})}


def _authority() -> tuple[str, str]:
    office = db.session.execute(sa.select(Office).order_by(Office.is_default.desc(), Office.id).limit(1)).scalar()
    if office is None:
        return DEFAULT_AUTHORITY, ""
    return office.name_zh or DEFAULT_AUTHORITY, office.address or ""


def base_url() -> str:
    """Where staff open the app: FIELDCHECK_PUBLIC_URL, else the address this request came to."""
    configured = current_app.config.get("PUBLIC_URL")
    return (configured or request.host_url).rstrip("/")


def _party(site: Site) -> words.Party:
    contact = " ".join(x for x in (site.contact_name, site.contact_phone) if x)
    return words.Party(name=site.name, credit_code=site.credit_code, address=site.address or "", contact=contact)


def _place(site: Site) -> str:
    return site.address or site.name


def _officers(visit: Visit) -> list[words.Officer]:
    rows = db.session.execute(
        sa.select(User, visit_officers.c.counted).join(visit_officers, visit_officers.c.user_id == User.id)
        .where(visit_officers.c.visit_id == visit.id).order_by(User.id)).all()
    # Certified on the day (counted) first, then the others, each in id order.
    rows = sorted(rows, key=lambda r: (not r.counted, r.User.id))
    return [words.Officer(name=u.name, certificate_no=u.certificate_no if counted else None,
                          auxiliary=u.auxiliary or not counted) for u, counted in rows]


def _breach(finding: Finding) -> words.Breach:
    vt = db.session.get(ViolationType, finding.violation_type_id) if finding.violation_type_id else None
    if vt is None:
        return words.Breach(code=None, name_zh=finding.note or "（未列入违法行为目录的问题）", violated="", penalty="",
                            corrected_on_spot=finding.corrected_on_spot)
    return words.Breach(code=vt.code, name_zh=vt.name_zh, violated=vt.violated_provision,
                        penalty=vt.penalty_provision, penalty_range=vt.penalty_range_zh, note=finding.note or "",
                        corrected_on_spot=finding.corrected_on_spot)


def _photo_facts(photo: Photo) -> words.PhotoFacts:
    lon = lat = None
    accuracy = None
    if photo.fix is not None:
        point = to_shape(photo.fix)
        lon, lat, accuracy = point.x, point.y, photo.fix_accuracy_m
    elif photo.exif_lon is not None and photo.exif_lat is not None:
        lon, lat = photo.exif_lon, photo.exif_lat
    return words.PhotoFacts(id=str(photo.id), captured_at=photo.captured_at or photo.exif_captured_at, lon=lon,
                            lat=lat, accuracy_m=accuracy, purpose=photo.purpose or "")


def _photo_bytes(photos: list[Photo]) -> dict[str, bytes | None]:
    """The thumbnails of the stored photos (None: not arrived, or missing from the store)."""
    store = photo_store()
    out: dict[str, bytes | None] = {}
    for p in photos:
        out[str(p.id)] = None
        if p.status != "stored" or not p.sha256:
            continue
        try:
            stream, _size = store.open(derived_key(p.sha256, "thumb"))
            try:
                out[str(p.id)] = stream.read()
            finally:
                stream.close()
        except FileNotFoundError:
            log.error("photo %s: its thumbnail is missing from the store", p.id)
        except (StorageUnavailable, OSError):
            raise ServiceError("the photo store cannot be reached right now, so the document cannot be made; "
                               "try again later", status=503) from None
    return out


def _ordered_photos(where) -> list[Photo]:
    return list(db.session.execute(sa.select(Photo).where(where).order_by(
        Photo.captured_at.is_(None), Photo.captured_at, Photo.id)).scalars())


# --- who may have which document -----------------------------------------------------------------


def _check_park(user: User, park_id: int) -> None:
    if user.role != "admin" and park_id not in set(user.park_ids):
        raise ServiceError("this document belongs to a park you are not assigned to", status=403)


def _visit_park(visit: Visit) -> int:
    return db.session.execute(sa.select(Site.park_id).where(Site.id == visit.site_id)).scalar_one()


def _officer_of(visit: Visit, user: User) -> bool:
    if visit.recorded_by == user.id:
        return True
    return db.session.execute(sa.select(visit_officers.c.user_id).where(
        visit_officers.c.visit_id == visit.id, visit_officers.c.user_id == user.id)).first() is not None


# --- the rectification notice --------------------------------------------------------------------


def notice(order_id: int, user: User) -> Rendered:
    """The rectification notice of an order: staff of the finding's park who work on it
    (inspectors serve it and re-inspect, supervisors issue it, legal reviewers check it) and admins."""
    order = db.session.get(Order, order_id)
    if order is None:
        raise NotFound(f"there is no order {order_id}")
    finding = db.session.get(Finding, order.finding_id)
    _check_park(user, finding.park_id)
    font = font_path(current_app.config.get("PDF_FONT"))
    policy = _policy()
    visit = db.session.get(Visit, finding.visit_id)
    site = db.session.get(Site, finding.site_id)
    authority, address = _authority()
    issuer = db.session.get(User, order.issued_by)
    photos = _ordered_photos(Photo.finding_id == finding.id)
    facts = words.NoticeFacts(
        authority=authority, authority_address=address, number=order.number, issued_at=order.issued_at,
        party=_party(site), place=_place(site), found_at=finding.discovered_at, breach=_breach(finding),
        deadline=order.deadline, reinspection_due=order.reinspection_due, officers=_officers(visit),
        issued_by=issuer.name if issuer else "", photos=[_photo_facts(p) for p in photos],
        url=f"{base_url()}/#/finding/{finding.id}", timezone=policy["timezone"])
    doc = words.notice(facts)
    return Rendered(render(doc, font, _photo_bytes(photos), policy["timezone"]), doc.filename, doc.ascii_filename,
                    doc.number)


# --- the inspection record -----------------------------------------------------------------------


def record(visit_id: uuid.UUID, user: User) -> Rendered:
    """The inspection record of a visit: supervisors, legal reviewers and admins of its park, and
    the inspectors who made it (its officers and the one who recorded it)."""
    visit = db.session.get(Visit, visit_id)
    if visit is None:
        raise NotFound(f"there is no visit {visit_id}")
    _check_park(user, _visit_park(visit))
    if user.role == "inspector" and not _officer_of(visit, user):
        raise ServiceError("an inspector may have the records of the visits they made; this visit is another "
                           "team's", status=403)
    font = font_path(current_app.config.get("PDF_FONT"))
    policy = _policy()
    numbered = record_number(visit, user, policy)
    site = db.session.get(Site, visit.site_id)
    authority, _address = _authority()
    findings = list(db.session.execute(sa.select(Finding).where(Finding.visit_id == visit.id)
                                       .order_by(Finding.discovered_at, Finding.id)).scalars())
    photos = _ordered_photos(sa.and_(Photo.visit_id == visit.id, Photo.purpose != "party_signature"))
    signature = None
    if visit.party_signature_photo_id is not None:
        signature = db.session.get(Photo, visit.party_signature_photo_id)
    texts = _item_texts(visit, [r.item_code for r in visit.results])
    checks = [words.CheckLine(code=r.item_code, text=texts.get(r.item_code, ""), outcome=r.outcome)
              for r in sorted(visit.results, key=lambda r: r.item_code)]
    fix = None
    if visit.fix is not None:
        point = to_shape(visit.fix)
        fix = (point.x, point.y)
    facts = words.RecordFacts(
        authority=authority, number=numbered.number, visit_kind=visit.kind, started_at=visit.started_at,
        finished_at=visit.finished_at, party=_party(site), place=_place(site), fix=fix,
        fix_accuracy_m=visit.fix_accuracy_m, distance_m=visit.distance_m, geofence=visit.geofence,
        officers=_officers(visit), certificates_shown=visit.certificates_shown, checks=checks,
        breaches=[_breach(f) for f in findings], photos=[_photo_facts(p) for p in photos],
        signature_photo=str(signature.id) if signature is not None and signature.status == "stored" else None,
        party_refused=visit.party_refused, url=f"{base_url()}/#/visit/{visit.id}", timezone=policy["timezone"])
    doc = words.record(facts, numbered.seq)
    images = _photo_bytes(photos + ([signature] if signature is not None else []))
    return Rendered(render(doc, font, images, policy["timezone"]), doc.filename, doc.ascii_filename, doc.number)


def _item_texts(visit: Visit, codes: list[str]) -> dict[str, str]:
    """What each checklist item asks: from the visit's template version when it names one, else
    from the newest version that has the item."""
    if not codes:
        return {}
    stmt = (sa.select(ChecklistItem.code, ChecklistItem.text_zh).join(ChecklistTemplate)
            .where(ChecklistItem.code.in_(sorted(set(codes)))).order_by(ChecklistTemplate.version))
    if visit.checklist_template_id is not None:
        stmt = stmt.where(ChecklistItem.template_id == visit.checklist_template_id)
    return dict(db.session.execute(stmt).all())  # the newest version's text wins


def record_number(visit: Visit, user: User, policy: dict) -> InspectionRecordNumber:
    """The record's number, given once: the first request takes the next of its year (the year of
    the visit's day) in a write transaction of its own; every later one reads it."""
    found = db.session.get(InspectionRecordNumber, visit.id)
    if found is not None:
        return found
    visit_id = visit.id
    year = words.local(visit.started_at, policy["timezone"]).year
    prefix = policy["record_number_prefix"]
    db.session.commit()  # end the read; the write below takes SQLite's lock at its BEGIN
    token = write_intent.set(True)
    try:
        found = db.session.get(InspectionRecordNumber, visit_id, populate_existing=True)
        if found is not None:
            return found
        try:
            seq = numbering.next_seq("record", year)
            row = InspectionRecordNumber(visit_id=visit_id, number=document_number(prefix, year, seq), year=year,
                                         seq=seq, numbered_at=utcnow(), numbered_by=user.id)
            db.session.add(row)
            db.session.flush()
        except IntegrityError:
            # Another request numbered this visit at the same moment: its number stands (and this
            # transaction's counter step is rolled back, so no number is skipped).
            db.session.rollback()
            return db.session.get(InspectionRecordNumber, visit_id)
        audit.record("record.number", "visit", visit_id, {"number": row.number, "year": year, "seq": seq}, user.id)
        db.session.commit()
        return row
    finally:
        write_intent.reset(token)


# --- the page ------------------------------------------------------------------------------------

A4_W, A4_H = 210.0, 297.0
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 22.0, 16.0, 22.0
BODY = 11.5  # pt
LINE = 6.6  # mm between baselines of body text
PT = 0.3528  # mm per point


class _Page(FPDF):
    def __init__(self, doc: words.Document, font: str, timezone: str):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.doc = doc
        self.set_margins(MARGIN_X, MARGIN_TOP, MARGIN_X)
        self.set_auto_page_break(False)
        self.add_font(FONT, "", font)
        # The document's date, midnight where the bureau is: the same data, the same bytes.
        day = dt.datetime.combine(doc.date, dt.time(), tzinfo=words.ZoneInfo(timezone))
        self.set_creation_date(day)
        self.set_title(f"{doc.title} {doc.number}")
        self.set_author(doc.authority)
        self.set_subject(doc.title)
        self.set_keywords(" ".join(k for k in doc.keywords if k))
        self.set_creator("fieldcheck")
        self.set_lang("zh-CN")
        self.set_text_color(0, 0, 0)
        self.set_draw_color(0, 0, 0)

    # text helpers

    def width_of(self, text: str, size: float) -> float:
        self.set_font(FONT, size=size)
        return self.get_string_width(text)

    def put(self, x: float, baseline: float, text: str, size: float, bold: bool = False) -> None:
        self.set_font(FONT, size=size)
        if bold:  # the font has one weight: stroke the outlines too
            self.set_line_width(size * 0.012)
            self.text_mode = TextMode.FILL_STROKE
        self.text(x, baseline, text)
        if bold:
            self.text_mode = TextMode.FILL
            self.set_line_width(0.2)

    def centred(self, baseline: float, text: str, size: float, bold: bool = False) -> None:
        w = self.width_of(text, size)
        self.put((A4_W - w) / 2, baseline, text, size, bold)

    def right(self, baseline: float, text: str, size: float, x_right: float = A4_W - MARGIN_X) -> None:
        self.put(x_right - self.width_of(text, size), baseline, text, size)

    def lines(self, text: str, width: float, size: float) -> list[str]:
        self.set_font(FONT, size=size)
        return words.wrap(text, width, self.get_string_width)

    def room(self, height: float) -> None:
        """Start a new page unless `height` more millimetres fit on this one."""
        if self.y + height > A4_H - MARGIN_BOTTOM:
            self.add_page()
            self.y = MARGIN_TOP + 4

    def footer(self) -> None:
        self.set_draw_color(120, 120, 120)
        self.set_line_width(0.2)
        self.line(MARGIN_X, A4_H - 15, A4_W - MARGIN_X, A4_H - 15)
        self.set_text_color(60, 60, 60)
        self.put(MARGIN_X, A4_H - 10.5, self.doc.footer, 8)
        # cell(), not text(): fpdf2 puts the page count in for {nb} only in cells.
        self.set_font(FONT, size=8)
        self.set_xy(A4_W - MARGIN_X - 40, A4_H - 13.4)
        self.cell(40, 4, f"第 {self.page_no()} 页 共 {{nb}} 页", align="R")
        self.set_text_color(0, 0, 0)
        self.set_draw_color(0, 0, 0)


def render(doc: words.Document, font: str, images: dict[str, bytes | None], timezone: str) -> bytes:
    pdf = _Page(doc, font, timezone)
    pdf.add_page()
    _head(pdf, doc)
    for block in doc.blocks:
        _block(pdf, block)
    _signatures(pdf, doc, images)
    _photos(pdf, doc, images)
    return bytes(pdf.output())


def _head(pdf: _Page, doc: words.Document) -> None:
    _qr(pdf, doc.url, A4_W - MARGIN_X - 24, MARGIN_TOP - 4, 24)
    pdf.set_text_color(60, 60, 60)
    cap_w = pdf.width_of(doc.url_caption, 6.5)
    pdf.put(A4_W - MARGIN_X - 12 - cap_w / 2, MARGIN_TOP + 23.5, doc.url_caption, 6.5)
    pdf.set_text_color(0, 0, 0)
    pdf.centred(MARGIN_TOP + 12, doc.authority, 16, bold=True)
    pdf.centred(MARGIN_TOP + 27, doc.title, 22, bold=True)
    pdf.right(MARGIN_TOP + 38, doc.number, 12)
    pdf.set_line_width(0.5)
    pdf.line(MARGIN_X, MARGIN_TOP + 42, A4_W - MARGIN_X, MARGIN_TOP + 42)
    pdf.set_line_width(0.2)
    pdf.y = MARGIN_TOP + 50


def _block(pdf: _Page, b: words.Block) -> None:
    full = A4_W - 2 * MARGIN_X
    em = BODY * PT  # one Chinese character's width
    if b.kind == "heading":
        pdf.room(LINE * 2.2)
        pdf.y += LINE * 0.3
        pdf.put(MARGIN_X, pdf.y + em, b.text, BODY + 0.5, bold=True)
        pdf.y += LINE
        return
    if b.kind == "table":
        _table(pdf, b.rows)
        return
    if b.kind in ("field", "sub"):
        indent = 2 * em if b.kind == "sub" else 0.0
        label_w = pdf.width_of(b.label, BODY)
        x0 = MARGIN_X + indent
        lines = pdf.lines(b.text, full - indent - label_w, BODY)
        for i, line in enumerate(lines):
            pdf.room(LINE)
            if i == 0:
                pdf.put(x0, pdf.y + em, b.label, BODY, bold=b.kind == "field")
            pdf.put(x0 + label_w, pdf.y + em, line, BODY)
            pdf.y += LINE
        return
    if b.kind == "item":
        indent = 2 * em
        lines = pdf.lines(b.text, full - indent, BODY)
        for line in lines:
            pdf.room(LINE)
            pdf.put(MARGIN_X + indent, pdf.y + em, line, BODY, bold=True)
            pdf.y += LINE
        return
    if b.kind == "addressee":
        pdf.room(LINE * 1.5)
        pdf.put(MARGIN_X, pdf.y + em, b.text, BODY + 1, bold=True)
        pdf.y += LINE * 1.2
        return
    # para: the first line indented by two characters (the indent is text, so wrapping counts it)
    lines = pdf.lines("\u3000\u3000" + b.text, full, BODY)
    for line in lines:
        pdf.room(LINE)
        pdf.put(MARGIN_X, pdf.y + em, line, BODY)
        pdf.y += LINE


def _table(pdf: _Page, rows: tuple[tuple[str, ...], ...]) -> None:
    full = A4_W - 2 * MARGIN_X
    size = BODY - 1.5
    em = size * PT
    widths = (12.0, full - 12.0 - 22.0, 22.0)
    line_h = 5.2
    pad = 1.4

    def row_height(cells) -> tuple[list[list[str]], float]:
        wrapped = [pdf.lines(c, w - 2 * pad, size) for c, w in zip(cells, widths)]
        return wrapped, max(len(w) for w in wrapped) * line_h + 2 * pad

    def draw(cells, header: bool) -> None:
        wrapped, h = row_height(cells)
        x = MARGIN_X
        if header:
            pdf.set_fill_color(235, 235, 235)
        for w, lines in zip(widths, wrapped):
            pdf.rect(x, pdf.y, w, h, style="DF" if header else "D")
            for i, line in enumerate(lines):
                pdf.put(x + pad, pdf.y + pad + i * line_h + em, line, size, bold=header)
            x += w
        pdf.y += h

    header = rows[0]
    pdf.set_line_width(0.2)
    _, hh = row_height(header)
    pdf.room(hh + 12)
    draw(header, True)
    for cells in rows[1:]:
        _, h = row_height(cells)
        if pdf.y + h > A4_H - MARGIN_BOTTOM:
            pdf.add_page()
            pdf.y = MARGIN_TOP + 4
            draw(header, True)
        draw(cells, False)
    pdf.y += 2


def _image(pdf: _Page, data: bytes, x: float, y: float, w: float, h: float) -> None:
    """The image fitted into the box, centred, its proportions kept."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        iw, ih = im.size
    scale = min(w / iw, h / ih)
    dw, dh = iw * scale, ih * scale
    pdf.image(io.BytesIO(data), x + (w - dw) / 2, y + (h - dh) / 2, dw, dh)


def _photos(pdf: _Page, doc: words.Document, images: dict[str, bytes | None]) -> None:
    if not doc.photos:
        return
    full = A4_W - 2 * MARGIN_X
    per_row, gap = 3, 5.0
    w = (full - gap * (per_row - 1)) / per_row
    h = w * 0.75
    cap = 3.6
    pdf.room(LINE * 1.5 + h + 3 * cap)
    pdf.y += LINE * 0.3
    pdf.put(MARGIN_X, pdf.y + BODY * PT, doc.photo_heading, BODY + 0.5, bold=True)
    pdf.y += LINE * 1.1
    for start in range(0, len(doc.photos), per_row):
        row = doc.photos[start:start + per_row]
        pdf.room(h + 3 * cap + 2)
        top = pdf.y
        for i, caption in enumerate(row):
            x = MARGIN_X + i * (w + gap)
            data = images.get(caption.photo_id)
            pdf.set_draw_color(150, 150, 150)
            pdf.rect(x, top, w, h)
            pdf.set_draw_color(0, 0, 0)
            if data:
                _image(pdf, data, x + 0.5, top + 0.5, w - 1, h - 1)
            else:
                pdf.set_text_color(110, 110, 110)
                msg = "照片尚未到达"
                pdf.put(x + (w - pdf.width_of(msg, 9)) / 2, top + h / 2, msg, 9)
                pdf.set_text_color(0, 0, 0)
            for j, line in enumerate(caption.lines):
                pdf.put(x, top + h + cap * (j + 1), line, 7.5)
        pdf.y = top + h + cap * 2 + 4


def _signatures(pdf: _Page, doc: words.Document, images: dict[str, bytes | None]) -> None:
    sig = images.get(doc.signature_photo) if doc.signature_photo else None
    need = 46 + (22 if sig else 0)
    pdf.room(need)
    pdf.y += 6
    top = pdf.y
    em = BODY * PT
    y = top
    for who, on_line in doc.signatures:
        pdf.put(MARGIN_X, y + em, who, BODY)
        x = MARGIN_X + pdf.width_of(who, BODY) + 1
        pdf.set_line_width(0.25)
        pdf.line(x, y + em + 1.2, x + 48, y + em + 1.2)
        if on_line:
            pdf.put(x + 2, y + em, on_line, BODY)
        y += LINE * 1.9
    if sig:
        pdf.put(MARGIN_X, y + em, "当事人签字影像：", 9)
        _image(pdf, sig, MARGIN_X + 28, y - 2, 50, 20)
        y += 22
    # The seal area: the bureau's name and the date, where the seal is stamped over them.
    cx, cy, r = A4_W - MARGIN_X - 28, top + 18, 20
    pdf.set_draw_color(170, 170, 170)
    pdf.set_dash_pattern(dash=1.2, gap=1.2)
    pdf.set_line_width(0.3)
    pdf.circle(cx, cy, r)
    pdf.set_dash_pattern()
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.2)
    baseline = cy - 2
    for i, line in enumerate(doc.seal):
        size = BODY if i == 0 else BODY - 1
        pdf.put(cx - pdf.width_of(line, size) / 2, baseline + i * 6.5, line, size, bold=i == 0)
    pdf.y = max(y, cy + r) + 4


def _qr(pdf: _Page, url: str, x: float, y: float, size: float) -> None:
    """The QR code as filled squares (no image: the same URL draws the same bytes)."""
    import qrcode

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    code.add_data(url)
    code.make(fit=True)
    matrix = code.get_matrix()
    n = len(matrix)
    cell = size / n
    pdf.set_fill_color(0, 0, 0)
    for r, row in enumerate(matrix):
        c = 0
        while c < n:
            if not row[c]:
                c += 1
                continue
            run = c
            while run < n and row[run]:
                run += 1
            pdf.rect(x + c * cell, y + r * cell, (run - c) * cell, cell, style="F")
            c = run
    pdf.set_fill_color(255, 255, 255)
