#!/usr/bin/env bash
# Installs the Debian packages voxcast needs, only those that are missing (needs root or sudo).
set -euo pipefail

# package=version-prefix; the version is checked loosely so a Debian point release still passes.
PACKAGES=(
  "sqlite3"
  "sip-tester"
  "espeak-ng"
  # the default English female voice (HMM, CMU ARCTIC slt) and the engine that speaks it
  "festival"
  "festvox-us-slt-hts"
  "openssl"
  # third-party SIP peers of tests/interop: the softphone (agent and callee) and the proxy;
  # the kamailio package itself holds every module the test proxy loads (tm, sl, rr, auth...)
  "baresip-core"
  "kamailio"
  # Kamailio's tls.so: the TLS proxy of tests/interop/test_tls.py (SIP over TLS trunks)
  "kamailio-tls-modules"
  # the namespace cluster of tests/cluster: `ip netns`, veth pairs and a bridge (iproute2),
  # and the relay from the bridge to PostgreSQL on 127.0.0.1 (socat)
  "iproute2"
  "socat"
  # a real DNS server (NAPTR/SRV/A) for the RFC 3263 tests of tests/integration/test_sip_dns.py
  "dnsmasq-base"
  # the HTTP load generator of bench/api.py
  "wrk"
  # English voices that bench/tts.py measures beside voxcast's own engines: Festival with the
  # HTS us-slt voice (above) and flite
  "flite"
  # the CPU load of issue 13's check (`stress --cpu 2` beside `make test`, docs/performance.md)
  "stress"
  # the browser the console's Playwright tests drive (tests/console): Debian's build, never
  # one that `playwright install` would download
  "chromium"
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
