"""Official documents as PDF (docs/documents.md): the rectification notice of an order and the
inspection record of a visit, made from a visit sent by the phone, its photo uploaded and an
order issued at the desk, all through the API. The PDF's text is read back (pypdf), its first
page rendered (pypdfium2) to see that the Chinese is drawn and the QR code encodes the link;
numbers come from a per-year counter, once per document; asked again, the same bytes."""
from __future__ import annotations

import datetime as dt
import io
import os
import re
import uuid
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import given, strategies as st

from server.domain import documents as words
from tests.conftest import need
from tests.findings_helpers import Desk, make_visit
from tests.photo_helpers import image_bytes, upload
from tests.sync_helpers import HENGDA, JIANGHAI, failing, finding, fix_near, load_field_data, post_sync, visit

YEAR = dt.datetime.now(ZoneInfo("Asia/Shanghai")).year
ADDRESS = "仪征经济开发区科技园路8号"
CREDIT = "91321081MA1XK4LL3A"  # HENGDA's, in tests/world.py


@pytest.fixture
def font() -> str:
    from server.services.documents import FONT_CANDIDATES

    path = os.environ.get("FIELDCHECK_PDF_FONT") or next((p for p in FONT_CANDIDATES if os.path.isfile(p)), None)
    need(path is not None, "no font with Chinese glyphs for the PDF documents: apt-get install fonts-wqy-microhei")
    return path


@pytest.fixture
def field(app, client, auth, font):
    data = load_field_data(app)
    r = client.patch(f"/api/sites/{data['sites'][HENGDA]}", json={"address": ADDRESS},
                     headers=auth.headers("admin1"))
    assert r.status_code == 200, r.get_json()
    return data


def _team(field, *names):
    return [field["users"][n] for n in names]


def _sync_visit(client, auth, field, site=HENGDA, names=("insp1", "insp2", "aux1"), findings=(), **over) -> dict:
    rec = visit(field["sites"][site], _team(field, *names), location=fix_near(site, 20), findings=list(findings),
                **over)
    if findings:
        failing(rec, *[f["item"] for f in findings])
    r = post_sync(client, auth.headers("insp1"), [rec])
    assert r.status_code == 200 and r.get_json()["results"][0]["status"] == "created", r.get_json()
    return rec


def _wiring(photo_ids=()) -> dict:
    # A general fire breach not corrected on the spot: management (T4), an order follows.
    return finding(item="FIRE-004", violation_code="FIRE-ELEC-WIRING", domain="fire", severity="general",
                   corrected_on_spot=False, note="配电箱线路私拉乱接", photo_ids=[str(p) for p in photo_ids])


def _ordered(client, auth, field) -> dict:
    """A visit with one finding and its photo, the photo uploaded, the tier confirmed, the order issued."""
    photo = uuid.uuid4()
    f = _wiring([photo])
    rec = _sync_visit(client, auth, field, findings=[f])
    r = upload(client, auth.headers("insp1"), photo, image_bytes((320, 240), "JPEG", color=(30, 120, 200)),
               finding_id=f["id"], lon=119.16012, lat=32.26008, accuracy_m=6)
    assert r.status_code == 201, r.get_json()
    desk = Desk(client, auth)
    desk.ok("sup1", f["id"], "confirm-tier")
    state = desk.ok("sup1", f["id"], "issue-order", {"note": "限期整改"})
    return {"visit": rec["id"], "finding": f["id"], "order": state["order"], "photo": str(photo)}


