#!/bin/bash
# profiles: custom stock
# Stopping iommud (systemctl stop: SIGTERM) under the installed unit:
# 1. a lease held by a uid-1000 process stays usable: its fds still do
#    edu DMA while iommud is down; the journal says the lease was left in
#    place.  The next iommud (socket-activated) takes the lease back from
#    its state file and refuses the group to other claims, bound or
#    parked (GroupBusy); the holder still does DMA after that.
# 2. a claim by uid 1000 waiting for polkit (a rule that takes 5 s) when
#    the stop comes is refused at once with ShuttingDown, and so are the
#    calls its client queued behind it that would start work, while a read
#    queued there is answered; nothing moved, no lease, the stop took less
#    than the rule's 5 s; the journal names the refused claim.
# 3. root claims of a [Managed] edu (a rebind) racing SIGTERM: each is
#    granted or refused by name, never left hanging; no group is left
#    "claiming"; the journal has the stopping lines.
. /usr/local/bin/vmtest-lib.sh
edu=0000:00:03.0
g=$(group_of $edu)
user=$(getent passwd 1000 | cut -d: -f1)
as_user() { setpriv --reuid=1000 --regid=1000 --clear-groups "$@"; }
main_pid() { systemctl show -P MainPID iommud.service; }
journal_of() { journalctl --no-pager -o cat _PID="$1"; }
# journal_has PID TEXT: the line is in the journal (journald may lag a
# moment behind the exit); grep reads it all, for pipefail's sake.
journal_has() { journal_of "$1" | grep -F -- "$2" >/dev/null; }
stop_lines() { journal_of "$1" | grep -E "Received SIGTERM|Stopping|Stopped" || true; }
claim_state() { iommuctl --json group "$g" | jq -r .claim; }
cleanup() {
	[ -z "${holder_pid:-}" ] || kill "$holder_pid" 2>/dev/null || true
	[ -z "${client:-}" ] || kill "$client" 2>/dev/null || true
	rm -f /tmp/stop-in /tmp/stop-out /tmp/stop-pipe.py /tmp/stop-pipe.out /tmp/stop-race.out
	slow_claim_rule_off
}
trap cleanup EXIT

use_config <<CONF
[Assignable]
Address=$edu
[Managed]
Address=$edu
CONF
[ "$(driver_of $edu)" = "(none)" ] || fail "$edu starts on $(driver_of $edu)"

# 1. A lease across the stop.
mkfifo /tmp/stop-in
(iommuctl claim $edu -- setpriv --reuid=1000 --regid=1000 --clear-groups edu-dma fds --hold-alive \
	</tmp/stop-in >/tmp/stop-out 2>&1; echo "exit $?" >>/tmp/stop-out) &
exec 7>/tmp/stop-in
wait_for 60 grep -q holding /tmp/stop-out || { cat /tmp/stop-out; fail "the holder did not get to hold"; }
grep -q "ok: DMA round trip" /tmp/stop-out || { cat /tmp/stop-out; fail "no DMA through the lease's fds"; }
lease=$(iommuctl --json leases | jq -r '.[0].id')
holder_pid=$(iommuctl --json leases | jq -r '.[0].holder.pid')
[ "$(iommuctl --json leases | jq -r '.[0].holder.uid')" = 1000 ] || fail "the holder is not uid 1000: $(iommuctl leases)"
pid=$(main_pid)
systemctl stop iommud.service || fail "systemctl stop failed"
! systemctl is-active --quiet iommud.service || fail "iommud still active after stop"
systemctl is-active --quiet iommud.socket || fail "iommud.socket stopped with the service"
wait_for 5 journal_has $pid "Received SIGTERM: stopping" || { journal_of $pid | tail; fail "no 'stopping' line from pid $pid"; }
wait_for 5 journal_has $pid "Stopped; 1 lease left in place: the holders keep their devices (nothing was detached, restored or removed)" \
	|| { journal_of $pid | tail; fail "no 'lease left in place' line from pid $pid"; }
