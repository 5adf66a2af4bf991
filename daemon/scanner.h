/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * scanner.h - keeps the registry equal to the kernel's view, from udev.
 *
 * Start order: the udev monitor first, then the enumeration, so that no
 * event falls between the two.  Events for pci and mdev devices update
 * that one device; events for VFIO cdevs (vfio-dev) and group nodes
 * (vfio) update the devices they belong to; a VF's "add" or "remove"
 * also updates its PF (whose VF count changed with no uevent of its own),
 * once per batch of events.  When the monitor's socket
 * overran (ENOBUFS) events were lost: a full rescan, counted, follows.
 */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "registry.h"
#include "sysfs.h"

typedef struct Scanner Scanner;

typedef struct ScannerStats {
        uint64_t events;        /* uevents received */
        uint64_t rescans;       /* full rescans after an overrun */
        uint64_t overruns;      /* ENOBUFS seen on the monitor socket */
} ScannerStats;

int scanner_new(sd_event *e, Sysfs *sysfs, Registry *registry, Scanner **ret);
Scanner *scanner_free(Scanner *s);
void scanner_freep(Scanner **s);

/** scanner_start() - monitor, then enumerate everything. */
int scanner_start(Scanner *s);

/** scanner_rescan() - enumerate everything now; the registry drops what
 * is gone and reports what changed. */
int scanner_rescan(Scanner *s);

const ScannerStats *scanner_get_stats(const Scanner *s);

/** scanner_refresh_group() - re-read every member of IOMMU group @id from
 * sysfs now, without waiting for their uevents (before deciding anything
 * on what the group looks like). */
void scanner_refresh_group(Scanner *s, uint32_t id);

/** scanner_refresh_device() - re-read one device (a PCI function or an
 * mdev, by its canonical name) from sysfs now: put it in the registry as
 * it is, or drop it when it is gone. */
void scanner_refresh_device(Scanner *s, DeviceKind kind, const char *name);