def _text(pdf: bytes) -> str:
    """The PDF's text as a reader gets it back, without the breaks the layout put in."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))


def _get(client, auth, url, user="sup1"):
    return client.get(url, headers=auth.headers(user))


def _pdf(resp) -> bytes:
    assert resp.status_code == 200, (resp.status_code, resp.get_json())
    assert resp.mimetype == "application/pdf"
    body = resp.get_data()
    assert body.startswith(b"%PDF-")
    return body


# --- what the documents say ----------------------------------------------------------------------


def test_the_notice_names_the_party_the_breach_its_law_the_deadline_and_the_officers(app, client, auth, field,
                                                                                    tmp_path):
    made = _ordered(client, auth, field)
    order = made["order"]
    resp = _get(client, auth, f"/api/orders/{order['id']}/notice.pdf")
    pdf = _pdf(resp)
    (tmp_path / "notice.pdf").write_bytes(pdf)
    number = f"仪执责改〔{YEAR}〕0001号"
    assert order["number"] == number
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith("inline;") and f'filename="notice-{YEAR}-0001.pdf"' in disposition
    assert "filename*=UTF-8''" + words.quote(f"责令限期整改通知书{number}.pdf", safe="") in disposition
    text = _text(pdf)
    deadline = dt.date.fromisoformat(order["deadline"])
    due = dt.date.fromisoformat(order["reinspection_due"])
    for expected in ("责令限期整改通知书", number, "综合执法局", HENGDA, CREDIT, ADDRESS,
                     "电器产品、燃气用具的安装、使用及其线路、管路的敷设、维护保养不符合消防技术标准和管理规定",
                     "违反条款：《中华人民共和国消防法》第二十七条第二款", "处罚依据：《中华人民共和国消防法》第六十六条",
                     f"于{words.zh_date(deadline)}前改正", f"于{words.zh_date(due)}前对整改情况进行复查",
                     "insp1（执法证号：JS-3210-0001）", "insp2（执法证号：JS-3210-0002）", "签发人：sup1",
                     "配电箱线路私拉乱接", "当事人签收", "（印章）", "照片1"):
        assert expected in text, expected
    assert "aux1（执法证号" not in text  # auxiliary staff are not named as officers
    # The photo is on the page, with when and where it was taken.
    assert "北纬32.26008°东经119.16012°（精度±6米）" in text
    assert "2026年11月26日09时15分" in text  # captured_at of tests/photo_helpers.py, Beijing time
    from pypdf import PdfReader

    assert sum(len(page.images) for page in PdfReader(io.BytesIO(pdf)).pages) == 1


def test_the_record_names_the_visit_its_officers_results_findings_and_the_refusal(app, client, auth, field,
                                                                                  tmp_path):
    photo = uuid.uuid4()
    f = _wiring([photo])
    rec = _sync_visit(client, auth, field, findings=[f],
                      record={"party_signature_photo_id": None, "party_refused": True})
    upload(client, auth.headers("insp1"), photo, image_bytes((320, 240), "JPEG"), finding_id=f["id"])
    resp = _get(client, auth, f"/api/visits/{rec['id']}/record.pdf", user="insp2")
    pdf = _pdf(resp)
    (tmp_path / "record.pdf").write_bytes(pdf)
    number = f"仪执检录〔{YEAR}〕0001号"
    assert unquote(resp.headers["X-Document-Number"]) == number
    assert f'filename="record-{YEAR}-0001.pdf"' in resp.headers["Content-Disposition"]
    text = _text(pdf)
    for expected in ("现场检查笔录", number, HENGDA, CREDIT, ADDRESS, "日常检查",
                     "insp1（执法证号：JS-3210-0001）、insp2（执法证号：JS-3210-0002）", "aux1（协管员）",
                     "执法人员已向当事人出示执法证件", "共检查3项：符合2项，不符合1项", "FIRE-004",
                     "组织防火检查，及时消除火灾隐患", "不符合", "FIRE-ELEC-WIRING",
                     "违反条款：《中华人民共和国消防法》第二十七条第二款", "当场改正：否",
                     "当事人拒绝签字", "距企业登记位置20米（在企业范围内）", "照片1"):
        assert expected in text, expected


# --- numbers and bytes ---------------------------------------------------------------------------


def test_asking_again_gives_the_same_number_and_the_same_bytes(app, client, auth, field):
    made = _ordered(client, auth, field)
    notice = f"/api/orders/{made['order']['id']}/notice.pdf"
    record = f"/api/visits/{made['visit']}/record.pdf"
    first = _pdf(_get(client, auth, notice))
    assert _pdf(_get(client, auth, notice, user="legal1")) == first
    rec1 = _get(client, auth, record)
    rec2 = _get(client, auth, record, user="admin1")
    assert _pdf(rec1) == _pdf(rec2)
    assert rec1.headers["X-Document-Number"] == rec2.headers["X-Document-Number"]
    # A conditional request for the same bytes is answered "not modified".
    again = client.get(record, headers={**auth.headers("sup1"), "If-None-Match": rec1.headers["ETag"]})
    assert again.status_code == 304
    # The creation date is the document's date, not the moment it was made.
    from pypdf import PdfReader

    issued = dt.datetime.fromisoformat(made["order"]["issued_at"]).astimezone(ZoneInfo("Asia/Shanghai")).date()
    assert PdfReader(io.BytesIO(first)).metadata.creation_date.date() == issued
    from server.extensions import db
    from server.models import AuditEntry

    with app.app_context():
        numbered = db.session.execute(sa.select(AuditEntry.summary).where(AuditEntry.action == "record.number")).all()
    assert len(numbered) == 1  # numbered once, by the first request
    from server.models import DocumentCounter

    with app.app_context():  # the order took its number from the same kind of counter
        counters = {(c.kind, c.year): c.last_seq for c in db.session.execute(sa.select(DocumentCounter)).scalars()}
    assert counters == {("order", YEAR): 1, ("record", YEAR): 1}


def test_record_numbers_follow_each_other_per_year_without_gaps(app, client, auth, field):
    visits = [_sync_visit(client, auth, field, site=s)["id"] for s in (HENGDA, JIANGHAI, HENGDA)]
    last_year = make_visit(app, field["sites"][JIANGHAI], dt.datetime(YEAR - 1, 12, 31, 15, 0, tzinfo=dt.timezone.utc))
    # Asked for in another order than they were made: numbered as they are first asked for.
    order = [visits[1], visits[0], str(last_year), visits[2], visits[1]]
    numbers = [unquote(_get(client, auth, f"/api/visits/{v}/record.pdf").headers["X-Document-Number"])
               for v in order]
    assert numbers == [f"仪执检录〔{YEAR}〕0001号", f"仪执检录〔{YEAR}〕0002号",
                       # 23:00 on 31 December in Beijing is still last year there
                       f"仪执检录〔{YEAR - 1}〕0001号",
                       f"仪执检录〔{YEAR}〕0003号", f"仪执检录〔{YEAR}〕0001号"]
    from server.extensions import db
    from server.models import DocumentCounter

    with app.app_context():
        counters = {(c.kind, c.year): c.last_seq for c in db.session.execute(sa.select(DocumentCounter)).scalars()}
    assert counters == {("record", YEAR): 3, ("record", YEAR - 1): 1}


def test_records_asked_for_at_once_get_distinct_numbers_without_gaps(app, client, auth, field):
    from concurrent.futures import ThreadPoolExecutor

    visits = [_sync_visit(client, auth, field, site=s)["id"] for s in (HENGDA, JIANGHAI, HENGDA)]
    headers = auth.headers("sup1")

    def ask(visit_id):
        with app.test_client() as c:
            r = c.get(f"/api/visits/{visit_id}/record.pdf", headers=headers)
            assert r.status_code == 200, r.get_json()
            return visit_id, unquote(r.headers["X-Document-Number"]), r.get_data()

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(ask, visits + visits[:1]))  # the first visit asked for twice at once
    numbers = {v: n for v, n, _ in answers}
    assert sorted(numbers.values()) == [f"仪执检录〔{YEAR}〕{i:04d}号" for i in (1, 2, 3)]
    assert answers[0][1:] == answers[-1][1:]  # the same number and the same bytes


# --- who gets them -------------------------------------------------------------------------------


def test_only_staff_of_the_park_and_the_visits_own_inspectors_get_them(app, client, auth, field):
    made = _ordered(client, auth, field)  # officers insp1, insp2, aux1
    other = _sync_visit(client, auth, field, names=("insp1", "insp2"))["id"]
    notice = f"/api/orders/{made['order']['id']}/notice.pdf"
    for user in ("insp1", "insp2", "aux1", "sup1", "legal1", "admin1"):
        assert _get(client, auth, notice, user).status_code == 200, user
    for user in ("insp_chem", "sup_chem", "sched1"):
        r = _get(client, auth, notice, user)
        assert r.status_code == 403 and r.get_json()["message"], user
    record = f"/api/visits/{other}/record.pdf"
    for user in ("insp1", "insp2", "sup1", "legal1", "admin1"):
        assert _get(client, auth, record, user).status_code == 200, user
    for user in ("aux1", "insp_chem", "sup_chem", "sched1"):  # aux1 was not on that visit
        r = _get(client, auth, record, user)
        assert r.status_code == 403 and r.get_json()["message"], user
    assert _get(client, auth, "/api/orders/999999/notice.pdf").status_code == 404
    assert _get(client, auth, f"/api/visits/{uuid.uuid4()}/record.pdf").status_code == 404
    # A refused request numbers nothing.
    from server.extensions import db
    from server.models import InspectionRecordNumber

    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(InspectionRecordNumber)).scalar() == 1


# --- the glyphs are drawn ------------------------------------------------------------------------


def _dark(image, box) -> int:
    """Dark pixels inside a box (millimetres on the page) of a page rendered at `SCALE`."""
    left, top, right, bottom = (round(v / 25.4 * 72 * SCALE) for v in box)
    gray = image.convert("L").crop((left, top, right, bottom))
    return sum(gray.histogram()[:128])


SCALE = 3
TITLE_BOX = (40, 32, 150, 48)  # mm: where services/documents.py draws the title


def _render(pdf: bytes):
    import pypdfium2 as pdfium

    page = pdfium.PdfDocument(pdf)[0]
    return page.render(scale=SCALE).to_pil()


def _latin_only_font(tmp_path) -> str:
    """The same font cut down to ASCII: a font without Chinese glyphs."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    from server.services.documents import font_path

    font = TTFont(font_path(), fontNumber=0)
    options = subset.Options()
    sub = subset.Subsetter(options)
    sub.populate(unicodes=range(0x20, 0x7F))
    sub.subset(font)
    path = tmp_path / "latin.ttf"
    font.save(str(path))
    return str(path)


