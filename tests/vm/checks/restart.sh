#!/bin/bash
# profiles: custom stock
# Restarts lose nothing.  Three leases are held (custom: iommufd bound and
# parked, and legacy bound; stock: two legacy bound and one access mode)
# while another process claims and releases a fourth device over and
# over.  20 rounds of `systemctl restart`, SIGKILL and SIGABRT, each at a
# random moment of that churn, paced to stay within the unit's start
# limit: after each, every lease is listed with its id, iommud holds its
# files again (from systemd's fd store), the holders' DMA still works, a
# claim of a held group is refused (GroupBusy) and no group is in two
# leases.  Then: a holder that exits while iommud is down has its lease
# ended at the next start; after a stop (the fd store emptied) the leases
# come back without their files and end when their holders do, the
# managed device restored as its claim left it to be; a damaged state
# file is reported, kept aside and not trusted, and the group it held is
# kept from claims until its holder lets go.
. /usr/local/bin/vmtest-lib.sh
edu=0000:00:03.0 edu2=0000:01:01.0 vnet=0000:01:02.0 nic=0000:00:04.0 igb=0000:02:00.0
CONF_BASE="[Assignable]
Address=$edu
Address=$edu2
Address=$vnet
Address=$nic
Address=$igb
[Managed]
Address=$edu"
use_config <<<"$CONF_BASE"
[ "$(driver_of $edu)" = "(none)" ] || fail "$edu starts on $(driver_of $edu)"
cdev=false; [ "$(iommuctl --json status | jq -r .leaseBackend)" = iommufd ] && cdev=true
igb_drv=$(driver_of $igb) nic_drv=$(driver_of $nic) vnet_drv=$(driver_of $vnet)
iommuctl prepare --group "$(group_of $edu2)" >/dev/null || fail "prepare of $edu2's group failed"
iommuctl prepare $nic >/dev/null || fail "prepare of $nic failed"
iommuctl prepare $igb >/dev/null || fail "prepare of $igb failed"

