/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lease.c and process.c without a VFIO kernel: lease ids and modes are
 * parsed strictly, a backend refuses a mode it has not, a lease without
 * devices opens nothing; a pidfd names a process until it exits, and a
 * holder's memlock limit only ever goes up; what sysfs shows when the
 * kernel takes a leased device back.  (The kernel calls run in
 * the VM checks lease-iommufd and lease-legacy.)
 */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "lease.h"
#include "process.h"

static void test_ids_and_modes(void **state) {
        static const char *const bad[] = {
                "", "0", "000000000000000", "0000000000000000", "00000000000000001", "ABCDEF0123456789",
                "abcdef012345678g", " abcdef012345678", "abcdef01234567 8", "../../../../etc",
        };
        uint64_t id;
        LeaseMode m;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(lease_id_from_string(bad[i], &id), -EINVAL);
        assert_int_equal(lease_id_from_string(NULL, &id), -EINVAL);
        assert_int_equal(lease_id_from_string("00000000000000ff", &id), 0);
        assert_true(id == 0xff);
        assert_int_equal(lease_id_from_string("fedcba9876543210", &id), 0);
        assert_true(id == UINT64_C(0xfedcba9876543210));

        assert_int_equal(lease_mode_from_string("parked", &m), 0);
        assert_int_equal(m, LEASE_MODE_PARKED);
        assert_int_equal(lease_mode_from_string("Bound", &m), -EINVAL);
        assert_int_equal(lease_mode_from_string("bound ", &m), -EINVAL);
        assert_int_equal(lease_mode_from_string(NULL, &m), -EINVAL);
        assert_string_equal(lease_mode_to_string(LEASE_MODE_ACCESS), "access");
}

static void test_new(void **state) {
        Lease *a, *b;
        uint64_t id;

        /* Each backend has its own modes. */
        assert_int_equal(lease_new(LEASE_BACKEND_LEGACY, LEASE_MODE_PARKED, &a), -EINVAL);
        assert_int_equal(lease_new(LEASE_BACKEND_IOMMUFD, LEASE_MODE_ACCESS, &a), -EINVAL);
        assert_int_equal(lease_new(LEASE_BACKEND_IOMMUFD, _LEASE_MODE_MAX, &a), -EINVAL);

        assert_int_equal(lease_new(LEASE_BACKEND_IOMMUFD, LEASE_MODE_BOUND, &a), 0);
        assert_int_equal(lease_new(LEASE_BACKEND_LEGACY, LEASE_MODE_ACCESS, &b), 0);
        /* Random ids, printed as they parse back. */
        assert_true(a->id != 0 && a->id != b->id);
        assert_int_equal(lease_id_from_string(a->id_string, &id), 0);
        assert_true(id == a->id);
        assert_int_equal(a->iommufd, -EBADF);
        assert_int_equal(b->container, -EBADF);
        /* Access mode opens no container: the holder opens its own. */
        {
                LeaseFailure f = { 0 };
                assert_int_equal(lease_open(b, &f), 0);
                assert_int_equal(b->container, -EBADF);
        }
        assert_int_equal(lease_find_device(a, "0000:00:03.0"), -ENOENT);
        assert_false(lease_has_group(a, 1));
        assert_int_equal(lease_cut_dma(a), 0);
        {
                json_object *j = lease_to_json(a), *v;
                assert_true(json_object_object_get_ex(j, "backend", &v));
                assert_string_equal(json_object_get_string(v), "iommufd");
                assert_true(json_object_object_get_ex(j, "id", &v));
                assert_string_equal(json_object_get_string(v), a->id_string);
                json_object_put(j);
        }
        lease_free(a);
        lease_free(b);
}

static pid_t child = -1;

/* A failed assertion must not leave the child waiting for ever. */
static int kill_child(void **state) {
        if (child > 0) {
                kill(child, SIGKILL);
                waitpid(child, NULL, 0);
                child = -1;
        }
        return 0;
}

/* Whether this process may raise hard limits (CAP_SYS_RESOURCE): root in
 * a container may not. */
