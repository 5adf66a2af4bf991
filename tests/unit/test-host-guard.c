/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-guard.c against a fake /sys in a temporary directory, laid out as a
 * host's: the boot VGA device, a virtio disk behind a bridge, a dm device
 * on an NVMe disk and a SATA disk, NICs under a bridge and a bond, a VF,
 * and links planted to lead outside.  The /proc texts are given inline.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "host-guard.h"
#include "registry.h"
#include "shared/macro.h"
#include "sysfs.h"

#define VGA "0000:00:01.0"
#define VGA2 "0000:00:01.1"
#define VIRTIO_BRIDGE "0000:00:1c.0"
#define VIRTIO "0000:01:00.0"
#define VIRTIO_PEER "0000:01:00.1"
#define NVME_BRIDGE "0000:00:1d.0"
#define NVME "0000:02:00.0"
#define AHCI "0000:00:1f.2"
#define NIC0 "0000:00:03.0"
#define NIC1 "0000:00:04.0"
#define OUTSIDE_NIC "0000:00:05.0"
#define NVME2 "0000:00:07.0"
#define PF "0000:00:06.0"
#define VF "0000:00:06.1"

#define VDA_PATH "devices/pci0000:00/" VIRTIO_BRIDGE "/" VIRTIO "/virtio2/block/vda"

#define ROUTE4_HEADER "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
/* A default route via @dev, and a route to 192.168.16.0/24 on eth1. */
#define ROUTE4_DEFAULT(dev) dev "\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
#define ROUTE4_LAN "eth1\t0010A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n"
#define ROUTE6_ZERO "00000000000000000000000000000000"
#define ROUTE6_DEFAULT(dev) ROUTE6_ZERO " 00 " ROUTE6_ZERO " 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 " dev "\n"
/* What the kernel shows for an unreachable default: flags RTF_REJECT|RTF_UP on lo. */
#define ROUTE6_UNREACHABLE ROUTE6_ZERO " 00 " ROUTE6_ZERO " 00 " ROUTE6_ZERO " ffffffff 00000001 00000000 00200201       lo\n"
#define ROUTE6_LINK "fe800000000000000000000000000000 40 " ROUTE6_ZERO " 00 " ROUTE6_ZERO " 00000100 00000001 00000000 00000001     eth0\n"

#define MOUNT_PROC "22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
#define MOUNT_TMP "23 1 0:22 / /tmp rw - tmpfs tmpfs rw\n"
#define MOUNT_ROOT "25 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n"

typedef struct Fixture {
        char root[PATH_MAX];
        char outside[PATH_MAX];
        Sysfs *sysfs;
} Fixture;

