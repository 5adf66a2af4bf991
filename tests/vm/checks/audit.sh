#!/bin/bash
# profiles: custom stock
# The audit trail (iommud(8), AUDIT RECORDS), under the installed unit:
# a claim granted for another process, the claim's prepare, a second
# claim refused (GroupBusy), a claim the policy refuses and one polkit
# refuses (uid 1000), a release and the restore after it, a
# RequestRelease and the end of its grace, a Prepare and Restore by
# iommuctl, and (custom: mtty) an mdev created and removed.  Each is a
# journal record with its MESSAGE_ID and its fields; a release reason
# with newlines stays one field: nothing of iommud's has a forged
# priority.
. /usr/local/bin/vmtest-lib.sh
edu=0000:00:03.0 nic=0000:00:04.0
g=$(group_of $edu)
CLAIM_GRANTED=ff95a8dcbd8249c09e83f2388f6e8eee
CLAIM_DENIED=44f86f5818cd49f3884ef4648b616922
LEASE_ENDED=ee0c279c5431437484a320d333c387e3
RELEASE_REQUESTED=0babce7710aa45b7a45af64dd9468f74
DEVICE_PREPARED=4acd8c0ca8c0499db2f00736afb2aea6
DEVICE_RESTORED=79d7299e2a9147b58c13e88a7d7795d8
MDEV_CREATED=1cbdeb14a94b4949a0e9a4a855862acb
MDEV_REMOVED=acdb294f008149558c67b535efc8aa50

use_config <<CONF
[Assignable]
Address=$edu
Parent=mtty
[Managed]
Address=$edu
CONF
holder= h2=
trap 'kill $holder $h2 2>/dev/null || true' EXIT
t0=$(date +%s)
sleep 1

# record ID MATCH...: the newest record with MESSAGE_ID ID (and the
# journalctl matches MATCH) since the check began, as one JSON object
# with each field a string (journalctl shows a value with control
# characters as an array of bytes, a repeated field as an array).
record() {
	local id=$1; shift
	journalctl --since "@$t0" -o json --no-pager MESSAGE_ID=$id "$@" | tail -n 1 |
		jq -c 'with_entries(.value |= (if type == "array" and (.[0] | type) == "number" then implode else . end))'
}
has_record() { [ -n "$(record "$@")" ]; }
# expect ID MATCH... -- JQ: a record exists (within 10 s) and JQ holds for it.
expect() {
	local args=() r
	while [ "$1" != -- ]; do args+=("$1"); shift; done; shift
	wait_for 10 has_record "${args[@]}" || fail "no record MESSAGE_ID=${args[*]}"
	r=$(record "${args[@]}")
	jq -e "$1" <<<"$r" >/dev/null || fail "record ${args[*]}: not $1: $r"
	echo "$r"
}
common='._SYSTEMD_UNIT == "iommud.service" and .PRIORITY == "6" and .SYSLOG_IDENTIFIER == "iommud" and (.CODE_FILE | not)'

