/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <libudev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "device-sysfs.h"
#include "scanner.h"
#include "shared/macro.h"
#include "shared/uuid.h"

/* As udevd and sd-device do: a large buffer rides out event storms (an
 * SR-IOV PF enabling hundreds of VFs, `udevadm trigger`). */
#define MONITOR_RCVBUF (128 * 1024 * 1024)

/* PFs whose VFs came or went in the batch being handled: refreshed once
 * at its end (their VF count changes with no uevent of their own). */
#define PENDING_PFS_MAX 16

struct Scanner {
        sd_event *event;
        Sysfs *sysfs;
        Registry *registry;
        struct udev *udev;
        struct udev_monitor *monitor;
        struct udev_hwdb *hwdb;
        sd_event_source *io;
        sd_event_source *rescan;
        ScannerStats stats;
        char pending_pfs[PENDING_PFS_MAX][PCI_ADDRESS_STRING_MAX];
        size_t n_pending_pfs;
};

int scanner_new(sd_event *e, Sysfs *sysfs, Registry *registry, Scanner **ret) {
        Scanner *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(e);
        s->sysfs = sysfs;
        s->registry = registry;
        s->udev = udev_new();
        if (!s->udev) {
                scanner_free(s);
                return -ENOMEM;
        }
        /* Optional: without a hwdb, devices simply have no names. */
        s->hwdb = udev_hwdb_new(s->udev);
        *ret = s;
        return 0;
}

Scanner *scanner_free(Scanner *s) {
        if (!s)
                return NULL;
        sd_event_source_disable_unref(s->io);
        sd_event_source_disable_unref(s->rescan);
        udev_monitor_unref(s->monitor);
        udev_hwdb_unref(s->hwdb);
        udev_unref(s->udev);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}

void scanner_freep(Scanner **s) {
        scanner_free(*s);
}

const ScannerStats *scanner_get_stats(const Scanner *s) {
        return &s->stats;
}

static char *dup_or_null(const char *s) {
        return s ? strdup(s) : NULL;
}

/* Vendor and model names from the udev hwdb, by modalias, as udev's own
 * rules look them up. */
static void read_names(Scanner *s, Device *d) {
        const char *v = NULL, *m = NULL;
        struct udev_list_entry *e;
        char modalias[64];

        if (!s->hwdb)
                return;
        snprintf(modalias, sizeof(modalias), "pci:v%08Xd%08X", d->vendor_id, d->device_id);
        udev_list_entry_foreach(e, udev_hwdb_get_properties_list_entry(s->hwdb, modalias, 0)) {
                if (strcmp(udev_list_entry_get_name(e), "ID_VENDOR_FROM_DATABASE") == 0)
                        v = udev_list_entry_get_value(e);
                else if (strcmp(udev_list_entry_get_name(e), "ID_MODEL_FROM_DATABASE") == 0)
                        m = udev_list_entry_get_value(e);
        }
        d->vendor_name = dup_or_null(v);
        d->device_name = dup_or_null(m);
}

/* A Device for @name on @bus, read from sysfs (device-sysfs.h), with its
 * hwdb names: -ENOENT when it is gone, -EINVAL for a name that is not
 * what the kernel would make. */
static int scan_device(Scanner *s, SysfsBus bus, const char *name, Device **ret) {
        int r = device_read_sysfs(s->sysfs, bus, name, ret);

        if (r >= 0 && bus == SYSFS_BUS_PCI)
                read_names(s, *ret);
        return r;
}

static void update(Scanner *s, SysfsBus bus, const char *name);

static void flush_pfs(Scanner *s) {
        char pfs[PENDING_PFS_MAX][PCI_ADDRESS_STRING_MAX];
        size_t n = s->n_pending_pfs;

        /* A copy: updating a PF may end up here again. */
        memcpy(pfs, s->pending_pfs, n * sizeof(pfs[0]));
        s->n_pending_pfs = 0;
        for (size_t i = 0; i < n; i++)
                update(s, SYSFS_BUS_PCI, pfs[i]);
}

/* A VF of @pf came or went: the PF's VF count is stale.  Enabling 64 VFs
 * sends 64 "add"s; the PF is read once per batch, not 64 times. */
