"""What a phone downloads on its first visit, and what the service worker keeps for offline.

The first load without the map library stays under 150 KB gzipped (UI.md: "Small"); the
service worker's shell holds every file of the app, and its cache name changes whenever
one of them does (otherwise phones keep running the old app); every string the code asks
for exists in both languages, and no Chinese text hides in code outside the i18n tables.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

PWA = Path(__file__).resolve().parent.parent / "pwa"
BUDGET = 150 * 1024

# Static imports and re-exports; a dynamic import("...") is not part of the first load.
IMPORT_RE = re.compile(r"""^\s*(?:import|export)\s+(?:[^"';]*?\s+from\s+)?["']([^"']+)["']""", re.M)


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.modules: list[str] = []
        self.urls: list[str] = []  # stylesheets, manifest, icons: fetched by the page itself

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            (self.modules if a.get("type") == "module" else self.urls).append(a["src"])
        elif tag == "link" and a.get("href") and set((a.get("rel") or "").split()) & {
                "stylesheet", "manifest", "icon", "apple-touch-icon", "modulepreload"}:
            self.urls.append(a["href"])


def _file(url: str) -> Path:
    assert url.startswith("/"), f"{url}: the app names its files from the site root"
    path = PWA / url.lstrip("/")
    assert path.is_file(), f"{url} is referenced but pwa/{url.lstrip('/')} does not exist"
    return path


def _module_graph(entry: Path) -> list[Path]:
    seen: list[Path] = []
    todo = [entry]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.append(module)
        for spec in IMPORT_RE.findall(module.read_text(encoding="utf-8")):
            assert spec.startswith((".", "/")), f"{module.name} imports {spec!r}: only relative or root paths work without a build step"
            target = (module.parent / spec).resolve() if spec.startswith(".") else _file(spec)
            assert target.is_file(), f"{module.relative_to(PWA)} imports {spec}, which does not exist"
            todo.append(target)
    return seen


def first_visit_files() -> list[Path]:
    """index.html, what it links, every module reachable by static imports, the manifest's icons."""
    parser = _Links()
    parser.feed((PWA / "index.html").read_text(encoding="utf-8"))
    files = [PWA / "index.html"]
    for url in parser.urls:
        files.append(_file(url))
        if url.endswith(".webmanifest"):
            manifest = json.loads(_file(url).read_text(encoding="utf-8"))
            files.extend(_file(icon["src"]) for icon in manifest["icons"])
    assert parser.modules, "index.html loads no module"
    for url in parser.modules:
        files.extend(_module_graph(_file(url)))
    return list(dict.fromkeys(p.resolve() for p in files))


def _sw() -> str:
    return (PWA / "sw.js").read_text(encoding="utf-8")


def shell_urls() -> list[str]:
    block = re.search(r"const SHELL = \[(.*?)\];", _sw(), re.S)
    assert block, "sw.js has no SHELL list"
    return re.findall(r'"([^"]+)"', block.group(1))


def _shell_path(url: str) -> Path | None:
    """The pwa/ file behind a shell URL; None for the vendored map library."""
    if url.startswith("/vendor/"):
        return None
    return _file("/index.html" if url == "/" else url)


def test_first_visit_is_under_budget_gzipped():
    sizes = {p.relative_to(PWA).as_posix(): len(gzip.compress(p.read_bytes(), 9)) for p in first_visit_files()}
    total = sum(sizes.values())
    for name, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        print(f"{size:>8} B  {name}")
    print(f"first visit without Leaflet: {total} B gzipped = {total / 1024:.1f} KB of {BUDGET // 1024} KB")
    # The entry module and both screens must be in the sum, or the parsing above is broken.
    assert {"index.html", "js/app.js", "js/screens/login.js", "js/screens/home.js", "css/app.css",
            "manifest.webmanifest", "icons/icon-512.png"} <= set(sizes)
    assert total < BUDGET, f"the first visit downloads {total} B gzipped, over the {BUDGET} B budget"


def test_the_shell_holds_every_file_of_the_app():
    shell = {p.resolve() for url in shell_urls() if (p := _shell_path(url))}
    app_files = {p.resolve() for p in PWA.rglob("*") if p.is_file() and p.name != "sw.js"}
    missing = sorted(p.relative_to(PWA).as_posix() for p in app_files - shell)
    assert not missing, f"sw.js's SHELL lacks {missing}: offline, the app would not find them"
    assert "/vendor/leaflet/leaflet.js" in shell_urls() and "/vendor/leaflet/leaflet.css" in shell_urls()


def shell_hash() -> str:
    digest = hashlib.sha256()
    for url in sorted(shell_urls()):
        path = _shell_path(url)
        if path is not None:
            digest.update(url.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:10]


def test_the_shell_cache_name_follows_its_contents():
    version = re.search(r'const VERSION = "([^"]+)";', _sw())
    assert version, "sw.js has no VERSION"
    expected = f"fc-shell-{shell_hash()}"
    assert version.group(1) == expected, (
        f"a shell file changed: set `const VERSION = \"{expected}\";` in pwa/sw.js so phones fetch the new app")


@pytest.mark.parametrize("url", ["/", "/js/app.js", "/css/app.css", "/manifest.webmanifest", "/sw.js"])
def test_the_server_serves_the_shell(url):
    from flask import Flask

    from server.pwa_static import bp

    app = Flask(__name__)
    app.register_blueprint(bp)
    r = app.test_client().get(url)
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-cache"


