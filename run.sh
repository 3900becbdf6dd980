#!/usr/bin/env bash
# One entry point that does all set-up on a fresh machine.
#   ./run.sh app    -> virtual env + requirements, then the Streamlit app on http://localhost:8501
#   ./run.sh test   -> virtual env + dev requirements + headless Chromium, then the whole test suite
# Anything after the command is passed on (to streamlit, or to pytest).
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

ensure_venv() {  # $1: requirements file; reinstalls only when it (or what it includes) changed
    local req=$1 stamp="$VENV/.installed-$(basename "$1")"
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    local want
    want=$(cat requirements*.txt | sha256sum | cut -d' ' -f1)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        "$VENV/bin/python" -m pip install --quiet --upgrade pip
        "$VENV/bin/python" -m pip install --quiet -r "$req"
        echo "$want" > "$stamp"
    fi
}

ensure_chromium() {  # the end-to-end browser test drives Debian's Chromium; no browser downloads
    # fonts-noto-cjk: Chinese renders as boxes without a CJK font (the same package belongs on kiosk machines)
    if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! fc-list :lang=zh | grep -q .; then
        if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                chromium chromium-driver fonts-noto-cjk >/dev/null
        else
            echo "note: chromium, chromium-driver or fonts-noto-cjk is missing; the browser test may be skipped" >&2
        fi
    fi
}

cmd=${1:-app}
shift || true
case "$cmd" in
    app)
        ensure_venv requirements.txt
        exec "$VENV/bin/python" -m streamlit run app.py --server.headless true "$@"
        ;;
    test)
        ensure_venv requirements-dev.txt
        ensure_chromium
        exec "$VENV/bin/python" -m pytest -q "$@"
        ;;
    *)
        echo "usage: ./run.sh app|test [args...]" >&2
        exit 2
        ;;
esac
