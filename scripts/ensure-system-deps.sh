#!/usr/bin/env bash
# Test-only system packages: a real Chromium for the web-page tests, and poppler's pdftoppm to
# render report PDFs to images (the diagnosis report test looks at the pages).
# Installs Debian's packages when possible (root + apt-get); otherwise says what is missing.
set -euo pipefail
have_browser() { command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null || [ -n "${OTASUKE_CHROMIUM:-}" ]; }
missing=()
have_browser || missing+=(chromium)
command -v pdftoppm >/dev/null || missing+=(poppler-utils)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's ${missing[*]} for the tests…"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  exit 0
fi
echo "The tests need: ${missing[*]} (Debian/Ubuntu: apt-get install ${missing[*]}; macOS: brew install --cask chromium; brew install poppler), or set OTASUKE_CHROMIUM=/path/to/chrome for the browser" >&2
exit 1