static void pf_changed(Scanner *s, const char *pf) {
        for (size_t i = 0; i < s->n_pending_pfs; i++)
                if (strcmp(s->pending_pfs[i], pf) == 0)
                        return;
        if (s->n_pending_pfs == PENDING_PFS_MAX)
                flush_pfs(s);
        snprintf(s->pending_pfs[s->n_pending_pfs++], PCI_ADDRESS_STRING_MAX, "%s", pf);
}

/* Re-read @name: put what is there, drop it when it is gone.  A VF that
 * appears, goes, or changes its PF marks the PF (old and new) stale; a
 * VF being removed loses its physfn link before its last uevents (an
 * "unbind" from vfio-pci, its cdev going), so the PF is the one the
 * registry knew. */
static void update(Scanner *s, SysfsBus bus, const char *name) {
        const Device *old = registry_get_device(s->registry, name), *now;
        char pf[PCI_ADDRESS_STRING_MAX] = "";
        Device *d = NULL;
        int r = scan_device(s, bus, name, &d);

        if (old && old->physfn)
                snprintf(pf, sizeof(pf), "%s", old->physfn);
        if (r >= 0)
                (void) registry_put_device(s->registry, d);
        else if (r == -ENOENT)
                (void) registry_remove_device(s->registry, name);
        else
                return;
        now = registry_get_device(s->registry, name);
        if (pf[0] && !(now && now->physfn && strcmp(now->physfn, pf) == 0))
                pf_changed(s, pf);
        if (now && now->physfn && strcmp(now->physfn, pf) != 0)
                pf_changed(s, now->physfn);
}

void scanner_refresh_device(Scanner *s, DeviceKind kind, const char *name) {
        update(s, kind == DEVICE_PCI ? SYSFS_BUS_PCI : SYSFS_BUS_MDEV, name);
        flush_pfs(s);
}

/* Re-read every member of group @id (its /dev/vfio node came or went). */
void scanner_refresh_group(Scanner *s, uint32_t id) {
        const Group *g = registry_get_group(s->registry, id);
        _cleanup_free_ char **names = NULL;
        _cleanup_free_ DeviceKind *kinds = NULL;
        size_t n;

        if (!g)
                return;
        n = g->n_members;
        names = calloc(n, sizeof(*names));
        kinds = calloc(n, sizeof(*kinds));
        if (!names || !kinds)
                return;
        /* Copy first: updating a member may change the group. */
        for (size_t i = 0; i < n; i++) {
                names[i] = strdup(g->members[i]->name);
                kinds[i] = g->members[i]->kind;
        }
        for (size_t i = 0; i < n; i++) {
                if (names[i])
                        update(s, kinds[i] == DEVICE_PCI ? SYSFS_BUS_PCI : SYSFS_BUS_MDEV, names[i]);
                free(names[i]);
        }
        flush_pfs(s);
}

/* The device a VFIO cdev belongs to: the path component before
 * "/vfio-dev/" in the cdev's devpath. */
static void update_cdev_parent(Scanner *s, const char *devpath) {
        char name[UUID_STRING_MAX + 1];
        const char *end, *start;
        size_t n;

        if (!devpath || !(end = strstr(devpath, "/vfio-dev/")))
                return;
        for (start = end; start > devpath && start[-1] != '/'; start--)
                ;
        n = (size_t) (end - start);
        if (n == 0 || n >= sizeof(name))
                return;
        memcpy(name, start, n);
        name[n] = 0;
        if (pci_address_parse(name, NULL) >= 0)
                update(s, SYSFS_BUS_PCI, name);
        else
                update(s, SYSFS_BUS_MDEV, name);
}

