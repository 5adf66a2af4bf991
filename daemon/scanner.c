/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <libudev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scanner.h"
#include "shared/macro.h"
#include "shared/uuid.h"

/* As udevd and sd-device do: a large buffer rides out event storms (an
 * SR-IOV PF enabling hundreds of VFs, `udevadm trigger`). */
#define MONITOR_RCVBUF (128 * 1024 * 1024)

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

static int parse_hex_attr(struct udev_device *ud, const char *attr, uint32_t max, uint32_t *ret) {
        const char *v = udev_device_get_sysattr_value(ud, attr);
        char *end;
        unsigned long x;

        if (!v)
                return -ENOENT;
        errno = 0;
        x = strtoul(v, &end, 16);
        if (errno || end == v || (*end && *end != '\n') || x > max)
                return -EINVAL;
        *ret = (uint32_t) x;
        return 0;
}

static int parse_int_attr(struct udev_device *ud, const char *attr, int *ret) {
        const char *v = udev_device_get_sysattr_value(ud, attr);
        char *end;
        long x;

        if (!v)
                return -ENOENT;
        errno = 0;
        x = strtol(v, &end, 10);
        if (errno || end == v || (*end && *end != '\n') || x < -1 || x > INT32_MAX)
                return -EINVAL;
        *ret = (int) x;
        return 0;
}

static char *dup_or_null(const char *s) {
        return s ? strdup(s) : NULL;
}

/* The names the hwdb gives: from udev's database if udevd put them
 * there, else straight from the hwdb by modalias. */
static void read_names(Scanner *s, struct udev_device *ud, Device *d) {
        const char *v = udev_device_get_property_value(ud, "ID_VENDOR_FROM_DATABASE");
        const char *m = udev_device_get_property_value(ud, "ID_MODEL_FROM_DATABASE");
        struct udev_list_entry *e;
        char modalias[64];

        if ((!v || !m) && s->hwdb) {
                snprintf(modalias, sizeof(modalias), "pci:v%08Xd%08X", d->vendor_id, d->device_id);
                udev_list_entry_foreach(e, udev_hwdb_get_properties_list_entry(s->hwdb, modalias, 0)) {
                        if (!v && strcmp(udev_list_entry_get_name(e), "ID_VENDOR_FROM_DATABASE") == 0)
                                v = udev_list_entry_get_value(e);
                        else if (!m && strcmp(udev_list_entry_get_name(e), "ID_MODEL_FROM_DATABASE") == 0)
                                m = udev_list_entry_get_value(e);
                }
                if (!v) {
                        snprintf(modalias, sizeof(modalias), "pci:v%08X", d->vendor_id);
                        udev_list_entry_foreach(e, udev_hwdb_get_properties_list_entry(s->hwdb, modalias, 0))
                                if (strcmp(udev_list_entry_get_name(e), "ID_VENDOR_FROM_DATABASE") == 0)
                                        v = udev_list_entry_get_value(e);
                }
        }
        d->vendor_name = dup_or_null(v);
        d->device_name = dup_or_null(m);
}

static int read_common(Scanner *s, SysfsBus bus, Device *d) {
        _cleanup_free_ char *group = NULL, *ovr = NULL;
        char path[32];
        int r;

        r = sysfs_device_read_link_name(s->sysfs, bus, d->name, "driver", &d->driver);
        if (r < 0 && r != -ENOENT)
                return r;
        r = sysfs_device_read_link_name(s->sysfs, bus, d->name, "iommu_group", &group);
        if (r >= 0) {
                char *end;
                unsigned long g;
                errno = 0;
                g = strtoul(group, &end, 10);
                if (errno || *end || end == group || g > UINT32_MAX)
                        return -EINVAL;
                d->iommu_group = (int64_t) g;
                snprintf(path, sizeof(path), "class/vfio/%lu", g);
                d->vfio_group_node = sysfs_exists(s->sysfs, path) > 0;
        } else if (r != -ENOENT)
                return r;
        r = sysfs_device_dir_entry(s->sysfs, bus, d->name, "vfio-dev", "vfio", &d->vfio_cdev);
        if (r < 0 && r != -ENOENT)
                return r;
        r = sysfs_device_read_attr(s->sysfs, bus, d->name, "driver_override", &ovr);
        if (r >= 0 && strcmp(ovr, "(null)") != 0 && *ovr)
                d->driver_override = TAKE_PTR(ovr);
        return 0;
}

