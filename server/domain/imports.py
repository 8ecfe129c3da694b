"""Imports: the columns each kind of file may carry, the headers accepted for them (Chinese
and English), reading a cell as the value it means, and the messages of the dry-run report.

Pure: no Flask, no SQL. The service (server/services/imports.py) streams the file, asks
these functions about each row, and looks up what the database already holds.

Every message is a key with parameters, rendered in zh-CN and en by `render`, so the report
names the row, the column and the reason in both languages.
"""
from __future__ import annotations

import datetime as dt
import re

# The closed vocabularies, spelled here so the domain needs no model package; a test holds them
# equal to server/models/vocab.py.
ROLES = ("inspector", "supervisor", "legal_reviewer", "scheduler", "admin")
DOMAINS = ("safety", "environment", "fire", "city_appearance", "illegal_construction", "market", "other")
RISK_GRADES = ("low", "medium", "high", "very_high")
CREDIT_CLASSES = ("A", "B", "C", "D")
SAFETY_STD_GRADES = ("1", "2", "3", "ungraded")
SITE_KINDS = ("enterprise", "project_site")

KINDS = ("enterprises", "parks", "people", "catalogue", "checklists")
# Which file formats each kind reads (by file name extension).
FORMATS = {
    "enterprises": ("csv", "xlsx"),
    "parks": ("geojson", "json", "kml"),
    "people": ("csv", "xlsx"),
    "catalogue": ("csv",),
    "checklists": ("csv", "xlsx"),
}

# field -> headers accepted (compared after `normal_header`)
ENTERPRISE_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("name", "enterprisename", "companyname", "企业名称", "名称", "单位名称", "企业"),
    "credit_code": ("creditcode", "uscc", "unifiedsocialcreditcode", "统一社会信用代码", "信用代码", "社会信用代码"),
    "address": ("address", "地址", "注册地址", "经营地址", "企业地址"),
    "park": ("park", "parkcode", "园区", "所属园区", "园区代码", "园区名称"),
    "industry": ("industry", "行业", "所属行业", "行业类别"),
    "kind": ("kind", "type", "类型", "对象类型"),
    "risk_grade": ("riskgrade", "risk", "风险等级", "风险分级", "风险"),
    "credit_class": ("creditclass", "信用等级", "信用分类", "信用类别"),
    "safety_std_grade": ("safetystdgrade", "safetystandardisation", "安全标准化等级", "标准化等级", "安全生产标准化等级"),
    "is_hazchem": ("ishazchem", "hazchem", "危化品企业", "危险化学品企业", "危化企业", "危化品"),
    "is_major_hazard": ("ismajorhazard", "majorhazard", "重大危险源"),
    "is_key_polluter": ("iskeypolluter", "keypolluter", "重点排污单位", "重点排污"),
    "contact_name": ("contactname", "contact", "联系人", "负责人"),
    "contact_phone": ("contactphone", "phone", "telephone", "联系电话", "电话", "手机"),
    "lon": ("lon", "lng", "long", "longitude", "x", "经度"),
    "lat": ("lat", "latitude", "y", "纬度"),
}
ENTERPRISE_REQUIRED = ("name", "credit_code", "lon", "lat")

PEOPLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "username": ("username", "login", "用户名", "账号", "登录名"),
    "name": ("name", "fullname", "姓名"),
    "role": ("role", "角色"),
    "parks": ("parks", "park", "园区", "负责园区", "所属园区"),
    "phone": ("phone", "mobile", "电话", "手机", "联系电话"),
    "certificate_no": ("certificateno", "certificate", "执法证号", "执法证", "执法证编号"),
    "certificate_expires": ("certificateexpires", "expires", "执法证有效期", "有效期至", "证件有效期"),
    "certified_domains": ("certifieddomains", "domains", "执法领域", "执法门类"),
    "auxiliary": ("auxiliary", "协管员", "辅助人员"),
    "active": ("active", "在岗", "启用"),
}
PEOPLE_REQUIRED = ("username", "name", "role")

