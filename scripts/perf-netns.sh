#!/usr/bin/env bash
# The perf pair across two network namespaces on this machine (root only):
#
#   pnpm perf:netns [--io af-packet|tap|dpdk] [secs] [-- more mtcp-perf flags]
#
# Makes namespaces A and B with scripts/hosts.sh (A: no kernel address, B: kernel 10.200.0.2/24), starts
# mtcp-recv on B's kernel (`wait 10.200.0.2 5001 --once`), and runs mtcp-perf in A on our stack as
# 10.200.0.1/24: with --io af-packet (default) on the veth end mtcp-a0 itself; with --io tap on a TAP
# device mtcp-tap0 bridged to mtcp-a0 inside A; with --io dpdk on DPDK's net_af_packet vdev on mtcp-a0
# (no hugepages; MTCP_DPDK_VDEV=net_af_xdp0 picks AF_XDP, whose transmit stalls on veth, see docs/guides/dpdk.md). Both programs' lines are printed; the namespaces are
# removed at the end (also on failure or Ctrl-C). Names can be changed with MTCP_NS_A, MTCP_NS_B.
# Example: pnpm perf:netns --io tap 5 -- --cc cubic --report netns.html
set -euo pipefail
cd "$(dirname "$0")/.."

io=af-packet
secs=10
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --io)
      [ $# -ge 2 ] || { echo "perf:netns: --io needs a value: af-packet, tap or dpdk" >&2; exit 2; }
      io="$2"
      shift 2
      ;;
    --io=*) io="${1#--io=}"; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *)
      if [[ "$1" =~ ^[0-9]+([.][0-9]+)?$ ]]; then secs="$1"; shift
      else echo "perf:netns: unexpected argument '$1'; usage: pnpm perf:netns [--io af-packet|tap|dpdk] [secs] [-- mtcp-perf flags]" >&2; exit 2
      fi
      ;;
  esac
done
case "$io" in af-packet|tap|dpdk) ;; *) echo "perf:netns: --io must be af-packet, tap or dpdk, got '$io'" >&2; exit 2 ;; esac
if [ "$(id -u)" -ne 0 ]; then echo "perf:netns: must run as root (network namespaces, AF_PACKET and TAP need CAP_NET_ADMIN)" >&2; exit 2; fi
for file in apps/perf/dist/cli.js apps/recv/dist/cli.js; do
  [ -f "$file" ] || { echo "perf:netns: $file is missing; build first (pnpm perf:netns builds it)" >&2; exit 2; }
done

NS_A="${MTCP_NS_A:-mtcp-a}"
NS_B="${MTCP_NS_B:-mtcp-b}"
export MTCP_NS_A="$NS_A" MTCP_NS_B="$NS_B"
PEER=10.200.0.2
OURS=10.200.0.1/24
PORT=5001
log="$(mktemp)"
receiver=""
follower=""

cleanup() {
  [ -n "$receiver" ] && kill "$receiver" 2>/dev/null || true
  [ -n "$follower" ] && kill "$follower" 2>/dev/null || true
  bash scripts/hosts.sh down >/dev/null
  rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bash scripts/hosts.sh up
dev=mtcp-a0
if [ "$io" = tap ]; then
  # A TAP device for the stack, bridged to the veth end inside A: frames go TAP → bridge → veth → B.
  dev=mtcp-tap0
  ip -n "$NS_A" link add mtcp-br0 type bridge
  ip -n "$NS_A" link set mtcp-a0 master mtcp-br0
  ip netns exec "$NS_A" ip tuntap add mode tap name "$dev"
  ip -n "$NS_A" link set "$dev" master mtcp-br0
  ip -n "$NS_A" link set "$dev" up
  ip -n "$NS_A" link set mtcp-br0 up
fi

ip netns exec "$NS_B" node apps/recv/dist/cli.js wait "$PEER" "$PORT" --once >"$log" 2>&1 &
receiver=$!
tail -n +1 -f "$log" --pid="$receiver" &
follower=$!
for _ in $(seq 100); do
  grep -q 'Server ready' "$log" && break
  kill -0 "$receiver" 2>/dev/null || { echo "perf:netns: mtcp-recv exited before listening" >&2; exit 1; }
  sleep 0.1
done
grep -q 'Server ready' "$log" || { echo "perf:netns: mtcp-recv did not start listening" >&2; exit 1; }

status=0
if [ "$io" = dpdk ]; then
  # DPDK's vdev on the veth end (net_af_packet by default); the EAL keeps no files (--no-shconf).
  vdev="${MTCP_DPDK_VDEV:-net_af_packet0}"
  opts=""
  # busy_budget=0: DPDK 22.11's preferred busy polling stalls AF_XDP transmit on a veth in copy mode.
  [ "${vdev#net_af_xdp}" != "$vdev" ] && opts=",busy_budget=0"
  # The vdev takes frames without a virtio-net header: B's kernel must send complete checksums.
  ip netns exec "$NS_B" ethtool -K mtcp-b0 tx off >/dev/null
  eal="--no-huge -m 256 --no-pci -l 0 --no-shconf --no-telemetry --log-level=lib.eal:error --vdev=$vdev,iface=mtcp-a0$opts"
  ip netns exec "$NS_A" node apps/perf/dist/cli.js send "$PEER" "$PORT" "$secs" --io dpdk "--eal=$eal" --dev "$vdev" --address "$OURS" "${extra[@]}" || status=$?
else
  ip netns exec "$NS_A" node apps/perf/dist/cli.js send "$PEER" "$PORT" "$secs" --io "$io" --dev "$dev" --address "$OURS" "${extra[@]}" || status=$?
fi
if [ "$status" -eq 0 ]; then
  wait "$receiver" || status=$?
else
  kill "$receiver" 2>/dev/null || true
fi
receiver=""
wait "$follower" 2>/dev/null || true
follower=""
exit "$status"