static void handle(Scanner *s, struct udev_device *ud) {
        const char *subsystem = udev_device_get_subsystem(ud), *action = udev_device_get_action(ud);
        const char *sysname = udev_device_get_sysname(ud);

        s->stats.events++;
        if (!subsystem || !action || !sysname)
                return;
        if (strcmp(subsystem, "pci") == 0 || strcmp(subsystem, "mdev") == 0) {
                SysfsBus bus = subsystem[0] == 'p' ? SYSFS_BUS_PCI : SYSFS_BUS_MDEV;
                const Device *d;

                if (strcmp(action, "remove") == 0) {
                        if ((d = registry_get_device(s->registry, sysname)) && d->physfn)
                                pf_changed(s, d->physfn);
                        (void) registry_remove_device(s->registry, sysname);
                } else
                        update(s, bus, sysname);
        } else if (strcmp(subsystem, "vfio-dev") == 0) {
                update_cdev_parent(s, udev_device_get_devpath(ud));
        } else if (strcmp(subsystem, "vfio") == 0) {
                char *end;
                unsigned long g;
                errno = 0;
                g = strtoul(sysname, &end, 10);
                if (!errno && *end == 0 && end != sysname && g <= UINT32_MAX)
                        scanner_refresh_group(s, (uint32_t) g);
        }
}

static int on_rescan(sd_event_source *src, void *userdata) {
        Scanner *s = userdata;
        s->stats.rescans++;
        (void) scanner_rescan(s);
        return 0;
}

/* Events were lost, so a rescan follows; what is still queued is older
 * than that rescan and would only be redone: drop it, so recovering from
 * an overrun costs one enumeration, not the backlog too. */
static void drain(int fd) {
        for (int i = 0; i < 1 << 20; i++)
                if (recv(fd, NULL, 0, MSG_DONTWAIT | MSG_TRUNC) < 0 && errno != ENOBUFS && errno != EINTR)
                        break;
}

static int on_monitor(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        Scanner *s = userdata;

        /* Drain what is queued, a bounded batch per wake-up so other
         * clients are served in between. */
        for (int i = 0; i < 1024; i++) {
                struct udev_device *ud;

                errno = 0;
                ud = udev_monitor_receive_device(s->monitor);
                if (!ud) {
                        if (errno == ENOBUFS) {
                                s->stats.overruns++;
                                drain(fd);
                                (void) sd_event_source_set_enabled(s->rescan, SD_EVENT_ONESHOT);
                                break;
                        }
                        break;
                }
                handle(s, ud);
                udev_device_unref(ud);
        }
        flush_pfs(s);
        return 0;
}

static void strvp(char ***v) {
        sysfs_strv_free(*v);
}

int scanner_rescan(Scanner *s) {
        _cleanup_(strvp) char **pci = NULL, **mdev = NULL;
        int r;

        r = sysfs_list_dir(s->sysfs, "bus/pci/devices", &pci);
        if (r < 0 && r != -ENOENT)
                return r;
        r = sysfs_list_dir(s->sysfs, "bus/mdev/devices", &mdev);
        if (r < 0 && r != -ENOENT)
                return r;
        /* Only sweep after a complete listing: a failed one would make
         * devices vanish. */
        registry_scan_begin(s->registry);
        for (char **n = pci; n && *n; n++)
                update(s, SYSFS_BUS_PCI, *n);
        for (char **n = mdev; n && *n; n++)
                update(s, SYSFS_BUS_MDEV, *n);
        registry_scan_end(s->registry);
        flush_pfs(s);
        return 0;
}

int scanner_start(Scanner *s) {
        static const char *const subsystems[] = { "pci", "mdev", "vfio-dev", "vfio" };
        int r;

        s->monitor = udev_monitor_new_from_netlink(s->udev, "udev");
        if (!s->monitor)
                return errno > 0 ? -errno : -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(subsystems); i++) {
                r = udev_monitor_filter_add_match_subsystem_devtype(s->monitor, subsystems[i], NULL);
                if (r < 0)
                        return r;
        }
        /* Best effort: needs CAP_NET_ADMIN beyond rmem_max. */
        (void) udev_monitor_set_receive_buffer_size(s->monitor, MONITOR_RCVBUF);
        r = udev_monitor_enable_receiving(s->monitor);
        if (r < 0)
                return r;
        r = sd_event_add_io(s->event, &s->io, udev_monitor_get_fd(s->monitor), EPOLLIN, on_monitor, s);
        if (r < 0)
                return r;
        r = sd_event_add_defer(s->event, &s->rescan, on_rescan, s);
        if (r < 0)
                return r;
        r = sd_event_source_set_enabled(s->rescan, SD_EVENT_OFF);
        if (r < 0)
                return r;
        return scanner_rescan(s);
}
