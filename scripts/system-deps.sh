#!/usr/bin/env bash
# Debian packages the tests use: bubblewrap (code_interpreter isolation), prometheus (promtool, and the real
# server the throughput test queries), rabbitmq-server (the broker tests, tests/broker) and chromium (the
# playground's browser tests, tests/playground). Installs them when
# missing and we may (root with apt); otherwise says so.
set -euo pipefail
missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v rabbitmq-server >/dev/null 2>&1 || missing+=(rabbitmq-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing ${missing[*]} from Debian's packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "warning: ${missing[*]} not installed; the tests that need them fail under CI and skip elsewhere" >&2
fi
