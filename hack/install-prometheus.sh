#!/usr/bin/env bash
# Installs the real Prometheus server and promtool from Debian's packages, once.
set -euo pipefail
if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
  exit 0
fi
echo ">> installing prometheus and promtool (Debian package)"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
# The package enables a system service; tests start their own server on a free port.
(command -v systemctl >/dev/null && $SUDO systemctl disable --now prometheus >/dev/null 2>&1) || true
(command -v service >/dev/null && $SUDO service prometheus stop >/dev/null 2>&1) || true
prometheus --version 2>&1 | head -1
