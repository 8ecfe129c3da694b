"""Findings, orders, cases and visits as CSV and GeoJSON, streamed (docs/exports.md).

Filtered as the supervisor's queue is (the queue's own conditions, server/services/queue.py),
limited to the caller's parks, and read from the database in batches (`yield_per`: a
server-side cursor on PostgreSQL, SQLite's own step-by-step cursor), formatted one row at a
time and handed to the WSGI server in chunks of about 64 KiB: an export of 100,000 rows needs
no more memory than one of 1,000 (bench/exports.py measures it).

CSV is UTF-8 with a byte-order mark, so that Excel opens the Chinese as Chinese. `lang=zh` (the
default) writes Chinese headers and Chinese words for the closed vocabularies, for people;
`lang=en` writes the stable English keys as headers and the stored codes as values, for
programs. Times are the bureau's local time (the policy's time zone). A text cell that Excel
would read as a formula (it begins with = + - @, a tab or a carriage return) is prefixed with
an apostrophe. GeoJSON is a FeatureCollection of the enterprise's point with the keys and codes
as properties (times in ISO 8601 with their offset).
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from ..extensions import db
from ..models import Case, Finding, Order, Park, PlanStop, Site, User, ViolationType, Visit
from ..models.findings import QUEUE_NO_DEADLINE
from .queue import QueueFilters, _not_reviewed, bureau_today, check_filters, policy_values, queue_conditions

KINDS = ("findings", "orders", "cases", "visits")
YIELD_PER = 1000  # rows fetched from the database at a time
CHUNK_BYTES = 64 * 1024  # bytes handed to the server at a time
BOM = "\ufeff"

# Chinese words for the closed vocabularies (the PWA's words, pwa/js/i18n.js, where it has them).
WORDS_ZH = {
    "domain": {"safety": "安全生产", "environment": "生态环境", "fire": "消防", "city_appearance": "市容环境",
               "illegal_construction": "违规建设", "market": "市场监管", "other": "其他"},
    "tier": {"service": "服务", "management": "管理", "enforcement": "执法"},
    "severity": {"advisory": "建议", "minor": "轻微", "general": "一般", "serious": "较重", "major_hazard": "重大事故隐患"},
    "finding_status": {"awaiting_review": "待审核", "legal_review": "待法制审核", "open": "待处理",
                       "order_issued": "责令改正中", "reinspection_due": "待复查", "escalated": "已升级执法",
                       "case_open": "已立案", "closed": "已办结", "closed_no_penalty": "不予处罚办结"},
    "geofence": {"on_site": "在现场", "near": "在附近", "off_site": "不在现场", "poor_fix": "定位精度不足",
                 "no_fix": "无定位"},
    "visit_kind": {"routine": "日常检查", "key": "重点检查", "random": "双随机抽查", "reinspection": "复查",
                   "case": "案件调查"},
    "order_status": {"open": "整改中", "passed": "复查合格", "failed": "复查不合格", "overdue": "逾期未改正",
                     "closed": "已关闭"},
    "commitment": {"pending": "未签署", "signed": "已签署", "refused": "拒绝签署"},
    "case_status": {"filed": "已立案", "notified": "已告知", "hearing_requested": "已申请听证", "hearing_held": "已听证",
                    "legal_review": "法制审核中", "decided": "已作出决定", "served": "已送达", "paid": "已缴纳罚款",
                    "enforced": "已强制执行", "closed": "已结案", "transferred": "已移送"},
    "decision": {"penalty": "给予处罚", "no_penalty": "不予处罚", "not_established": "违法事实不成立"},
}
YES_NO_ZH = {True: "是", False: "否"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclasses.dataclass(frozen=True)
class Column:
    key: str  # the CSV's English header and the GeoJSON property
    zh: str  # the CSV's Chinese header
    kind: str = "text"  # text, int, float, bool, date, datetime, uuid, vocab, geo
    vocab: str | None = None  # the WORDS_ZH table of a vocab column


def _c(key, zh, kind="text", vocab=None) -> Column:
    return Column(key, zh, kind, vocab)


_PARK_SITE = [
    _c("park_code", "园区代码"), _c("park_name", "园区"), _c("enterprise_id", "企业编号", "int"),
    _c("enterprise", "企业名称"), _c("credit_code", "统一社会信用代码"),
]
_VIOLATION = [
    _c("domain", "领域", "vocab", "domain"), _c("violation_code", "违法行为编码"), _c("violation_zh", "违法行为"),
    _c("violation_en", "违法行为（英文）"),
]
_POINT = [_c("lon", "经度", "geo"), _c("lat", "纬度", "geo")]


def _park_site_exprs():
    return [Park.code, Park.name_zh, Site.id, Site.name, Site.credit_code]


def _violation_exprs():
    return [Finding.domain, ViolationType.code, ViolationType.name_zh, ViolationType.name_en]


def _point_exprs():
    return [sa.func.ST_X(Site.geom), sa.func.ST_Y(Site.geom)]


COLUMNS: dict[str, list[Column]] = {
    "findings": [
        _c("id", "问题编号", "uuid"), _c("discovered_at", "发现时间", "datetime"), *_PARK_SITE, *_VIOLATION,
        _c("severity", "严重程度", "vocab", "severity"), _c("suggested_tier", "建议分层", "vocab", "tier"),
        _c("final_tier", "最终分层", "vocab", "tier"), _c("rule_id", "分层规则"),
        _c("status", "状态", "vocab", "finding_status"), _c("next_deadline", "下一期限", "date"),
        _c("legal_review_pending", "待法制审核", "bool"), _c("geofence", "定位核验", "vocab", "geofence"),
        _c("visit_id", "检查记录编号", "uuid"), _c("note", "备注"), *_POINT,
    ],
    "orders": [
        _c("id", "指令编号", "int"), _c("number", "文书编号"), _c("issued_at", "下达时间", "datetime"),
        _c("issued_by", "下达人"), _c("deadline", "整改期限", "date"), _c("reinspection_due", "复查期限", "date"),
        _c("commitment", "承诺书", "vocab", "commitment"), _c("status", "状态", "vocab", "order_status"),
        _c("closed_at", "关闭时间", "datetime"), _c("finding_id", "问题编号", "uuid"), *_PARK_SITE, *_VIOLATION,
        *_POINT,
    ],
    "cases": [
        _c("id", "案件编号", "int"), _c("number", "案号"), _c("status", "案件状态", "vocab", "case_status"),
        _c("filed_at", "立案时间", "datetime"), _c("decision_due", "决定期限", "date"),
        _c("decision", "处理决定", "vocab", "decision"), _c("fine_yuan", "罚款（元）", "int"),
        _c("decided_at", "决定时间", "datetime"), _c("served_at", "送达时间", "datetime"),
        _c("paid_at", "缴款时间", "datetime"), _c("closed_at", "结案时间", "datetime"),
        _c("transferred_at", "移送时间", "datetime"), _c("finding_id", "问题编号", "uuid"), *_PARK_SITE,
        *_VIOLATION, *_POINT,
    ],
    "visits": [
        _c("id", "检查记录编号", "uuid"), _c("started_at", "开始时间", "datetime"),
        _c("finished_at", "结束时间", "datetime"), _c("kind", "检查类型", "vocab", "visit_kind"),
        _c("draw_id", "抽查批次", "int"), *_PARK_SITE, _c("recorded_by", "记录人"),
        _c("certificates_shown", "出示执法证件", "bool"), _c("party_refused", "当事人拒绝签字", "bool"),
        _c("geofence", "定位核验", "vocab", "geofence"), _c("distance_m", "距企业（米）", "float"),
        _c("findings", "发现问题数", "int"), _c("corrects_id", "更正的检查记录", "uuid"), *_POINT,
    ],
}


@dataclasses.dataclass(frozen=True)
class Period:
    date_from: dt.date | None = None
    date_to: dt.date | None = None


def _period_conditions(column, period: Period, zone: ZoneInfo) -> list:
    conds = []
    if period.date_from is not None:
        conds.append(column >= dt.datetime.combine(period.date_from, dt.time(0), zone).astimezone(dt.timezone.utc))
    if period.date_to is not None:
        end = period.date_to + dt.timedelta(days=1)
        conds.append(column < dt.datetime.combine(end, dt.time(0), zone).astimezone(dt.timezone.utc))
    return conds


def _finding_joins(stmt: sa.Select) -> sa.Select:
    return (stmt.join(Site, Site.id == Finding.site_id).join(Park, Park.id == Finding.park_id)
            .outerjoin(ViolationType, ViolationType.id == Finding.violation_type_id))


def findings_select(filters: QueueFilters, scope: set[int] | None, period: Period, today: dt.date,
                    zone: ZoneInfo) -> sa.Select:
    """The findings of the queue with these filters, in the queue's urgency order."""
    legal_pending = sa.and_(Finding.legal_flag, _not_reviewed())
    stmt = sa.select(
        Finding.id, Finding.discovered_at, *_park_site_exprs(), *_violation_exprs(), Finding.severity,
        Finding.suggested_tier, Finding.final_tier, Finding.rule_id, Finding.status, Finding.queue_due,
        sa.case((legal_pending, True), else_=False), Visit.geofence, Finding.visit_id, Finding.note, *_point_exprs(),
    ).select_from(Finding)
    stmt = _finding_joins(stmt).join(Visit, Visit.id == Finding.visit_id)
    conds = queue_conditions(filters, scope, today) + _period_conditions(Finding.discovered_at, period, zone)
    return stmt.where(*conds).order_by(Finding.queue_due, Finding.queue_rank, Finding.id)


