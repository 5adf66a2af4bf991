/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-guard.h - the PCI devices the host cannot lose, each with the
 * reason why, and the verdict that follows for any device of the registry.
 *
 * Critical are: the boot VGA device; every PCI function on the sysfs path
 * of a block device that backs a mounted filesystem (through dm, md and
 * other stacked devices, down their slaves, and through an NVMe
 * subsystem to its controllers); every PCI function on the path
 * of the interface that carries an IPv4 or IPv6 default route (through
 * bridges, bonds, VLANs and macvlans, down their ports and lower devices);
 * and the PF of any critical VF.  A PCI function on such a path above the
 * device itself is a bridge, and losing it loses everything below.
 *
 * Refused are the critical devices, every device sharing an IOMMU group
 * with one, and every mdev created on one.
 *
 * A guard is a snapshot: scan again when mounts, routes or devices change,
 * and compare with host_guard_equal() to learn whether any verdict did.
 * What the scan cannot read it skips (a vanished device, a malformed line):
 * only -ENOMEM fails it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "device.h"
#include "registry.h"
#include "sysfs.h"

typedef struct HostGuard HostGuard;

/* Bounds on the work one scan does, whatever the texts hold: mountinfo
 * lines considered, block and network devices visited, and how deep a
 * stack of devices is followed. */
#define HOST_GUARD_MOUNTS_MAX 4096
#define HOST_GUARD_NODES_MAX 4096
#define HOST_GUARD_DEPTH_MAX 16

/** host_guard_scan() - find the critical devices from the texts of
 * /proc/self/mountinfo (@mountinfo), /proc/net/route (@route4) and
 * /proc/net/ipv6_route (@route6), each may be NULL for nothing, resolving
 * devices beneath @s.  -ENOMEM. */
int host_guard_scan(Sysfs *s, const char *mountinfo, const char *route4, const char *route6, HostGuard **ret);

/** host_guard_scan_host() - the same from this host's /proc files; a
 * missing file is nothing.  -ENOMEM, or -errno when a file exists but
 * cannot be read. */
int host_guard_scan_host(Sysfs *s, HostGuard **ret);

HostGuard *host_guard_free(HostGuard *h);
void host_guard_freep(HostGuard **h);

/** host_guard_reason() - why the PCI function @pci_name (canonical) is
 * critical itself, as a predicate with the device as its subject: "is the
 * boot VGA device", "backs the mounted filesystem / (/dev/vda1)", "carries
 * the default route (eth0)", "carries the IPv6 default route (br0 via
 * eth1)", "is a bridge above 0000:01:00.0, which ...", "is the PF of
 * 0000:03:10.1, which ...".  NULL if it is not critical.  Owned by @h. */
const char *host_guard_reason(const HostGuard *h, const char *pci_name);

/** host_guard_refuses() - whether @d must stay with the host; if so, a
 * sentence why goes into @reason (truncated to @size, may be NULL): its own
 * reason, "shares IOMMU group 5 with 0000:00:1f.2, which backs the mounted
 * filesystem / (/dev/sda2)" for a group peer (the group as @r has it), or
 * "created on 0000:00:02.0, which is the boot VGA device" for an mdev.
 * Otherwise @reason is set to "".  A NULL @h refuses nothing. */
bool host_guard_refuses(const HostGuard *h, const Registry *r, const Device *d, char *reason, size_t size);

/** host_guard_equal() - the same devices with the same reasons, so every
 * verdict (and its text) is the same.  NULL counts as empty. */
bool host_guard_equal(const HostGuard *a, const HostGuard *b);

/** host_guard_count() - how many PCI functions are critical themselves. */
size_t host_guard_count(const HostGuard *h);
