#!/bin/bash
# profiles: custom stock
# SR-IOV through iommud (iommuctl sriov): the igb PF at 02:00.0, on
# pci-pf-stub, gets 7 VFs, which come up unbound, each in an IOMMU group
# of its own, and are listed at once; 7 -> 3 -> 7 goes through 0 as the
# kernel requires; one VF prepared and claimed by uid 1000 answers
# VFIO_DEVICE_GET_INFO, and while it is leased, and then while another
# process holds its VFIO node, removing the VFs is refused by name with
# nothing changed; once let go, 0 removes them.  Refused by name with
# nothing changed: a PF with no driver, a non-PF, a VF, too many VFs,
# uid 1000 without a rule.  Prints the times iommud and a bare sysfs
# write take.
. /usr/local/bin/vmtest-lib.sh
pf=0000:02:00.0
pfdir=$(dev_dir $pf)
[ -e "$pfdir/sriov_totalvfs" ] || fail "$pf is not an SR-IOV PF"
[ -e /sys/bus/pci/drivers/pci-pf-stub ] || modprobe pci-pf-stub 2>/dev/null ||
	skip "this kernel has no pci-pf-stub, and no driver of its own for the igb"
total=$(cat "$pfdir/sriov_totalvfs")
[ "$(cat "$pfdir/sriov_numvfs")" = 0 ] || fail "$pf starts with $(cat "$pfdir/sriov_numvfs") VFs"
pf_driver=$(driver_of $pf)
user=$(id -nu 1000) || fail "no user with uid 1000 in the guest"
as_user() { setpriv --reuid=1000 --regid=1000 --clear-groups "$@"; }
numvfs() { cat "$pfdir/sriov_numvfs"; }
vf_list() { for l in "$pfdir"/virtfn*; do [ -e "$l" ] && basename "$(readlink "$l")"; done | sort; }
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
# On failure too: no rule, no config left for the checks after this one.
trap 'kill $claimer $opener 2>/dev/null || true; kvm_rule_off "$user"; (use_config </dev/null) || true' EXIT
claimer= opener=

use_config <<CONF
[Assignable]
Parent=$pf
CONF

# 1. Refusals before any VF exists: nothing written.
bind_driver $pf ""
wait_for 10 sh -c "iommuctl --json show $pf | jq -e '.driver == null'" || fail "iommud still sees $pf on a driver"
expect_rc 5 iommuctl sriov $pf 1
grep -q "has no driver" <<<"$err_out" || fail "a PF with no driver: $err_out"
rc=0; out=$(iommuctl --json sriov $pf 1 2>/dev/null) || rc=$?
jq -e '.error == "org.iommud.Manager.SriovNotConfigurable"' <<<"$out" >/dev/null || fail "no driver, JSON: $out"
bind_driver $pf pci-pf-stub
wait_for 10 sh -c "iommuctl --json show $pf | jq -e '.driver == \"pci-pf-stub\"'" || fail "iommud does not see $pf on pci-pf-stub"
expect_rc 5 iommuctl sriov $pf $((total + 1))
grep -q "can have at most $total VFs" <<<"$err_out" || fail "too many VFs: $err_out"
expect_rc 5 iommuctl sriov 0000:00:03.0 1
grep -q "is not an SR-IOV physical function" <<<"$err_out" || fail "a non-PF: $err_out"
expect_rc 4 iommuctl sriov 0000:0f:00.0 1
expect_rc 2 iommuctl sriov "../$pf" 1
expect_rc 2 iommuctl sriov $pf -1
expect_rc 5 as_user iommuctl sriov $pf 1
grep -q "uid 1000 may not set the VFs of $pf: polkit action org.iommud.manage-sriov" <<<"$err_out" || fail "uid 1000: $err_out"
[ "$(numvfs)" = 0 ] || fail "a refusal left $(numvfs) VFs"
ok "refused, nothing written: no driver (SriovNotConfigurable), $((total + 1)) VFs (TooManyVfs), a non-PF, an unknown device, bad names and counts, uid 1000 (org.iommud.manage-sriov)"