CHECKLIST_COLUMNS: dict[str, tuple[str, ...]] = {
    "template_code": ("templatecode", "checklist", "checklistcode", "检查表代码", "检查表编号"),
    "template_name_zh": ("templatenamezh", "checklistnamezh", "检查表名称"),
    "template_name_en": ("templatenameen", "checklistnameen", "检查表英文名称"),
    "template_domain": ("templatedomain", "checklistdomain", "检查表领域"),
    "item_code": ("itemcode", "code", "检查项代码", "检查项编号"),
    "domain": ("domain", "itemdomain", "领域", "检查项领域"),
    "text_zh": ("textzh", "检查内容", "检查项", "检查项内容"),
    "text_en": ("texten", "englishtext", "检查内容英文"),
    "legal_basis": ("legalbasis", "basis", "法律依据", "依据"),
}
CHECKLIST_REQUIRED = ("template_code", "template_name_zh", "template_domain", "item_code", "text_zh")

RISK_WORDS = {
    "low": "low", "低": "low", "低风险": "low", "较低": "low", "蓝": "low", "蓝色": "low",
    "medium": "medium", "一般": "medium", "中": "medium", "中风险": "medium", "一般风险": "medium", "黄": "medium", "黄色": "medium",
    "high": "high", "较大": "high", "高": "high", "高风险": "high", "较大风险": "high", "橙": "high", "橙色": "high",
    "very_high": "very_high", "veryhigh": "very_high", "重大": "very_high", "极高": "very_high", "重大风险": "very_high",
    "红": "very_high", "红色": "very_high",
}
STD_GRADE_WORDS = {"1": "1", "一级": "1", "2": "2", "二级": "2", "3": "3", "三级": "3",
                   "ungraded": "ungraded", "未定级": "ungraded", "无": "ungraded"}
KIND_WORDS = {"enterprise": "enterprise", "企业": "enterprise", "project_site": "project_site",
              "projectsite": "project_site", "项目工地": "project_site", "工地": "project_site", "在建项目": "project_site"}
ROLE_WORDS = {**{r: r for r in ROLES}, "执法队员": "inspector", "巡查员": "inspector", "中队长": "supervisor",
              "队长": "supervisor", "法制审核": "legal_reviewer", "法制审核员": "legal_reviewer",
              "调度员": "scheduler", "管理员": "admin"}
DOMAIN_WORDS = {**{d: d for d in DOMAINS}, "安全生产": "safety", "安全": "safety", "生态环境": "environment",
                "环境": "environment", "环保": "environment", "消防": "fire", "市容": "city_appearance",
                "市容环境": "city_appearance", "违法建设": "illegal_construction", "违建": "illegal_construction",
                "市场监管": "market", "市场": "market", "其他": "other"}
TRUE_WORDS = {"1", "true", "yes", "y", "t", "是", "有", "√", "✓", "x"}
FALSE_WORDS = {"", "0", "false", "no", "n", "f", "否", "无", "-", "—"}
LIST_SPLIT = re.compile(r"[;,；，、|/\s]+")
_PAREN = re.compile(r"[（(【\[].*?[)）】\]]")

