#!/bin/bash
# profiles: custom stock
# What Prepare refuses, each with its named error and reason, and with
# nothing written: devices the policy does not list, devices the host
# needs (the root disk's controller, the default route's NIC) even when
# listed, non-root callers, bridges, mdevs, and names that are not names.
. /usr/local/bin/vmtest-lib.sh
edu=0000:00:03.0 bridge=0000:00:05.0
# A NIC with a network interface: the e1000e on our kernel, virtio-net on
# Debian's (which has no e1000e driver).
nic=""
for n in /sys/class/net/*; do
	p=$(readlink -f "$n" | grep -o '0000:[0-9a-f:.]*' | tail -n1) || continue
	[ -n "$p" ] && { nic=$p; ifc=$(basename "$n"); break; }
done
[ -n "$nic" ] || fail "no PCI NIC with a network interface"
rootdev=$(findmnt -n -o SOURCE /)
rootpci=$(readlink -f "/sys/class/block/$(basename "$rootdev")" | grep -o '0000:[0-9a-f:.]*' | tail -n1)
[ -n "$rootpci" ] || fail "cannot find the PCI device under / ($rootdev)"

use_config <<CONF
[Assignable]
Address=$nic
Address=$rootpci
Address=$bridge
Class=ff
CONF
before=$(pci_snapshot)

expect_rc 5 iommuctl prepare $edu
grep -q "not listed in \[Assignable\]" <<<"$err_out" || fail "unlisted: wrong reason: $err_out"
ok "a device the policy does not list: $(head -n1 <<<"$err_out")"

expect_rc 5 iommuctl prepare $rootpci
grep -q "it backs the mounted filesystem /" <<<"$err_out" || fail "root disk: wrong reason: $err_out"
iommuctl --json show $rootpci | jq -e '(.policyAllows | not) and (.hostCritical | test("mounted filesystem /"))' >/dev/null \
	|| fail "show does not say why $rootpci is refused: $(iommuctl --json show $rootpci)"
ok "the root disk's controller, although listed: $(head -n1 <<<"$err_out")"

# The default route through the e1000e makes it the host's.
iommuctl --json monitor > /tmp/refusals-monitor &
monitor=$!
wait_for 5 grep -q subscribed /tmp/refusals-monitor || true
ip link set "$ifc" up
ip addr add 192.0.2.10/24 dev "$ifc"
ip route add default via 192.0.2.1 dev "$ifc" onlink
expect_rc 5 iommuctl prepare $nic
grep -q "default route ($ifc)" <<<"$err_out" || fail "default route: wrong reason: $err_out"
wait_for 5 sh -c "iommuctl --json show $nic | jq -e '.hostCritical != null'" \
	|| fail "show does not mark $nic after the route appeared: $(iommuctl --json show $nic)"
ok "the default route's NIC, although listed: $(head -n1 <<<"$err_out")"
ip route del default
ip addr flush dev "$ifc"
ip link set "$ifc" down
wait_for 5 sh -c "iommuctl --json show $nic | jq -e '.hostCritical == null and .policyAllows'" \
	|| fail "show still refuses $nic after the route went: $(iommuctl --json show $nic)"
ok "route removed: $nic allowed again without a restart"
kill $monitor; wait $monitor 2>/dev/null || true
jq -se --arg n "$nic" '[.[] | select(.event == "change" and .device.name == $n) | .device.hostCritical]
	| (map(select(. != null)) | length > 0) and (last == null)' /tmp/refusals-monitor >/dev/null \
	|| fail "monitor did not report $nic becoming and ceasing to be host-critical: $(cat /tmp/refusals-monitor)"
ok "monitor reported the verdict changing both ways, though the device itself did not change"

expect_rc 5 setpriv --reuid=1000 --regid=1000 --clear-groups iommuctl prepare $nic
grep -q "uid 1000 may not prepare $nic: polkit action org.iommud.prepare" <<<"$err_out" || fail "non-root: wrong reason: $err_out"
ok "uid 1000: $(head -n1 <<<"$err_out")"

expect_rc 5 iommuctl prepare $bridge
grep -qi "bridge" <<<"$err_out" || fail "bridge: wrong reason: $err_out"
ok "a bridge: $(head -n1 <<<"$err_out")"

# Names that are not names never reach sysfs: raw varlink, as any client
# could send them.
vcall() { varlink-call /run/iommud/org.iommud.Manager "$1"; }
i=0
for params in '{"devices":["../../../../etc/passwd"]}' '{"devices":["0000:00:04.0/../../.."]}' \
	'{"devices":["0000:00:04.0\u0000../x"]}' '{"devices":["0000:00:04.0 "]}' '{"devices":[""]}' \
	"{\"devices\":[\"$(head -c 5000 /dev/zero | tr '\0' a)\"]}" '{"devices":[4]}' '{"devices":[]}' \
	'{"group":-1}' '{"group":"5"}' '{"group":4294967296}' '{}' '{"devices":["00:04.0"],"group":1}'; do
	# Prepare and Restore share the parsing: Restore gets every third.
	methods=Prepare; [ $((++i % 3)) = 0 ] && methods="Prepare Restore"
	for m in $methods; do
		reply=$(vcall "{\"method\":\"org.iommud.Manager.$m\",\"parameters\":$params}")
		jq -e '.error == "org.varlink.service.InvalidParameter"' <<<"$reply" >/dev/null \
			|| fail "$m $params: expected InvalidParameter, got: $reply"
	done
done
ok "malformed names (traversal, embedded NUL, white space, 5000 bytes, wrong types) rejected: InvalidParameter"

[ "$(pci_snapshot)" = "$before" ] || { diff <(echo "$before") <(pci_snapshot); fail "sysfs changed"; }
ok "after every refusal, every driver and driver_override is as before and no record was written"

# A broken policy on reload changes nothing, and says where it is wrong.
printf '[Assignable]\nAdress=%s\n' "$nic" > /etc/iommud/iommud.conf
expect_rc 5 iommuctl reload
grep -q "iommud.conf:2" <<<"$err_out" || fail "reload of a broken file: no FILE:LINE: $err_out"
! systemctl reload iommud.service 2>/dev/null || fail "systemctl reload succeeded with a broken iommud.conf"
systemctl is-active --quiet iommud.service || fail "a broken reload stopped iommud"
iommuctl --json policy | jq -e '.configFound and (.rules | length == 4)' >/dev/null \
	|| fail "the policy in force changed: $(iommuctl --json policy | jq -c .rules)"
ok "reload of a broken iommud.conf refused ($(head -n1 <<<"$err_out")); the policy in force stays"

use_config </dev/null
