#!/usr/bin/env bash
# The set-up behind `make run` and `make test`:
#   scripts/setup.sh run    the Debian packages the app needs, .venv, the project
#   scripts/setup.sh test   the same, plus the [test] extra, Chromium and PostGIS
#
# As root, missing Debian packages are installed (apt-get update only when the
# install needs it). As another user, a package the app cannot run without stops
# here with the exact command to run; a package only some tests need is named, and
# those tests skip with their reason (they fail instead under FIELDCHECK_REQUIRE_ALL=1).
# The project is re-installed into .venv only when setup.cfg or pyproject.toml changed
# since the last install (a stamp file in .venv remembers their hash).
set -euo pipefail

mode="${1:-run}"
case "$mode" in run|test) ;; *) echo "usage: $0 run|test" >&2; exit 2 ;; esac

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV=.venv
STAMP="$VENV/.fieldcheck-installed"
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

say() { printf '%s\n' "$*"; }
die() { printf 'make %s: %s\n' "$mode" "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }
have() { command -v "$1" >/dev/null 2>&1; }
deb_installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = "installed" ]; }

# --- which Debian packages are missing ------------------------------------------

required=()   # the app cannot run without these
optional=()   # only some tests need these
optional_why=()

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    die "fieldcheck needs Python 3.11 or newer; '$PYTHON' is $("$PYTHON" --version 2>&1 || echo missing). Set PYTHON=/path/to/python3.11"
fi
# Debian's own python3 keeps venv's pip bootstrap in a separate package.
if [ ! -x "$VENV/bin/python" ] && ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
    required+=(python3-venv)
fi

if have dpkg-query; then
    deb_installed libsqlite3-mod-spatialite || required+=(libsqlite3-mod-spatialite)
    # The Chinese font the PDF documents are set in (server/services/documents.py): without it
    # the app runs, and only the notices and records are refused (FIELDCHECK_PDF_FONT names another).
    if ! deb_installed fonts-wqy-microhei; then
        optional+=(fonts-wqy-microhei); optional_why+=("the PDF notices and records (and their tests)")
    fi
fi

# PostGIS for the PostgreSQL server(s) on this machine, matched by major version. Only a
# local server counts: installing postgresql-N-postgis-3 for a lone psql client would pull
# in a whole server.
pg_versions() {
    if have pg_lsclusters; then
        pg_lsclusters -h 2>/dev/null | awk '{print $1}'
    fi
    local bin
    for bin in /usr/lib/postgresql/*/bin/postgres; do
        if [ -x "$bin" ]; then basename "$(dirname "$(dirname "$bin")")"; fi
    done
    return 0
}

if [ "$mode" = test ]; then
    if ! have chromium && [ ! -x /usr/bin/chromium ]; then
        optional+=(chromium); optional_why+=("the browser tests (Playwright drives /usr/bin/chromium)")
    fi
    for v in $(pg_versions | sort -u); do
        if [ ! -f "/usr/share/postgresql/$v/extension/postgis.control" ]; then
            optional+=("postgresql-$v-postgis-3"); optional_why+=("the PostGIS tests on the PostgreSQL $v server")
        fi
    done
fi

# --- install them, or say how --------------------------------------------------

apt_install() {
    local missing_candidate=0 pkg
    for pkg in "$@"; do
        apt-cache show "$pkg" >/dev/null 2>&1 || missing_candidate=1
    done
    # Package lists are fetched only when a package is unknown or its download fails.
    if [ "$missing_candidate" -eq 1 ]; then
        apt-get update -qq
    fi
    if ! apt-get install -y -qq --no-install-recommends "$@"; then
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "$@"
    fi
}

wanted=("${required[@]}" "${optional[@]}")
if [ "${#wanted[@]}" -gt 0 ]; then
    if is_root && have apt-get; then
        say "installing Debian packages: ${wanted[*]}"
        apt_install "${wanted[@]}"
    else
        if [ "${#optional[@]}" -gt 0 ]; then
            for i in "${!optional[@]}"; do
                say "note: ${optional[$i]} is not installed, so ${optional_why[$i]} will skip"
            done
            say "      to run them: sudo apt-get install -y ${optional[*]}"
        fi
        if [ "${#required[@]}" -gt 0 ]; then
            die "fieldcheck needs ${required[*]}. Run:

    sudo apt-get install -y ${required[*]}

then run 'make $mode' again."
        fi
    fi
fi

# --- the virtual environment and the project -----------------------------------

if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV with $("$PYTHON" --version 2>&1) ($(command -v "$PYTHON"))"
    "$PYTHON" -m venv "$VENV"
fi

extra=""
[ "$mode" = test ] && extra="test"
want_hash="$(cat setup.cfg pyproject.toml | sha256sum | cut -d' ' -f1)"
have_hash="" have_extra=""
[ -f "$STAMP" ] && read -r have_hash have_extra < "$STAMP" || true
if [ "$have_hash" != "$want_hash" ] || { [ -n "$extra" ] && [ "$have_extra" != "$extra" ]; }; then
    # A test install also serves `make run`: keep its extra in the stamp.
    [ "$have_hash" = "$want_hash" ] && [ -z "$extra" ] && extra="$have_extra"
    target="."
    [ -n "$extra" ] && target=".[$extra]"
    say "installing fieldcheck into $VENV (pip install -e '$target'); this takes a minute the first time"
    "$VENV/bin/python" -m pip install -q -e "$target"
    printf '%s %s\n' "$want_hash" "$extra" > "$STAMP"
fi

# --- the one thing the app cannot start without: SpatiaLite loading ------------

if ! err="$("$VENV/bin/python" - 2>&1 <<'EOF'
import os
from server.db import sqlite_module
conn = sqlite_module().connect(":memory:")
conn.enable_load_extension(True)
conn.load_extension(os.environ["SPATIALITE_LIBRARY_PATH"])
print(conn.execute("SELECT spatialite_version()").fetchone()[0])
EOF
)"; then
    die "SQLite cannot load SpatiaLite in $VENV:
$err
On Debian: sudo apt-get install -y libsqlite3-mod-spatialite"
fi
