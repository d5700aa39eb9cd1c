#!/usr/bin/env bash
# Installs the Debian packages Flowlens's build and tests use, only those missing, so a warm
# machine pays nothing. Needs root (or sudo). Usage: hack/install-deps.sh
set -euo pipefail

PACKAGES=(
  # test harness: real components
  nats-server prometheus prometheus-alertmanager openssl
  # notification receivers: SMTP (aiosmtpd, run by Debian's python3) and the NSCA daemon
  python3-aiosmtpd nsca
  # network namespaces and real traffic
  iproute2 ethtool iperf3 tcpreplay tcpdump bind9-dnsutils iputils-ping dnsmasq-base curl
  # SYN floods from spoofed sources (raw sockets), sent only between the lab's namespaces
  hping3
  # carrying a namespace's loopback connections to receivers outside it (over a Unix socket)
  socat
  # benchmarks (peak RSS) and process tools
  time procps
  # build: native flow engine (node-gyp), C tests with sanitizers
  make g++ python3 pkg-config libpcap-dev libndpi-dev clang libclang-rt-14-dev
  # peers the flow engine is checked and benchmarked against
  libndpi-bin softflowd tshark netsniff-ng
  # NetFlow/IPFIX peers: nfcapd/nfdump receive our export; pmacct and softflowd produce exports
  nfdump pmacct util-linux
  # IPFIX over TCP: python-ipfix (RFC 7011) writes message streams to a socket
  python3-ipfix
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then missing+=("$p"); fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Debian's prometheus packages try to start services; there is no init system to start them
# here and tests start their own instances on free ports.
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