# 2. 7 VFs: unbound, each in its own group, listed when the call returns.
t=$(date +%s%N)
out=$(iommuctl --json sriov $pf 7) || { journalctl -u iommud --no-pager | tail; fail "iommuctl sriov $pf 7 failed"; }
create_ms=$(ms $t)
[ "$(numvfs)" = 7 ] || fail "sriov_numvfs is $(numvfs), not 7"
[ "$(cat "$pfdir/sriov_drivers_autoprobe")" = 0 ] || fail "autoprobe is $(cat "$pfdir/sriov_drivers_autoprobe")"
[ "$(jq '.vfs | length' <<<"$out")" = 7 ] || fail "the reply lists $(jq '.vfs | length' <<<"$out") VFs: $out"
[ "$(jq '.device.sriovNumVfs' <<<"$out")" = 7 ] || fail "the reply's PF: $(jq .device <<<"$out")"
[ "$(jq -r '.vfs[].name' <<<"$out" | sort)" = "$(vf_list)" ] || fail "the reply's VFs are not sysfs's: $(vf_list)"
groups=
for vf in $(vf_list); do
	[ "$(driver_of $vf)" = "(none)" ] || fail "VF $vf came up on $(driver_of $vf)"
	j=$(jq --arg v $vf '.vfs[] | select(.name == $v)' <<<"$out")
	[ "$(jq -r .physfn <<<"$j")" = $pf ] && [ "$(jq -r .driver <<<"$j")" = null ] || fail "VF in the reply: $j"
	g=$(group_of $vf)
	[ "$(jq -r .iommuGroup <<<"$j")" = "$g" ] || fail "VF $vf: group $(jq -r .iommuGroup <<<"$j"), sysfs $g"
	[ "$(ls /sys/kernel/iommu_groups/$g/devices | wc -l)" = 1 ] || fail "VF $vf shares group $g"
	groups="$groups $g"
done
[ "$(tr ' ' '\n' <<<"$groups" | sed '/^$/d' | sort -u | wc -l)" = 7 ] || fail "groups:$groups"
journalctl -u iommud --no-pager | grep -q "$pf: 7 VFs (were 0), set by uid 0 in" || fail "no journal line"
ok "iommuctl sriov $pf 7 in $create_ms ms: 7 VFs, unbound, groups$groups, all in the reply; autoprobe 0"

# 2b. All 7 prepared through iommud (timed; each VF is a group of its own).
prepared=$(vf_list)
t=$(date +%s%N)
for vf in $prepared; do iommuctl prepare $vf >/dev/null || fail "prepare $vf failed"; done
prepare_ms=$(ms $t)
for vf in $prepared; do
	[ "$(driver_of $vf)" = vfio-pci ] || fail "$vf on $(driver_of $vf) after prepare"
	[ -e /run/iommud/prepared/$vf ] || fail "no record of prepared $vf"
done
ok "7 VFs prepared through iommud in $prepare_ms ms"

# 3. 7 -> 3 -> 7: nonzero to nonzero, through 0 (the prepared VFs go).
iommuctl sriov $pf 3 >/dev/null || fail "7 -> 3 failed"
[ "$(numvfs)" = 3 ] && [ "$(vf_list | wc -l)" = 3 ] || fail "7 -> 3: $(numvfs) VFs"
[ "$(iommuctl --json list | jq --arg p $pf '[.[] | select(.physfn == $p)] | length')" = 3 ] || fail "iommud lists other than 3 VFs"
iommuctl sriov $pf 7 >/dev/null || fail "3 -> 7 failed"
[ "$(numvfs)" = 7 ] || fail "3 -> 7: $(numvfs) VFs"
journalctl -u iommud --no-pager | grep -q "$pf: 3 VFs (were 7; through 0, so every VF is new)" || fail "no journal line for 7 -> 3"
for v in $prepared; do [ ! -e /run/iommud/prepared/$v ] || fail "the record of removed VF $v stays"; done
for vf in $(vf_list); do [ "$(driver_of $vf)" = "(none)" ] || fail "new VF $vf on $(driver_of $vf)"; done
ok "7 -> 3 -> 7 (each through 0); iommud lists 3, then 7"