# 1. Granted, for another process (the holder); the claim prepares the
#    managed edu first.
sleep 300 & holder=$!
out=$(iommuctl --json claim --holder-pid $holder $edu) || fail "claim for pid $holder: $out"
lease=$(jq -r .id <<<"$out")
r=$(expect $CLAIM_GRANTED IOMMUD_LEASE=$lease -- "$common and .IOMMUD_DEVICE == \"$edu\" and .IOMMUD_GROUP == \"$g\"
	and .IOMMUD_UID == \"0\" and .IOMMUD_PID == \"$holder\" and .IOMMUD_COMMAND == \"sleep\"
	and (.IOMMUD_MODE | length > 0) and .IOMMUD_REQUESTER_UID == \"0\" and (.IOMMUD_REQUESTER_PID | test(\"^[0-9]+\$\"))
	and (.MESSAGE | test(\"^Lease $lease granted: sleep\"))")
ok "claim granted: $(jq -c '{MESSAGE, IOMMUD_LEASE, IOMMUD_DEVICE, IOMMUD_PID, IOMMUD_COMMAND, PRIORITY}' <<<"$r")"
# The installed catalog explains it (a package runs --update-catalog).
journalctl --update-catalog
journalctl -x --no-pager --since "@$t0" MESSAGE_ID=$CLAIM_GRANTED IOMMUD_LEASE=$lease |
	grep -q "Subject: iommud granted a claim: lease $lease" ||
	fail "journalctl -x shows no catalog entry: $(journalctl -x --no-pager --since "@$t0" MESSAGE_ID=$CLAIM_GRANTED)"
ok "journalctl -x explains it from the installed catalog"
expect $DEVICE_PREPARED IOMMUD_DEVICE=$edu IOMMUD_LEASE=$lease -- \
	"$common and .IOMMUD_DRIVER == \"vfio-pci\" and .IOMMUD_GROUP == \"$g\"" >/dev/null
ok "the claim's prepare of $edu: a device-prepared record naming lease $lease"

# 2. Denied: GroupBusy (the group is held), NotAllowed (the policy), and
#    uid 1000 with no polkit rule (PermissionDenied).
expect_rc 6 iommuctl claim $edu -- true
r=$(expect $CLAIM_DENIED IOMMUD_ERROR=GroupBusy IOMMUD_DEVICE=$edu -- \
	"$common and .IOMMUD_UID == \"0\" and .IOMMUD_COMMAND == \"iommuctl\" and (.IOMMUD_PID | test(\"^[0-9]+\$\"))
	 and .IOMMUD_GROUP == \"$g\" and (.MESSAGE | test(\"^Claim refused: .*held by lease $lease\"))")
ok "claim denied (GroupBusy): $(jq -c '{MESSAGE, IOMMUD_ERROR, IOMMUD_UID, IOMMUD_PID, IOMMUD_COMMAND}' <<<"$r")"
rc=0; iommuctl claim $nic -- true >/dev/null 2>&1 || rc=$?
[ $rc -ne 0 ] || fail "a claim of the unassignable $nic succeeded"
expect $CLAIM_DENIED IOMMUD_ERROR=NotAllowed IOMMUD_DEVICE=$nic -- "$common and .IOMMUD_UID == \"0\"" >/dev/null
ok "claim denied by the policy (NotAllowed) for $nic"

# 3. Release: the lease ends with its reason; the group is restored
#    once free, and that record names the lease too.
iommuctl release $lease >/dev/null || fail "release $lease failed"
expect $LEASE_ENDED IOMMUD_LEASE=$lease -- "$common and .IOMMUD_DEVICE == \"$edu\" and .IOMMUD_PID == \"$holder\"
	and (.IOMMUD_REASON | test(\"^released by\")) and .IOMMUD_COMMAND == \"sleep\"" >/dev/null
expect $DEVICE_RESTORED IOMMUD_DEVICE=$edu IOMMUD_LEASE=$lease -- "$common and .IOMMUD_PREVIOUS_DRIVER == \"vfio-pci\"" >/dev/null
ok "release: lease-ended (reason 'released by ...') and device-restored for $edu, both naming lease $lease"
kill $holder; wait $holder 2>/dev/null || true; holder=
wait_for 15 sh -c "iommuctl --json show $edu | jq -e '.claim == \"free\"'" || fail "group $g is not free"

# 4. uid 1000, no rule: polkit refuses.
rc=0; setpriv --reuid=1000 --regid=1000 --clear-groups iommuctl claim $edu -- true >/dev/null 2>&1 || rc=$?
[ $rc -ne 0 ] || fail "uid 1000 claimed $edu without a rule"
expect $CLAIM_DENIED IOMMUD_ERROR=PermissionDenied IOMMUD_UID=1000 -- \
	"$common and .IOMMUD_DEVICE == \"$edu\" and .IOMMUD_COMMAND == \"iommuctl\"" >/dev/null
ok "claim denied by polkit (PermissionDenied) for uid 1000"

# 5. RequestRelease, and the end when the grace runs out.  The reason
#    is the caller's text: with newlines that would forge a line of the
#    stream protocol ("<0>...") and a field of the native one, it stays
#    one field, and MESSAGE shows them escaped.
sleep 300 & h2=$!
lease2=$(iommuctl --json claim --holder-pid $h2 $edu | jq -r .id) || fail "second claim failed"
iommuctl request-release $lease2 --reason $'audit\n<0>forged\nPRIORITY=0' --grace 1 >/dev/null ||
	fail "request-release failed"
r=$(expect $RELEASE_REQUESTED IOMMUD_LEASE=$lease2 -- "$common and .IOMMUD_REASON == \"audit\\n<0>forged\\nPRIORITY=0\"
	and .IOMMUD_PID == \"$h2\" and .IOMMUD_COMMAND == \"sleep\" and .IOMMUD_REQUESTER_UID == \"0\"
	and (.MESSAGE | contains(\"audit\\\\x0a<0>forged\\\\x0aPRIORITY=0\"))")
ok "release requested: $(jq -c '{MESSAGE, IOMMUD_REASON, IOMMUD_REQUESTER_UID, PRIORITY}' <<<"$r")"
[ -z "$(journalctl --since "@$t0" -u iommud -p 0..5 -o cat --no-pager)" ] ||
	fail "iommud has records above notice: $(journalctl --since "@$t0" -u iommud -p 0..5 --no-pager)"
ok "a reason with newlines is one field (IOMMUD_REASON): no forged PRIORITY=0 record or <0> line"
expect $LEASE_ENDED IOMMUD_LEASE=$lease2 -- "(.IOMMUD_REASON | test(\"grace period\"))" >/dev/null
ok "request-release: release-requested (reason, requester) and lease-ended when the grace ran out"
kill $h2; wait $h2 2>/dev/null || true; h2=
wait_for 15 sh -c "iommuctl --json show $edu | jq -e '.claim == \"free\" and .driver != \"vfio-pci\"'" ||
	fail "$edu not restored after lease $lease2"

# 6. Prepare and Restore by iommuctl: the caller in the record.
iommuctl prepare $edu >/dev/null || fail "prepare $edu failed"
expect $DEVICE_PREPARED IOMMUD_DEVICE=$edu IOMMUD_COMMAND=iommuctl -- \
	"$common and .IOMMUD_UID == \"0\" and .IOMMUD_DRIVER == \"vfio-pci\" and (.IOMMUD_LEASE | not)" >/dev/null
iommuctl restore $edu >/dev/null || fail "restore $edu failed"
expect $DEVICE_RESTORED IOMMUD_DEVICE=$edu IOMMUD_COMMAND=iommuctl -- \
	"$common and .IOMMUD_UID == \"0\" and .IOMMUD_PREVIOUS_DRIVER == \"vfio-pci\"" >/dev/null
ok "iommuctl prepare and restore: device-prepared and device-restored with uid 0, iommuctl"

# 7. mdevs (custom: the mtty sample driver).
if [ -d /sys/class/mdev_bus/mtty ]; then
	u=7a3c5e2f-1b4d-4c6e-9f80-a1b2c3d4e5f6
	iommuctl mdev create mtty mtty-1 $u >/dev/null || fail "mdev create failed"
	expect $MDEV_CREATED IOMMUD_DEVICE=$u -- "$common and .IOMMUD_MDEV_PARENT == \"mtty\"
		and .IOMMUD_MDEV_TYPE == \"mtty-1\" and .IOMMUD_UID == \"0\" and .IOMMUD_COMMAND == \"iommuctl\"
		and (.IOMMUD_GROUP | test(\"^[0-9]+\$\"))" >/dev/null
	iommuctl mdev remove $u >/dev/null || fail "mdev remove failed"
	expect $MDEV_REMOVED IOMMUD_DEVICE=$u -- "$common and .IOMMUD_MDEV_TYPE == \"mtty-1\" and .IOMMUD_COMMAND == \"iommuctl\"" >/dev/null
	ok "mdev $u: mdev-created and mdev-removed with parent, type, uid 0, iommuctl"
else
	ok "no mtty on this kernel: the mdev records are checked on custom"
fi

use_config </dev/null
