#!/usr/bin/env bash
# Integration test for agent/native/src/source_afpacket.c (AF_PACKET + TPACKET_V3).
#
# Needs root (netns, veth, AF_PACKET), iproute2, ping, gcc/clang and libpcap-dev.
# Everything happens inside two network namespaces created here (flowlens-afptest-*),
# joined by a veth pair 10.231.250.1/24 (ns A, fla0, capture side) <-> 10.231.250.2/24
# (ns B, flb0, traffic side). The namespaces are always deleted on exit.
#
#   ./afpacket_test.sh                                   # gcc -O2 -Werror build
#   CC=clang CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
#     ./afpacket_test.sh                                 # sanitizer build
#   AFP_TEST_BIN=/path/to/afpacket_test ./afpacket_test.sh   # use a prebuilt binary
#
# Ends with "N passed, N failed"; exits 1 if anything failed.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$HERE/../src
NS_A=flowlens-afptest-a$$
NS_B=flowlens-afptest-b$$
WORK=$(mktemp -d /tmp/flowlens-afptest.XXXXXX)
PASS=0
FAIL=0

cleanup() {
  if [ -n "${CAP_PID:-}" ]; then kill "$CAP_PID" 2>/dev/null; fi
  ip netns del "$NS_A" 2>/dev/null
  ip netns del "$NS_B" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

die() { echo "setup failed: $*"; echo "0 passed, 1 failed"; exit 1; }

if [ "$(id -u)" != 0 ]; then die "must run as root"; fi

# ---- build ------------------------------------------------------------------------------
CC=${CC:-gcc}
CFLAGS=${CFLAGS:--O2}
BUILD_FLAGS="-Wall -Wextra -Werror -std=gnu11 -pthread -I$SRC"
if [ -n "${AFP_TEST_BIN:-}" ]; then
  BIN=$AFP_TEST_BIN
else
  BIN=$WORK/afpacket_test
  # shellcheck disable=SC2086
  $CC $CFLAGS $BUILD_FLAGS "$HERE/afpacket_test.c" "$SRC/source_afpacket.c" -o "$BIN" -lpcap \
    || die "build failed"
fi
# Same program with the VLAN re-insertion forced through the scratch-buffer fallback.
BIN_COPY=$WORK/afpacket_test_copy
# shellcheck disable=SC2086
$CC $CFLAGS $BUILD_FLAGS -DFL_AFP_FORCE_VLAN_COPY "$HERE/afpacket_test.c" \
  "$SRC/source_afpacket.c" -o "$BIN_COPY" -lpcap || die "build (copy variant) failed"

# ---- namespaces ---------------------------------------------------------------------------
ip netns add "$NS_A" || die "ip netns add $NS_A"
ip netns add "$NS_B" || die "ip netns add $NS_B"
A() { ip netns exec "$NS_A" "$@"; }
B() { ip netns exec "$NS_B" "$@"; }
ip link add fla0 netns "$NS_A" type veth peer name flb0 netns "$NS_B" || die "veth"
A ip addr add 10.231.250.1/24 dev fla0
B ip addr add 10.231.250.2/24 dev flb0
A ip link set lo up
B ip link set lo up
A ip link set fla0 up
B ip link set flb0 up
# Keep IPv6 autoconf chatter off the link so the unfiltered counts stay readable.
A sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 2>/dev/null
B sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 2>/dev/null
B ping -q -c 1 -W 2 10.231.250.1 >/dev/null || die "no connectivity over the veth pair"

# ---- helpers ------------------------------------------------------------------------------
CAP_PID=
CAP_OUT=
# Stop early, with a clear message, if something outside this script removed our namespaces
# (everything after that would fail for an unrelated reason).
ns_alive() {
  if [ ! -e "/run/netns/$NS_A" ] || [ ! -e "/run/netns/$NS_B" ]; then
    echo "ABORT: namespace $NS_A or $NS_B vanished (deleted by another process?)"
    echo "$PASS passed, $((FAIL + 1)) failed"
    exit 1
  fi
}
# capture NAME [afpacket_test args...]: start the program in ns A, wait for its "ready" line.
capture() {
  CAP_OUT=$WORK/$1.out
  shift
  ns_alive
  A "$@" >"$CAP_OUT" 2>&1 &
  CAP_PID=$!
  for _ in $(seq 1 200); do
    grep -q '^ready' "$CAP_OUT" 2>/dev/null && return 0
    kill -0 "$CAP_PID" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
# finish: wait for the capture to end; sets CAP_RC.
finish() {
  wait "$CAP_PID"
  CAP_RC=$?
  CAP_PID= # reaped: never signal a recycled pid from cleanup()
}
# val KEY: value of KEY=N on the summary line of the last capture.
val() { grep '^packets=' "$CAP_OUT" | tail -1 | tr ' ' '\n' | sed -n "s/^$1=//p"; }
check() { # check NAME "shell condition" [details]
  if eval "$2"; then
    PASS=$((PASS + 1))
    echo "PASS: $1"
  else
    FAIL=$((FAIL + 1))
    echo "FAIL: $1  [$2] ${3:-}"
    sed 's/^/    | /' "$CAP_OUT"
  fi
}
summary() { grep -E '^(packets=|first:|open failed|poll failed)' "$CAP_OUT" | sed 's/^/    /'; }
ping20() { B ping -q -c 20 -i 0.05 -W 1 "${1:-10.231.250.1}" >/dev/null; }

# ---- 1. both directions, no filter ------------------------------------------------------
capture plain "$BIN" fla0 "" 3 && ping20
finish
summary
check "no filter: >= 40 packets (20 requests + 20 replies + ARP)" \
  '[ "$CAP_RC" = 0 ] && [ "$(val packets)" -ge 40 ] && [ "$(val icmp_echo)" = 40 ]'
check "no filter: kernel packets = delivered + drops, no drops" \
  '[ "$(val kernel_packets)" = "$(( $(val packets) + $(val drops) ))" ] && [ "$(val drops)" = 0 ]'

# ---- 2. kernel filter -------------------------------------------------------------------
capture icmp "$BIN" fla0 icmp 3 && ping20
finish
summary
check "bpf icmp: exactly 40 packets" '[ "$CAP_RC" = 0 ] && [ "$(val packets)" = 40 ]'

# ---- 3. snaplen -------------------------------------------------------------------------
capture snap "$BIN" -s 64 fla0 icmp 3 && ping20
finish
summary
check "snaplen 64: caplen 64, wirelen 98" \
  '[ "$(val packets)" = 40 ] && [ "$(val caplen_max)" = 64 ] && [ "$(val wirelen_max)" = 98 ]'

# ---- 4. VLAN tag re-insertion -------------------------------------------------------------
if A ip link add link fla0 name fla0.100 type vlan id 100 2>/dev/null &&
  B ip link add link flb0 name flb0.100 type vlan id 100 2>/dev/null; then
  # Real 802.1Q subinterfaces: capture on the parent; both the received requests (tag
  # stripped on receive) and the sent replies (tag offloaded on transmit) carry the tag in
  # metadata, not in the frame.
  A ip addr add 10.231.251.1/24 dev fla0.100
  B ip addr add 10.231.251.2/24 dev flb0.100
  A ip link set fla0.100 up
  B ip link set flb0.100 up
  for bin in "$BIN" "$BIN_COPY"; do
    capture vlan "$bin" fla0 "" 3 && ping20 10.231.251.1
    finish
    summary
    check "vlan 100 subinterface ($(basename "$bin")): tag re-inserted at offset 12" \
      '[ "$(val icmp_echo)" = 40 ] && [ "$(val vlan100)" -ge 40 ] && [ "$(val vlan8100)" = "$(val vlan100)" ]'
  done
  A ip link del fla0.100
else
  # No 8021q in this kernel: send tagged frames from the peer with a packet socket instead.
  # The receive path untags them exactly as it does for a VLAN subinterface
  # (skb_vlan_untag in __netif_receive_skb_core, before any packet tap runs).
  echo "    (kernel has no 802.1Q support: injecting tagged frames from $NS_B instead)"
  for bin in "$BIN" "$BIN_COPY"; do
    capture vlan "$bin" fla0 "" 2.5 && B "$BIN" -I 20 -v 100 flb0 >/dev/null
    finish
    summary
    check "vlan 100 ($(basename "$bin")): 20 frames, tag re-inserted at offset 12, +4 bytes" \
      '[ "$(val vlan8100)" = 20 ] && [ "$(val vlan100)" = 20 ] && [ "$(val wirelen_max)" = 102 ] && [ "$(val icmp_echo)" = 20 ]'
  done
  # Kernel filters see the frame *without* the tag: "icmp" matches tagged ICMP,
  # and the "vlan" primitive (compiled for an offline handle) never matches.
  capture vlanicmp "$BIN" fla0 icmp 2.5 && B "$BIN" -I 20 -v 100 flb0 >/dev/null
  finish
  summary
  check "vlan: bpf 'icmp' matches tagged ICMP (filter runs on the untagged frame)" \
    '[ "$(val packets)" = 20 ] && [ "$(val vlan100)" = 20 ]'
  capture vlanprim "$BIN" fla0 "vlan 100" 2.5 && B "$BIN" -I 20 -v 100 flb0 >/dev/null
  finish
  summary
  check "vlan: bpf 'vlan 100' does not match accelerated tags (documented limitation)" \
    '[ "$CAP_RC" = 0 ] && [ "$(val packets)" = 0 ]'
fi

# ---- 5. fanout ----------------------------------------------------------------------------
# 16 echo flows from 16 source addresses; expected 16 * 5 * 2 = 160 ICMP packets.
for i in $(seq 10 25); do B ip addr add "10.231.250.$i/24" dev flb0; done
ping16() {
  local pids=""
  for i in $(seq 10 25); do
    B ping -q -c 5 -i 0.05 -W 1 -I "10.231.250.$i" 10.231.250.1 >/dev/null &
    pids="$pids $!"
  done
  # shellcheck disable=SC2086
  wait $pids
}
for filter in icmp ""; do
  capture "fanout$filter" "$BIN" -f 2 fla0 "$filter" 3.5 && ping16
  finish
  summary
  grep -E '^thread=' "$CAP_OUT" | sed 's/^/    /'
  if [ -n "$filter" ]; then
    check "fanout 2 threads, bpf icmp: sum of threads = 160" '[ "$CAP_RC" = 0 ] && [ "$(val packets)" = 160 ]'
  else
    check "fanout 2 threads, no filter: 160 echo packets among >= 160" \
      '[ "$CAP_RC" = 0 ] && [ "$(val packets)" -ge 160 ] && [ "$(val icmp_echo)" = 160 ]'
  fi
  check "fanout ($filter): every flow's requests and replies on one thread, both threads used" \
    '[ "$(val flows)" = 16 ] && [ "$(val split_flows)" = 0 ] && [ "$(val threads_used)" = 2 ] && ! grep -qE "req=[0-4] |rep=[0-4]$" "$CAP_OUT"'
done

# PACKET_FANOUT_FLAG_DEFRAG: fragments are reassembled before the hash, and the *reassembled*
# datagram is what the socket receives.
capture frag "$BIN" fla0 icmp 3 && B ping -q -c 5 -i 0.1 -s 3000 10.231.250.1 >/dev/null
finish
summary
check "no fanout, 3000-byte pings: 30 fragments captured" '[ "$(val packets)" = 30 ] && [ "$(val wirelen_max)" = 1514 ]'
capture fragfan "$BIN" -f 2 fla0 icmp 3 && B ping -q -c 5 -i 0.1 -s 3000 10.231.250.1 >/dev/null
finish
summary
check "fanout+DEFRAG, 3000-byte pings: 10 reassembled datagrams (wirelen 3042)" \
  '[ "$(val packets)" = 10 ] && [ "$(val wirelen_max)" = 3042 ] && [ "$(val split_flows)" = 0 ]'

# ---- 6. loopback: one copy per packet -------------------------------------------------------
capture lo "$BIN" lo icmp 2.5 && A ping -q -c 5 -i 0.05 127.0.0.1 >/dev/null
finish
summary
check "loopback: 10 packets for 5 pings (outgoing duplicates suppressed)" '[ "$(val packets)" = 10 ]'

# ---- 7. ring overflow: drops and freezes are counted ------------------------------------
capture drops "$BIN" -b 4096 -n 2 -d 2000 fla0 icmp 3 && B ping -q -c 100 -i 0.005 10.231.250.1 >/dev/null
finish
summary
check "tiny ring, slow reader: drops > 0, freeze > 0, delivered + drops = 200" \
  '[ "$(val drops)" -gt 0 ] && [ "$(val freeze)" -gt 0 ] && [ "$(( $(val packets) + $(val drops) ))" = 200 ] && [ "$(val kernel_packets)" = 200 ]'

# ---- 8. errors and interface state --------------------------------------------------------
CAP_OUT=$WORK/nodev.out
A "$BIN" flowlens-nope0 "" 1 >"$CAP_OUT" 2>&1
CAP_RC=$?
sed 's/^/    /' "$CAP_OUT"
check "missing interface: open fails with name and errno text" \
  '[ "$CAP_RC" = 2 ] && grep -q "flowlens-nope0.*No such device" "$CAP_OUT"'

CAP_OUT=$WORK/badbpf.out
A "$BIN" fla0 "tcp port" 1 >"$CAP_OUT" 2>&1
CAP_RC=$?
sed 's/^/    /' "$CAP_OUT"
check "bad filter: open fails with the pcap message" '[ "$CAP_RC" = 2 ] && grep -q "fla0: bad filter" "$CAP_OUT"'

A ip tuntap add dev fltun0 mode tun 2>/dev/null
CAP_OUT=$WORK/tun.out
A "$BIN" fltun0 "" 0.2 >"$CAP_OUT" 2>&1
CAP_RC=$?
grep '^open' "$CAP_OUT" | sed 's/^/    /'
check "tun (ARPHRD_NONE): link type 12 (raw IP), opens while down" \
  '[ "$CAP_RC" = 0 ] && grep -q "linktype=12" "$CAP_OUT"'
CAP_OUT=$WORK/tunfan.out
A "$BIN" -f 2 fltun0 "" 0.2 >"$CAP_OUT" 2>&1
CAP_RC=$?
sed 's/^/    /' "$CAP_OUT"
check "fanout on a down interface: clear error" '[ "$CAP_RC" = 2 ] && grep -q "fltun0: interface is down" "$CAP_OUT"'

# Interface goes down and comes back: the capture resumes by itself.
capture downup "$BIN" fla0 icmp 4
sleep 0.3
A ip link set fla0 down
sleep 0.5
A ip link set fla0 up
sleep 0.5
ping20
finish
summary
check "interface down/up during capture: keeps running, 40 packets after" \
  '[ "$CAP_RC" = 0 ] && [ "$(val packets)" = 40 ]'

# Interface removed during capture: fl_afp_poll reports it.
ip link add fla1 netns "$NS_A" type veth peer name flb1 netns "$NS_B"
A ip link set fla1 up
B ip link set flb1 up
capture gone "$BIN" fla1 "" 5
sleep 0.3
B ip link del flb1
finish
grep -E '^poll failed' "$CAP_OUT" | sed 's/^/    /'
check "interface removed during capture: poll error naming it" \
  '[ "$CAP_RC" = 3 ] && grep -q "fla1: interface disappeared" "$CAP_OUT"'

ns_alive
echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