# 4. A VF prepared and claimed by uid 1000: its fd answers GET_INFO.
vf=$(vf_list | head -n1)
iommuctl prepare $vf >/dev/null || fail "prepare $vf failed"
kvm_rule_on "$user"
getinfo='import fcntl, struct, sys, time
info = fcntl.ioctl(int(sys.argv[1]), (ord(";") << 8) | 107, struct.pack("=6I", 24, 0, 0, 0, 0, 0))
argsz, flags, regions, irqs, cap, pad = struct.unpack("=6I", info)
print("ok: VFIO_DEVICE_GET_INFO on the VF: flags 0x%x, %d regions, %d irqs" % (flags, regions, irqs), flush=True)
time.sleep(600)'
# iommuctl claim becomes python3 (exec), which holds the lease until killed.
claim_vf() {
	setpriv --reuid=1000 --regid=1000 --clear-groups iommuctl claim $vf -- python3 -c "$getinfo" "{fd:$vf}" \
		>/tmp/sriov-claim.out 2>&1 &
	claimer=$!
	for _ in $(seq 200); do
		grep -q "GET_INFO" /tmp/sriov-claim.out && return 0
		kill -0 $claimer 2>/dev/null || { wait $claimer || true; claimer=; return 1; }
		sleep 0.1
	done
	return 1
}
# polkitd reads the new rule within a moment: try again until it has.
for _ in $(seq 10); do claim_vf && break; sleep 1; done
grep -q "GET_INFO" /tmp/sriov-claim.out || { cat /tmp/sriov-claim.out; fail "uid 1000 could not claim VF $vf"; }
cat /tmp/sriov-claim.out
[ "$(iommuctl --json show $vf | jq -r .claim)" = held ] || fail "VF $vf: $(iommuctl show $vf)"
ok "VF $vf prepared, claimed by uid 1000 (the kvm rule); its fd answered VFIO_DEVICE_GET_INFO"

# 5. Leased: removing the VFs is refused, nothing changes.
before=$(vf_list)
expect_rc 6 iommuctl sriov $pf 0
grep -q "(VF $vf): the VFs cannot change while one is leased" <<<"$err_out" || fail "while leased: $err_out"
rc=0; out=$(iommuctl --json sriov $pf 2 2>/dev/null) || rc=$?
jq -e '.error == "org.iommud.Manager.GroupBusy"' <<<"$out" >/dev/null || fail "while leased, JSON: $out"
[ "$(numvfs)" = 7 ] && [ "$(vf_list)" = "$before" ] || fail "the refusal changed the VFs"
ok "0 and 2 VFs refused while VF $vf is leased (GroupBusy); 7 VFs stay"
kill $claimer; wait $claimer 2>/dev/null || true; claimer=
kvm_rule_off "$user"
wait_for 15 sh -c "[ \"\$(iommuctl --json show $vf | jq -r .claim)\" = free ]" || fail "VF $vf not free after the lease"

# 6. Held open by another process: refused, naming it.
node=$(iommuctl --json show $vf | jq -r '.vfioDevice // .vfioGroupNode')
python3 -c "import os, time; f = os.open('$node', os.O_RDWR); time.sleep(300)" & opener=$!
wait_for 5 sh -c "ls -l /proc/$opener/fd 2>/dev/null | grep -q $node" || fail "the opener did not open $node"
expect_rc 6 iommuctl sriov $pf 0
grep -q "(pid $opener) has $node open, of VF $vf" <<<"$err_out" || fail "while open: $err_out"
[ "$(numvfs)" = 7 ] || fail "the refusal changed the VFs"
ok "0 VFs refused while pid $opener had $node open (DeviceInUse)"
kill $opener; wait $opener 2>/dev/null || true; opener=

# 7. Let go: 0 removes them, from sysfs and from iommud; the prepared VF
#    goes too, and with it iommud's record of it.
[ -e /run/iommud/prepared/$vf ] || fail "no record of the prepared VF $vf: $(ls /run/iommud/prepared)"
t=$(date +%s%N)
iommuctl sriov $pf 0 >/dev/null || { journalctl -u iommud --no-pager | tail; fail "iommuctl sriov $pf 0 failed"; }
remove_ms=$(ms $t)
[ "$(numvfs)" = 0 ] && [ -z "$(vf_list)" ] || fail "VFs left: $(vf_list)"
[ "$(iommuctl --json list | jq --arg p $pf '[.[] | select(.physfn == $p)] | length')" = 0 ] || fail "iommud still lists VFs"
[ "$(iommuctl --json show $pf | jq .sriovNumVfs)" = 0 ] || fail "iommud's PF: $(iommuctl --json show $pf)"
[ ! -e /run/iommud/prepared/$vf ] || fail "the record of $vf outlived it"
journalctl -u iommud --no-pager | grep -q "$vf, prepared, went with the VFs of $pf" || fail "no journal line for $vf's record"
ok "iommuctl sriov $pf 0 in $remove_ms ms: the VFs gone from sysfs and from iommud, the prepared one's record too"