static void mkdirs(const char *root, const char *rel) {
        char p[2 * PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", root, rel);
        for (char *s = p + strlen(root) + 1; *s; s++)
                if (*s == '/') {
                        *s = 0;
                        (void) mkdir(p, 0755);
                        *s = '/';
                }
        (void) mkdir(p, 0755);
}

static void put(const char *root, const char *rel, const char *content) {
        char p[2 * PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", root, rel);
        FILE *f = fopen(p, "we");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
}

static void link_(const char *root, const char *rel, const char *target) {
        char p[2 * PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", root, rel);
        assert_int_equal(symlink(target, p), 0);
}

/* devices/<path> and its bus/pci/devices link, named by the last component. */
static void pci_dev(const char *root, const char *path) {
        char rel[PATH_MAX], target[PATH_MAX];
        const char *name = strrchr(path, '/') + 1;

        snprintf(rel, sizeof(rel), "devices/%s", path);
        mkdirs(root, rel);
        snprintf(rel, sizeof(rel), "bus/pci/devices/%s", name);
        snprintf(target, sizeof(target), "../../../devices/%s", path);
        link_(root, rel, target);
}

/* A block device at devices/<path>: dev/block/<devnum> and class/block/<name>. */
static void block_dev(const char *root, const char *path, const char *devnum) {
        char rel[PATH_MAX], target[PATH_MAX];
        const char *name = strrchr(path, '/') + 1;

        mkdirs(root, path);
        snprintf(target, sizeof(target), "../../%s", path);
        snprintf(rel, sizeof(rel), "dev/block/%s", devnum);
        link_(root, rel, target);
        snprintf(rel, sizeof(rel), "class/block/%s", name);
        link_(root, rel, target);
}

static void net_dev(const char *root, const char *path) {
        char rel[PATH_MAX], target[PATH_MAX];
        const char *name = strrchr(path, '/') + 1;

        mkdirs(root, path);
        snprintf(target, sizeof(target), "../../%s", path);
        snprintf(rel, sizeof(rel), "class/net/%s", name);
        link_(root, rel, target);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        char target[2 * PATH_MAX];
        const char *r;

        assert_non_null(f);
        snprintf(f->outside, sizeof(f->outside), "/tmp/iommud-test-outside-XXXXXX");
        assert_non_null(mkdtemp(f->outside));
        snprintf(f->root, sizeof(f->root), "/tmp/iommud-test-hostguard-XXXXXX");
        assert_non_null(mkdtemp(f->root));
        r = f->root;
        mkdirs(r, "bus/pci/devices");
        mkdirs(r, "dev/block");
        mkdirs(r, "class/block");
        mkdirs(r, "class/net");

        /* Two display controllers; the firmware used the first. */
        pci_dev(r, "pci0000:00/" VGA);
        put(r, "devices/pci0000:00/" VGA "/boot_vga", "1\n");
        pci_dev(r, "pci0000:00/" VGA2);
        put(r, "devices/pci0000:00/" VGA2 "/boot_vga", "0\n");

        /* A virtio disk behind a root port, with a partition, and a second
         * function next to it. */
        pci_dev(r, "pci0000:00/" VIRTIO_BRIDGE);
        pci_dev(r, "pci0000:00/" VIRTIO_BRIDGE "/" VIRTIO);
        pci_dev(r, "pci0000:00/" VIRTIO_BRIDGE "/" VIRTIO_PEER);
        block_dev(r, VDA_PATH, "252:0");
        block_dev(r, VDA_PATH "/vda1", "252:1");

        /* dm-0 ("data") on an NVMe disk behind a bridge and a SATA disk. */
        pci_dev(r, "pci0000:00/" NVME_BRIDGE);
        pci_dev(r, "pci0000:00/" NVME_BRIDGE "/" NVME);
        block_dev(r, "devices/pci0000:00/" NVME_BRIDGE "/" NVME "/nvme/nvme0/nvme0n1", "259:0");
        pci_dev(r, "pci0000:00/" AHCI);
        block_dev(r, "devices/pci0000:00/" AHCI "/ata1/host0/target0:0:0/0:0:0:0/block/sda", "8:0");
        block_dev(r, "devices/virtual/block/dm-0", "253:0");
        mkdirs(r, "devices/virtual/block/dm-0/slaves");
        link_(r, "devices/virtual/block/dm-0/slaves/nvme0n1", "../../../../pci0000:00/" NVME_BRIDGE "/" NVME "/nvme/nvme0/nvme0n1");
        link_(r, "devices/virtual/block/dm-0/slaves/sda", "../../../../pci0000:00/" AHCI "/ata1/host0/target0:0:0/0:0:0:0/block/sda");
        mkdirs(r, "devices/virtual/block/dm-0/dm");
        put(r, "devices/virtual/block/dm-0/dm/name", "data\n");
        /* Native NVMe multipath: the namespace lives under its subsystem,
         * which links its controller; the controller is under NVME2. */
        pci_dev(r, "pci0000:00/" NVME2);
        mkdirs(r, "devices/pci0000:00/" NVME2 "/nvme/nvme1");
        mkdirs(r, "class/nvme");
        link_(r, "class/nvme/nvme1", "../../devices/pci0000:00/" NVME2 "/nvme/nvme1");
        block_dev(r, "devices/virtual/nvme-subsystem/nvme-subsys1/nvme1n1", "259:1");
        block_dev(r, "devices/virtual/nvme-subsystem/nvme-subsys1/nvme1n1/nvme1n1p2", "259:2");
        mkdirs(r, "class/nvme-subsystem");
        link_(r, "class/nvme-subsystem/nvme-subsys1", "../../devices/virtual/nvme-subsystem/nvme-subsys1");
        link_(r, "devices/virtual/nvme-subsystem/nvme-subsys1/nvme1", "../../../pci0000:00/" NVME2 "/nvme/nvme1");
        put(r, "devices/virtual/nvme-subsystem/nvme-subsys1/subsysnqn", "nqn.2014.08.org.nvmexpress:uuid\n");
        /* A loop device: nothing beneath it in sysfs. */
        block_dev(r, "devices/virtual/block/loop0", "7:0");

        /* eth0 is a port of br0; eth1 the lower device of bond0. */
        pci_dev(r, "pci0000:00/" NIC0);
        net_dev(r, "devices/pci0000:00/" NIC0 "/net/eth0");
        pci_dev(r, "pci0000:00/" NIC1);
        net_dev(r, "devices/pci0000:00/" NIC1 "/net/eth1");
        net_dev(r, "devices/virtual/net/br0");
        mkdirs(r, "devices/virtual/net/br0/brif");
        link_(r, "devices/virtual/net/br0/brif/eth0", "../../../../pci0000:00/" NIC0 "/net/eth0/brport");
        net_dev(r, "devices/virtual/net/bond0");
        link_(r, "devices/virtual/net/bond0/lower_eth1", "../../../pci0000:00/" NIC1 "/net/eth1");
        net_dev(r, "devices/virtual/net/lo");

        /* eth2 is on a VF of PF. */
        pci_dev(r, "pci0000:00/" PF);
        pci_dev(r, "pci0000:00/" VF);
        link_(r, "devices/pci0000:00/" VF "/physfn", "../" PF);
        net_dev(r, "devices/pci0000:00/" VF "/net/eth2");

        /* Interfaces whose links lead outside, to a tree that looks like
         * sysfs: absolutely, and by climbing out of the root. */
        mkdirs(f->outside, "devices/pci0000:00/" OUTSIDE_NIC "/net/evil");
        snprintf(target, sizeof(target), "%s/devices/pci0000:00/" OUTSIDE_NIC "/net/evil", f->outside);
        link_(r, "class/net/evil", target);
        snprintf(target, sizeof(target), "../../../../../../../..%s/devices/pci0000:00/" OUTSIDE_NIC "/net/evil",
                 f->outside);
        link_(r, "class/net/evil2", target);
        link_(r, "class/net/evil3", "../../devices/virtual/net/../../pci0000:00/" OUTSIDE_NIC "/net/evil3");
        /* Links a route text could name only if its interface name were
         * taken as a path (with a '/') or at any length: both lead to real
         * NICs, so following them would show. */
        mkdirs(r, "class/net/nested");
        link_(r, "class/net/nested/eth9", "../../../devices/pci0000:00/" NIC1 "/net/eth1");
        link_(r, "class/net/0123456789abcdefgh", "../../devices/pci0000:00/" VF "/net/eth2");

        assert_int_equal(sysfs_new(f->root, &f->sysfs), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        char cmd[2 * PATH_MAX + 16];
        sysfs_free(f->sysfs);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", f->root, f->outside);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

static HostGuard *scan(Fixture *f, const char *mountinfo, const char *route4, const char *route6) {
        HostGuard *h = NULL;
        assert_int_equal(host_guard_scan(f->sysfs, mountinfo, route4, route6, &h), 0);
        assert_non_null(h);
        return h;
}

static void assert_reason(const HostGuard *h, const char *name, const char *expected) {
        const char *got = host_guard_reason(h, name);
        if (!expected && got)
                fail_msg("%s: expected not critical, got \"%s\"", name, got);
        if (expected && !got)
                fail_msg("%s: expected \"%s\", got not critical", name, expected);
        if (expected)
                assert_string_equal(got, expected);
}

static void test_boot_vga(void **state) {
        _cleanup_(host_guard_freep) HostGuard *h = scan(*state, NULL, NULL, NULL);

        assert_reason(h, VGA, "is the boot VGA device");
        assert_reason(h, VGA2, NULL);
        assert_int_equal(host_guard_count(h), 1);
}

static void test_root_on_virtio_partition(void **state) {
        _cleanup_(host_guard_freep) HostGuard *h =
                scan(*state, MOUNT_PROC MOUNT_ROOT MOUNT_TMP "26 25 7:0 / /snap/core rw - squashfs /dev/loop0 ro\n",
                     NULL, NULL);

        assert_reason(h, VIRTIO, "backs the mounted filesystem / (/dev/vda1)");
        assert_reason(h, VIRTIO_BRIDGE, "is a bridge above " VIRTIO ", which backs the mounted filesystem / (/dev/vda1)");
        /* Its neighbour behind the same bridge backs nothing. */
        assert_reason(h, VIRTIO_PEER, NULL);
        assert_reason(h, NVME, NULL);
        assert_int_equal(host_guard_count(h), 3);
}

static void test_dev_root_named_by_kernel(void **state) {
        /* Booted without an initramfs, the kernel calls the root "/dev/root":
         * the reason names the device sysfs knows. */
        _cleanup_(host_guard_freep) HostGuard *h = scan(*state, "25 1 252:1 / / rw - ext4 /dev/root rw\n", NULL, NULL);

        assert_reason(h, VIRTIO, "backs the mounted filesystem / (/dev/vda1)");
}

static void test_nvme_multipath_namespace(void **state) {
        _cleanup_(host_guard_freep) HostGuard *h =
                scan(*state, "25 1 259:2 / / rw - ext4 /dev/nvme1n1p2 rw\n", NULL, NULL);

        assert_reason(h, NVME2, "backs the mounted filesystem / (/dev/nvme1n1p2)");
        assert_int_equal(host_guard_count(h), 2);
}

static void test_dm_on_two_disks(void **state) {
        /* The mount point escaped as mountinfo has it, after options. */
        _cleanup_(host_guard_freep) HostGuard *h =
                scan(*state, "40 25 253:0 / /srv/big\\040data rw,noatime shared:7 master:2 - xfs /dev/mapper/data rw\n",
                     NULL, NULL);

        assert_reason(h, NVME, "backs the mounted filesystem /srv/big data (/dev/mapper/data)");
        assert_reason(h, NVME_BRIDGE, "is a bridge above " NVME ", which backs the mounted filesystem /srv/big data (/dev/mapper/data)");
        assert_reason(h, AHCI, "backs the mounted filesystem /srv/big data (/dev/mapper/data)");
        assert_reason(h, VIRTIO, NULL);
        assert_int_equal(host_guard_count(h), 4);
}

static void test_btrfs_without_block_number(void **state) {
        /* btrfs shows an anonymous 0:N device: the source names the disk. */
        _cleanup_(host_guard_freep) HostGuard *h =
                scan(*state,
                     "30 1 0:35 /root / rw - btrfs /dev/vda1 rw,subvol=/root\n"
                     "31 30 0:36 /home /home rw - btrfs /dev/mapper/data rw,subvol=/home\n"
                     "32 1 0:37 / /weird rw - btrfs /dev/../../etc rw\n",
                     NULL, NULL);

        assert_reason(h, VIRTIO, "backs the mounted filesystem / (/dev/vda1)");
        assert_reason(h, AHCI, "backs the mounted filesystem /home (/dev/mapper/data)");
        assert_int_equal(host_guard_count(h), 6);
}

static void test_default_route_over_bridge(void **state) {
        _cleanup_(host_guard_freep) HostGuard *h =
                scan(*state, NULL, ROUTE4_HEADER ROUTE4_LAN ROUTE4_DEFAULT("br0"), ROUTE6_LINK);

        assert_reason(h, NIC0, "carries the default route (br0 via eth0)");
        /* eth1 only has a LAN route, and ipv6_route only a link-local one. */
        assert_reason(h, NIC1, NULL);
        assert_int_equal(host_guard_count(h), 2);
}

static void test_ipv6_only_default_route(void **state) {
        _cleanup_(host_guard_freep) HostGuard *h =
                scan(*state, NULL, ROUTE4_HEADER ROUTE4_LAN,
                     ROUTE6_UNREACHABLE ROUTE6_LINK
                     /* A rejecting (blackhole) default on a NIC carries nothing. */
                     ROUTE6_ZERO " 00 " ROUTE6_ZERO " 00 " ROUTE6_ZERO " 00000400 00000001 00000000 00000201 eth2\n"
                     ROUTE6_DEFAULT("bond0"));

        assert_reason(h, NIC1, "carries the IPv6 default route (bond0 via eth1)");
        assert_reason(h, NIC0, NULL);
        assert_reason(h, VF, NULL);
        assert_int_equal(host_guard_count(h), 2);
}

static void test_vf_makes_pf_critical(void **state) {
        _cleanup_(host_guard_freep) HostGuard *h = scan(*state, NULL, ROUTE4_DEFAULT("eth2"), NULL);

        assert_reason(h, VF, "carries the default route (eth2)");
        assert_reason(h, PF, "is the PF of " VF ", which carries the default route (eth2)");
        assert_int_equal(host_guard_count(h), 3);
}

static void test_malformed_lines_skipped(void **state) {
        Fixture *f = *state;
        _cleanup_(host_guard_freep) HostGuard *h = NULL;
        /* Each bad line, if taken, would mark a device (the dm disks, the
         * virtio disk, eth0's NIC); only the last good one of each kind
         * may. */
        static const char mountinfo[] =
                "garbage\n"
                "\n"
                "40 25 253:0 / /srv rw shared:7\n"                      /* no separator */
                "40 25 253:0 / /srv rw - xfs\n"                         /* no source */
                "40 25 253:x / /srv rw - xfs /dev/mapper/data rw\n"    /* bad device number */
                "40 25 253 / /srv rw - xfs /dev/mapper/data rw\n"
                "40 25 +253:0 / /srv rw - xfs /dev/mapper/data rw\n"
                "40 25 99999:0 / /srv rw - xfs /dev/mapper/data rw\n"
                "40 25 253:0 / srv rw - xfs /dev/mapper/data rw\n"      /* relative mount point */
                "40 25 252:0\n"
                MOUNT_ROOT;
        static const char route4[] =
                ROUTE4_HEADER
                "eth0\t00000000\t0102A8C0\n"                           /* short */
                "eth0\t0000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
                "eth0\t00000000\t0102A8C0\t00x3\t0\t0\t100\t00000000\t0\t0\t0\n"
                "eth0\t00000000\t0102A8C0\t0201\t0\t0\t100\t00000000\t0\t0\t0\n" /* reject */
                "eth0\t00000000\t0102A8C0\t0002\t0\t0\t100\t00000000\t0\t0\t0\n" /* not up */
                ROUTE4_DEFAULT("eth1");
        static const char route6[] =
                ROUTE6_ZERO " 00 " ROUTE6_ZERO " 00\n"
                ROUTE6_ZERO " 0 " ROUTE6_ZERO " 00 " ROUTE6_ZERO " 00000400 00000001 00000000 00000003 eth2\n"
                ROUTE6_ZERO "0 00 " ROUTE6_ZERO " 00 " ROUTE6_ZERO " 00000400 00000001 00000000 00000003 eth2\n";

        h = scan(f, mountinfo, route4, route6);
        assert_reason(h, VIRTIO, "backs the mounted filesystem / (/dev/vda1)");
        assert_reason(h, NIC1, "carries the default route (eth1)");
        assert_reason(h, AHCI, NULL);
        assert_reason(h, NIC0, NULL);
        assert_reason(h, VF, NULL);
        /* VGA, the virtio disk and its bridge, eth1's NIC. */
        assert_int_equal(host_guard_count(h), 4);
}

static void test_mounts_bounded(void **state) {
        Fixture *f = *state;
        _cleanup_(host_guard_freep) HostGuard *h = NULL;
        _cleanup_free_ char *text = NULL;
        size_t n = 0, size = (HOST_GUARD_MOUNTS_MAX + 1) * 64;

        /* The root mount comes one line past the bound: not considered. */
        text = malloc(size);
        assert_non_null(text);
        for (unsigned i = 0; i < HOST_GUARD_MOUNTS_MAX; i++)
                n += (size_t) snprintf(text + n, size - n, "%u 1 0:%u / /m%u rw - tmpfs tmpfs rw\n", i + 100, i + 50, i);
        snprintf(text + n, size - n, "%s", MOUNT_ROOT);
        h = scan(f, text, NULL, NULL);
        assert_reason(h, VIRTIO, NULL);
        assert_int_equal(host_guard_count(h), 1);
}

static void test_interface_names_stay_inside(void **state) {
        Fixture *f = *state;
        _cleanup_(host_guard_freep) HostGuard *h = NULL;
        static const char route4[] =
                ROUTE4_DEFAULT("..")
                ROUTE4_DEFAULT("../../devices/pci0000:00/0000:00:05.0/net/evil")
                ROUTE4_DEFAULT("../../../../../../../../etc")
                ROUTE4_DEFAULT("evil")
                ROUTE4_DEFAULT("evil2")
                ROUTE4_DEFAULT("evil3")
                ROUTE4_DEFAULT("nested/eth9")
                ROUTE4_DEFAULT("eth0");
        static const char route6[] =
                ROUTE6_DEFAULT("../net/evil")
                ROUTE6_DEFAULT("0123456789abcdefgh");       /* longer than IFNAMSIZ allows */

        h = scan(f, NULL, route4, route6);
        /* Neither the names nor the links that lead outside mark anything,
         * and they do not stop the good line after them. */
        assert_reason(h, OUTSIDE_NIC, NULL);
        assert_reason(h, NIC1, NULL);
        assert_reason(h, VF, NULL);
        assert_reason(h, NIC0, "carries the default route (eth0)");
        assert_int_equal(host_guard_count(h), 2);
}

static Device *pci(const char *bdf, int64_t group, const char *driver) {
        Device *d = device_new(DEVICE_PCI, bdf);
        assert_non_null(d);
        assert_int_equal(pci_address_parse(bdf, &d->address), 0);
        d->iommu_group = group;
        d->driver = driver ? strdup(driver) : NULL;
        return d;
}

static Device *mdev(const char *uuid, const char *parent, int64_t group) {
        Device *d = device_new(DEVICE_MDEV, uuid);
        assert_non_null(d);
        d->parent = strdup(parent);
        d->iommu_group = group;
        return d;
}

static void test_group_peer_refused(void **state) {
        _cleanup_(registry_freep) Registry *r = NULL;
        _cleanup_(host_guard_freep) HostGuard *h = scan(*state, MOUNT_ROOT, NULL, NULL);
        char reason[256], tiny[16];

        assert_int_equal(registry_new(NULL, &r), 0);
        assert_int_equal(registry_put_device(r, pci(VIRTIO, 5, "virtio-pci")), 1);
        assert_int_equal(registry_put_device(r, pci(VIRTIO_PEER, 5, NULL)), 1);
        assert_int_equal(registry_put_device(r, pci(NIC1, 9, "e1000e")), 1);
        assert_int_equal(registry_put_device(r, pci(NVME, DEVICE_NO_GROUP, "nvme")), 1);

        assert_true(host_guard_refuses(h, r, registry_get_device(r, VIRTIO), reason, sizeof(reason)));
        assert_string_equal(reason, "backs the mounted filesystem / (/dev/vda1)");
        assert_true(host_guard_refuses(h, r, registry_get_device(r, VIRTIO_PEER), reason, sizeof(reason)));
        assert_string_equal(reason, "shares IOMMU group 5 with " VIRTIO ", which backs the mounted filesystem / (/dev/vda1)");

        strcpy(reason, "stale");
        assert_false(host_guard_refuses(h, r, registry_get_device(r, NIC1), reason, sizeof(reason)));
        assert_string_equal(reason, "");
        assert_false(host_guard_refuses(h, r, registry_get_device(r, NVME), reason, sizeof(reason)));

        /* A short buffer gets a cut, terminated sentence; none at all is fine. */
        assert_true(host_guard_refuses(h, r, registry_get_device(r, VIRTIO_PEER), tiny, sizeof(tiny)));
        assert_string_equal(tiny, "shares IOMMU gr");
        assert_true(host_guard_refuses(h, r, registry_get_device(r, VIRTIO_PEER), NULL, 0));

        /* Without a guard nothing is refused. */
        assert_false(host_guard_refuses(NULL, r, registry_get_device(r, VIRTIO), reason, sizeof(reason)));
}

static void test_mdev_on_critical_parent(void **state) {
        _cleanup_(registry_freep) Registry *r = NULL;
        _cleanup_(host_guard_freep) HostGuard *h = scan(*state, NULL, NULL, NULL);
        char reason[256];

        assert_int_equal(registry_new(NULL, &r), 0);
        assert_int_equal(registry_put_device(r, mdev("3b1d2f63-2a3c-4f39-9b3e-6c1a5e9c0d01", VGA, 40)), 1);
        assert_int_equal(registry_put_device(r, mdev("3b1d2f63-2a3c-4f39-9b3e-6c1a5e9c0d02", VGA2, 41)), 1);
        assert_int_equal(registry_put_device(r, mdev("3b1d2f63-2a3c-4f39-9b3e-6c1a5e9c0d03", "mtty", 42)), 1);

        assert_true(host_guard_refuses(h, r, registry_get_device(r, "3b1d2f63-2a3c-4f39-9b3e-6c1a5e9c0d01"), reason,
                                       sizeof(reason)));
        assert_string_equal(reason, "created on " VGA ", which is the boot VGA device");
        assert_false(host_guard_refuses(h, r, registry_get_device(r, "3b1d2f63-2a3c-4f39-9b3e-6c1a5e9c0d02"), reason,
                                        sizeof(reason)));
        assert_false(host_guard_refuses(h, r, registry_get_device(r, "3b1d2f63-2a3c-4f39-9b3e-6c1a5e9c0d03"), reason,
                                        sizeof(reason)));
}

static void test_equal(void **state) {
        Fixture *f = *state;
        _cleanup_(host_guard_freep) HostGuard *a = scan(f, MOUNT_ROOT, ROUTE4_DEFAULT("eth0"), NULL);
        _cleanup_(host_guard_freep) HostGuard *same = scan(f, MOUNT_PROC MOUNT_ROOT, ROUTE4_HEADER ROUTE4_DEFAULT("eth0"), NULL);
        _cleanup_(host_guard_freep) HostGuard *other_route = scan(f, MOUNT_ROOT, ROUTE4_DEFAULT("eth1"), NULL);
        /* The same devices, for another reason: the text in the JSON differs. */
        _cleanup_(host_guard_freep) HostGuard *other_reason =
                scan(f, "25 1 252:1 / /boot rw - ext4 /dev/vda1 rw\n", ROUTE4_DEFAULT("eth0"), NULL);
        _cleanup_(host_guard_freep) HostGuard *empty = NULL;

        assert_true(host_guard_equal(a, same));
        assert_true(host_guard_equal(same, a));
        assert_false(host_guard_equal(a, other_route));
        assert_int_equal(host_guard_count(a), host_guard_count(other_reason));
        assert_false(host_guard_equal(a, other_reason));
        assert_false(host_guard_equal(a, NULL));
        assert_true(host_guard_equal(NULL, NULL));

        /* A tree with nothing critical equals no guard at all. */
        {
                char empty_root[] = "/tmp/iommud-test-empty-XXXXXX";
                _cleanup_(sysfs_freep) Sysfs *s = NULL;
                assert_non_null(mkdtemp(empty_root));
                assert_int_equal(sysfs_new(empty_root, &s), 0);
                assert_int_equal(host_guard_scan(s, MOUNT_ROOT, ROUTE4_DEFAULT("eth0"), NULL, &empty), 0);
                assert_int_equal(host_guard_count(empty), 0);
                assert_true(host_guard_equal(empty, NULL));
                assert_int_equal(rmdir(empty_root), 0);
        }
}

static void test_scan_host(void **state) {
        _cleanup_(host_guard_freep) HostGuard *h = NULL;
        Fixture *f = *state;

        /* This machine's /proc against the fake tree: whatever its mounts
         * and routes, the fake's boot VGA device is found. */
        assert_int_equal(host_guard_scan_host(f->sysfs, &h), 0);
        assert_reason(h, VGA, "is the boot VGA device");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_boot_vga, setup, teardown),
                cmocka_unit_test_setup_teardown(test_root_on_virtio_partition, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dev_root_named_by_kernel, setup, teardown),
                cmocka_unit_test_setup_teardown(test_nvme_multipath_namespace, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dm_on_two_disks, setup, teardown),
                cmocka_unit_test_setup_teardown(test_btrfs_without_block_number, setup, teardown),
                cmocka_unit_test_setup_teardown(test_default_route_over_bridge, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ipv6_only_default_route, setup, teardown),
                cmocka_unit_test_setup_teardown(test_vf_makes_pf_critical, setup, teardown),
                cmocka_unit_test_setup_teardown(test_malformed_lines_skipped, setup, teardown),
                cmocka_unit_test_setup_teardown(test_mounts_bounded, setup, teardown),
                cmocka_unit_test_setup_teardown(test_interface_names_stay_inside, setup, teardown),
                cmocka_unit_test_setup_teardown(test_group_peer_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_mdev_on_critical_parent, setup, teardown),
                cmocka_unit_test_setup_teardown(test_equal, setup, teardown),
                cmocka_unit_test_setup_teardown(test_scan_host, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