# key -> (zh-CN, en); params in {braces}
MESSAGES: dict[str, tuple[str, str]] = {
    "required": ("必填，此处为空", "required, but empty"),
    "too_long": ("最多 {max} 个字符，此处 {length} 个", "at most {max} characters, this has {length}"),
    "credit_code_length": ("统一社会信用代码应为 18 位，此处 {length} 位", "a credit code has 18 characters, this one has {length}"),
    "credit_code_chars": ("统一社会信用代码含不允许的字符：{chars}（不使用 I、O、S、V、Z）",
                          "characters not allowed in a credit code: {chars} (I, O, S, V, Z are never used)"),
    "credit_code_check": ("统一社会信用代码校验位应为 {expected}，而不是 {got}",
                          "the credit code's check character should be {expected}, not {got}"),
    "not_a_number": ("不是数字：{value}", "not a number: {value}"),
    "lon_range": ("经度应在 -180 到 180 之间，此处为 {value}", "longitude must be between -180 and 180, not {value}"),
    "lat_range": ("纬度应在 -90 到 90 之间，此处为 {value}", "latitude must be between -90 and 90, not {value}"),
    "lonlat_swapped": ("经度和纬度可能填反了（{lon}, {lat}）", "longitude and latitude look swapped ({lon}, {lat})"),
    "unknown_value": ("无法识别的取值“{value}”，可用：{allowed}", "unknown value '{value}'; one of: {allowed}"),
    "not_a_flag": ("应为 是/否，此处为“{value}”", "should be yes or no, not '{value}'"),
    "not_a_date": ("应为日期（YYYY-MM-DD），此处为“{value}”", "should be a date (YYYY-MM-DD), not '{value}'"),
    "unknown_park": ("没有代码或名称为“{value}”的园区", "no park with code or name '{value}'"),
    "outside_parks": ("坐标（{lon}, {lat}）不在任何园区内", "the point ({lon}, {lat}) is outside every park"),
    "outside_park": ("坐标（{lon}, {lat}）不在园区 {park} 内{elsewhere}",
                     "the point ({lon}, {lat}) is outside park {park}{elsewhere_en}"),
    "outside_parks_gcj02": ("坐标（{lon}, {lat}）不在任何园区内，但按 GCJ-02（火星坐标）换算后位于园区 {park}：请把坐标系声明为 gcj02",
                            "the point ({lon}, {lat}) is outside every park, but inside park {park} if it is GCJ-02 "
                            "(Mars coordinates): declare the coordinate system gcj02"),
    "duplicate_in_file": ("与第 {first} 行重复（{value}）", "duplicates row {first} ({value})"),
    "duplicate_name_db": ("园区内已有同名企业（id {site_id}），其信用代码为 {other}",
                          "a site of that name is already in the park (id {site_id}) with credit code {other}"),
    "certificate_taken": ("执法证号 {value} 已属于用户 {other}", "certificate {value} already belongs to user {other}"),
    "grade_without_hazchem": ("只有危化品企业有安全标准化等级", "only a hazardous-chemical plant has a safety-standardisation grade"),
    "bad_code": ("代码只能由大写字母、数字和连字符组成，最多 {max} 个字符", "a code is capital letters, digits and dashes, at most {max} characters"),
    "catalogue_row": ("{message}", "{message}"),
    "catalogue_conflict": ("已有生效日期为 {date} 的同一代码、内容不同的版本；修改请以更晚的生效日期作为新版本导入",
                           "a version effective from {date} exists with other content; import the change as a new "
                           "version with a later effective_from"),
    "template_mismatch": ("检查表 {code} 的名称或领域与第 {first} 行不一致", "checklist {code}'s name or domain differs from row {first}"),
    "geometry": ("几何图形无效：{why}", "invalid geometry: {why}"),
    "no_boundary": ("园区需要多边形边界", "a park needs a polygon boundary"),
    "boundary_leaves_sites": ("新边界会使本园区的 {count} 个对象落在园区外", "the new boundary would leave {count} of the park's sites outside it"),
    "weak_password": ("新用户需要初始密码（至少 {min} 个字符）", "new users need an initial password of at least {min} characters"),
    # warnings
    "overlaps_park": ("与园区 {other} 重叠约 {ha} 公顷", "overlaps park {other} by about {ha} ha"),
    "unknown_column": ("不认识的列“{column}”，已忽略", "unknown column '{column}', ignored"),
    "missing_column": ("缺少必需的列：{columns}", "missing required column(s): {columns}"),
    "looks_gcj02_reference": ("文件看起来是 GCJ-02（火星坐标）：参考点 {what} 距其 WGS 84 位置 {true_m} 米，距 GCJ-02 位置仅 {gcj_m} 米；请把坐标系声明为 gcj02",
                              "the file looks like GCJ-02 (Mars coordinates): the reference {what} is {true_m} m from "
                              "its WGS 84 position and only {gcj_m} m from its GCJ-02 position; declare the "
                              "coordinate system gcj02"),
    "looks_gcj02_rows": ("{count} 行不在任何园区内，但按 GCJ-02 换算后都在园区内：文件看起来是 GCJ-02（火星坐标）",
                         "{count} row(s) are outside every park but inside one if GCJ-02: the file looks like "
                         "GCJ-02 (Mars coordinates)"),
    "looks_gcj02_parks": ("参考点（{lon}, {lat}）不在任何园区边界内，但把边界按 GCJ-02 换算后位于园区 {park} 内：文件看起来是 GCJ-02（火星坐标）",
                          "the reference point ({lon}, {lat}) is inside no park's boundary, but inside park {park} "
                          "if the boundaries are GCJ-02: the file looks like GCJ-02 (Mars coordinates)"),
    "empty_file": ("文件没有数据行", "the file has no data rows"),
    "bad_file": ("无法读取文件：{why}", "the file cannot be read: {why}"),
}


