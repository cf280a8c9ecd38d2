#!/usr/bin/env bash
# Installs the Debian packages voxcast needs, only those that are missing (needs root or sudo).
set -euo pipefail

# package=version-prefix; the version is checked loosely so a Debian point release still passes.
PACKAGES=(
  "sqlite3"
  "sip-tester"
  "espeak-ng"
  "openssl"
  # third-party SIP peers of tests/interop: the softphone (agent and callee) and the proxy;
  # the kamailio package itself holds every module the test proxy loads (tm, sl, rr, auth...)
  "baresip-core"
  "kamailio"
  # Kamailio's tls.so: the TLS proxy of tests/interop/test_tls.py (SIP over TLS trunks)
  "kamailio-tls-modules"
  # a real DNS server (NAPTR/SRV/A) for the RFC 3263 tests of tests/integration/test_sip_dns.py
  "dnsmasq-base"
  # the HTTP load generator of bench/api.py
  "wrk"
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "voxcast: installing Debian packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
