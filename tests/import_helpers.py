"""Shared inputs for the import tests and the import bench: an empty database with one admin,
generated files (parks GeoJSON/KML, enterprises XLSX/CSV, people CSV, checklist CSV)."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from server.domain.coords import wgs84_to_gcj02
from server.domain.credit_code import check_char

ADMIN_PASSWORD = "first-admin-password-9"
INITIAL_PASSWORD = "initial-password-77"
# Two parks near Yizheng, side by side, and the bureau's office (WGS 84).
PARKS = {
    "EDZ": ("经济开发区", "Economic Development Zone", (119.150, 32.250, 119.190, 32.280)),
    "CHEM": ("化工园区", "Chemical Park", (119.200, 32.250, 119.240, 32.280)),
}
OFFICE = (119.185, 32.245)
ENTERPRISE_HEADERS = ["企业名称", "统一社会信用代码", "地址", "园区", "行业", "风险等级", "危化品企业", "重大危险源",
                      "联系人", "联系电话", "经度（WGS84）", "纬度"]


def credit_code(n: int) -> str:
    body = f"91321081MA{n:07d}"
    return body + check_char(body)


def empty_database(engine: str, tmp_path: Path, pg_url: str | None) -> str:
    """A migrated database with nothing in it; answers its URL."""
    from server.db import normalise_url
    from server.migrate import upgrade

    if engine == "spatialite":
        url = f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        name = f"fc_imp_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(make_url(normalise_url(pg_url)).set(database="postgres"),
                                 isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with admin.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        url = make_url(normalise_url(pg_url)).set(database=name).render_as_string(hide_password=False)
        eng = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with eng.begin() as c:
            c.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
        eng.dispose()
    upgrade(url)
    return url


def drop_database(url: str) -> None:
    u = make_url(url)
    if u.get_backend_name() != "postgresql":
        return
    admin = sa.create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')
    admin.dispose()


def first_admin(app) -> None:
    """What `fieldcheck init --no-demo` does after migrating: the first admin and the policy."""
    from server.extensions import db
    from server.services.policy import current
    from server.services.users import create_user

    with app.app_context():
        create_user("admin", "系统管理员", "admin", ADMIN_PASSWORD)
        current()
        db.session.commit()


def parks_geojson(with_office: bool = True, gcj: bool = False) -> bytes:
    def conv(p):
        return list(wgs84_to_gcj02(*p)) if gcj else list(p)

    features = []
    for code, (zh, en, (x0, y0, x1, y1)) in PARKS.items():
        ring = [conv(p) for p in ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))]
        features.append({"type": "Feature", "properties": {"园区代码": code, "园区名称": zh, "name_en": en},
                         "geometry": {"type": "Polygon", "coordinates": [ring]}})
    if with_office:
        features.append({"type": "Feature", "properties": {"kind": "office", "name": "仪征市综合行政执法局"},
                         "geometry": {"type": "Point", "coordinates": conv(OFFICE)}})
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode()


def parks_kml() -> bytes:
    marks = []
    for code, (zh, en, (x0, y0, x1, y1)) in PARKS.items():
        ring = " ".join(f"{x},{y},0" for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)))
        marks.append(f"""<Placemark><name>{zh}</name><ExtendedData><Data name="code"><value>{code}</value></Data>
