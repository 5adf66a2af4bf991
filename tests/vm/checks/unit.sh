#!/bin/bash
# profiles: custom stock
# iommud runs under the shipped, hardened units/iommud.service, as
# installed: its exposure score is at most 2.0; its main process has
# exactly the capabilities the unit keeps (CAP_DAC_READ_SEARCH,
# CAP_SYS_PTRACE, CAP_SYS_RESOURCE), no new privileges and a seccomp
# filter; its /dev has the VFIO nodes and nothing else of the host's
# hardware; what it needs those capabilities for works (a uid-1000
# holder found, its memlock raised).
. /usr/local/bin/vmtest-lib.sh
unit=$(systemctl show -P FragmentPath iommud.service)
[ "$unit" = /usr/lib/systemd/system/iommud.service ] || [ "$unit" = /lib/systemd/system/iommud.service ] ||
	fail "iommud.service comes from $unit, not the installed unit"
[ -z "$(systemctl show -P DropInPaths iommud.service)" ] || fail "drop-ins change the unit: $(systemctl show -P DropInPaths iommud.service)"
systemctl start iommud.socket
iommuctl status >/dev/null || fail "iommud does not answer"
pid=$(systemctl show -P MainPID iommud.service)
[ "$pid" -gt 0 ] || fail "iommud.service has no main process"
[ "$(readlink /proc/$pid/exe)" = /usr/libexec/iommud ] || fail "MainPID $pid is $(readlink /proc/$pid/exe)"

# 1. The score, of the unit as loaded.
score=$(systemd-analyze security iommud.service 2>/dev/null | sed -n 's/.*Overall exposure level for iommud.service: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || fail "systemd-analyze security gave no score"
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || fail "exposure score $score, above 2.0"
systemd-analyze security --threshold=20 iommud.service >/dev/null 2>&1 || fail "systemd-analyze --threshold=20 refuses the unit"
ok "iommud.service ($unit, sha256 $(sha256sum <"$unit" | cut -c1-16)): exposure $score"

# 2. Exactly the capabilities the unit names; no new privileges; seccomp.
want=0000000001080004	# CAP_DAC_READ_SEARCH (2), CAP_SYS_PTRACE (19), CAP_SYS_RESOURCE (24)
for f in CapEff CapPrm CapBnd; do
	got=$(awk -v f="$f:" '$1 == f {print $2}' /proc/$pid/status)
	[ "$got" = "$want" ] || fail "$f of iommud (pid $pid) is $got, not $want"
done
[ "$(awk '$1 == "CapAmb:" {print $2}' /proc/$pid/status)" = 0000000000000000 ] || fail "ambient capabilities set"
[ "$(awk '$1 == "NoNewPrivs:" {print $2}' /proc/$pid/status)" = 1 ] || fail "NoNewPrivs not set"
[ "$(awk '$1 == "Seccomp:" {print $2}' /proc/$pid/status)" = 2 ] || fail "no seccomp filter"
ok "MainPID $pid: CapEff=CapPrm=CapBnd=$want, no ambient, NoNewPrivs, seccomp filter"

# 3. Its /dev: the VFIO nodes, no disks or consoles of the host.
nsenter -t $pid -m ls /dev/vfio/vfio >/dev/null || fail "iommud's /dev has no /dev/vfio/vfio"
if [ -e /dev/iommu ]; then nsenter -t $pid -m test -c /dev/iommu || fail "iommud's /dev has no /dev/iommu"; fi
for d in /dev/vda /dev/sda /dev/ttyS0 /dev/mem /dev/kmsg; do
	[ ! -e $d ] || ! nsenter -t $pid -m test -e $d || fail "iommud's /dev has $d"
done
nsenter -t $pid -m sh -c 'echo x > /proc/sys/kernel/domainname' 2>/dev/null && fail "iommud can write /proc/sys"
ok "iommud's /dev: /dev/vfio and /dev/iommu, not the host's disks, consoles, /dev/mem; /proc/sys read-only"

# 4. What the capabilities are for: a uid-1000 process's memlock raised
#    (CAP_SYS_RESOURCE); a uid-1000 process that keeps a device file after
#    its lease is found, by name (CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE), and
#    its group stays releasing until it lets go.
edu=0000:00:03.0
use_config <<CONF
[Assignable]
Address=$edu
[Managed]
Address=$edu
[Limits]
MaxMemlock=64M
CONF
setpriv --reuid=1000 --regid=1000 --clear-groups sleep 300 & holder=$!
trap 'kill $holder $held 2>/dev/null || true' EXIT
held=
out=$(iommuctl --json claim --memlock 32M --holder-pid $holder $edu) || fail "claim for uid 1000's pid $holder: $out"
[ "$(jq -r .memlock <<<"$out")" = $((32 << 20)) ] || fail "memlock not recorded: $out"
[ "$(awk '/Max locked memory/ {print $4}' /proc/$holder/limits)" = $((32 << 20)) ] ||
	fail "pid $holder's memlock: $(grep 'locked' /proc/$holder/limits)"
kill $holder; wait $holder 2>/dev/null || true
g=$(group_of $edu)
wait_for 15 sh -c "[ \"\$(iommuctl --json group $g | jq -r .claim)\" = free ]" || fail "group $g not free after the first lease"
ok "uid 1000's pid $holder got RLIMIT_MEMLOCK 32M from iommud"

# The claim's COMMAND drops to uid 1000 and keeps the fds.
iommuctl claim $edu -- setpriv --reuid=1000 --regid=1000 --clear-groups sleep 300 >/dev/null 2>&1 & held=$!
wait_for 20 sh -c "iommuctl --json leases | jq -e '.[0].holder.pid == $held' >/dev/null" || fail "no lease for pid $held"
wait_for 10 sh -c "[ \"\$(stat -c %u /proc/$held)\" = 1000 ]" || fail "pid $held is not uid 1000"
lease=$(iommuctl --json leases | jq -r '.[0].id')
iommuctl release $lease >/dev/null || fail "release of $lease"
wait_for 10 sh -c "iommuctl --json group $g | jq -r '.releaseHeldBy // empty' | grep -q 'pid $held (sleep)'" ||
	fail "iommud does not name uid 1000's pid $held as the holder: $(iommuctl --json group $g)"
kill $held; wait $held 2>/dev/null || true; held=
wait_for 15 sh -c "[ \"\$(iommuctl --json group $g | jq -r .claim)\" = free ]" || fail "group $g not free after its holder exited"
journalctl -u iommud --no-pager | grep -iE "operation not permitted|permission denied" | grep -v "may not" &&
	fail "iommud was refused something itself"
ok "a uid-1000 process holding the device after its lease: named by iommud, group released once it exited"
use_config </dev/null
true