def orders_select(filters: QueueFilters, scope: set[int] | None, period: Period, today: dt.date,
                  zone: ZoneInfo) -> sa.Select:
    """The orders of the findings the queue shows with these filters, by the day they were issued."""
    stmt = sa.select(
        Order.id, Order.number, Order.issued_at, User.name, Order.deadline, Order.reinspection_due,
        Order.commitment, Order.status, Order.closed_at, Finding.id, *_park_site_exprs(), *_violation_exprs(),
        *_point_exprs(),
    ).select_from(Order).join(Finding, Finding.id == Order.finding_id).outerjoin(User, User.id == Order.issued_by)
    conds = queue_conditions(filters, scope, today) + _period_conditions(Order.issued_at, period, zone)
    return _finding_joins(stmt).where(*conds).order_by(Order.issued_at, Order.id)


def cases_select(filters: QueueFilters, scope: set[int] | None, period: Period, today: dt.date,
                 zone: ZoneInfo) -> sa.Select:
    """The cases of the findings the queue shows with these filters, by the day they were filed."""
    stmt = sa.select(
        Case.id, Case.number, Case.status, Case.filed_at, Case.decision_due, Case.decision, Case.fine_yuan,
        Case.decided_at, Case.served_at, Case.paid_at, Case.closed_at, Case.transferred_at, Finding.id,
        *_park_site_exprs(), *_violation_exprs(), *_point_exprs(),
    ).select_from(Case).join(Finding, Finding.id == Case.finding_id)
    conds = queue_conditions(filters, scope, today) + _period_conditions(Case.filed_at, period, zone)
    return _finding_joins(stmt).where(*conds).order_by(Case.filed_at, Case.id)