def _assert_qr_encodes(image, url: str) -> None:
    """The QR code drawn on the page has the modules of the code of `url`, one by one."""
    import qrcode

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    code.add_data(url)
    code.make(fit=True)
    matrix = code.get_matrix()
    n = len(matrix)
    x0, y0, size = 210 - 22 - 24, 16 - 4, 24  # mm, as services/documents.py draws it
    px = 72 * SCALE / 25.4
    gray = image.convert("L")
    seen = [[gray.getpixel((round((x0 + (c + 0.5) * size / n) * px), round((y0 + (r + 0.5) * size / n) * px))) < 128
             for c in range(n)] for r in range(n)]
    assert seen == [[bool(v) for v in row] for row in matrix]


def test_the_title_is_drawn_in_chinese_glyphs_and_the_qr_code_encodes_the_link(app, client, auth, field, tmp_path):
    from fpdf import FPDF

    from server.services.documents import font_path

    made = _ordered(client, auth, field)
    image = _render(_pdf(_get(client, auth, f"/api/orders/{made['order']['id']}/notice.pdf")))
    image.save(tmp_path / "notice-page1.png")
    _assert_qr_encodes(image, f"http://localhost/#/finding/{made['finding']}")
    drawn = _dark(image, TITLE_BOX)
    area = (TITLE_BOX[2] - TITLE_BOX[0]) * (TITLE_BOX[3] - TITLE_BOX[1]) / 25.4 ** 2 * (72 * SCALE) ** 2
    assert 0.04 * area < drawn < 0.5 * area, (drawn, area)  # strokes, not an empty or a filled box

    # The check can fail: the same title set in a font without Chinese glyphs leaves the box blank
    # (or boxes of one shape), and the real one differs from it.
    def title_in(font: str) -> int:
        pdf = FPDF(unit="mm", format="A4")
        pdf.add_font("f", "", font)
        pdf.add_page()
        pdf.set_font("f", size=22)
        pdf.text(60, 43, "责令限期整改通知书")
        return _dark(_render(bytes(pdf.output())), TITLE_BOX)

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        latin = title_in(_latin_only_font(tmp_path))
    real = title_in(font_path())
    assert latin < 0.01 * area < 0.04 * area < real, (latin, real, area)


