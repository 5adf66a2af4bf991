#!/bin/bash
# profiles: custom
# [Persistent] mdevs (iommud.conf(5)): iommud creates the ones that are
# missing when it starts and on reload, never touches an mdev that holds a
# defined UUID as something else, reports a parent that is not there and
# a type the parent does not offer; with ImportMdevctl=yes it also takes
# mdevctl's "start": "auto" definitions from /etc/mdevctl.d (written by
# hand: mdevctl is not installed) and skips "manual" ones and ones with
# attributes.  Then the guest reboots with iommud enabled at boot, and the
# mdevs are there again, created by iommud (its journal says so).
#
# Phase 1 (first boot) ends by asking tests/vm/run for a reboot; phase 2
# (second boot) checks and removes everything.
. /usr/local/bin/vmtest-lib.sh
conf=/etc/iommud/iommud.conf
types=/sys/class/mdev_bus/mtty/mdev_supported_types
state=${IOMMUD_TESTBED_STATE:-}
[ -n "$state" ] || skip "the test bed cannot reboot this guest"
[ -d "$types/mtty-2" ] || fail "no mtty-2 type under /sys/class/mdev_bus/mtty"
phase=$state/mdev-persistent.phase
u1=5a0c3e1f-7d2b-4c6e-9f80-1a2b3c4d5e01     # iommud.conf, mtty-2
u2=5a0c3e1f-7d2b-4c6e-9f80-1a2b3c4d5e02     # iommud.conf says mtty-2; made by hand as mtty-1 first
u3=5a0c3e1f-7d2b-4c6e-9f80-1a2b3c4d5e03     # on a parent that is none
u4=5a0c3e1f-7d2b-4c6e-9f80-1a2b3c4d5e04     # a type mtty does not offer
u5=5a0c3e1f-7d2b-4c6e-9f80-1a2b3c4d5e05     # mdevctl, auto
u6=5a0c3e1f-7d2b-4c6e-9f80-1a2b3c4d5e06     # mdevctl, manual
u7=5a0c3e1f-7d2b-4c6e-9f80-1a2b3c4d5e07     # mdevctl, with attributes
all="$u1 $u2 $u3 $u4 $u5 $u6 $u7"
mdev_dir() { echo "/sys/bus/mdev/devices/$1"; }
type_of() { basename "$(readlink "$(mdev_dir "$1")/mdev_type")"; }
# This boot's iommud journal (the journal is kept across the reboot).
journal() { journalctl -b -u iommud --no-pager -o cat; }
# journal_has TEXT: a line of it contains TEXT.
journal_has() { journal | grep -qF -- "$1"; }

# The definitions go first: a reload would make their mdevs again.
cleanup() {
	local u
	rm -rf /etc/mdevctl.d
	systemctl disable iommud.service >/dev/null 2>&1 || true
	use_config </dev/null
	for u in $all; do
		if [ -e "$(mdev_dir $u)" ]; then echo 1 > "$(mdev_dir $u)/remove" || true; fi
	done
}

persistent_conf() {
	cat <<CONF
[Assignable]
Parent=mtty

[Persistent]
Mdev=mtty/mtty-2/$u1
Mdev=mtty/mtty-2/$u2
Mdev=0000:00:03.0/mtty-1/$u3
Mdev=mtty/mtty-9/$u4
${1:-}
CONF
}

