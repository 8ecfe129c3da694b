"""The words of the official documents, without the page: what a rectification notice
(责令限期整改通知书) and an inspection record (现场检查笔录) say, line by line, from plain facts.

server/services/documents.py gathers the facts from the database and lays the result out as a
PDF; everything a person reads on the page is decided here, so it is testable without either.
Also here: Chinese dates, coordinates, and line breaking by the rules of Chinese typesetting
(no line starts with a closing mark, none ends with an opening one, Latin words stay whole).
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote
from zoneinfo import ZoneInfo

# --- facts in ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Party:
    name: str
    credit_code: str | None
    address: str
    contact: str = ""


@dataclass(frozen=True)
class Officer:
    name: str
    certificate_no: str | None
    auxiliary: bool = False


@dataclass(frozen=True)
class Breach:
    """A finding with its catalogue row (None: an advisory finding without one)."""

    code: str | None
    name_zh: str
    violated: str
    penalty: str
    penalty_range: str = ""
    note: str = ""
    corrected_on_spot: bool = False


@dataclass(frozen=True)
class PhotoFacts:
    id: str
    captured_at: dt.datetime | None
    lon: float | None
    lat: float | None
    accuracy_m: float | None = None
    purpose: str = ""


@dataclass(frozen=True)
class CheckLine:
    code: str
    text: str
    outcome: str  # pass, fail, na


@dataclass(frozen=True)
class NoticeFacts:
    authority: str
    authority_address: str
    number: str
    issued_at: dt.datetime
    party: Party
    place: str
    found_at: dt.datetime
    breach: Breach
    deadline: dt.date
    reinspection_due: dt.date
    officers: Sequence[Officer]
    issued_by: str
    photos: Sequence[PhotoFacts]
    url: str
    timezone: str = "Asia/Shanghai"


@dataclass(frozen=True)
class RecordFacts:
    authority: str
    number: str
    visit_kind: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    party: Party
    place: str
    fix: tuple[float, float] | None  # lon, lat
    fix_accuracy_m: float | None
    distance_m: float | None
    geofence: str
    officers: Sequence[Officer]
    certificates_shown: bool
    checks: Sequence[CheckLine]
    breaches: Sequence[Breach]
    photos: Sequence[PhotoFacts]
    signature_photo: str | None
    party_refused: bool
    url: str
    timezone: str = "Asia/Shanghai"


# --- the document out ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """One thing on the page, in reading order.

    kind: addressee (the party, flush left), field (label and value, the value's lines hang
    under the value), para (a paragraph with its first line indented two characters),
    heading, item (a numbered entry, its lines hang under the text), sub (a line under an
    item), table (rows of cells; the first is the header)."""

    kind: str
    text: str = ""
    label: str = ""
    rows: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Caption:
    photo_id: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Document:
    kind: str  # notice or record
    authority: str
    title: str
    number: str
    date: dt.date  # the document's date: its PDF's creation date too
    blocks: tuple[Block, ...]
    photos: tuple[Caption, ...]
    photo_heading: str
    signature_photo: str | None
    signatures: tuple[tuple[str, str], ...]  # (who signs, what stands on the line)
    seal: tuple[str, ...]  # the lines of the seal area, bottom right
    url: str
    url_caption: str
    footer: str
    filename: str
    ascii_filename: str
    keywords: tuple[str, ...] = field(default=())


VISIT_KINDS_ZH = {"routine": "日常检查", "key": "重点检查", "random": "“双随机”抽查", "reinspection": "复查",
                  "case": "案件调查"}
OUTCOMES_ZH = {"pass": "符合", "fail": "不符合", "na": "不适用"}
GEOFENCE_ZH = {"on_site": "在企业范围内", "near": "在企业附近", "off_site": "不在企业范围内",
               "poor_fix": "定位精度不足", "no_fix": "无定位"}


# --- words ---------------------------------------------------------------------------------------


def local(when: dt.datetime, timezone: str) -> dt.datetime:
    return when.astimezone(ZoneInfo(timezone))


def zh_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def zh_datetime(when: dt.datetime, timezone: str) -> str:
    t = local(when, timezone)
    return f"{zh_date(t.date())}{t.hour:02d}时{t.minute:02d}分"


def zh_point(lon: float, lat: float) -> str:
    ns = "北纬" if lat >= 0 else "南纬"
    ew = "东经" if lon >= 0 else "西经"
    return f"{ns}{abs(lat):.5f}° {ew}{abs(lon):.5f}°"


def officer_line(officers: Sequence[Officer]) -> str:
    """The certified officers with their certificate numbers (auxiliary staff are not officers)."""
    named = [f"{o.name}（执法证号：{o.certificate_no}）" for o in officers if not o.auxiliary and o.certificate_no]
    return "、".join(named) if named else "（无持证执法人员）"


def helpers_line(officers: Sequence[Officer]) -> str:
    return "、".join(f"{o.name}（协管员）" for o in officers if o.auxiliary or not o.certificate_no)


def photo_caption(photo: PhotoFacts, n: int, timezone: str) -> Caption:
    when = zh_datetime(photo.captured_at, timezone) if photo.captured_at else "拍摄时间不详"
    if photo.lon is not None and photo.lat is not None:
        where = zh_point(photo.lon, photo.lat)
        if photo.accuracy_m is not None:
            where += f"（精度±{round(photo.accuracy_m)}米）"
    else:
        where = "拍摄地点无定位"
    return Caption(photo.id, (f"照片{n}  {when}", where))


def file_names(kind: str, number: str, year: int, seq: int | None) -> tuple[str, str]:
    title = {"notice": "责令限期整改通知书", "record": "现场检查笔录"}[kind]
    digits = re.sub(r"\D", "", number[number.find("〕"):]) if "〕" in number else ""
    tail = f"{year}-{seq:04d}" if seq is not None else f"{year}-{digits or 'x'}"
    return f"{title}{number}.pdf", f"{kind}-{tail}.pdf"


def content_disposition(filename: str, ascii_filename: str, attachment: bool = False) -> str:
    """RFC 6266: an ASCII name for old clients and the Chinese one (RFC 8187) for the rest."""
    kind = "attachment" if attachment else "inline"
    return f"{kind}; filename=\"{ascii_filename}\"; filename*=UTF-8''{quote(filename, safe='')}"


# --- the rectification notice --------------------------------------------------------------------


def notice(f: NoticeFacts, seq: int | None = None) -> Document:
    tz = f.timezone
    issued = local(f.issued_at, tz).date()
    b = f.breach
    blocks = [
        Block("addressee", f"{f.party.name}："),
        Block("field", f.party.credit_code or "（未登记）", label="统一社会信用代码："),
        Block("field", f.party.address or "（未登记）", label="地址："),
        Block("para", f"{zh_date(local(f.found_at, tz).date())}，本机关执法人员在{f.place}检查时，"
                      f"发现你单位存在下列违法行为："),
        Block("item", f"{b.name_zh}{'' if b.code is None else f'（{b.code}）'}。"),
    ]
    if b.note:
        blocks.append(Block("sub", b.note, label="现场情况："))
    blocks.append(Block("sub", b.violated or "（无）", label="违反条款："))
    blocks.append(Block("sub", b.penalty or "（无）", label="处罚依据："))
    basis = f"依据{b.penalty}的规定，" if b.penalty else ""
    blocks += [
        Block("para", f"上述行为违反了{b.violated}的规定。" if b.violated else "上述问题须予改正。"),
        Block("para", f"{basis}现责令你单位于{zh_date(f.deadline)}前改正上述违法行为，并将整改情况书面报告本机关。"
                      f"本机关将于{zh_date(f.reinspection_due)}前对整改情况进行复查。逾期不改正的，本机关将依法处理。"),
    ]
    if b.penalty_range:
        blocks.append(Block("para", f"法律责任：{b.penalty_range}。"))
    blocks += [
        Block("para", "如不服本通知，可以在收到本通知书之日起六十日内依法申请行政复议，"
                      "或者在六个月内依法向人民法院提起行政诉讼。"),
        Block("field", officer_line(f.officers), label="执法人员："),
        Block("field", f.issued_by, label="签发人："),
    ]
    if f.authority_address:
        blocks.append(Block("field", f.authority_address, label="本机关地址："))
    name, ascii_name = file_names("notice", f.number, issued.year, seq)
    return Document(
        kind="notice", authority=f.authority, title="责令限期整改通知书", number=f.number, date=issued,
        blocks=tuple(blocks),
        photos=tuple(photo_caption(p, i, tz) for i, p in enumerate(f.photos, 1)), photo_heading="附：现场照片",
        signature_photo=None,
        signatures=(("当事人签收：", ""), ("签收日期：", "    年    月    日")),
        seal=(f.authority, "（印章）", zh_date(issued)),
        url=f.url, url_caption="扫码查看（限本局工作人员）",
        footer=f"{f.number}  本通知书一式两份，一份送达当事人，一份存档。",
        filename=name, ascii_filename=ascii_name,
        keywords=(f.number, f.party.name, b.code or ""),
    )


# --- the inspection record -----------------------------------------------------------------------


def record(f: RecordFacts, seq: int | None = None) -> Document:
    tz = f.timezone
    start = local(f.started_at, tz)
    when = zh_datetime(f.started_at, tz)
    if f.finished_at is not None:
        end = local(f.finished_at, tz)
        when += f"至{end.hour:02d}时{end.minute:02d}分" if end.date() == start.date() else \
            f"至{zh_datetime(f.finished_at, tz)}"
    where = f.place
    if f.fix is not None:
        located = zh_point(*f.fix)
        if f.fix_accuracy_m is not None:
            located += f"，精度±{round(f.fix_accuracy_m)}米"
        if f.distance_m is not None:
            located += f"，距企业登记位置{round(f.distance_m)}米"
        located += f"（{GEOFENCE_ZH.get(f.geofence, f.geofence)}）"
    else:
        located = "无定位"
    blocks = [
        Block("field", when, label="检查时间："),
        Block("field", where, label="检查地点："),
        Block("field", located, label="现场定位："),
        Block("field", f.party.name, label="被检查单位："),
        Block("field", f.party.credit_code or "（未登记）", label="统一社会信用代码："),
        Block("field", f.party.address or "（未登记）", label="地址："),
    ]
    if f.party.contact:
        blocks.append(Block("field", f.party.contact, label="联系人："))
    blocks += [
        Block("field", VISIT_KINDS_ZH.get(f.visit_kind, f.visit_kind), label="检查类别："),
        Block("field", officer_line(f.officers), label="执法人员："),
    ]
    helpers = helpers_line(f.officers)
    if helpers:
        blocks.append(Block("field", helpers, label="其他在场人员："))
    blocks.append(Block("para", "执法人员已向当事人出示执法证件，表明身份，告知检查事由。" if f.certificates_shown
                        else "记录中未载明执法人员出示执法证件。"))
    blocks.append(Block("heading", "一、检查情况"))
    if f.checks:
        counts = {k: sum(1 for c in f.checks if c.outcome == k) for k in OUTCOMES_ZH}
        blocks.append(Block("para", f"共检查{len(f.checks)}项：符合{counts['pass']}项，不符合{counts['fail']}项，"
                                    f"不适用{counts['na']}项。"))
        rows = [("序号", "检查项目", "结果")]
        rows += [(str(i), f"{c.text}（{c.code}）" if c.text else c.code, OUTCOMES_ZH.get(c.outcome, c.outcome))
                 for i, c in enumerate(f.checks, 1)]
        blocks.append(Block("table", rows=tuple(rows)))
    else:
        blocks.append(Block("para", "本次检查未记录检查项目。"))
    blocks.append(Block("heading", "二、发现的问题"))
    if f.breaches:
        for i, b in enumerate(f.breaches, 1):
            blocks.append(Block("item", f"{i}. {b.name_zh}{'' if b.code is None else f'（{b.code}）'}"))
            if b.note:
                blocks.append(Block("sub", b.note, label="现场情况："))
            if b.violated:
                blocks.append(Block("sub", b.violated, label="违反条款："))
            if b.penalty:
                blocks.append(Block("sub", b.penalty, label="处罚依据："))
            blocks.append(Block("sub", "是" if b.corrected_on_spot else "否", label="当场改正："))
    else:
        blocks.append(Block("para", "本次检查未发现违法行为。"))
    blocks.append(Block("heading", "三、当事人意见"))
    if f.signature_photo:
        party = "当事人已核对本笔录并签字（签字见下）。"
    elif f.party_refused:
        party = "当事人拒绝签字。执法人员已在笔录上注明情况。"
    else:
        party = "以上笔录经当事人核对无误。"
    blocks.append(Block("para", party))
    day = start.date()
    name, ascii_name = file_names("record", f.number, day.year, seq)
    refused = "拒绝签字" if f.party_refused and not f.signature_photo else ""
    return Document(
        kind="record", authority=f.authority, title="现场检查笔录", number=f.number, date=day,
        blocks=tuple(blocks),
        photos=tuple(photo_caption(p, i, tz) for i, p in enumerate(f.photos, 1)), photo_heading="附：现场照片",
        signature_photo=f.signature_photo,
        signatures=(("当事人签字：", refused), ("执法人员签字：", ""), ("记录人：", "")),
        seal=(f.authority, zh_date(day)),
        url=f.url, url_caption="扫码查看（限本局工作人员）",
        footer=f"{f.number}  本笔录经当事人核对后签字；当事人拒绝签字的，由执法人员注明。",
        filename=name, ascii_filename=ascii_name,
        keywords=(f.number, f.party.name),
    )


# --- line breaking -------------------------------------------------------------------------------

# 禁则: these never begin a line, those never end one.
NO_START = set("，。、；：？！）》」』】〕〉”’%‰,.;:?!)]}…—·")
NO_END = set("（《「『【〔〈“‘([{")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-_/:+%]*|\s+|.", re.S)


def wrap(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """Break `text` into lines no wider than `width` (as `measure` says), breaking anywhere
    between Chinese characters, never inside a Latin word or number (unless it alone is too
    wide), never before a closing mark nor after an opening one. Newlines in the text are kept."""
    out: list[str] = []
    for para in text.split("\n"):
        out.extend(_wrap_para(para, width, measure))
    return out


def _wrap_para(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    lines: list[str] = []
    line = ""
    for tok in _WORD.findall(text):
        if not line or measure(line + tok) <= width:
            if not line and measure(tok) > width:  # a word wider than the line: cut it
                for ch in tok:
                    if line and measure(line + ch) > width:
                        lines.append(line)
                        line = ""
                    line += ch
                continue
            line += tok
            continue
        broken = _break(line, tok)
        if broken is None:  # nowhere to break by the rules: the line overhangs
            line += tok
            continue
        kept, carry = broken
        lines.append(kept.rstrip())
        line = (carry + tok).lstrip()
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


def _break(line: str, tok: str) -> tuple[str, str] | None:
    """Where to end `line` when `tok` does not fit: (what stays, what goes down with tok)."""
    kept, carry = line, ""
    if tok[0] in NO_START:  # a closing mark never begins a line: take characters down with it
        while kept and (not carry or carry[0] in NO_START):
            carry = kept[-1] + carry
            kept = kept[:-1]
    while kept and kept[-1] in NO_END:  # an opening mark goes down with what it opens
        carry = kept[-1] + carry
        kept = kept[:-1]
    if not kept.strip():
        return None
    return kept, carry