main_pid() { systemctl show -P MainPID iommud.service; }
fds_of() {	# PID NODE: how many files of PID are that device node
	local want f n=0; want=$(stat -c %t:%T "$2")
	for f in /proc/$1/fd/*; do [ "$(stat -L -c %F:%t:%T "$f" 2>/dev/null)" = "character special file:$want" ] && n=$((n + 1)); done
	echo $n
}
lease_of() { iommuctl --json leases | jq -r --argjson p "$1" '.[] | select(.holder.pid == $p) | .id'; }

# Holders: edu-dma doing a DMA round trip per line on its FIFO.
start_server() {	# NAME CLAIM-ARGS...
	local name=$1; shift
	rm -f /tmp/$name.in /tmp/$name.out; mkfifo /tmp/$name.in
	# (Without the other holder's FIFO: each must see its own end.)
	iommuctl claim "$@" -- edu-dma fds --hold-alive </tmp/$name.in >/tmp/$name.out 2>&1 7>&- 8>&- &
	eval "${name}_pid=$!"
}
dma_ok() {	# FD NAME: one more round trip answered
	local n=$(( $(grep -c '^ok: DMA round trip [0-9]* after holding' /tmp/$2.out) + 1 ))
	echo dma >&"$1"
	wait_for 20 grep -q "^ok: DMA round trip $n after holding" /tmp/$2.out \
		|| { cat /tmp/$2.out; fail "$2: DMA round trip $n not answered"; }
}

if $cdev; then
	start_server h1 $edu			# iommufd, bound; the claim prepares edu
	exec 7>/tmp/h1.in
	start_server h2 --mode parked $edu2	# iommufd, parked: edu-dma binds it
	exec 8>/tmp/h2.in
	use_config <<<"$CONF_BASE
[Leases]
Backend=legacy"
	iommuctl claim $igb -- sleep 100000 7>&- 8>&- & h3_pid=$!
	modes="iommufd bound, iommufd parked, legacy bound"
else
	start_server h1 $edu			# legacy, bound
	exec 7>/tmp/h1.in
	start_server h2 $edu2
	exec 8>/tmp/h2.in
	iommuctl claim --mode access $igb -- sleep 100000 7>&- 8>&- & h3_pid=$!
	modes="legacy bound, legacy bound, legacy access"
fi
wait_for 30 grep -qx holding /tmp/h1.out || { cat /tmp/h1.out; fail "holder 1 did not start"; }
wait_for 30 grep -qx holding /tmp/h2.out || { cat /tmp/h2.out; fail "holder 2 did not start"; }
wait_for 30 sh -c "iommuctl --json leases | jq -e 'length == 3' >/dev/null" || fail "3 leases not granted: $(iommuctl leases)"
L1=$(lease_of $h1_pid) L2=$(lease_of $h2_pid) L3=$(lease_of $h3_pid)
[ -n "$L1" ] && [ -n "$L2" ] && [ -n "$L3" ] || fail "leases not found by holder: $(iommuctl --json leases)"
dma_ok 7 h1; dma_ok 8 h2
ok "3 leases ($modes): $L1 $L2 $L3; both edu holders do DMA"

# Leases that must come back exactly, as "id groups" lines.
held() { iommuctl --json leases | jq -r --argjson n "$(group_of $nic)" \
	'.[] | select(any(.groups[]; . == $n) | not) | "\(.id) \(.groups | sort | join(","))"' | sort; }
expected=$(held)
[ "$(wc -l <<<"$expected")" = 3 ] || fail "expected 3 leases outside $nic's group: $expected"

check_round() {	# WHAT
	local pid got
	got=$(held)
	[ "$got" = "$expected" ] || { journalctl -u iommud --no-pager | tail -40; fail "$1: the leases changed: $got, not $expected"; }
	iommuctl --json leases | jq -e '[.[].groups[]] | length == (unique | length)' >/dev/null \
		|| fail "$1: a group is in two leases: $(iommuctl --json leases)"
	# A churn claim caught between its state record and its files in the
	# store comes back without them (and ends: nobody holds it); the three
	# held leases had theirs stored long before.
	iommuctl --json status | jq -e '.lastStart.recoveredLeases >= 3 and .lastStart.stateFile == "ok" and
		.lastStart.withoutFiles <= .lastStart.recoveredLeases - 3' \
		>/dev/null || fail "$1: lastStart: $(iommuctl --json status | jq -c .lastStart)"
	dma_ok 7 h1; dma_ok 8 h2
	for d in $edu $edu2 $igb; do expect_rc 6 iommuctl claim --holder-pid $$ $d; done
	pid=$(main_pid)
	# Its files by device number: their paths are in the private /dev
	# of whichever iommud opened them.
	if $cdev; then
		[ "$(fds_of $pid /dev/iommu)" -ge 2 ] || fail "$1: iommud has not the leases' iommufds"
		[ "$(fds_of $pid /dev/vfio/vfio)" -ge 1 ] || fail "$1: iommud has not the legacy lease's container"
	else
		[ "$(fds_of $pid /dev/vfio/vfio)" -ge 2 ] || fail "$1: iommud has not the legacy containers"
	fi
}

# The churn: claims of nic (its holder exits at once) all along.
touch /tmp/churn.on
churn() { while [ -e /tmp/churn.on ]; do iommuctl claim $nic -- true >/dev/null 2>&1 || sleep 0.05; done; }
churn 7>&- 8>&- & churn_pid=$!

last=0
for round in $(seq 1 20); do
	# The unit allows 5 starts in 10 s: one per 2.5 s at most.
	now=$(date +%s%N); gap=$(( (now - last) / 1000000 ))
	[ $gap -lt 2500 ] && sleep "$(awk -v g=$gap 'BEGIN { printf "%.3f", (2500 - g) / 1000 }')"
	before=$(main_pid)
	sleep "0.$(( RANDOM % 10 ))"
	case $(( round % 3 )) in
	0) how=restart; systemctl restart iommud.service || fail "round $round: restart failed" ;;
	1) how=SIGKILL; kill -KILL "$before" ;;
	2) how=SIGABRT; kill -ABRT "$before" ;;
	esac
	last=$(date +%s%N)
	wait_for 30 sh -c "p=\$(systemctl show -P MainPID iommud.service); [ \"\$p\" != 0 ] && [ \"\$p\" != $before ] && iommuctl status >/dev/null 2>&1" \
		|| { journalctl -u iommud --no-pager | tail -30; fail "round $round ($how): iommud did not come back"; }
	check_round "round $round ($how)"
	echo "round $round: $how of pid $before; pid $(main_pid) took back $(iommuctl --json status | jq .lastStart.recoveredLeases) leases"
done
rm -f /tmp/churn.on; wait $churn_pid || true
wait_for 20 sh -c "[ \"\$(iommuctl --json group $(group_of $nic) | jq -r .claim)\" = free ]" \
	|| fail "$nic's group not free after the churn: $(iommuctl group $(group_of $nic))"
ok "20 rounds (restart, SIGKILL, SIGABRT) under claim churn: every lease kept, DMA working, no group granted twice"

# A holder that exits while iommud is down: its lease ends at the start.
mkdir -p /run/systemd/system/iommud.service.d
printf '[Service]\nRestartSec=3s\n' >/run/systemd/system/iommud.service.d/restart-test.conf
systemctl daemon-reload
sleep 2.5
before=$(main_pid)
kill -KILL "$before"
exec 8>&-		# holder 2 reads the end of its input and exits
wait_for 10 sh -c "! kill -0 $h2_pid 2>/dev/null" || fail "holder 2 did not exit"
wait_for 30 sh -c "p=\$(systemctl show -P MainPID iommud.service); [ \"\$p\" != 0 ] && [ \"\$p\" != $before ] && iommuctl status >/dev/null 2>&1" \
	|| fail "iommud did not come back after the holder's exit"
rm -f /run/systemd/system/iommud.service.d/restart-test.conf; systemctl daemon-reload
journalctl -u iommud --no-pager | grep -q "Lease $L2 .* ended: its holder exited while iommud was not running" \
	|| { journalctl -u iommud --no-pager | tail -20; fail "no end of lease $L2 for its holder's exit while iommud was down"; }
[ -z "$(iommuctl --json leases | jq -r --arg l $L2 '.[] | select(.id == $l) | .id')" ] || fail "lease $L2 outlived its holder"
iommuctl --json status | jq -e '.lastStart.endedLeases == 1' >/dev/null || fail "lastStart: $(iommuctl --json status | jq -c .lastStart)"
wait_for 20 sh -c "[ \"\$(iommuctl --json group $(group_of $edu2) | jq -r .claim)\" = free ]" || fail "$edu2's group not free"
ok "holder of $L2 exited while iommud was down: the lease ended at the start, its group free"
expected=$(held)

# A stop empties the fd store: the leases come back without their files.
sleep 2.5
systemctl stop iommud.service
dma_ok 7 h1	# while iommud is down
iommuctl status >/dev/null || fail "iommud not socket-activated after the stop"
# (An access-mode lease has no files of its own to lose.)
if $cdev; then lost=2; else lost=1; fi
iommuctl --json status | jq -e --argjson n $lost '.lastStart.withoutFiles == $n and .lastStart.recoveredLeases == 2' >/dev/null \
	|| fail "after a stop: lastStart $(iommuctl --json status | jq -c .lastStart)"
[ "$(held)" = "$expected" ] || fail "after a stop the leases changed: $(held)"
expect_rc 6 iommuctl claim --holder-pid $$ $edu
dma_ok 7 h1
ok "after a stop: both leases back without their files, DMA working, $edu still refused to others"
exec 7>&-
wait_for 20 sh -c "[ -z \"\$(iommuctl --json leases | jq -r --arg l $L1 '.[] | select(.id == \$l) | .id')\" ]" \
	|| fail "lease $L1 outlived its holder after a stop"
wait_for 20 sh -c "[ \"\$(readlink /sys/bus/pci/devices/$edu/driver)\" = '' ]" \
	|| fail "$edu, moved by the claim before 20 restarts, not restored: on $(driver_of $edu)"
ok "holder 1 exited: lease $L1 ended, $edu restored (its claim's record came through every restart)"

# A damaged state file: reported, kept aside, not trusted; a group still
# held (a bound lease's holder has its files) is kept from claims until
# its holder lets go.
kill $h3_pid; wait $h3_pid 2>/dev/null || true
wait_for 20 sh -c "[ \"\$(iommuctl --json leases | jq length)\" = 0 ]" || fail "lease $L3 outlived its holder"
iommuctl claim $igb -- sleep 100000 7>&- 8>&- & h4_pid=$!
wait_for 20 sh -c "[ \"\$(iommuctl --json leases | jq length)\" = 1 ]" || fail "no lease for holder 4"
sleep 2.5
systemctl stop iommud.service
sed -i 's/"leases"/"lease"/' /run/iommud/state.json
iommuctl status >/dev/null || fail "iommud did not start with a damaged state file"
iommuctl --json status | jq -e '.lastStart.stateFile == "damaged" and (.lastStart.problem | test("unknown key"))' >/dev/null \
	|| fail "damaged state: $(iommuctl --json status | jq -c .lastStart)"
[ -e /run/iommud/state.json.damaged ] || fail "the damaged file was not kept aside"
[ "$(iommuctl --json leases | jq length)" = 0 ] || fail "leases taken from a damaged file"
expect_rc 6 iommuctl claim --holder-pid $$ $igb
grep -q "knows no lease of" <<<"$err_out" || fail "GroupBusy for the unknown holder: $err_out"
kill $h4_pid; wait $h4_pid 2>/dev/null || true
wait_for 20 sh -c "[ \"\$(iommuctl --json group $(group_of $igb) | jq -r .claim)\" = free ]" \
	|| fail "$igb's group not free after its holder exited: $(iommuctl group $(group_of $igb))"
ok "damaged state file reported and kept aside; $igb's group kept from claims until its holder exited"

rm -f /run/iommud/state.json.damaged
iommuctl restore --group "$(group_of $edu2)" >/dev/null || fail "restore of $edu2's group failed"
iommuctl restore $nic >/dev/null && iommuctl restore $igb >/dev/null || fail "restore failed"
[ "$(driver_of $igb)" = "$igb_drv" ] && [ "$(driver_of $nic)" = "$nic_drv" ] && [ "$(driver_of $vnet)" = "$vnet_drv" ] \
	|| fail "drivers not restored"
use_config </dev/null