def render(key: str, params: dict | None = None) -> dict:
    """{'zh-CN': ..., 'en': ...} for a message key and its parameters."""
    params = dict(params or {})
    zh, en = MESSAGES[key]
    # Optional clauses with their own language (e.g. "; it is in park X").
    params.setdefault("elsewhere", "")
    params.setdefault("elsewhere_en", "")
    return {"zh-CN": zh.format(**params), "en": en.format(**params)}


def issue(column: str | None, key: str, severity: str = "error", **params) -> dict:
    """One problem of a row: the column, the message key and params, and both renderings."""
    params = {k: (v if isinstance(v, (int, float, bool)) or v is None else str(v)) for k, v in params.items()}
    return {"column": column, "key": key, "params": params, "severity": severity, "message": render(key, params)}


class Refused(Exception):
    """A cell that cannot be read: carries the issue."""

    def __init__(self, issue_: dict):
        super().__init__(issue_["message"]["en"])
        self.issue = issue_


def normal_header(h) -> str:
    """A header as compared: no text in brackets, no spaces, underscores or dashes, lower case."""
    text = _PAREN.sub("", str(h or "")).strip().lower()
    return re.sub(r"[\s_\-.:：*]+", "", text)


def map_headers(headers: list, columns: dict[str, tuple[str, ...]]) -> tuple[dict[int, str], list[str]]:
    """Which field each column index holds, and the headers not understood."""
    lookup = {}
    for field, names in columns.items():
        lookup[normal_header(field)] = field
        for n in names:
            lookup[normal_header(n)] = field
    mapped, unknown, taken = {}, [], set()
    for i, h in enumerate(headers):
        key = normal_header(h)
        if not key:
            continue
        field = lookup.get(key)
        if field is None or field in taken:
            unknown.append(str(h))
            continue
        mapped[i] = field
        taken.add(field)
    return mapped, unknown


