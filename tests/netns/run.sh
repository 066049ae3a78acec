#!/bin/bash
# Coordinator and three workers, each in its own network namespace, linked through a bridge in
# a fifth ("hub") namespace. Addresses are in 10.231.0.0/24, which exists only inside these
# namespaces: no packet of this test leaves them. Mid-run, worker w1's cable (the hub end of its
# veth pair) goes down; once the coordinator has expired w1's leases it comes back up. Checks:
# the sweep completes, every cell has exactly one row, the cells w1 lost finished on other
# workers, and w1 ran cells again after the link returned. Skips where namespaces can't be made.
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
command -v ip > /dev/null || skip "no ip(8) (iproute2)"
P=ens$$
ip netns add "$P-probe" 2> /dev/null || skip "cannot create network namespaces here"
ip netns del "$P-probe"
BIN=$(ensweep_bin) || exit 1

T=$(mktemp -d /tmp/ensweep-netns.XXXXXX)
PIDS=()
OK=0
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2> /dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2> /dev/null || true; done
    for ns in hub c w1 w2 w3; do ip netns del "$P-$ns" 2> /dev/null || true; done
    if [ "$OK" = 1 ]; then rm -rf "$T"; else say "logs kept in $T"; fi
}
trap cleanup EXIT

NET=10.231.0
ip netns add "$P-hub"
ip -n "$P-hub" link add br0 type bridge
ip -n "$P-hub" link set br0 up
node() { # node NAME HOST: a namespace with one veth to the bridge, address $NET.HOST
    ip netns add "$P-$1"
    ip -n "$P-$1" link set lo up
    ip link add "$P$1" netns "$P-$1" type veth peer name "h-$1" netns "$P-hub"
    ip -n "$P-$1" link set "$P$1" name eth0
    ip -n "$P-$1" addr add "$NET.$2/24" dev eth0
    ip -n "$P-$1" link set eth0 up
    ip -n "$P-hub" link set "h-$1" master br0 up
}
node c 1
node w1 11
node w2 12
node w3 13
in_ns() { local ns=$1; shift; ip netns exec "$P-$ns" "$@"; }

# The coordinator listens on a non-loopback address, so it needs tokens (it refuses to start
# without them): one for the workers, one for the client commands, in files only we can read.
new_token() { (umask 077; od -An -tx1 -N24 /dev/urandom | tr -d ' \n' > "$1"); }
new_token "$T/worker.token"
new_token "$T/client.token"

# A short lease TTL so that w1's leases expire within seconds of the cut.
# Started with `ip netns exec` directly (not through a function) so that $! is the process.
ip netns exec "$P-c" "$BIN" coordinator --listen "$NET.1:0" --dir "$T/sweeps" --lease-ttl-ms 3000 \
    --worker-token-file "$T/worker.token" --client-token-file "$T/client.token" \
    > "$T/coordinator.out" 2> "$T/coordinator.log" &
PIDS+=($!)
wait_until 60 "the coordinator to listen" grep -qs '^listening' "$T/coordinator.out"
URL=http://$(sed -n 's/^listening //p' "$T/coordinator.out")
STATUS=(ip netns exec "$P-c" "$BIN" status --coordinator "$URL" --token-file "$T/client.token")

synthetic_spec netns 160 500 > "$T/netns.toml"
in_ns c "$BIN" submit "$T/netns.toml" --coordinator "$URL" --token-file "$T/client.token" > /dev/null
for w in w1 w2 w3; do
    ENSWEEP_SYNTHETIC_LOG=$T/invocations ip netns exec "$P-$w" "$BIN" worker --coordinator "$URL" \
        --token-file "$T/worker.token" --slots 2 --name "$w" 2> "$T/$w.log" &
    PIDS+=($!)
    if [ "$w" = w1 ]; then PID_w1=$!; fi
done

timeout 120 "${STATUS[@]}" --wait-done 10 > /dev/null || fail "fewer than 10 cells done in 120 s"
grep -q " $PID_w1\$" "$T/invocations" || fail "w1 ran nothing before the cut"
say "cutting w1's link"
ip -n "$P-hub" link set h-w1 down
expired() { "${STATUS[@]}" | grep -q 'lease expired [1-9]'; }
wait_until 60 "the coordinator to expire w1's leases" expired
BEFORE=$(grep -c " $PID_w1\$" "$T/invocations")
say "w1's leases expired; restoring its link"
ip -n "$P-hub" link set h-w1 up
timeout 180 "${STATUS[@]}" --wait > "$T/final" || fail "the sweep did not finish in 180 s: $("${STATUS[@]}")"
say "$(cat "$T/final")"

q() { query_col "$T/sweeps/netns" "$1"; }
ROWS=$(q "SELECT count(*) FROM runs")
KEYS=$(q "SELECT count(DISTINCT cell_key) FROM runs")
[ "$ROWS" = 160 ] && [ "$KEYS" = 160 ] || fail "runs has $ROWS rows over $KEYS cells (expected 160, 160)"
AFTER=$(grep -c " $PID_w1\$" "$T/invocations")
[ "$AFTER" -gt "$BEFORE" ] || fail "w1 ran no cell after its link came back (it did not rejoin)"
# w1's cells cut off mid-run: invoked by w1 before the cut but stored from another worker.
LOST=$(head -n "$(grep -n " $PID_w1\$" "$T/invocations" | sed -n "${BEFORE}p" | cut -d: -f1)" "$T/invocations" |
    awk -v p="$PID_w1" '$3 == p {print $1}' | sort -u)
ELSEWHERE=0
for key in $LOST; do
    W=$(q "SELECT worker FROM runs WHERE cell_key = '$key'")
    [ "$(echo "$W" | grep -c .)" = 1 ] || fail "cell $key has rows from: $W"
    [ "$W" = w1 ] || ELSEWHERE=$((ELSEWHERE + 1))
done
[ "$ELSEWHERE" -ge 1 ] || fail "no cell w1 held at the cut was finished by another worker"
say "PASS: 160 cells, one row each; $ELSEWHERE cell(s) cut off on w1 finished elsewhere; w1 ran $((AFTER - BEFORE)) more after rejoining"
OK=1