<Data name="name_en"><value>{en}</value></Data></ExtendedData>
<Polygon><outerBoundaryIs><LinearRing><coordinates>{ring}</coordinates></LinearRing></outerBoundaryIs></Polygon>
</Placemark>""")
    return ("<?xml version='1.0' encoding='UTF-8'?><kml xmlns='http://www.opengis.net/kml/2.2'><Document>"
            + "".join(marks) + "</Document></kml>").encode()


def enterprise_row(n: int) -> list:
    """The n-th good enterprise (n from 0): alternating parks, a grid inside each."""
    code = "EDZ" if n % 2 == 0 else "CHEM"
    x0, y0, x1, y1 = PARKS[code][2]
    i = n // 2
    lon = x0 + 0.002 + (i % 40) * (x1 - x0 - 0.004) / 40
    lat = y0 + 0.002 + ((i // 40) % 40) * (y1 - y0 - 0.004) / 40
    risk = ("低", "一般", "较大", "重大")[n % 4]
    return [f"测试企业{n:05d}有限公司", credit_code(n), f"仪征市测试路{n}号", code, "机械制造", risk,
            "是" if code == "CHEM" and n % 3 == 0 else "否", "否", f"联系人{n}", f"1380000{n % 10000:04d}",
            round(lon, 6), round(lat, 6)]


def enterprises_xlsx(n: int, broken: bool = True) -> tuple[bytes, dict[int, str]]:
    """An XLSX of n enterprises; with `broken`, some rows are wrong on purpose. Answers the bytes
    and {spreadsheet row: the message key the row must be refused with}."""
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("企业名录")
    ws.append(ENTERPRISE_HEADERS)
    expected = {}
    for k in range(n):
        row = enterprise_row(k)
        row_no = k + 2
        if broken and k == 10:
            row[1] = row[1][:17] + ("0" if row[1][17] != "0" else "1")
            expected[row_no] = ("统一社会信用代码", "credit_code", "credit_code_check")
        elif broken and k == 20:
            row[10], row[11] = 119.100, 32.300  # in no park
            row[3] = ""
            expected[row_no] = ("经度（WGS84）", "lon", "outside_parks")
        elif broken and k == 30:
            row[3] = "NOPE"
            expected[row_no] = ("园区", "park", "unknown_park")
        elif broken and k == 40:
            row[1] = credit_code(2)  # the same as row 4's
            expected[row_no] = ("统一社会信用代码", "credit_code", "duplicate_in_file")
        elif broken and k == 50:
            # true position 40 m inside EDZ's south edge, written in GCJ-02 (about 300 m south-east)
            lon, lat = wgs84_to_gcj02(119.170, 32.2504)
            row[10], row[11], row[3] = round(lon, 7), round(lat, 7), ""
            expected[row_no] = ("经度（WGS84）", "lon", "outside_parks_gcj02")
        elif broken and k == 60:
            row[5] = "超高"
            expected[row_no] = ("风险等级", "risk_grade", "unknown_value")
        elif broken and k == 70:
            row[10], row[11] = row[11], row[10]
            expected[row_no] = ("经度（WGS84）", "lon", "lonlat_swapped")
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue(), expected


def enterprises_csv(n: int) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["name", "credit_code", "address", "park", "industry", "risk_grade", "hazchem", "major_hazard",
                "contact", "phone", "longitude", "latitude"])
    for k in range(n):
        w.writerow(enterprise_row(k))
    return out.getvalue().encode("utf-8")


PEOPLE = [
    # username, name, role, parks, certificate, domains
    ("wangwei", "王伟", "inspector", "EDZ", "JS-3210-1001", "安全生产、消防"),
    ("lina", "李娜", "inspector", "EDZ", "JS-3210-1002", "安全生产;环境"),
    ("zhangmin", "张敏", "inspector", "CHEM", "JS-3210-1003", "safety"),
    ("liuyang", "刘洋", "执法队员", "CHEM", "JS-3210-1004", "safety, fire"),
    ("chenjing", "陈静", "中队长", "EDZ;CHEM", "", ""),
    ("diaodu", "赵调度", "scheduler", "EDZ、CHEM", "", ""),
]


def people_csv(extra_rows: list[list] | None = None) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["用户名", "姓名", "角色", "园区", "执法证号", "执法证有效期", "执法领域"])
    expires = (dt.date.today() + dt.timedelta(days=400)).isoformat()
    for u, name, role, parks, cert, domains in PEOPLE:
        w.writerow([u, name, role, parks, cert, expires if cert else "", domains])
    for r in extra_rows or []:
        w.writerow(r)
    return out.getvalue().encode("utf-8")


def checklist_csv(extra_rows: list[list] | None = None) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["template_code", "template_name_zh", "template_name_en", "template_domain", "item_code", "domain",
                "text_zh", "text_en", "legal_basis"])
    w.writerow(["FIRE", "消防安全检查表", "Fire safety checklist", "消防", "FIRE-001", "", "疏散通道、安全出口畅通",
                "Escape routes and exits are clear", "《中华人民共和国消防法》第二十八条"])
    w.writerow(["FIRE", "消防安全检查表", "Fire safety checklist", "消防", "FIRE-002", "", "消防设施、器材完好有效",
                "Fire equipment is in working order", "《中华人民共和国消防法》第十六条第一款第（二）项"])
    w.writerow(["SAFETY", "安全生产检查表", "Safety checklist", "安全生产", "SAF-001", "safety", "设置安全警示标志",
                "Safety warning signs are posted", "《中华人民共和国安全生产法》第三十五条"])
    for r in extra_rows or []:
        w.writerow(r)
    return out.getvalue().encode("utf-8")
