"""Reading import files as rows, streaming: CSV (UTF-8 or the GB18030 that Chinese Excel
writes), XLSX (openpyxl in read-only mode: one row at a time), GeoJSON and KML (parsed
whole: boundary files are small; KML through defusedxml, so no entity expansion or external
entities).

A table reader yields (row_no, {field: raw value}) with row_no the line or spreadsheet row
number a person sees; `open_table` answers the header mapping first so a missing column is
reported before any row.
"""
from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..domain import imports as rules


class FileProblem(ValueError):
    """The file as a whole cannot be read; carries the issue (message key and params)."""

    def __init__(self, issue: dict):
        super().__init__(issue["message"]["en"])
        self.issue = issue


@dataclass
class Table:
    rows: Iterator[tuple[int, dict]]
    unknown: list[str]
    total_estimate: int | None
    present: set = field(default_factory=set)
    close: object = None
    headers: dict = field(default_factory=dict)  # field -> the header as the file spells it


def _csv_encoding(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(256 * 1024)
    try:
        # a cut in the middle of a character at the end of the sample is not a wrong encoding
        codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
        return "utf-8-sig"
    except UnicodeDecodeError:
        return "gb18030"


def _count_lines(path: Path) -> int:
    n = 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            n += chunk.count(b"\n")
    return n


def _csv_rows(path: Path) -> tuple[list, Iterator, object]:
    fh = open(path, encoding=_csv_encoding(path), newline="")
    reader = csv.reader(fh)
    header = None
    for header in reader:
        if any(c.strip() for c in header):
            break
    if header is None:
        fh.close()
        raise FileProblem(rules.issue(None, "empty_file"))

    def rows():
        try:
            for values in reader:
                yield reader.line_num, values
        finally:
            fh.close()

    return header, rows(), fh


def _rows_let_go() -> None:
    """openpyxl's read-only sheet parser (3.1) clears each <row> element once read but leaves the
    empty element in <sheetData>, which ElementTree's iterparse keeps building: about 75 bytes a
    row held until the sheet ends (3 MiB at 50,000 rows), so a streamed import's memory still
    grew with the file. Its parser calls the module's `iterparse(source)`; this wraps that
    name so that each finished row is also taken out of <sheetData> when the parser asks for the
    next element (it has read and cleared the row by then). Same elements, same order; any other
    call (events asked for) goes to the original. Installed once, idempotent, process-wide (every
    openpyxl reader gains); if openpyxl's internals change, nothing is patched."""
    try:
        from openpyxl.worksheet import _reader
    except ImportError:  # pragma: no cover - openpyxl is a dependency
        return
    original = getattr(_reader, "iterparse", None)
    row_tag, data_tag = getattr(_reader, "ROW_TAG", None), getattr(_reader, "DATA_TAG", None)
    if original is None or getattr(original, "fieldcheck_rows_let_go", False) or not (row_tag and data_tag):
        return

    def iterparse(source, events=None, *args, **kwargs):
        if events is not None or args or kwargs:
            yield from original(source, events, *args, **kwargs)
            return
        data = None
        for event, el in original(source, events=("start", "end")):
            if event == "start":
                if el.tag == data_tag:
                    data = el
                continue
            yield event, el
            if el.tag == row_tag and data is not None and len(data) and data[0] is el:
                del data[0]

    iterparse.fieldcheck_rows_let_go = True
    _reader.iterparse = iterparse


def _xlsx_rows(path: Path) -> tuple[list, Iterator, object, int | None]:
    import openpyxl

    _rows_let_go()
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many kinds for a file that is not a workbook
        raise FileProblem(rules.issue(None, "bad_file", why=f"not an XLSX workbook ({type(e).__name__})")) from None
    ws = wb.worksheets[0]
    it = ws.iter_rows(values_only=True)
    header, header_row = None, 0
    for header_row, values in enumerate(it, start=1):
        if any(rules.text(v) for v in values):
            header = list(values)
            break
    if header is None:
        wb.close()
        raise FileProblem(rules.issue(None, "empty_file"))
    total = (ws.max_row - header_row) if ws.max_row else None

    def rows():
        try:
            for row_no, values in enumerate(it, start=header_row + 1):
                yield row_no, list(values)
        finally:
            wb.close()

    return header, rows(), wb, total


def open_table(path: Path, ext: str, columns: dict, required: tuple[str, ...]) -> Table:
    if ext == "csv":
        header, raw_rows, closer = _csv_rows(path)
        total = max(0, _count_lines(path) - 1)
    elif ext == "xlsx":
        header, raw_rows, closer, total = _xlsx_rows(path)
    else:
        raise FileProblem(rules.issue(None, "bad_file", why=f"a table is CSV or XLSX, not {ext}"))
    mapped, unknown = rules.map_headers(header, columns)
    present = set(mapped.values())
    missing = [c for c in required if c not in present]
    if missing:
        if hasattr(closer, "close"):
            closer.close()
        raise FileProblem(rules.issue(None, "missing_column", columns=", ".join(missing)))

    def rows():
        for row_no, values in raw_rows:
            if not any(rules.text(v) for v in values):
                continue
            yield row_no, {f: values[i] if i < len(values) else None for i, f in mapped.items()}

    return Table(rows(), unknown, total, present, closer, {f: str(header[i]).strip() for i, f in mapped.items()})


# --- boundaries -----------------------------------------------------------------------------

PARK_PROPERTIES = {
    "code": ("code", "parkcode", "代码", "园区代码", "编号"),
    "name_zh": ("namezh", "name", "名称", "园区名称", "中文名称"),
    "name_en": ("nameen", "englishname", "英文名称"),
    "kind": ("kind", "type", "类型"),
}


def _properties(props: dict) -> dict:
    mapped, _ = rules.map_headers(list(props.keys()), PARK_PROPERTIES)
    keys = list(props.keys())
    return {f: props[keys[i]] for i, f in mapped.items()}


def read_geojson(path: Path) -> list[tuple[int, dict, dict | None]]:
    """[(feature number from 1, properties, geometry)]."""
    try:
        with open(path, encoding="utf-8-sig") as fh:
            doc = json.load(fh)
    except (ValueError, UnicodeDecodeError) as e:
        raise FileProblem(rules.issue(None, "bad_file", why=f"not JSON ({e})")) from None
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        features = doc.get("features") or []
    elif isinstance(doc, dict) and doc.get("type") == "Feature":
        features = [doc]
    else:
        raise FileProblem(rules.issue(None, "bad_file", why="a GeoJSON FeatureCollection is expected"))
    out = []
    for n, f in enumerate(features, start=1):
        if not isinstance(f, dict):
            continue
        out.append((n, _properties(f.get("properties") or {}), f.get("geometry")))
    if not out:
        raise FileProblem(rules.issue(None, "empty_file"))
    return out


_KML_NS = "{http://www.opengis.net/kml/2.2}"


def _coords(text: str) -> list[list[float]]:
    pts = []
    for tok in (text or "").split():
        parts = tok.split(",")
        pts.append([float(parts[0]), float(parts[1])])
    return pts


def read_kml(path: Path) -> list[tuple[int, dict, dict | None]]:
    """KML Placemarks as GeoJSON-like geometries; properties from <name> and <ExtendedData>."""
    from defusedxml import ElementTree as ET  # noqa: N817
    from defusedxml.common import DefusedXmlException

    try:
        root = ET.parse(str(path)).getroot()
    except (ET.ParseError, DefusedXmlException) as e:
        raise FileProblem(rules.issue(None, "bad_file", why=f"not KML ({type(e).__name__}: {e})")) from None
    ns = _KML_NS if root.tag.startswith(_KML_NS) else ""

    def polygon(el) -> list:
        rings = []
        for tag in ("outerBoundaryIs", "innerBoundaryIs"):
            for b in el.iter(f"{ns}{tag}"):
                c = b.find(f".//{ns}coordinates")
                if c is not None:
                    rings.append(_coords(c.text))
        return rings

    out = []
    for n, pm in enumerate(root.iter(f"{ns}Placemark"), start=1):
        props = {}
        name = pm.find(f"{ns}name")
        if name is not None and name.text:
            props["name"] = name.text.strip()
        for d in pm.iter(f"{ns}Data"):
            v = d.find(f"{ns}value")
            props[d.get("name", "")] = (v.text or "").strip() if v is not None else ""
        for d in pm.iter(f"{ns}SimpleData"):
            props[d.get("name", "")] = (d.text or "").strip()
        try:
            polys = [polygon(p) for p in pm.iter(f"{ns}Polygon")]
            point = pm.find(f".//{ns}Point/{ns}coordinates")
            if polys:
                geometry = ({"type": "Polygon", "coordinates": polys[0]} if len(polys) == 1
                            else {"type": "MultiPolygon", "coordinates": polys})
            elif point is not None:
                geometry = {"type": "Point", "coordinates": _coords(point.text)[0]}
            else:
                geometry = None
        except (ValueError, IndexError):
            geometry = {"type": "Invalid", "why": "coordinates are not lon,lat numbers"}
        out.append((n, _properties(props), geometry))
    if not out:
        raise FileProblem(rules.issue(None, "empty_file"))
    return out


OFFICE_WORDS = {"office", "办公地点", "执法局", "局机关", "办公室"}
