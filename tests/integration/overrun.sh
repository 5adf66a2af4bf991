#!/bin/bash
# An overrun of iommud's udev monitor socket must be noticed (events were
# lost) and answered with exactly one full rescan.  The real monitor path:
# iommud is stopped with SIGSTOP while uevent-inject floods the udev
# netlink group past the socket's 128 MiB buffer, then continued.  Both run
# in a private network namespace, so no other listener sees the events.
# Needs root.  Usage: overrun.sh IOMMUD IOMMUCTL UEVENT-INJECT
set -uo pipefail
[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
if [ -z "${IOMMUD_IN_NETNS:-}" ]; then
	IOMMUD_IN_NETNS=1 exec unshare --net -- "$0" "$@"
fi
iommud=$1 iommuctl=$2 inject=$3
dir=$(mktemp -d)
sock=$dir/org.iommud.Manager
"$iommud" --varlink-socket "$sock" 2>"$dir/log" &
pid=$!
trap 'kill -CONT $pid 2>/dev/null; kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
stat() { "$iommuctl" --socket "$sock" --json status | jq -r ".$1"; }
fail=0
t() { if eval "$2"; then echo "ok $1 - $3"; else echo "not ok $1 - $3"; fail=1; fi; }

echo "1..4"
dev=$(readlink -f "$(ls -d /sys/bus/pci/devices/* | head -n1)" | sed 's|^/sys||')
"$inject" change "$dev" pci
for _ in $(seq 50); do [ "$(stat events)" -ge 1 ] && break; sleep 0.1; done
t 1 '[ "$(stat events)" = 1 ] && [ "$(stat rescans)" = 0 ]' "one injected event is received, no rescan"

kill -STOP $pid
"$inject" --count 400000 change "$dev" pci
kill -CONT $pid
for _ in $(seq 100); do [ "$(stat rescans)" -ge 1 ] && break; sleep 0.1; done
t 2 '[ "$(stat overruns)" -ge 1 ]' "the overrun is seen ($(stat overruns) overrun(s) after $(stat events) events)"
sleep 1
t 3 '[ "$(stat rescans)" = 1 ]' "exactly one rescan follows ($(stat rescans)), and the backlog is dropped ($(stat events) events read)"
t 4 '[ "$(stat devices)" = "$(ls /sys/bus/pci/devices | wc -l)" ]' "the registry still has every device after the rescan"
[ $fail = 0 ] || sed 's/^/# /' "$dir/log"
exit $fail
