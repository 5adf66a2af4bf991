/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * [Reserve] applied to one PCI function: listed or not, refused or not,
 * and what udev must write for it in each state it can be found in.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "reserve.h"
#include "shared/macro.h"

#define POLICY                                  \
        "[Assignable]\n"                        \
        "Address=0000:00:09.0\n"                \
        "[Reserve]\n"                           \
        "Address=0000:00:03.0\n"                \
        "Id=8086:10d3\n"                        \
        "Parent=0000:02:00.0\n"                 \
        "Parent=mtty\n"                         \
        "Class=0604\n"                          \
        "Id=1b36:*\n"

static int setup(void **state) {
        Config *c = NULL;
        char *err = NULL;

        assert_int_equal(config_parse(POLICY, strlen(POLICY), "iommud.conf", &c, &err), 0);
        assert_null(err);
        *state = c;
        return 0;
}

static int teardown(void **state) {
        config_free(*state);
        return 0;
}

static Device *pci(const char *name, uint16_t vendor, uint16_t device, uint32_t class_code, const char *driver) {
        Device *d = device_new(DEVICE_PCI, name);
        assert_non_null(d);
        assert_int_equal(pci_address_parse(name, &d->address), 0);
        d->vendor_id = vendor;
        d->device_id = device;
        d->class_code = class_code;
        if (driver)
                assert_non_null(d->driver = strdup(driver));
        return d;
}

static void expect(const Config *c, const Device *d, bool hot_add, const char *critical, ReserveAction action,
                   unsigned line, const char *result) {
        ReserveVerdict v = reserve_decide(c, d, hot_add, critical);
        const char *r = reserve_action_to_result(v.action);

        if (v.action != action)
                fail_msg("%s (hot_add=%d): action %d, expected %d", d->name, hot_add, v.action, action);
        if (action != RESERVE_NOT_LISTED)
                assert_int_equal(v.line, line);
        if (result)
                assert_string_equal(r, result);
        else
                assert_null(r);
}

static void test_not_listed(void **state) {
        Config *c = *state;
        _cleanup_(device_freep) Device *d = pci("0000:00:09.0", 0x1234, 0x11e8, 0x00ff00, NULL);
        _cleanup_(device_freep) Device *m = device_new(DEVICE_MDEV, "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001");

        /* Assignable is not Reserve. */
        expect(c, d, false, NULL, RESERVE_NOT_LISTED, 0, NULL);
        expect(c, d, true, NULL, RESERVE_NOT_LISTED, 0, NULL);
        /* No usable policy: nothing. */
        expect(NULL, d, false, NULL, RESERVE_NOT_LISTED, 0, NULL);
        /* mdevs are made by someone, never found at boot: Parent=mtty
         * does not reserve them. */
        assert_non_null(m);
        assert_non_null(m->parent = strdup("mtty"));
        expect(c, m, false, NULL, RESERVE_NOT_LISTED, 0, NULL);
}

static void test_states(void **state) {
        Config *c = *state;
        _cleanup_(device_freep) Device *edu = pci("0000:00:03.0", 0x1234, 0x11e8, 0x00ff00, NULL);
        _cleanup_(device_freep) Device *nic = pci("0000:00:04.0", 0x8086, 0x10d3, 0x020000, "e1000e");
        _cleanup_(device_freep) Device *vf = pci("0000:02:10.0", 0x8086, 0x10ca, 0x020000, NULL);

        /* Unbound: probe, at coldplug and on a hot-add alike. */
        expect(c, edu, false, NULL, RESERVE_PROBE, 4, "reserve");
        expect(c, edu, true, NULL, RESERVE_PROBE, 4, "reserve");
        /* Unbound with our override already (the early pass ran): probe. */
        assert_non_null(edu->driver_override = strdup("vfio-pci"));
        expect(c, edu, false, NULL, RESERVE_PROBE, 4, "reserve");

        /* On a host driver: taken back only from a driver that took it
         * inside the kernel's own add; at coldplug it stays. */
        expect(c, nic, true, NULL, RESERVE_UNBIND, 5, "reserve-unbind");
        expect(c, nic, false, NULL, RESERVE_KEEP, 5, "reserve-keep");

        /* Already on a VFIO driver: nothing to write. */
        free(nic->driver);
        assert_non_null(nic->driver = strdup("vfio-pci"));
        expect(c, nic, false, NULL, RESERVE_DONE, 5, NULL);
        expect(c, nic, true, NULL, RESERVE_DONE, 5, NULL);
        free(nic->driver);
        assert_non_null(nic->driver = strdup("mlx5_vfio_pci"));
        expect(c, nic, true, NULL, RESERVE_DONE, 5, NULL);

        /* A VF of a listed PF, by Parent=; the first matching rule's line. */
        assert_non_null(vf->physfn = strdup("0000:02:00.0"));
        expect(c, vf, true, NULL, RESERVE_PROBE, 6, "reserve");
        free(vf->physfn);
        assert_non_null(vf->physfn = strdup("0000:03:00.0"));
        expect(c, vf, true, NULL, RESERVE_NOT_LISTED, 0, NULL);
}

static void test_refused(void **state) {
        Config *c = *state;
        _cleanup_(device_freep) Device *port = pci("0000:00:06.0", 0x1b36, 0x000c, 0x060400, "pcieport");
        _cleanup_(device_freep) Device *bridge = pci("0000:00:05.0", 0x1b36, 0x0001, 0x060400, NULL);
        _cleanup_(device_freep) Device *host = pci("0000:00:00.0", 0x1b36, 0x0008, 0x060000, NULL);
        _cleanup_(device_freep) Device *held = pci("0000:00:03.0", 0x1234, 0x11e8, 0x00ff00, NULL);
        ReserveVerdict v;

        /* Listed (Class=0604, Id=1b36:*) but bridges: never, even unbound
         * or hot-added. */
        v = reserve_decide(c, port, true, NULL);
        assert_int_equal(v.action, RESERVE_REFUSED);
        assert_string_equal(v.reason, "is a PCI bridge");
        assert_null(reserve_action_to_result(v.action));
        expect(c, bridge, false, NULL, RESERVE_REFUSED, 8, NULL);
        /* A host bridge has a plain header: the admin's call. */
        expect(c, host, false, NULL, RESERVE_PROBE, 9, "reserve");

        /* What the host cannot lose, with the guard's reason. */
        v = reserve_decide(c, held, true, "backs the mounted filesystem / (/dev/vda)");
        assert_int_equal(v.action, RESERVE_REFUSED);
        assert_int_equal(v.line, 4);
        assert_string_equal(v.reason, "backs the mounted filesystem / (/dev/vda)");

        /* Someone else's driver_override (driverctl's, say): not ours to
         * change. */
        assert_non_null(held->driver_override = strdup("pci-stub"));
        v = reserve_decide(c, held, false, NULL);
        assert_int_equal(v.action, RESERVE_REFUSED);
        assert_string_equal(v.reason, "has its driver_override set to another driver");
}

static void test_vfio_names(void **state) {
        assert_true(device_driver_is_vfio("vfio-pci"));
        assert_true(device_driver_is_vfio("mlx5_vfio_pci"));
        assert_false(device_driver_is_vfio("vfio_pci"));       /* a module name, not a driver's */
        assert_false(device_driver_is_vfio("vfio-pci-x"));
        assert_false(device_driver_is_vfio("pci-stub"));
        assert_false(device_driver_is_vfio(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_not_listed),
                cmocka_unit_test(test_states),
                cmocka_unit_test(test_refused),
                cmocka_unit_test(test_vfio_names),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