if [ ! -e "$phase" ]; then
	[ ! -e $conf ] || fail "$conf exists before the check"
	trap '[ -e "$phase" ] || cleanup' EXIT
	for u in $all; do [ ! -e "$(mdev_dir $u)" ] || fail "mdev $u exists before the check"; done

	# 1. At start: iommud creates u1.  u2's UUID is taken by an mtty-1
	# made by hand: left as it is.
	echo "$u2" > "$types/mtty-1/create"
	systemctl stop iommud.service 2>/dev/null   # "can still be activated by iommud.socket"
	persistent_conf | use_config
	wait_for 20 test -e "$(mdev_dir $u1)" || { journal | tail -20; fail "iommud did not create $u1 at start"; }
	[ "$(type_of $u1)" = mtty-2 ] || fail "$u1 is $(type_of $u1), not mtty-2"
	wait_for 10 journal_has "mdev $u1 (mtty-2 of mtty) created by iommud for $conf:5" ||
		{ journal | tail -20; fail "no journal line for the creation of $u1"; }
	journal | grep -F "Persistent: " | sed 's/^/    /'
	ok "at start: $u1 (mtty-2 of mtty) created by iommud for $conf:5"
	[ "$(type_of $u2)" = mtty-1 ] || fail "$u2 is $(type_of $u2) now: iommud touched an existing mdev"
	journal_has "an mdev $u2 exists already as mtty-1 of mtty: left as it is" || fail "no conflict reported for $u2"
	journal_has "there is no mdev parent 0000:00:03.0 (yet): the mdev is created when it appears" ||
		fail "no line for $u3 waiting for its parent"
	journal_has "mtty offers no mdev type mtty-9" || fail "no line for $u4's unknown type"
	[ ! -e "$(mdev_dir $u3)" ] && [ ! -e "$(mdev_dir $u4)" ] || fail "$u3 or $u4 exists"
	ok "$u2 held by a hand-made mtty-1: reported and left alone; a parent that is none, a type mtty lacks: reported"

	# 2. Reload: what is there stays, what went is made again.
	n=$(journal | grep -c "created by iommud for") || true
	systemctl reload iommud.service
	sleep 1
	[ "$(journal | grep -c "created by iommud for")" = "$n" ] || fail "a reload with nothing missing created something"
	echo 1 > "$(mdev_dir $u1)/remove"
	systemctl reload iommud.service
	wait_for 10 test -e "$(mdev_dir $u1)" || { journal | tail -20; fail "$u1 not created again on reload"; }
	[ "$(journal | grep -c "mdev $u1 (mtty-2 of mtty) created by iommud")" = 2 ] || fail "expected two creations of $u1"
	ok "reload: nothing created while all is there; $u1, removed by hand, created again"

	# 2b. A device event (the edu bound to vfio-pci and back) plans again
	# for parents that appeared, and mtty did not: the mdev removed by
	# hand stays removed until the next reload.
	echo 1 > "$(mdev_dir $u1)/remove"
	edu=0000:00:03.0
	bind_driver $edu vfio-pci
	restore_driver $edu
	wait_for 10 journal_has "Persistent: $u1 ($conf:5): missing, but its parent was there before this device event" ||
		{ journal | tail -20; fail "no round after the device event"; }
	[ ! -e "$(mdev_dir $u1)" ] || fail "a device event made $u1 again, which the admin had removed"
	systemctl reload iommud.service
	wait_for 10 test -e "$(mdev_dir $u1)" || fail "$u1 not created again on reload"
	ok "a device event did not make $u1 again behind the admin's back; the next reload did"

	# 3. mdevctl's definitions, written as mdevctl writes them.
	mkdir -p /etc/mdevctl.d/mtty /etc/mdevctl.d/scripts.d/callouts
	printf '{\n  "mdev_type": "mtty-1",\n  "start": "auto",\n  "attrs": []\n}\n' > /etc/mdevctl.d/mtty/$u5
	printf '{"mdev_type": "mtty-1", "start": "manual", "attrs": []}\n' > /etc/mdevctl.d/mtty/$u6
	printf '{"mdev_type": "mtty-1", "start": "auto", "attrs": [{"x": "1"}]}\n' > /etc/mdevctl.d/mtty/$u7
	ln -s /etc/passwd /etc/mdevctl.d/mtty/5a0c3e1f-7d2b-4c6e-9f80-1a2b3c4d5e08
	persistent_conf "ImportMdevctl=yes" | use_config
	wait_for 10 test -e "$(mdev_dir $u5)" || { journal | tail -20; fail "$u5 from /etc/mdevctl.d not created"; }
	[ "$(type_of $u5)" = mtty-1 ] || fail "$u5 is $(type_of $u5)"
	wait_for 10 journal_has "mdev $u5 (mtty-1 of mtty) created by iommud for /etc/mdevctl.d/mtty/$u5" ||
		fail "no journal line for $u5"
	[ ! -e "$(mdev_dir $u6)" ] && [ ! -e "$(mdev_dir $u7)" ] || fail "$u6 (manual) or $u7 (attrs) was created"
	journal_has "/etc/mdevctl.d/mtty/$u6: \"start\": \"manual\": not created at start" || fail "no line for $u6"
	journal_has "/etc/mdevctl.d/mtty/$u7: has 1 vendor attributes" || fail "no line for $u7"
	journal_has "/etc/mdevctl.d/mtty/5a0c3e1f-7d2b-4c6e-9f80-1a2b3c4d5e08: cannot open (a symlink): skipped" ||
		fail "no line for the symlink"
	ok "ImportMdevctl=yes: $u5 (auto) created; $u6 (manual), $u7 (attrs) and a symlink skipped, each reported"

	# 4. Reboot with iommud started at boot; u1 and u2 removed by hand
	# now must come back (u2 as iommud.conf says: mtty-2).
	echo 1 > "$(mdev_dir $u2)/remove"
	systemctl enable iommud.service
	touch "$state/reboot"
	echo 1 > "$phase"
	ok "config and /etc/mdevctl.d in place, iommud enabled (wanted by multi-user.target); rebooting"
	exit 0
fi

# Phase 2: the boot after the reboot.
trap cleanup EXIT
ok "booted again, boot ${IOMMUD_TESTBED_BOOT:-?}"
wait_for 60 systemctl is-active --quiet iommud.service || fail "iommud did not start at boot"
for u in $u1 $u2 $u5; do
	wait_for 30 test -e "$(mdev_dir $u)" || { journal | tail -30; fail "$u is not there after the reboot"; }
done
[ "$(type_of $u1)" = mtty-2 ] && [ "$(type_of $u2)" = mtty-2 ] && [ "$(type_of $u5)" = mtty-1 ] ||
	fail "types after the reboot: $(type_of $u1) $(type_of $u2) $(type_of $u5)"
wait_for 10 journal_has "mdev $u1 (mtty-2 of mtty) created by iommud for $conf:5" || fail "no journal line for $u1"
journal_has "mdev $u2 (mtty-2 of mtty) created by iommud for $conf:6" || fail "no journal line for $u2"
journal_has "mdev $u5 (mtty-1 of mtty) created by iommud for /etc/mdevctl.d/mtty/$u5" || fail "no journal line for $u5"
journal | grep -F "Persistent: " | sed 's/^/    /'
[ ! -e "$(mdev_dir $u6)" ] && [ ! -e "$(mdev_dir $u7)" ] || fail "$u6 or $u7 exists after the reboot"
ok "after the reboot: $u1, $u2 (mtty-2, as iommud.conf defines it now) and $u5 (mdevctl) created by iommud at boot"
wait_for 10 sh -c "iommuctl --json show $u1 | jq -e '.parent == \"mtty\"' >/dev/null" || fail "iommud does not list $u1"
ok "iommud lists $u1"
cleanup
trap - EXIT
for u in $all; do [ ! -e "$(mdev_dir $u)" ] || fail "mdev $u left behind"; done
true