def test_a_font_without_chinese_is_refused_before_anything_is_made(font, tmp_path):
    from server.services.documents import font_path
    from server.services.errors import ServiceError

    with pytest.raises(ServiceError) as missing:
        font_path(str(tmp_path / "none.ttf"))
    assert missing.value.status == 503 and "FIELDCHECK_PDF_FONT" in str(missing.value)
    with pytest.raises(ServiceError) as latin:
        font_path(_latin_only_font(tmp_path))
    assert latin.value.status == 503 and "no Chinese glyphs" in str(latin.value)


# --- the words, without a page -------------------------------------------------------------------


def test_chinese_dates_points_and_file_names():
    assert words.zh_date(dt.date(2026, 1, 5)) == "2026年1月5日"
    when = dt.datetime(2026, 12, 31, 16, 30, tzinfo=dt.timezone.utc)
    assert words.zh_datetime(when, "Asia/Shanghai") == "2027年1月1日00时30分"
    assert words.zh_point(119.16, 32.26) == "北纬32.26000° 东经119.16000°"
    assert words.file_names("notice", "仪执责改〔2026〕0007号", 2026, None) == (
        "责令限期整改通知书仪执责改〔2026〕0007号.pdf", "notice-2026-0007.pdf")
    header = words.content_disposition("现场检查笔录.pdf", "record-2026-0001.pdf")
    assert header.isascii() and "filename*=UTF-8''%E7%8E%B0" in header


