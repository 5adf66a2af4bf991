#!/bin/bash
# profiles: custom stock
# A device hot-added through QMP appears in `iommuctl monitor` and `list`,
# and disappears on hot-remove.
. /usr/local/bin/vmtest-lib.sh
systemctl start iommud.socket
bus=$(cat /sys/bus/pci/devices/0000:00:07.0/secondary_bus_number)
bdf=$(printf '0000:%02x:00.0' "$bus")
log=/tmp/monitor.log
iommuctl --json monitor > $log &
mon=$!
trap 'kill $mon 2>/dev/null' EXIT
wait_for 10 grep -q subscribed $log || fail "monitor did not subscribe"
qmp '{"execute":"device_add","arguments":{"driver":"edu","bus":"rp2","id":"hp-reg"}}' >/dev/null || fail "device_add"
# Slurped: jq 1.6's -e looks only at the last input's result.
seen() { jq -s -e --arg n "$bdf" --arg e "$1" 'any(.[]; .event == $e and .device.name == $n)' $log; }
wait_for 20 seen add || { cat $log; fail "no add event for $bdf"; }
iommuctl --json list | jq -e --arg n "$bdf" 'any(.[]; .name == $n)' >/dev/null || fail "$bdf not in list"
ok "hot-added $bdf: add event in monitor, present in list"
qmp '{"execute":"device_del","arguments":{"id":"hp-reg"}}' >/dev/null || fail "device_del"
wait_for 20 test ! -e /sys/bus/pci/devices/$bdf || fail "$bdf did not go away after device_del"
wait_for 20 seen remove || { cat $log; fail "no remove event for $bdf"; }
iommuctl --json list | jq -e --arg n "$bdf" 'any(.[]; .name == $n) | not' >/dev/null || fail "$bdf still listed"
ok "hot-removed: remove event, gone from list"
