#!/bin/bash
# profiles: custom stock
# iommud starts on demand, under the installed units: with iommud.service
# stopped and iommud.socket listening, the first iommuctl call starts it
# (socket activation: a new MainPID, which is the pid iommuctl status
# reports, and the call succeeds); stopped again, a busctl call to
# org.iommud1 starts it (D-Bus activation through
# /usr/share/dbus-1/system-services/org.iommud1.service and its
# SystemdService=), and org.iommud1 is owned by its MainPID.
. /usr/local/bin/vmtest-lib.sh
edu=0000:00:03.0
use_config </dev/null
svc=/usr/share/dbus-1/system-services/org.iommud1.service
grep -qx "SystemdService=iommud.service" $svc || fail "$svc does not activate iommud.service: $(cat $svc)"
grep -qx "Name=org.iommud1" $svc || fail "$svc is not for org.iommud1"

stopped() {
	systemctl stop iommud.service
	! systemctl is-active --quiet iommud.service || fail "iommud still running after stop"
	[ "$(systemctl show -P MainPID iommud.service)" = 0 ] || fail "iommud.service has a MainPID after stop"
	systemctl is-active --quiet iommud.socket || fail "iommud.socket does not listen with the service stopped"
	[ -S /run/iommud/org.iommud.Manager ] || fail "no socket at /run/iommud/org.iommud.Manager"
}

# 1. Socket activation: the first varlink call.
before=$(systemctl show -P MainPID iommud.service)
stopped
out=$(iommuctl --json status) || { journalctl -u iommud -u iommud.socket --no-pager | tail; fail "iommuctl status did not start iommud: $out"; }
systemctl is-active --quiet iommud.service || fail "iommud.service not active after the call"
pid=$(systemctl show -P MainPID iommud.service)
[ "$pid" -gt 0 ] && [ "$pid" != "$before" ] || fail "MainPID $pid after activation (before: $before)"
[ "$(jq -r .pid <<<"$out")" = "$pid" ] || fail "iommuctl status was answered by pid $(jq -r .pid <<<"$out"), not MainPID $pid"
journalctl -u iommud.service --no-pager _PID=$pid | grep -q "Found .* devices" || fail "no start-up line from pid $pid"
ok "socket activation: the first iommuctl call started iommud.service (MainPID $before -> $pid) and was answered by it"

# 2. D-Bus activation: a bus call to org.iommud1.
stopped
out=$(busctl call org.iommud1 /org/iommud1 org.iommud1.Manager GetDevice s $edu 2>&1) \
	|| { journalctl -u iommud -u dbus --no-pager | tail; fail "the bus call did not start iommud: $out"; }
[ "$out" = 'o "/org/iommud1/device/pci_0000_00_03_0"' ] || fail "GetDevice: $out"
systemctl is-active --quiet iommud.service || fail "iommud.service not active after the bus call"
pid2=$(systemctl show -P MainPID iommud.service)
[ "$pid2" -gt 0 ] && [ "$pid2" != "$pid" ] || fail "MainPID $pid2 after D-Bus activation (before: $pid)"
owner=$(busctl status org.iommud1 | awk -F= '/^PID=/ {print $2}')
[ "$owner" = "$pid2" ] || fail "org.iommud1 is owned by pid $owner, not iommud's MainPID $pid2"
ok "D-Bus activation: a bus call started iommud.service (MainPID $pid2, owner of org.iommud1)"
use_config </dev/null