# 8. The same by hand, for comparison (autoprobe is still 0): iommud
#    follows from the uevents alone, the PF's count too.
pf_count() { [ "$(iommuctl --json show $pf | jq .sriovNumVfs)" = "$1" ] &&
	[ "$(iommuctl --json list | jq --arg p $pf '[.[] | select(.physfn == $p)] | length')" = "$1" ]; }
t=$(date +%s%N); echo 7 > "$pfdir/sriov_numvfs"; hand_create=$(ms $t)
wait_for 10 pf_count 7 || fail "iommud did not follow 7 VFs made by hand: $(iommuctl sriov $pf)"
[ "$(iommuctl --json show $vf | jq .prepared)" = false ] || fail "the new $vf is taken for the prepared one"
t=$(date +%s%N)
for v in $(vf_list); do
	echo vfio-pci > "$(dev_dir $v)/driver_override"; echo $v > /sys/bus/pci/drivers_probe
done
hand_prepare=$(ms $t)
for v in $(vf_list); do [ "$(driver_of $v)" = vfio-pci ] || fail "$v on $(driver_of $v)"; done
t=$(date +%s%N); echo 0 > "$pfdir/sriov_numvfs"; hand_remove=$(ms $t)
wait_for 10 pf_count 0 || fail "iommud did not follow the VFs removed by hand: $(iommuctl sriov $pf)"
ok "iommud followed 7 VFs made and removed by hand, the PF's count with them"
ok "timing: 7 VFs created in $create_ms ms, prepared in $prepare_ms ms, removed in $remove_ms ms through iommud; by hand $hand_create, $hand_prepare and $hand_remove ms"

# 8b. [Persistent] SriovNumVfs=: iommud sets the count itself on reload.
use_config <<CONF
[Assignable]
Parent=$pf
[Persistent]
SriovNumVfs=$pf/2
CONF
wait_for 20 sh -c "[ \"\$(cat $pfdir/sriov_numvfs)\" = 2 ]" || { journalctl -u iommud --no-pager | grep Persistent | tail; fail "[Persistent] did not give $pf 2 VFs"; }
wait_for 10 pf_count 2 || fail "iommud does not list the 2 VFs [Persistent] made"
journalctl -u iommud --no-pager | grep -q "$pf: 2 VFs (were 0), set by iommud for /etc/iommud/iommud.conf:" ||
	{ journalctl -u iommud --no-pager | tail; fail "no journal line for the [Persistent] count"; }
ok "[Persistent] SriovNumVfs=$pf/2: set by iommud on reload, through SetNumVfs's path"
use_config <<CONF
[Assignable]
Parent=$pf
CONF
iommuctl sriov $pf 0 >/dev/null || fail "removing the [Persistent] VFs failed"

# 9. A PF on vfio-pci: the kernel refuses VFs unless vfio-pci's
#    enable_sriov is on (ENOENT, named SriovNotConfigurable with its errno).
modprobe vfio-pci 2>/dev/null || true
param=/sys/module/vfio_pci/parameters/enable_sriov
[ -w $param ] || fail "no writable $param"
old_param=$(cat $param)
echo N > $param
bind_driver $pf vfio-pci
wait_for 10 sh -c "iommuctl --json show $pf | jq -e '.driver == \"vfio-pci\"'" || fail "iommud does not see $pf on vfio-pci"
rc=0; out=$(iommuctl --json sriov $pf 2 2>/dev/null) || rc=$?
[ $rc = 5 ] || fail "vfio-pci without enable_sriov: exit $rc: $out"
jq -e '.error == "org.iommud.Manager.SriovNotConfigurable" and .parameters.errno == 2 and
	.parameters.step == "sriov_numvfs=2"' <<<"$out" >/dev/null || fail "vfio-pci without enable_sriov: $out"