/* A Device from a udev device, or -ENODEV for what iommud does not track
 * and -EINVAL for names that are not what the kernel would make. */
static int scan_device(Scanner *s, struct udev_device *ud, Device **ret) {
        _cleanup_(device_freep) Device *d = NULL;
        const char *subsystem = udev_device_get_subsystem(ud), *sysname = udev_device_get_sysname(ud);
        uint32_t v;
        int r;

        if (!subsystem || !sysname)
                return -ENODEV;
        if (strcmp(subsystem, "pci") == 0) {
                char canon[PCI_ADDRESS_STRING_MAX];
                _cleanup_free_ char *physfn = NULL;

                r = pci_address_canonicalize(sysname, canon);
                if (r < 0 || strcmp(canon, sysname) != 0)
                        return -EINVAL;
                d = device_new(DEVICE_PCI, canon);
                if (!d)
                        return -ENOMEM;
                (void) pci_address_parse(canon, &d->address);
                if (parse_hex_attr(ud, "vendor", 0xffff, &v) >= 0)
                        d->vendor_id = (uint16_t) v;
                if (parse_hex_attr(ud, "device", 0xffff, &v) >= 0)
                        d->device_id = (uint16_t) v;
                if (parse_hex_attr(ud, "subsystem_vendor", 0xffff, &v) >= 0)
                        d->subsystem_vendor_id = (uint16_t) v;
                if (parse_hex_attr(ud, "subsystem_device", 0xffff, &v) >= 0)
                        d->subsystem_device_id = (uint16_t) v;
                if (parse_hex_attr(ud, "class", 0xffffff, &v) >= 0)
                        d->class_code = v;
                if (parse_int_attr(ud, "sriov_totalvfs", &d->sriov_totalvfs) >= 0)
                        (void) parse_int_attr(ud, "sriov_numvfs", &d->sriov_numvfs);
                else
                        d->sriov_totalvfs = -1;
                if (parse_int_attr(ud, "numa_node", &d->numa_node) < 0)
                        d->numa_node = -1;
                if (sysfs_device_read_link_name(s->sysfs, SYSFS_BUS_PCI, canon, "physfn", &physfn) >= 0 &&
                    pci_address_canonicalize(physfn, canon) >= 0)
                        d->physfn = strdup(canon);
                read_names(s, ud, d);
                r = read_common(s, SYSFS_BUS_PCI, d);
        } else if (strcmp(subsystem, "mdev") == 0) {
                char canon[UUID_STRING_MAX];
                struct udev_device *parent = udev_device_get_parent(ud);

                r = uuid_canonicalize(sysname, canon);
                if (r < 0 || strcmp(canon, sysname) != 0)
                        return -EINVAL;
                d = device_new(DEVICE_MDEV, canon);
                if (!d)
                        return -ENOMEM;
                if (parent)
                        d->parent = dup_or_null(udev_device_get_sysname(parent));
                r = sysfs_device_read_link_name(s->sysfs, SYSFS_BUS_MDEV, canon, "mdev_type", &d->mdev_type);
                if (r < 0 && r != -ENOENT)
                        return r;
                r = read_common(s, SYSFS_BUS_MDEV, d);
        } else
                return -ENODEV;
        if (r < 0)
                return r;
        d->syspath = dup_or_null(udev_device_get_syspath(ud));
        *ret = TAKE_PTR(d);
        return 0;
}