static bool can_raise_hard_limits(void) {
        struct rlimit r;
        if (getrlimit(RLIMIT_MEMLOCK, &r) < 0 || r.rlim_max == RLIM_INFINITY)
                return r.rlim_max == RLIM_INFINITY;
        r.rlim_max++;
        if (setrlimit(RLIMIT_MEMLOCK, &r) < 0)
                return false;
        r.rlim_max--;
        (void) setrlimit(RLIMIT_MEMLOCK, &r);
        return true;
}

/* When the kernel has taken a leased device back, judged from sysfs. */
/* What a claim moved and the mdevs it made: taken per group, and only
 * the made mdevs are listed as createdMdevs. */
static void test_moved_and_created(void **state) {
        Lease *l = NULL;
        LeaseMoved in[] = {
                { .name = "0000:01:00.0", .group = 4 },
                { .name = "6c1f2e3d-4b5a-4978-8a6b-5c4d3e2f1a0b", .group = 9, .mdev_created = true },
                { .name = "0000:01:00.1", .group = 4 },
                { .name = "3b1d2f63-2a3c-4f39-9b3e-6c1a5e9c0d01", .group = 10, .mdev_created = true },
        };
        LeaseMoved *out = NULL;
        size_t n = 0;
        json_object *o, *c;

        assert_int_equal(lease_new(LEASE_BACKEND_IOMMUFD, LEASE_MODE_BOUND, &l), 0);
        o = lease_to_json(l);
        assert_null(json_object_object_get(o, "createdMdevs"));
        json_object_put(o);

        assert_int_equal(lease_add_moved(l, in, 4), 0);
        o = lease_to_json(l);
        c = json_object_object_get(o, "createdMdevs");
        assert_int_equal(json_object_array_length(c), 2);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(c, 0)), in[1].name);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(c, 1)), in[3].name);
        json_object_put(o);

        assert_int_equal(lease_take_moved(l, 9, &out, &n), 0);
        assert_int_equal(n, 1);
        assert_true(out[0].mdev_created);
        assert_string_equal(out[0].name, in[1].name);
        free(out);
        assert_int_equal(lease_take_moved(l, 4, &out, &n), 0);
        assert_int_equal(n, 2);
        assert_false(out[0].mdev_created || out[1].mdev_created);
        free(out);
        o = lease_to_json(l);
        c = json_object_object_get(o, "createdMdevs");
        assert_int_equal(json_object_array_length(c), 1);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(c, 0)), in[3].name);
        json_object_put(o);
        lease_free(l);
}

static void test_device_gone(void **state) {
        LeaseDevice ld = { .name = "0000:00:03.0", .group = 5, .cdev = "vfio0", .fd = -EBADF, .req_fd = -EBADF };
        LeaseDevice lm = { .name = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001", .group = 9, .cdev = "vfio1",
                           .fd = -EBADF, .req_fd = -EBADF };
        Device d = { .kind = DEVICE_PCI, .name = ld.name, .driver = "vfio-pci", .iommu_group = 5, .vfio_cdev = "vfio0" };
        Device md = { .kind = DEVICE_MDEV, .name = lm.name, .driver = NULL, .iommu_group = 9, .vfio_cdev = "vfio1" };
        Lease *l, *legacy;

        assert_int_equal(lease_new(LEASE_BACKEND_IOMMUFD, LEASE_MODE_BOUND, &l), 0);
        assert_int_equal(lease_new(LEASE_BACKEND_LEGACY, LEASE_MODE_BOUND, &legacy), 0);

        /* Still the lease's: on vfio-pci (or a variant) with its cdev. */
        assert_null(lease_device_gone(l, &ld, &d));
        d.driver = "mlx5_vfio_pci";
        assert_null(lease_device_gone(l, &ld, &d));
        /* An mdev's driver is not a VFIO driver by name: not judged by it. */
        assert_null(lease_device_gone(l, &lm, &md));

        /* Removed; moved to another group. */
        assert_non_null(lease_device_gone(l, &ld, NULL));
        assert_non_null(lease_device_gone(legacy, &ld, NULL));
        d.iommu_group = 6;
        assert_non_null(lease_device_gone(l, &ld, &d));
        d.iommu_group = 5;

        /* The cdev went first (the kernel waits for the files to close):
         * gone on iommufd; legacy leases do not use the cdev. */
        d.driver = "vfio-pci";
        d.vfio_cdev = NULL;
        assert_non_null(lease_device_gone(l, &ld, &d));
        assert_null(lease_device_gone(legacy, &ld, &d));
        md.vfio_cdev = NULL;
        assert_non_null(lease_device_gone(l, &lm, &md));
        /* A different cdev is a different registration. */
        d.vfio_cdev = "vfio3";
        assert_non_null(lease_device_gone(l, &ld, &d));
        d.vfio_cdev = "vfio0";

        /* Unbound, or on a host driver. */
        d.driver = NULL;
        assert_non_null(lease_device_gone(l, &ld, &d));
        assert_non_null(lease_device_gone(legacy, &ld, &d));
        d.driver = "e1000e";
        assert_non_null(lease_device_gone(legacy, &ld, &d));

        lease_free(l);
        lease_free(legacy);
}

