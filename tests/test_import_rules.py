"""The pure rules of imports (server/domain/imports.py): headers, cell values, messages."""
from __future__ import annotations

import datetime as dt

import pytest

from server.domain import imports as rules
from server.domain.credit_code import check_char


def test_the_import_rules_spell_the_models_vocabularies():
    """server/domain/imports.py spells the vocabularies itself (the domain imports no model
    package): they must stay those of server/models/vocab.py, and every word it reads must
    land on one of them."""
    from server.domain import imports as rules
    from server.models import vocab

    for name in ("ROLES", "DOMAINS", "RISK_GRADES", "CREDIT_CLASSES", "SAFETY_STD_GRADES", "SITE_KINDS"):
        assert getattr(rules, name) == getattr(vocab, name), name
    assert rules.KINDS == vocab.IMPORT_KINDS
    for words, allowed in ((rules.RISK_WORDS, vocab.RISK_GRADES), (rules.ROLE_WORDS, vocab.ROLES),
                           (rules.DOMAIN_WORDS, vocab.DOMAINS), (rules.KIND_WORDS, vocab.SITE_KINDS),
                           (rules.STD_GRADE_WORDS, vocab.SAFETY_STD_GRADES)):
        assert set(words.values()) == set(allowed)
    # every message renders in both languages with the parameters its placeholders name
    import string

    for key, (zh, en) in rules.MESSAGES.items():
        names = {f for text in (zh, en) for _l, f, _s, _c in string.Formatter().parse(text) if f}
        rendered = rules.render(key, {n: "X" for n in names})
        assert rendered["zh-CN"] and rendered["en"], key



def test_headers_in_chinese_and_english_map_to_the_same_fields():
    mapped, unknown = rules.map_headers(
        ["企业名称", "统一社会信用代码", "经度（WGS84）", "Latitude", "Risk Grade", "备注", "", "名称"],
        rules.ENTERPRISE_COLUMNS)
    assert mapped == {0: "name", 1: "credit_code", 2: "lon", 3: "lat", 4: "risk_grade"}
    assert unknown == ["备注", "名称"]  # a second column for a field already mapped is not taken


def test_cells_read_as_a_person_means_them():
    body = "91321081MA1XK4LL3"
    assert rules.credit_code("c", " " + (body + check_char(body)).lower() + " ") == body + check_char(body)
    with pytest.raises(rules.Refused) as e:
        rules.credit_code("c", body + ("0" if check_char(body) != "0" else "1"))
    assert e.value.issue["key"] == "credit_code_check" and e.value.issue["params"]["expected"] == check_char(body)
    assert rules.text(12345.0) == "12345" and rules.text(None) == ""
    assert rules.flag("f", "是") is True and rules.flag("f", "否") is False and rules.flag("f", "") is False
    assert rules.date("d", "2027/03/01") == dt.date(2027, 3, 1)
    assert rules.choice("r", "较大", rules.RISK_WORDS, rules.RISK_GRADES, "low") == "high"
    with pytest.raises(rules.Refused) as e:
        rules.lonlat(32.26, 119.17)
    assert e.value.issue["key"] == "lonlat_swapped"
    fields, problems = rules.enterprise_fields({"name": "甲", "credit_code": body + check_char(body),
                                                "lon": "119.17", "lat": "32.26", "safety_std_grade": "二级"})
    assert [p["key"] for p in problems] == ["grade_without_hazchem"]


def test_reading_an_xlsx_holds_no_row_already_read(tmp_path):
    """openpyxl's read-only parser leaves every row it read in the sheet's XML tree (about 75
    bytes a row); the reader takes them out, so reading 4,500 rows peaks no higher than 500
    (tracemalloc, the Python heap: deterministic, not a timing)."""
    import tracemalloc

    from server.services.import_readers import open_table
    from tests.import_helpers import enterprises_xlsx

    paths = {}
    for n in (500, 4500):
        paths[n] = tmp_path / f"e{n}.xlsx"
        paths[n].write_bytes(enterprises_xlsx(n, broken=False)[0])

    def peak(n):
        table = open_table(paths[n], "xlsx", rules.ENTERPRISE_COLUMNS, rules.ENTERPRISE_REQUIRED)
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            count = sum(1 for _ in table.rows)
            return count, tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()

    peak(500)  # the first read loads what any read needs
    (small, at_small), (large, at_large) = peak(500), peak(4500)
    assert (small, large) == (500, 4500)
    assert at_large - at_small < 100_000, (at_small, at_large)  # 4,000 rows kept would be ~300 KB