journal_of $pid | grep -E "lease .*ended|Restoring|restore:" && fail "iommud ended or restored something as it stopped"
[ "$(driver_of $edu)" = vfio-pci ] || fail "$edu left vfio-pci as iommud stopped: $(driver_of $edu)"
echo 1 >&7
wait_for 20 grep -q "ok: DMA round trip 1 after holding" /tmp/stop-out || { cat /tmp/stop-out; fail "no DMA while iommud is down"; }
! systemctl is-active --quiet iommud.service || fail "iommud came back by itself"
ok "iommud (pid $pid) stopped; lease $lease's holder (uid 1000, pid $holder_pid) still does DMA through its fds"
stop_lines $pid

# The next start (socket activation) takes the lease back from its state
# file (without its files: systemd empties the fd store on a stop) and
# hands the group to nobody else, in any mode.
iommuctl status >/dev/null || fail "iommud did not start again"
pid2=$(main_pid)
[ "$pid2" != "$pid" ] && [ "$pid2" -gt 0 ] || fail "no new iommud: MainPID $pid2"
[ "$(iommuctl --json leases | jq -r '.[].id')" = "$lease" ] || fail "lease $lease not taken back: $(iommuctl leases)"
sleep 300 & other=$!
rc=0; out=$(iommuctl claim --holder-pid $other $edu 2>&1) || rc=$?
[ $rc = 6 ] && grep -q "held by lease $lease" <<<"$out" \
	|| { kill $other; fail "the restarted iommud (pid $pid2) did not refuse $edu with GroupBusy: exit $rc: $out"; }
if [ "$(iommuctl --json status | jq -r .leaseBackend)" = iommufd ]; then
	prc=0; out=$(iommuctl claim --mode parked --holder-pid $other $edu 2>&1) || prc=$?
	[ $prc = 6 ] || { kill $other; fail "a parked claim of $edu after the restart: exit $prc: $out"; }
fi
[ "$(iommuctl --json leases | jq length)" = 1 ] || fail "the refused claims left a lease: $(iommuctl leases)"
[ "$(claim_state)" = held ] || fail "group $g is $(claim_state), not held"
kill $other; wait $other 2>/dev/null || true
echo 2 >&7
wait_for 20 grep -q "ok: DMA round trip 2 after holding" /tmp/stop-out || { cat /tmp/stop-out; fail "no DMA after the restart"; }
ok "the next iommud (pid $pid2) took lease $lease back and refused $edu to other claims; the holder's DMA still works"
exec 7>&-
wait_for 20 grep -q "^exit" /tmp/stop-out || fail "the holder did not exit"
grep -q "^exit 0" /tmp/stop-out || { cat /tmp/stop-out; fail "the holder failed"; }
holder_pid=
# The lease taken back ends with its holder, and restores what its claim
# moved, as any lease does.
wait_for 20 sh -c "[ \"\$(iommuctl --json leases | jq length)\" = 0 ]" || fail "lease $lease outlived its holder"
wait_for 20 sh -c "[ \"\$(readlink /sys/bus/pci/devices/$edu/driver)\" = '' ]" \
	|| fail "$edu not restored after the lease taken back ended: on $(driver_of $edu)"
ok "the lease taken back ended with its holder; $edu restored"

# 2. A claim waiting for polkit, with calls queued behind it.
slow_claim_rule_on "$user" 5
cat >/tmp/stop-pipe.py <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect("/run/iommud/org.iommud.Manager")
calls = [("Claim", {"devices": [sys.argv[1]]}), ("Reload", {}), ("GetStatus", {})]
s.sendall(b"".join(json.dumps({"method": "org.iommud.Manager." + m, "parameters": p}).encode() + b"\0"
                   for m, p in calls))
print("sent", flush=True)
buf = b""
for m, _ in calls:
    while b"\0" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("%s: connection closed" % m)
        buf += chunk
    msg, buf = buf.split(b"\0", 1)
    reply = json.loads(msg)
    print("%s: %s" % (m, reply.get("error", "answered")), json.dumps(reply.get("parameters", {}).get("message", "")),
          flush=True)
