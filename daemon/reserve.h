/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * reserve.h - [Reserve] of iommud.conf applied to one PCI function as it
 * appears: whether it must go to vfio-pci, and what that takes now.  Pure
 * logic; iommud-reserve reads the device and the policy, and udev (or,
 * before udev's coldplug, iommud-reserve --all) does the writes.
 *
 * A reserved function gets driver_override=vfio-pci, so that no host
 * driver matches it when one is loaded or probes.  What else it needs
 * depends on where it is:
 *   unbound                   probe it, so vfio-pci binds (RESERVE_PROBE);
 *   on vfio-pci or a variant  nothing (RESERVE_DONE);
 *   on a host driver, in the kernel's own "add" event (a hot-add, a new
 *   SR-IOV VF): a driver that was loaded already (or is built in) took it
 *                             inside device_add, before any rule ran; the
 *                             function is new, and udev handles no event
 *                             of its children (its netdev, its disks)
 *                             before this one ends, so nothing on the host
 *                             uses it yet: unbind, then probe
 *                             (RESERVE_UNBIND);
 *   on a host driver at coldplug (udevadm trigger at boot, or by hand):
 *                             bound since a built-in driver or the
 *                             initramfs took it, and maybe in use (the
 *                             root disk's controller): left there, with
 *                             driver_override set for its next probe
 *                             (RESERVE_KEEP).
 * Never reserved, even when listed: PCI bridges (device_is_bridge()), a
 * function the host cannot lose (host-guard.h: the boot VGA device, the
 * controller of a mounted filesystem, the NIC of a default route), and a
 * function whose driver_override already names another driver (someone
 * else, driverctl say, holds it).
 */
#pragma once

#include <stdbool.h>

#include "config.h"
#include "device.h"

typedef enum ReserveAction {
        RESERVE_NOT_LISTED,     /* no rule of [Reserve] matches */
        RESERVE_REFUSED,        /* listed, but never reserved (see above) */
        RESERVE_DONE,           /* listed, already on a VFIO driver */
        RESERVE_PROBE,          /* listed, unbound: override, probe */
        RESERVE_UNBIND,         /* listed, just added, on a host driver: override, unbind, probe */
        RESERVE_KEEP,           /* listed, on a host driver since before: override only */
} ReserveAction;

typedef struct ReserveVerdict {
        ReserveAction action;
        unsigned line;          /* the [Reserve] rule's line, when listed */
        const char *reason;     /* why RESERVE_REFUSED: a predicate ("is a PCI bridge") */
} ReserveVerdict;

/** reserve_decide() - what [Reserve] of @c asks for @d (a PCI function);
 * a NULL @c (no usable policy) reserves nothing.  @hot_add: the event is the kernel's own "add" of @d, not a coldplug
 * replay.  @critical: why the host cannot lose @d (host_guard_reason()),
 * or NULL; kept as the reason when it refuses. */
ReserveVerdict reserve_decide(const Config *c, const Device *d, bool hot_add, const char *critical);

/** reserve_action_to_result() - the word iommud-reserve prints for udev's
 * RESULT (data/udev/40-iommud-reserve.rules): "reserve", "reserve-unbind",
 * "reserve-keep", or NULL when udev has nothing to write. */
const char *reserve_action_to_result(ReserveAction a);