[ "$(numvfs)" = 0 ] || fail "$(numvfs) VFs after the refusal"
[ "$(cat "$pfdir/sriov_drivers_autoprobe")" = 0 ] || fail "autoprobe: $(cat "$pfdir/sriov_drivers_autoprobe")"
ok "PF on vfio-pci, enable_sriov=N: the kernel's ENOENT named SriovNotConfigurable (errno 2), nothing created"
echo Y > $param
out=$(iommuctl --json sriov $pf 2) || fail "vfio-pci with enable_sriov: $out"
[ "$(numvfs)" = 2 ] || fail "vfio-pci with enable_sriov: $(numvfs) VFs"
vf=$(vf_list | head -n1)
# The VF's VFIO device: the cdev (6.12) does not ask for the PF's VF
# token; the legacy group does, on either kernel: the token the PF's user
# set (random until then), which a claim passes as vfToken.
iommuctl prepare $vf >/dev/null || fail "prepare $vf failed"
getinfo1=${getinfo%time.sleep(600)}
if [ "$(iommuctl --json status | jq -r .leaseBackend)" = iommufd ]; then
	rc=0; out=$(iommuctl claim $vf -- python3 -c "$getinfo1" "{fd:$vf}" 2>&1) || rc=$?
	[ $rc = 0 ] || fail "claim of $vf (its PF on vfio-pci): $out"
	ok "PF on vfio-pci, enable_sriov=Y: 2 VFs; VF $vf claimed through iommufd, no VF token asked: $(grep GET_INFO <<<"$out")"
fi
use_config <<CONF
[Assignable]
Parent=$pf
Address=$pf
[Leases]
Backend=legacy
CONF
token=5b2f1c0e-8d3a-4e6f-9a1b-2c3d4e5f6a7b
rc=0; out=$(iommuctl --json claim $vf -- true 2>/dev/null) || rc=$?
jq -e '.error == "org.iommud.Manager.BindFailed" and .parameters.errno == 13' <<<"$out" >/dev/null ||
	fail "legacy claim of $vf without the PF's VF token: $out"
jq -r .parameters.message <<<"$out" | grep -q "opens only with the VF token the PF's user set" ||
	fail "no VF token: the message: $out"
# The PF's user: a lease on the PF whose holder sets the token
# (VFIO_DEVICE_FEATURE, SET | PCI_VF_TOKEN) and keeps the PF.
settoken='import fcntl, struct, sys, time, uuid
fcntl.ioctl(int(sys.argv[1]), (ord(";") << 8) | 117, struct.pack("=II16s", 24, 1 << 17, uuid.UUID(sys.argv[2]).bytes))
print("ok: VF token set on the PF", flush=True)
time.sleep(600)'
iommuctl claim $pf -- python3 -c "$settoken" "{fd:$pf}" $token >/tmp/sriov-pf.out 2>&1 & pfholder=$!
wait_for 20 grep -q "token set" /tmp/sriov-pf.out || { cat /tmp/sriov-pf.out; fail "the PF's holder did not set the VF token"; }
rc=0; out=$(iommuctl claim --vf-token $token $vf -- python3 -c "$getinfo1" "{fd:$vf}" 2>&1) || rc=$?
[ $rc = 0 ] || fail "legacy claim of $vf with the PF's VF token: $out"
rc=0; out=$(iommuctl --json claim --vf-token 0e9a3d59-6f43-4d2e-8c1b-2a8f8a3f7d10 $vf -- true 2>/dev/null) || rc=$?
jq -e '.error == "org.iommud.Manager.BindFailed" and .parameters.errno == 13' <<<"$out" >/dev/null ||
	fail "legacy claim of $vf with a wrong VF token: $out"
kill $pfholder; wait $pfholder 2>/dev/null || true
wait_for 15 sh -c "[ \"\$(iommuctl --json show $pf | jq -r .claim)\" = free ]" || fail "the PF's group is not free"
[ "$(iommuctl --json leases | jq length)" = 0 ] || fail "a lease is left: $(iommuctl --json leases)"
ok "legacy backend, PF on vfio-pci: VF $vf refused without the VF token and with a wrong one (BindFailed, EACCES); claimed with the token the PF's holder set"
use_config <<CONF
[Assignable]
Parent=$pf
CONF
iommuctl sriov $pf 0 >/dev/null || fail "removing the VFs of the vfio-pci PF failed"
[ "$(numvfs)" = 0 ] || fail "$(numvfs) VFs left"
echo "$old_param" > $param

echo 1 > "$pfdir/sriov_drivers_autoprobe"
[ "$pf_driver" = pci-pf-stub ] || restore_driver $pf
rm -f /tmp/sriov-claim.out /tmp/sriov-pf.out
use_config </dev/null
true