def text(value) -> str:
    """A cell as text: None is empty; 12345.0 from a spreadsheet is 12345."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()[:10]
    return str(value).replace("\x00", "").strip()


def limited(column: str, value, max_len: int, required: bool = False) -> str:
    s = text(value)
    if required and not s:
        raise Refused(issue(column, "required"))
    if len(s) > max_len:
        raise Refused(issue(column, "too_long", max=max_len, length=len(s)))
    return s


def number(column: str, value, lo: float, hi: float, range_key: str) -> float:
    s = text(value)
    if not s:
        raise Refused(issue(column, "required"))
    try:
        x = float(value) if isinstance(value, (int, float)) else float(s.replace("，", ".").replace(",", "."))
    except ValueError:
        raise Refused(issue(column, "not_a_number", value=s)) from None
    if x != x or not lo <= x <= hi:
        raise Refused(issue(column, range_key, value=s))
    return x


def credit_code(column: str, value) -> str:
    from . import credit_code as cc

    code = text(value).upper().replace(" ", "")
    if not code:
        raise Refused(issue(column, "required"))
    if len(code) != 18:
        raise Refused(issue(column, "credit_code_length", length=len(code)))
    bad = sorted({c for c in code if c not in cc.ALPHABET})
    if bad:
        raise Refused(issue(column, "credit_code_chars", chars="".join(bad)))
    expected = cc.check_char(code[:17])
    if expected != code[17]:
        raise Refused(issue(column, "credit_code_check", expected=expected, got=code[17]))
    return code


def choice(column: str, value, words: dict[str, str], allowed: tuple[str, ...], default: str | None) -> str | None:
    s = text(value)
    if not s:
        return default
    key = s.lower().replace(" ", "")
    if key in words:
        return words[key]
    if s in words:
        return words[s]
    raise Refused(issue(column, "unknown_value", value=s, allowed=", ".join(allowed)))


def flag(column: str, value, default: bool = False) -> bool:
    if isinstance(value, bool):
        return value
    s = text(value).lower()
    if s == "" and value is None:
        return default
    if s in TRUE_WORDS:
        return True
    if s in FALSE_WORDS:
        return False
    raise Refused(issue(column, "not_a_flag", value=s))


def date(column: str, value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    s = text(value)
    if not s:
        return None
    try:
        return dt.date.fromisoformat(s.replace("/", "-").replace(".", "-"))
    except ValueError:
        raise Refused(issue(column, "not_a_date", value=s)) from None


def word_list(value) -> list[str]:
    return [w for w in LIST_SPLIT.split(text(value)) if w]


def lonlat(lon_value, lat_value) -> tuple[float, float]:
    lon = number("lon", lon_value, -180, 180, "lon_range")
    lat = number("lat", lat_value, -180, 180, "lat_range")
    # China: longitudes 73-135, latitudes 18-54. A pair the other way round was swapped.
    if 18 <= lon <= 54 and 73 <= lat <= 135:
        raise Refused(issue("lon", "lonlat_swapped", lon=lon, lat=lat))
    if not -90 <= lat <= 90:
        raise Refused(issue("lat", "lat_range", value=lat))
    return lon, lat


ENTERPRISE_TEXT_LIMITS = {"name": 200, "address": 255, "industry": 80, "contact_name": 80, "contact_phone": 40}


def enterprise_fields(raw: dict) -> tuple[dict, list[dict]]:
    """A row's typed fields (without park and place) and its problems; the first problem of each
    column is kept."""
    out, problems = {}, []

    def take(column, fn):
        try:
            out[column] = fn()
        except Refused as r:
            problems.append(r.issue)

    for column, max_len in ENTERPRISE_TEXT_LIMITS.items():
        take(column, lambda c=column, m=max_len: limited(c, raw.get(c), m, required=(c == "name")))
    take("credit_code", lambda: credit_code("credit_code", raw.get("credit_code")))
    take("kind", lambda: choice("kind", raw.get("kind"), KIND_WORDS, SITE_KINDS, "enterprise"))
    take("risk_grade", lambda: choice("risk_grade", raw.get("risk_grade"), RISK_WORDS, RISK_GRADES, "low"))
    take("credit_class", lambda: choice("credit_class", text(raw.get("credit_class")).upper() or None,
                                        {c: c for c in CREDIT_CLASSES}, CREDIT_CLASSES, "B"))
    take("safety_std_grade", lambda: choice("safety_std_grade", raw.get("safety_std_grade"), STD_GRADE_WORDS,
                                            SAFETY_STD_GRADES, None))
    for f in ("is_hazchem", "is_major_hazard", "is_key_polluter"):
        take(f, lambda f=f: flag(f, raw.get(f)))
    try:
        out["lon"], out["lat"] = lonlat(raw.get("lon"), raw.get("lat"))
    except Refused as r:
        problems.append(r.issue)
    if not problems:
        if out["is_hazchem"]:
            out["safety_std_grade"] = out["safety_std_grade"] or "ungraded"
        elif out["safety_std_grade"] is not None:
            if text(raw.get("safety_std_grade")) in ("无", "ungraded", "未定级"):
                out["safety_std_grade"] = None
            else:
                problems.append(issue("safety_std_grade", "grade_without_hazchem"))
    return out, problems


def people_fields(raw: dict) -> tuple[dict, list[dict]]:
    out, problems = {}, []

    def take(column, fn):
        try:
            out[column] = fn()
        except Refused as r:
            problems.append(r.issue)

    take("username", lambda: limited("username", raw.get("username"), 64, required=True))
    take("name", lambda: limited("name", raw.get("name"), 80, required=True))
    take("role", lambda: choice("role", raw.get("role"), ROLE_WORDS, ROLES, None))
    if "role" in out and out["role"] is None:
        problems.append(issue("role", "required"))
    take("phone", lambda: limited("phone", raw.get("phone"), 40))
    take("certificate_no", lambda: limited("certificate_no", raw.get("certificate_no"), 40) or None)
    take("certificate_expires", lambda: date("certificate_expires", raw.get("certificate_expires")))
    take("auxiliary", lambda: flag("auxiliary", raw.get("auxiliary")))
    take("active", lambda: flag("active", raw.get("active"), default=True) if text(raw.get("active")) else True)
    domains = []
    for w in word_list(raw.get("certified_domains")):
        d = DOMAIN_WORDS.get(w.lower()) or DOMAIN_WORDS.get(w)
        if d is None:
            problems.append(issue("certified_domains", "unknown_value", value=w, allowed=", ".join(DOMAINS)))
            break
        if d not in domains:
            domains.append(d)
    out["certified_domains"] = domains
    out["parks"] = word_list(raw.get("parks"))
    return out, problems


def checklist_fields(raw: dict) -> tuple[dict, list[dict]]:
    out, problems = {}, []

    def take(column, fn):
        try:
            out[column] = fn()
        except Refused as r:
            problems.append(r.issue)

    code_re = re.compile(r"^[A-Z0-9]+(?:-[A-Z0-9]+)*$")
    for column in ("template_code", "item_code"):
        take(column, lambda c=column: limited(c, text(raw.get(c)).upper(), 40, required=True))
        if out.get(column) and not code_re.match(out[column]):
            problems.append(issue(column, "bad_code", max=40))
    take("template_name_zh", lambda: limited("template_name_zh", raw.get("template_name_zh"), 120, required=True))
    take("template_name_en", lambda: limited("template_name_en", raw.get("template_name_en"), 120))
    take("template_domain", lambda: choice("template_domain", raw.get("template_domain"), DOMAIN_WORDS, DOMAINS, None))
    if "template_domain" in out and out["template_domain"] is None:
        problems.append(issue("template_domain", "required"))
    take("domain", lambda: choice("domain", raw.get("domain"), DOMAIN_WORDS, DOMAINS, None))
    take("text_zh", lambda: limited("text_zh", raw.get("text_zh"), 2000, required=True))
    take("text_en", lambda: limited("text_en", raw.get("text_en"), 2000))
    take("legal_basis", lambda: limited("legal_basis", raw.get("legal_basis"), 2000))
    if not problems:
        out["domain"] = out["domain"] or out["template_domain"]
        out["template_name_en"] = out["template_name_en"] or out["template_name_zh"]
        out["text_en"] = out["text_en"] or out["text_zh"]
    return out, problems
