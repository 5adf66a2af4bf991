#!/bin/bash
# profiles: custom stock
# Real VMMs on iommud's leases.  QEMU 10, run by uid 1000 under
# `iommuctl claim`, realizes the edu from the fds it is given: on the
# iommufd backend a parked device fd bound to the lease's iommufd
# (-object iommufd,fd= -device vfio-pci,fd=), on Debian 12's own kernel the
# legacy access mode (-device vfio-pci,host=, the group node opened by the
# VMM itself through the lease's ACL entry).  QEMU stops before the guest
# runs (-S); QMP's query-pci must show the edu (1234:11e8).  And a foreign
# client, Python's standard library alone, claims and uses the fds.
. /usr/local/bin/vmtest-lib.sh
edu=0000:00:03.0
g=$(group_of $edu)
user=$(id -nu 1000) || fail "no uid 1000 in the guest"
as_user() { setpriv --reuid=1000 --regid=1000 --init-groups "$@"; }
group_free() { [ "$(iommuctl --json group "$g" | jq -r .claim)" = free ]; }

use_config <<CONF
[Assignable]
Address=$edu
[Managed]
Address=$edu
[Limits]
MaxMemlock=512M
CONF
# The shipped example rule: group kvm claims what iommud.conf allows.
kvm_rule_on "$user"
sleep 1

# query_pci SOCKET: the vendor:device of every PCI device QEMU has.
query_pci() {
	python3 - "$1" <<'PY'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX)
for _ in range(600):
    try:
        s.connect(sys.argv[1]); break
    except OSError:
        time.sleep(0.1)
f = s.makefile("rw")
def cmd(c):
    f.write(json.dumps({"execute": c}) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            return r
json.loads(f.readline())
cmd("qmp_capabilities")
for bus in cmd("query-pci")["return"]:
    for d in bus["devices"]:
        print("%04x:%04x %s" % (d["id"]["vendor"], d["id"]["device"], d.get("qdev_id", "")))
cmd("quit")
PY
}

if [ -e /dev/iommu ]; then
	mode=(--parked) devarg="-object iommufd,id=i0,fd={iommufd} -device vfio-pci,iommufd=i0,fd={$edu},id=edu0"
	what="parked fds (-object iommufd,fd= -device vfio-pci,fd=)"
else
	mode=(--access) devarg="-device vfio-pci,host=$edu,id=edu0"
	what="legacy access mode (-device vfio-pci,host=)"
fi
rm -f /tmp/qmp.sock
# shellcheck disable=SC2086
as_user iommuctl claim "${mode[@]}" --memlock 256M $edu -- \
	qemu-system-x86_64 -S -machine q35 -accel tcg -m 64 -nodefaults -display none \
	$devarg -qmp unix:/tmp/qmp.sock,server=on,wait=off >/tmp/qemu.out 2>&1 &
out=$(query_pci /tmp/qmp.sock) || { cat /tmp/qemu.out; journalctl -u iommud --no-pager | tail; fail "no QMP answer from QEMU"; }
echo "$out"
wait
cat /tmp/qemu.out
grep -q "^1234:11e8 edu0" <<<"$out" || fail "QEMU did not realize the edu from $what"
ok "QEMU 10 as uid 1000 realized the edu (1234:11e8) from iommud's $what"
wait_for 15 group_free || fail "group $g not free after QEMU quit"
wait_for 10 sh -c "[ ! -e /sys/bus/pci/devices/$edu/driver ]" || fail "$edu not restored after QEMU"
ok "QEMU quit: its lease ended, the edu was restored"

if [ -e /dev/iommu ]; then
	for m in bound parked; do
		out=$(as_user varlink-claim.py $edu --mode $m) || { echo "$out"; fail "the Python client ($m) failed"; }
		echo "$out"
		wait_for 15 group_free || fail "group $g not free after the Python client"
	done
	ok "a Python client (standard library only) claimed the edu and used its fds, bound and parked"
fi

kvm_rule_off "$user"
use_config </dev/null
