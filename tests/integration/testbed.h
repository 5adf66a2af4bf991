/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * testbed.h - a fresh umockdev testbed per test, and helpers that build
 * the kind of host iommud meets: PCI functions with IOMMU groups and
 * drivers, laid out as the kernel lays them out.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <umockdev.h>

typedef struct Testbed {
        UMockdevTestbed *tb;
        char *root;     /* the testbed's directory; its sys/ is /sys */
        unsigned n_vfs; /* VFs added: the next one's virtfnN */
} Testbed;

/* Exit 77 (skipped) from main() when the preload is missing. */
bool testbed_preloaded(void);

Testbed *testbed_new(void);
void testbed_free(Testbed *t);

/* A PCI function at @bdf (canonical), in IOMMU group @group (or none when
 * @group < 0), bound to @driver (or none when NULL).  Sends "add". */
void testbed_add_pci(Testbed *t, const char *bdf, uint16_t vendor, uint16_t device,
                     int group, const char *driver);

/* An SR-IOV VF of @pf in its own group @group, unbound, with its PF's
 * virtfnN link (N counts the testbed's VFs).  Sends "add". */
void testbed_add_vf(Testbed *t, const char *bdf, const char *pf, int group);

/* Take VF @bdf, @pf's virtfn@index, away as the kernel does: the PF's
 * link and the VF's physfn, then ("unbind" when @bound and) "remove",
 * then its directory. */
void testbed_remove_vf(Testbed *t, const char *bdf, const char *pf, unsigned index, bool bound);

/* Point @bdf's driver link at @driver (NULL: unbound), as a bind does;
 * the caller sends the uevent. */
void testbed_set_driver(Testbed *t, const char *bdf, const char *driver);

/* The sample host the integration tests share: a root port (group 1,
 * pcieport), a conventional bridge with two devices in one group (2: the
 * bridge, 01:00.0 on e1000e, 01:01.0 unbound), an SR-IOV PF on
 * pci-pf-stub (group 3) with VFs 03:10.0 and 03:10.2 (groups 4, 5), and
 * 00:1f.0 with no group: 8 functions. */
void testbed_add_sample_host(Testbed *t);

/* The mtty sample driver as an mdev parent (types mtty-1, mtty-2), and,
 * unless @uuid is NULL, one mdev of type mtty-2 in IOMMU group @group. */
void testbed_add_mtty(Testbed *t, const char *uuid, int group);

/* The files a rebind of @bdf writes, which the testbed lacks: its
 * driver_override, its driver's unbind (when bound), and
 * bus/pci/drivers_probe.  Written to, they only keep what was written:
 * the test plays the kernel's part (testbed_bind()). */
void testbed_add_rebind_files(Testbed *t, const char *bdf);

/* Whether the file at @path (below the testbed's root: "sys/...", or a
 * log the test keeps there) holds @text in its first 64 KiB within
 * @seconds. */
bool testbed_wait_file(Testbed *t, const char *path, const char *text, int seconds);

/* The same, as an assertion: on failure the file is printed and the test
 * fails naming @text. */
void testbed_expect_file(Testbed *t, const char *path, const char *text, int seconds);

/* The kernel's part of drivers_probe: @bdf bound to @driver, and its
 * "bind" uevent. */
void testbed_bind(Testbed *t, const char *bdf, const char *driver);