PY
iommuctl status >/dev/null
pid=$(main_pid)
before=$(pci_snapshot)
sleep 1
as_user python3 /tmp/stop-pipe.py $edu >/tmp/stop-pipe.out 2>&1 & client=$!
wait_for 10 grep -q sent /tmp/stop-pipe.out || { cat /tmp/stop-pipe.out; fail "the client did not send"; }
sleep 1
t0=$(date +%s%N)
systemctl stop iommud.service
t1=$(date +%s%N)
rc=0; wait $client || rc=$?
client=
cat /tmp/stop-pipe.out
[ $rc = 0 ] || fail "the pipelining client failed (exit $rc)"
grep -q '^Claim: org.iommud.Manager.ShuttingDown "iommud is stopping' /tmp/stop-pipe.out || fail "the claim waiting for polkit was not refused with ShuttingDown"
grep -q '^Reload: org.iommud.Manager.ShuttingDown' /tmp/stop-pipe.out || fail "a call queued behind it was not refused with ShuttingDown"
grep -q '^GetStatus: answered' /tmp/stop-pipe.out || fail "a read queued behind it was not answered"
ms=$(( (t1 - t0) / 1000000 ))
[ $ms -lt 4000 ] || fail "the stop took $ms ms: it waited for polkit"
wait_for 5 journal_has $pid "Stopping: refused uid 1000's call to claim $edu, which was waiting for polkit" \
	|| { journal_of $pid | tail; fail "the journal does not name the refused claim"; }
[ "$(pci_snapshot)" = "$before" ] || fail "the refused claim changed sysfs"
iommuctl status >/dev/null || fail "iommud did not start again"
[ "$(iommuctl --json leases | jq length)" = 0 ] || fail "a lease after the refused claim: $(iommuctl leases)"
[ "$(claim_state)" = free ] || fail "group $g is $(claim_state) after the refused claim"
ok "stop in $ms ms: the claim waiting for polkit and a call queued behind it got ShuttingDown, a read was answered; nothing moved"
stop_lines $pid
slow_claim_rule_off

# 3. Root claims of the managed edu (a rebind) racing SIGTERM, sent
# straight to the MainPID at a few delays to land before, during and
# after the claim.
waited=0 last=0
for delay in 0 0.03 0.06 0.1 0.15 0.25 0.4; do
	# Each round starts iommud again; the unit allows 5 starts in 10 s.
	now=$(date +%s%N); gap=$(( (now - last) / 1000000 ))
	[ $gap -lt 2500 ] && sleep "$(awk -v g=$gap 'BEGIN { printf "%.3f", (2500 - g) / 1000 }')"
	last=$(date +%s%N)
	iommuctl status >/dev/null
	pid=$(main_pid)
	timeout 60 iommuctl claim $edu -- sleep 1 >/tmp/stop-race.out 2>&1 & c=$!
	sleep $delay
	kill -TERM $pid
	rc=0; wait $c || rc=$?
	case $rc in
	0) outcome=granted ;;
	3) grep -q "iommud is stopping" /tmp/stop-race.out || fail "delay $delay: exit 3 but: $(cat /tmp/stop-race.out)"
	   outcome=ShuttingDown ;;
	124) fail "delay $delay: the claim was left hanging" ;;
	*) fail "delay $delay: exit $rc: $(cat /tmp/stop-race.out)" ;;
	esac
	wait_for 20 sh -c "! kill -0 $pid" || fail "delay $delay: iommud (pid $pid) did not exit"
	wait_for 5 journal_has $pid "Stopped;" || fail "delay $delay: no 'Stopped' line from pid $pid"
	lines=$(journal_of $pid | grep -E "Stopping:" | tr '\n' ' ' || true)
	grep -q "waiting up to" <<<"$lines" && waited=$((waited + 1))
	echo "delay $delay s: $outcome; pid $pid: $lines"
	iommuctl status >/dev/null || { journalctl -u iommud --no-pager | tail -40; fail "delay $delay: iommud did not start again"; }
	wait_for 15 sh -c "[ \"\$(iommuctl --json group $g | jq -r .claim)\" = free ]" \
		|| fail "delay $delay: group $g is $(claim_state)"
	wait_for 20 iommuctl restore $edu || fail "delay $delay: restore of $edu"
	[ "$(driver_of $edu)" = "(none)" ] || fail "delay $delay: $edu on $(driver_of $edu)"
done
echo "SIGTERM found the claim under way (and waited for it) in $waited of 7 rounds"
ok "claims racing the stop: each granted or refused by name, none hanging, group $g never left claiming"
use_config </dev/null