def _width(s: str) -> float:
    return sum(0.5 if ch.isascii() else 1.0 for ch in s)


CJK = "责令限期整改通知书现场检查笔录违反条款处罚依据"
MARKS = "，。、；：）》”（《“"


@given(st.text(alphabet=CJK + MARKS + "AB12-", min_size=1, max_size=120), st.integers(min_value=4, max_value=30))
def test_wrapping_keeps_every_character_and_the_rules_of_chinese_line_breaking(text, width):
    lines = words.wrap(text, width, _width)
    assert "".join(lines) == text
    for i, line in enumerate(lines):
        overhang = len(line) - len(line.rstrip(MARKS))
        if _width(line) > width:  # only a run of marks nowhere to break, or one Latin word, overhangs
            assert overhang or re.fullmatch(r"[A-Za-z0-9.\-]+", line) or all(c in MARKS for c in line) or \
                _width(line.rstrip(MARKS)) <= width or len(line) == 1, (line, width)
        if i > 0 and line[0] in words.NO_START:
            assert all(c in words.NO_START | words.NO_END for c in lines[i - 1] + line[:1]), (lines, i)
        if i < len(lines) - 1 and line[-1] in words.NO_END:
            assert all(c in words.NO_START | words.NO_END for c in line), (lines, i)


def test_wrapping_never_starts_a_line_with_a_comma():
    text = "经查，你单位存在下列违法行为：未在有较大危险因素的场所和设施设备上设置明显的安全警示标志，违反了《中华人民共和国安全生产法》"
    for width in range(6, 30):
        lines = words.wrap(text, width, _width)
        assert "".join(lines) == text
        assert not any(line[0] in "，。：》" for line in lines[1:]), (width, lines)
        assert not any(line[-1] == "《" for line in lines[:-1]), (width, lines)
        assert all(_width(line) <= width for line in lines), (width, lines)


WORKER = """
import datetime as dt, hashlib, io
from PIL import Image
from server.domain import documents as w
from server.services.documents import font_path, render
tz = dt.timezone(dt.timedelta(hours=8))
buf = io.BytesIO()
Image.new("RGB", (320, 240), (10, 100, 200)).save(buf, "JPEG")
facts = w.NoticeFacts(
    authority="综合执法局", authority_address="", number="仪执责改〔2026〕0001号",
    issued_at=dt.datetime(2026, 11, 26, 10, tzinfo=tz), party=w.Party("仪征市恒达机械有限公司", None, ""),
    place="科技园路8号", found_at=dt.datetime(2026, 11, 26, 9, tzinfo=tz),
    breach=w.Breach("FIRE-ELEC-WIRING", "电器线路不符合消防技术标准", "《中华人民共和国消防法》第二十七条第二款",
                    "《中华人民共和国消防法》第六十六条"),
    deadline=dt.date(2026, 12, 10), reinspection_due=dt.date(2026, 12, 21), officers=[w.Officer("张三", "JS-1")],
    issued_by="王五", photos=[w.PhotoFacts("p", None, None, None)], url="https://x/#/finding/1")
print(hashlib.sha256(render(w.notice(facts), font_path(), {"p": buf.getvalue()}, "Asia/Shanghai")).hexdigest())
"""


def test_another_worker_process_makes_the_same_bytes(font):
    """Two gunicorn workers answer the same document: nothing may hang on a process's hash seed."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    digests = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        run = subprocess.run([sys.executable, "-c", WORKER], env=env, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        digests.add(run.stdout.strip())
    assert len(digests) == 1, digests
