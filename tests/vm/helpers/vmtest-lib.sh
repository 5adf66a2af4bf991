# Sourced by the guest-side VM checks (tests/vm/checks/*.sh).
set -euo pipefail

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
skip() { echo "SKIP: $*"; exit 77; }

# wait_for SECONDS CMD...: run CMD until it succeeds, for at most SECONDS
# of wall time.  CMD is run anew each time, so pass a command or function,
# not "$(...)" (that is expanded once, before the first try).
wait_for() {
	local end=$((SECONDS + $1)); shift
	while ! "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
}

dev_dir() { echo "/sys/bus/pci/devices/$1"; }
driver_of() { local l; l=$(readlink "$(dev_dir "$1")/driver" 2>/dev/null) && basename "$l" || echo "(none)"; }
group_of() { basename "$(readlink "$(dev_dir "$1")/iommu_group")"; }

# bind_driver BDF DRIVER: rebind BDF through driver_override, the way
# iommud will; "" as DRIVER leaves it unbound.
bind_driver() {
	local bdf=$1 drv=$2 d
	d=$(dev_dir "$bdf")
	[ "$(driver_of "$bdf")" = "${drv:-(none)}" ] && return 0
	if [ -e "$d/driver" ]; then echo "$bdf" > "$d/driver/unbind"; fi
	echo "${drv:-none}" > "$d/driver_override"
	if [ -n "$drv" ]; then
		echo "$bdf" > /sys/bus/pci/drivers_probe
		[ "$(driver_of "$bdf")" = "$drv" ] || fail "$bdf did not bind to $drv (driver: $(driver_of "$bdf"))"
	fi
}

# restore_driver BDF: clear the override and let the kernel pick the driver.
restore_driver() {
	local bdf=$1 d
	d=$(dev_dir "$bdf")
	if [ -e "$d/driver" ]; then echo "$bdf" > "$d/driver/unbind"; fi
	echo > "$d/driver_override"
	echo "$bdf" > /sys/bus/pci/drivers_probe || true
}

# dmar_fault_logged BDF IOVA: the kernel logged a DMAR fault for BDF at IOVA.
dmar_fault_logged() {
	local short=${1#0000:}
	dmesg | grep -E "DMAR: .*Request device \[$short\] fault addr (0x)?0*${2#0x}" 
}

# edu_dma_check iommufd|legacy BDF: bind BDF to vfio-pci, run edu-dma
# (bytes verified, a DMA to an unmapped IOVA blocked), and check the
# kernel logged a DMAR fault for BDF at that IOVA; then restore BDF.
edu_dma_check() {
	local mode=$1 bdf=$2 out iova
	bind_driver "$bdf" vfio-pci
	dmesg -C
	out=$(edu-dma "$mode" "$bdf") || { echo "$out"; fail "edu-dma $mode failed"; }
	echo "$out"
	iova=$(sed -n 's/^fault-iova: //p' <<<"$out")
	wait_for 5 dmar_fault_logged "$bdf" "$iova" || { dmesg | tail -n 20; fail "no DMAR fault logged for $bdf at $iova"; }
	ok "kernel logged: $(dmar_fault_logged "$bdf" "$iova" | head -n1)"
	restore_driver "$bdf"
}

# use_config: install stdin as /etc/iommud/iommud.conf and have iommud
# read it (systemctl reload, or a start); no stdin text removes the file.
use_config() {
	mkdir -p /etc/iommud
	local text; text=$(cat)
	if [ -n "$text" ]; then printf '%s\n' "$text" > /etc/iommud/iommud.conf; else rm -f /etc/iommud/iommud.conf; fi
	systemctl start iommud.socket
	if systemctl is-active --quiet iommud.service; then
		systemctl reload iommud.service || { journalctl -u iommud --no-pager | tail -20; fail "iommud did not reload"; }
	else
		systemctl start iommud.service || { journalctl -u iommud --no-pager | tail -20; fail "iommud did not start"; }
	fi
}

# pci_snapshot: every PCI function's driver and driver_override, and the
# records iommud keeps, one line each: compared before and after a call
# that must change nothing.
pci_snapshot() {
	local d
	for d in /sys/bus/pci/devices/*; do
		echo "$(basename "$d") $(driver_of "$(basename "$d")") $(cat "$d/driver_override")"
	done
	if [ -d /run/iommud/prepared ]; then ls -A /run/iommud/prepared | sed 's/^/record /'; fi
}

# expect_rc RC CMD...: run CMD, which must exit RC; its stderr is kept in
# $err_out.
expect_rc() {
	local want=$1 rc=0; shift
	err_out=$("$@" 2>&1 >/dev/null) || rc=$?
	[ "$rc" = "$want" ] || fail "'$*' exited $rc, not $want: $err_out"
}

# kvm_rule_on USER / kvm_rule_off USER: the shipped example polkit rule
# (group kvm may claim what iommud.conf marks assignable) in force with
# USER in group kvm, and both undone.  polkitd reloads rules on its own
# within a moment: callers wait for the effect they need.
KVM_RULE=/etc/polkit-1/rules.d/50-iommud-kvm.rules
kvm_rule_on() {
	getent group kvm >/dev/null || groupadd kvm
	usermod -aG kvm "$1"
	mkdir -p "$(dirname "$KVM_RULE")"
	cp /usr/share/doc/iommud/examples/50-iommud-kvm.rules.example "$KVM_RULE"
}
kvm_rule_off() {
	rm -f "$KVM_RULE"
	gpasswd -d "$1" kvm >/dev/null 2>&1 || true
}

# slow_claim_rule_on USER SECONDS / slow_claim_rule_off: a polkit rule
# that lets USER claim, after thinking for SECONDS: a claim waiting for
# polkit, for as long as a test needs.  polkitd reloads rules within a
# moment.
SLOW_RULE=/etc/polkit-1/rules.d/50-iommud-slow.rules
slow_claim_rule_on() {
	cat >"$SLOW_RULE" <<RULES
polkit.addRule(function(action, subject) {
	if (action.id == "org.iommud.claim" && subject.user == "$1") {
		polkit.spawn(["/bin/sleep", "$2"]);
		return polkit.Result.YES;
	}
});
RULES
}
slow_claim_rule_off() {
	rm -f "$SLOW_RULE"
}