static void test_pidfd(void **state) {
        ProcessInfo p;
        pid_t got;
        int pidfd;

        child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                pause();
                _exit(0);
        }
        pidfd = (int) syscall(SYS_pidfd_open, child, 0);
        if (pidfd < 0)
                skip();
        assert_int_equal(pidfd_get_pid(pidfd, &got), 0);
        assert_int_equal(got, child);
        assert_int_equal(pidfd_is_alive(pidfd), 1);
        assert_int_equal(process_identify("/proc", pidfd, &p), 0);
        assert_int_equal(p.pid, child);
        assert_int_equal(p.uid, geteuid());
        assert_true(p.comm[0] != 0);

        /* Not a pidfd. */
        assert_int_equal(pidfd_get_pid(0, &got), -EINVAL);
        assert_int_equal(pidfd_get_pid(-1, &got), -EBADF);

        /* memlock only goes up. */
        {
                struct rlimit before, after;
                uint64_t was;

                assert_int_equal(prlimit(child, RLIMIT_MEMLOCK, NULL, &before), 0);
                if (before.rlim_cur != RLIM_INFINITY && before.rlim_cur > 4096) {
                        assert_int_equal(process_raise_memlock(pidfd, 4096, &was), 0);
                        assert_int_equal(prlimit(child, RLIMIT_MEMLOCK, NULL, &after), 0);
                        assert_true(after.rlim_cur == before.rlim_cur);    /* not lowered */
                        assert_true(was == before.rlim_cur);
                }
                if (can_raise_hard_limits() && before.rlim_cur != RLIM_INFINITY) {
                        uint64_t want = (uint64_t) before.rlim_cur + (64u << 20);
                        assert_int_equal(process_raise_memlock(pidfd, want, NULL), 0);
                        assert_int_equal(prlimit(child, RLIMIT_MEMLOCK, NULL, &after), 0);
                        assert_true(after.rlim_cur == want);
                        assert_true(after.rlim_max == RLIM_INFINITY || after.rlim_max >= want);
                }
        }

        /* Gone: the pidfd says so, and nothing is read from a reused pid. */
        kill_child(NULL);
        assert_int_equal(pidfd_is_alive(pidfd), 0);
        assert_int_equal(pidfd_get_pid(pidfd, &got), -ESRCH);
        assert_int_equal(process_identify("/proc", pidfd, &p), -ESRCH);
        assert_int_equal(process_raise_memlock(pidfd, 1u << 30, NULL), -ESRCH);
        close(pidfd);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ids_and_modes),
                cmocka_unit_test(test_new),
                cmocka_unit_test(test_moved_and_created),
                cmocka_unit_test(test_device_gone),
                cmocka_unit_test_teardown(test_pidfd, kill_child),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
