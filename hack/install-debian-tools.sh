#!/usr/bin/env bash
# Installs the Debian packages the tests use, once: the real Prometheus server and promtool, and
# lua5.4 (runs the Argo CD health check from docs/gitops.md). Nothing else is downloaded.
set -euo pipefail
need=()
command -v prometheus >/dev/null && command -v promtool >/dev/null || need+=(prometheus)
command -v lua5.4 >/dev/null || need+=(lua5.4)
[ ${#need[@]} -eq 0 ] && exit 0
echo ">> installing ${need[*]} (Debian packages)"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The prometheus package enables a system service; tests start their own server on a free port.
(command -v systemctl >/dev/null && $SUDO systemctl disable --now prometheus >/dev/null 2>&1) || true
(command -v service >/dev/null && $SUDO service prometheus stop >/dev/null 2>&1) || true
