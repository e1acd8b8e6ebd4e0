#!/usr/bin/env bash
# Test-only system packages: a real Chromium for the web-page tests.
# Installs Debian's package when possible (root + apt-get); otherwise says what is missing.
set -euo pipefail
have_browser() { command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null || [ -n "${OTASUKE_CHROMIUM:-}" ]; }
if have_browser; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's chromium for the browser tests…"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "The browser tests need Chromium: install it (Debian/Ubuntu: apt-get install chromium; macOS: brew install --cask chromium) or set OTASUKE_CHROMIUM=/path/to/chrome" >&2
exit 1