@dataclasses.dataclass(frozen=True)
class VisitFilters:
    park: int | None = None
    enterprise: int | None = None
    off_site: bool | None = None
    kind: str | None = None


def visits_select(filters: VisitFilters, scope: set[int] | None, period: Period, zone: ZoneInfo) -> sa.Select:
    """Visits in the caller's parks, by the time they started."""
    n_findings = (sa.select(sa.func.count()).select_from(Finding).where(Finding.visit_id == Visit.id)
                  .correlate(Visit).scalar_subquery())
    stmt = (
        sa.select(Visit.id, Visit.started_at, Visit.finished_at, Visit.kind, PlanStop.draw_id, *_park_site_exprs(),
                  User.name, Visit.certificates_shown, Visit.party_refused, Visit.geofence, Visit.distance_m,
                  n_findings, Visit.corrects_id, *_point_exprs())
        .select_from(Visit).join(Site, Site.id == Visit.site_id).join(Park, Park.id == Site.park_id)
        .outerjoin(User, User.id == Visit.recorded_by).outerjoin(PlanStop, PlanStop.visit_id == Visit.id)
    )
    conds = _period_conditions(Visit.started_at, period, zone)
    if scope is not None:
        conds.append(Site.park_id.in_(sorted(scope)))
    if filters.park is not None:
        conds.append(Site.park_id == filters.park)
    if filters.enterprise is not None:
        conds.append(Visit.site_id == filters.enterprise)
    if filters.kind is not None:
        conds.append(Visit.kind == filters.kind)
    if filters.off_site is not None:
        conds.append(Visit.geofence == "off_site" if filters.off_site else Visit.geofence != "off_site")
    return stmt.where(*conds).order_by(Visit.started_at, Visit.id)


# --- formatting ---------------------------------------------------------------------------