static void put(Scanner *s, struct udev_device *ud) {
        Device *d = NULL;
        if (scan_device(s, ud, &d) >= 0)
                (void) registry_put_device(s->registry, d);
}

/* Re-read every member of group @id (its /dev/vfio node came or went). */
static void refresh_group(Scanner *s, uint32_t id) {
        const Group *g = registry_get_group(s->registry, id);
        _cleanup_free_ char **paths = NULL;
        size_t n;

        if (!g)
                return;
        n = g->n_members;
        paths = calloc(n, sizeof(*paths));
        if (!paths)
                return;
        /* Copy first: updating a member may change the group. */
        for (size_t i = 0; i < n; i++)
                paths[i] = dup_or_null(g->members[i]->syspath);
        for (size_t i = 0; i < n; i++) {
                struct udev_device *ud = paths[i] ? udev_device_new_from_syspath(s->udev, paths[i]) : NULL;
                if (ud) {
                        put(s, ud);
                        udev_device_unref(ud);
                }
                free(paths[i]);
        }
}

static void handle(Scanner *s, struct udev_device *ud) {
        const char *subsystem = udev_device_get_subsystem(ud), *action = udev_device_get_action(ud);
        const char *sysname = udev_device_get_sysname(ud);

        s->stats.events++;
        if (!subsystem || !action || !sysname)
                return;
        if (strcmp(subsystem, "pci") == 0 || strcmp(subsystem, "mdev") == 0) {
                if (strcmp(action, "remove") == 0)
                        (void) registry_remove_device(s->registry, sysname);
                else
                        put(s, ud);
        } else if (strcmp(subsystem, "vfio-dev") == 0) {
                /* The cdev's parent is the PCI function or mdev. On remove
                 * the parent may be going too; read what is there. */
                struct udev_device *p = udev_device_get_parent(ud);
                if (p)
                        put(s, p);
        } else if (strcmp(subsystem, "vfio") == 0) {
                char *end;
                unsigned long g;
                errno = 0;
                g = strtoul(sysname, &end, 10);
                if (!errno && *end == 0 && end != sysname && g <= UINT32_MAX)
                        refresh_group(s, (uint32_t) g);
        }
}

static int on_rescan(sd_event_source *src, void *userdata) {
        Scanner *s = userdata;
        s->stats.rescans++;
        (void) scanner_rescan(s);
        return 0;
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
                                (void) sd_event_source_set_enabled(s->rescan, SD_EVENT_ONESHOT);
                                continue;
                        }
                        break;
                }
                handle(s, ud);
                udev_device_unref(ud);
        }
        return 0;
}

int scanner_rescan(Scanner *s) {
        static const char *const subsystems[] = { "pci", "mdev" };
        struct udev_enumerate *e = NULL;
        struct udev_list_entry *l;
        int r = 0;

        registry_scan_begin(s->registry);
        for (size_t i = 0; i < ELEMENTSOF(subsystems); i++) {
                e = udev_enumerate_new(s->udev);
                if (!e) {
                        r = -ENOMEM;
                        break;
                }
                r = udev_enumerate_add_match_subsystem(e, subsystems[i]);
                if (r >= 0)
                        r = udev_enumerate_scan_devices(e);
                if (r < 0) {
                        udev_enumerate_unref(e);
                        break;
                }
                udev_list_entry_foreach(l, udev_enumerate_get_list_entry(e)) {
                        struct udev_device *ud = udev_device_new_from_syspath(s->udev, udev_list_entry_get_name(l));
                        if (ud) {
                                put(s, ud);
                                udev_device_unref(ud);
                        }
                }
                udev_enumerate_unref(e);
        }
        /* Only sweep after a complete enumeration: a failed one would
         * otherwise make devices vanish. */
        if (r >= 0)
                registry_scan_end(s->registry);
        return r;
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