# A module loaded on demand carries its own words: addStrings({ "zh-CN": {...}, en: {...} }).
_ADD_STRINGS = re.compile(r'addStrings\(\{\n  "zh-CN": \{(.*?)\n  \},\n  en: \{(.*?)\n  \},\n\}\);', re.S)
_KEY = re.compile(r'^\s+"([\w.]+)":', re.M)


def _module_tables() -> dict[str, tuple[set[str], set[str]]]:
    """Each module's addStrings tables: name -> (zh-CN keys, en keys)."""
    found = {}
    for module in (PWA / "js").rglob("*.js"):
        source = module.read_text(encoding="utf-8")
        if "addStrings({" not in source or module.name == "i18n.js":
            continue
        blocks = _ADD_STRINGS.findall(source)
        assert blocks, f"{module.name}: addStrings must be called as addStrings({{ \"zh-CN\": {{...}}, en: {{...}} }});"
        zh = set().union(*(_KEY.findall(b[0]) for b in blocks))
        en = set().union(*(_KEY.findall(b[1]) for b in blocks))
        found[module.relative_to(PWA).as_posix()] = (zh, en)
    return found


def _tables() -> dict[str, set[str]]:
    source = (PWA / "js" / "i18n.js").read_text(encoding="utf-8")
    zh = re.search(r'"zh-CN": \{(.*?)\n  \},', source, re.S)
    en = re.search(r"\n  en: \{(.*?)\n  \},", source, re.S)
    assert zh and en, "i18n.js no longer has its two tables where this test looks for them"
    tables = {"zh-CN": set(_KEY.findall(zh.group(1))), "en": set(_KEY.findall(en.group(1)))}
    for zh_keys, en_keys in _module_tables().values():
        tables["zh-CN"] |= zh_keys
        tables["en"] |= en_keys
    return tables


def test_every_module_table_has_both_languages_and_no_key_of_another():
    seen: dict[str, str] = {}
    source = (PWA / "js" / "i18n.js").read_text(encoding="utf-8")
    shell = set(_KEY.findall(re.search(r'"zh-CN": \{(.*?)\n  \},', source, re.S).group(1)))
    for name, (zh, en) in _module_tables().items():
        assert zh == en, f"{name}: only in zh-CN: {sorted(zh - en)}; only in en: {sorted(en - zh)}"
        clash = sorted(k for k in zh if k in shell or k in seen)
        assert not clash, f"{name} redefines {clash} (of i18n.js or {sorted({seen.get(k) for k in clash} - {None})})"
        seen.update((k, name) for k in zh)


def test_no_string_key_is_defined_twice():
    """A later duplicate silently wins in a JS object literal: two screens would then share
    (and one of them show) the other's text."""
    source = (PWA / "js" / "i18n.js").read_text(encoding="utf-8")
    for name, pattern in (("zh-CN", r'"zh-CN": \{(.*?)\n  \},'), ("en", r"\n  en: \{(.*?)\n  \},")):
        body = re.search(pattern, source, re.S).group(1)
        keys = re.findall(r'^\s+"([\w.]+)":', body, re.M)
        twice = sorted({k for k in keys if keys.count(k) > 1})
        assert not twice, f"defined twice in the {name} table: {twice}"


def test_every_string_is_in_both_languages():
    tables = _tables()
    assert len(tables["zh-CN"]) > 20
    assert tables["zh-CN"] == tables["en"], (
        f"only in zh-CN: {sorted(tables['zh-CN'] - tables['en'])}; only in en: {sorted(tables['en'] - tables['zh-CN'])}")
    used: dict[str, str] = {}
    for module in (PWA / "js").rglob("*.js"):
        source = module.read_text(encoding="utf-8")
        # t("key"), ctx.notice = "key", and t(`prefix.${x}`) whose prefix must exist.
        for k in re.findall(r"""\bt\(\s*["']([\w.]+)["']""", source):
            used[k] = module.name
        for k in re.findall(r'notice = "([\w.]+)"', source):
            used[k] = module.name
        for prefix in re.findall(r"\bt\(`([\w.]+\.)\$\{", source):
            assert any(k.startswith(prefix) for k in tables["zh-CN"]), f"{module.name}: no string starts {prefix}"
    missing = {k: m for k, m in used.items() if k not in tables["zh-CN"]}
    assert not missing, f"strings asked for but absent from the tables: {missing}"
    assert {"login.submit", "home.refresh", "badge.offline"} <= set(used)


def test_the_dynamic_keys_cover_the_vocabularies():
    from server.models.vocab import RISK_GRADES, ROLES

    keys = _tables()["zh-CN"]
    assert {f"role.{r}" for r in ROLES} <= keys
    assert {f"risk.{g}" for g in RISK_GRADES} <= keys


def test_no_chinese_outside_the_string_tables():
    cjk = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
    offenders = []
    for module in (PWA / "js").rglob("*.js"):
        if module.name == "i18n.js":
            continue
        source = module.read_text(encoding="utf-8")
        # A module's own addStrings tables are string tables too (blanked, so line numbers stay).
        source = _ADD_STRINGS.sub(lambda m: "\n" * m.group(0).count("\n"), source)
        for n, line in enumerate(source.splitlines(), 1):
            code = line.split("//", 1)[0]
            if cjk.search(code):
                offenders.append(f"{module.relative_to(PWA)}:{n}: {line.strip()}")
    assert not offenders, "user-visible text belongs in js/i18n.js:\n" + "\n".join(offenders)