def _csv_cell(col: Column, value, lang: str, zone: ZoneInfo):
    if value is None:
        return ""
    if col.kind == "datetime":
        local = value.astimezone(zone)
        return local.strftime("%Y-%m-%d %H:%M:%S") if lang == "zh" else local.isoformat()
    if col.kind == "date":
        return "" if value == QUEUE_NO_DEADLINE else value.isoformat()
    if col.kind == "bool":
        return YES_NO_ZH[bool(value)] if lang == "zh" else ("true" if value else "false")
    if col.kind == "vocab" and lang == "zh":
        return WORDS_ZH[col.vocab].get(value, value)
    if col.kind == "geo":
        return f"{value:.6f}"
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value  # never a formula in Excel (CSV injection)
    return value


def _json_value(col: Column, value, zone: ZoneInfo):
    if value is None:
        return None
    if col.kind == "datetime":
        return value.astimezone(zone).isoformat()
    if col.kind == "date":
        return None if value == QUEUE_NO_DEADLINE else value.isoformat()
    if col.kind == "uuid":
        return str(value)
    if col.kind == "bool":
        return bool(value)
    return value


def _rows(stmt: sa.Select) -> Iterator[sa.Row]:
    """The statement's rows, fetched YIELD_PER at a time (a server-side cursor on PostgreSQL)."""
    result = db.session.execute(stmt.execution_options(yield_per=YIELD_PER))
    try:
        yield from result
    finally:
        result.close()


def csv_chunks(columns: list[Column], rows, lang: str, zone: ZoneInfo) -> Iterator[bytes]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    buf.write(BOM)
    writer.writerow([c.zh if lang == "zh" else c.key for c in columns])
    for row in rows:
        writer.writerow([_csv_cell(c, v, lang, zone) for c, v in zip(columns, row)])
        if buf.tell() >= CHUNK_BYTES:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def geojson_chunks(columns: list[Column], rows, zone: ZoneInfo) -> Iterator[bytes]:
    props = [(i, c) for i, c in enumerate(columns) if c.kind != "geo"]
    lon_i = next(i for i, c in enumerate(columns) if c.key == "lon")
    lat_i = next(i for i, c in enumerate(columns) if c.key == "lat")
    parts = ['{"type":"FeatureCollection","features":[']
    size, first = 0, True
    for row in rows:
        feature = {"type": "Feature",
                   "geometry": {"type": "Point", "coordinates": [round(row[lon_i], 7), round(row[lat_i], 7)]},
                   "properties": {c.key: _json_value(c, row[i], zone) for i, c in props}}
        text = ("" if first else ",") + json.dumps(feature, ensure_ascii=False, separators=(",", ":"))
        first = False
        parts.append(text)
        size += len(text)
        if size >= CHUNK_BYTES:
            yield "".join(parts).encode("utf-8")
            parts, size = [], 0
    parts.append("]}")
    yield "".join(parts).encode("utf-8")


# --- the use-case -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Export:
    filename: str
    mimetype: str
    chunks: Iterator[bytes]


def export(kind: str, fmt: str, args: dict, scope: set[int] | None, today: dt.date | None = None) -> Export:
    """Check the filters now (a refusal is a 4xx before any byte is sent); the rows are read
    when the chunks are iterated, inside the request."""
    if kind not in KINDS or fmt not in ("csv", "geojson"):
        raise ValueError(f"no export of {kind} as {fmt}")
    policy = policy_values()
    zone = ZoneInfo(policy["timezone"])
    if today is None:
        today = bureau_today(policy["timezone"])
    period = Period(args.get("date_from"), args.get("date_to"))
    if kind == "visits":
        vf = VisitFilters(**{k: args.get(k) for k in ("park", "enterprise", "off_site", "kind")})
        check_filters(QueueFilters(park=vf.park, enterprise=vf.enterprise), scope)
        stmt = visits_select(vf, scope, period, zone)
    else:
        qf = QueueFilters(**{f.name: args.get(f.name) for f in dataclasses.fields(QueueFilters)})
        check_filters(qf, scope)
        stmt = {"findings": findings_select, "orders": orders_select, "cases": cases_select}[kind](
            qf, scope, period, today, zone)
    columns = COLUMNS[kind]
    rows = _rows(stmt)
    if fmt == "csv":
        return Export(f"fieldcheck-{kind}-{today.isoformat()}.csv", "text/csv; charset=utf-8",
                      csv_chunks(columns, rows, args.get("lang", "zh"), zone))
    return Export(f"fieldcheck-{kind}-{today.isoformat()}.geojson", "application/geo+json",
                  geojson_chunks(columns, rows, zone))
