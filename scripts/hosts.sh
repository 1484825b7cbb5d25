#!/usr/bin/env bash
# Two hosts on one machine: network namespaces A and B joined by a veth pair.
#
#   pnpm hosts up [--kernel-a]   create them (idempotent); --kernel-a also gives A's kernel an address,
#                                for kernel-to-kernel baselines (iperf3). Without it, A's interface has
#                                no kernel address, so only a user-level stack on it answers for A.
#   pnpm hosts down              remove them (also what `up` does when it fails half-way)
#   pnpm hosts status            show them
#
# Addresses exist only inside the namespaces: A = 10.200.0.1/24 (the stack's, or the kernel's with
# --kernel-a) on veth mtcp-a0, B = 10.200.0.2/24 on veth mtcp-b0 (the kernel peer). Names can be changed
# with MTCP_NS_A, MTCP_NS_B. Needs root (or CAP_NET_ADMIN) and iproute2.
set -euo pipefail

NS_A="${MTCP_NS_A:-mtcp-a}"
NS_B="${MTCP_NS_B:-mtcp-b}"
IF_A=mtcp-a0
IF_B=mtcp-b0
ADDR_A=10.200.0.1/24
ADDR_B=10.200.0.2/24

need() {
  command -v "$1" >/dev/null || { echo "hosts: '$1' not found; install it (apt-get install -y iproute2)" >&2; exit 2; }
}

down() {
  ip netns del "$NS_A" 2>/dev/null || true
  ip netns del "$NS_B" 2>/dev/null || true
}

up() {
  local kernel_a=0
  [ "${1:-}" = "--kernel-a" ] && kernel_a=1
  if [ "$(id -u)" -ne 0 ]; then echo "hosts: must run as root (network namespaces need CAP_NET_ADMIN)" >&2; exit 2; fi
  down
  trap 'echo "hosts: setup failed, cleaning up" >&2; down' ERR
  ip netns add "$NS_A"
  ip netns add "$NS_B"
  ip link add "$IF_A" netns "$NS_A" type veth peer name "$IF_B" netns "$NS_B"
  for ns in "$NS_A" "$NS_B"; do ip -n "$ns" link set lo up; done
  ip -n "$NS_A" link set "$IF_A" up
  ip -n "$NS_B" link set "$IF_B" up
  ip -n "$NS_B" addr add "$ADDR_B" dev "$IF_B"
  if [ "$kernel_a" -eq 1 ]; then ip -n "$NS_A" addr add "$ADDR_A" dev "$IF_A"; fi
  trap - ERR
  local a_role="no kernel address: the stack owns $ADDR_A"
  [ "$kernel_a" -eq 1 ] && a_role="kernel $ADDR_A"
  echo "hosts: $NS_A ($IF_A, $a_role) <-> $NS_B ($IF_B, kernel $ADDR_B)"
}

status() {
  for ns in "$NS_A" "$NS_B"; do
    if ip netns list | grep -qw "$ns"; then echo "== $ns"; ip -n "$ns" -brief addr; else echo "== $ns: absent"; fi
  done
}

need ip
case "${1:-}" in
  up) shift; up "$@" ;;
  down) down; echo "hosts: removed $NS_A and $NS_B" ;;
  status) status ;;
  *) echo "usage: pnpm hosts up [--kernel-a] | down | status" >&2; exit 2 ;;
esac
