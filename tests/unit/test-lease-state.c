/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lease-state.c: the state file a restarted iommud takes its leases back
 * from.  What is written reads back the same, for every backend and mode
 * and for the groups still releasing (a legacy lease's have no cdevs; a
 * group of no known lease has lease ""); anything else is refused whole,
 * with the first bad field named; the fd store's names; a process named
 * by pid and start time across a restart (process.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "lease-state.h"
#include "process.h"

#define BOOT "0b0e8f6a-1111-4222-8333-444455556666"

static Lease *make(LeaseBackend b, LeaseMode m, uint64_t id) {
        Lease *l = NULL;

        assert_int_equal(lease_new_with_id(b, m, id, &l), 0);
        l->holder = (ProcessInfo) { .pid = 4242, .uid = 1000, .comm = "qemu-system-x86", .start_time = 123456789 };
        l->owner = (ProcessInfo) { .pid = 17, .uid = 0, .comm = "libvirtd", .start_time = 99 };
        l->created_usec = 1700000000000000ull;
        return l;
}

static void add_device(Lease *l, const char *name, uint32_t group, const char *cdev, uint32_t devid) {
        l->devices = realloc(l->devices, (l->n_devices + 1) * sizeof(*l->devices));
        assert_non_null(l->devices);
        l->devices[l->n_devices] = (LeaseDevice) { .group = group, .fd = -EBADF, .req_fd = -EBADF, .devid = devid,
                                                   .pt_id = devid + 1 };
        snprintf(l->devices[l->n_devices].name, sizeof(l->devices[0].name), "%s", name);
        snprintf(l->devices[l->n_devices].cdev, sizeof(l->devices[0].cdev), "%s", cdev);
        l->n_devices++;
}

static void add_group(Lease *l, uint32_t id, bool acl) {
        l->groups = realloc(l->groups, (l->n_groups + 1) * sizeof(*l->groups));
        assert_non_null(l->groups);
        l->groups[l->n_groups++] = (LeaseGroup) { .id = id, .fd = -EBADF, .acl = acl };
}

/* Three leases and two releasing groups, as iommud would have them. */
static char *sample(void) {
        Lease *a = make(LEASE_BACKEND_IOMMUFD, LEASE_MODE_BOUND, 0x1122334455667788ull);
        Lease *b = make(LEASE_BACKEND_LEGACY, LEASE_MODE_ACCESS, 0xaabbccddeeff0011ull);
        Lease *c = make(LEASE_BACKEND_LEGACY, LEASE_MODE_BOUND, 0x0000000000000001ull);
        LeaseMoved mv[2] = { { .name = "0000:00:03.0", .group = 3 },
                             { .name = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001", .group = 12, .mdev_created = true } };
        char cdevs[2][16] = { "vfio0", "vfio7" };
        StateReleasing rel[2] = {
                { .group = 9, .lease = "00000000000000ff", .backend = LEASE_BACKEND_IOMMUFD, .cdevs = cdevs, .n_cdevs = 2,
                  .restore = mv, .n_restore = 1, .holder = { .pid = 5, .uid = 7, .comm = "x", .start_time = 1 } },
                { .group = 10, .lease = "", .backend = LEASE_BACKEND_LEGACY },
        };
        Lease *leases[3] = { a, b, c };
        char *text;

        add_device(a, "0000:00:03.0", 3, "vfio0", 1);
        add_device(a, "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001", 12, "vfio3", 2);
        a->ioas_id = 5;
        a->memlock = 1 << 30;
        assert_int_equal(lease_add_moved(a, mv, 2), 0);
        a->release_reason = strdup("host maintenance \"now\"\n");
        a->release_deadline_usec = 1700000000500000ull;
        snprintf(b->holder.comm, sizeof(b->holder.comm), "a\xff" "b\n");  /* a process names itself */
        add_group(b, 4, true);
        add_device(b, "0000:01:01.0", 4, "", 0);
        add_group(c, 6, false);
        add_group(c, 7, false);
        add_device(c, "0000:02:00.0", 6, "", 0);
        add_device(c, "0000:02:00.1", 7, "", 0);
        add_device(c, "0000:02:00.2", 7, "", 0);
        c->iommu_set = true;
        text = lease_state_format(BOOT, leases, 3, rel, 2);
        assert_non_null(text);
        for (size_t i = 0; i < 3; i++) {
                lease_state_forget_acls(leases[i]);
                lease_free(leases[i]);
        }
        return text;
}

static void test_round_trip(void **state) {
        char *text = sample(), *again, error[256];
        LeaseState s;
        const Lease *a;

        assert_int_equal(lease_state_parse(text, strlen(text), &s, error, sizeof(error)), 0);
        assert_string_equal(error, "");
        assert_string_equal(s.boot_id, BOOT);
        assert_int_equal(s.n_leases, 3);
        assert_int_equal(s.n_releasing, 2);
        a = s.leases[0];
        assert_string_equal(a->id_string, "1122334455667788");
        assert_int_equal(a->backend, LEASE_BACKEND_IOMMUFD);
        assert_int_equal(a->mode, LEASE_MODE_BOUND);
        assert_int_equal(a->holder.pid, 4242);
        assert_int_equal(a->holder.uid, 1000);
        assert_string_equal(a->holder.comm, "qemu-system-x86");
        assert_int_equal(a->holder.start_time, 123456789);
        assert_string_equal(a->owner.comm, "libvirtd");
        assert_int_equal(a->n_devices, 2);
        assert_string_equal(a->devices[1].name, "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001");
        assert_string_equal(a->devices[1].cdev, "vfio3");
        assert_int_equal(a->devices[1].devid, 2);
        assert_int_equal(a->devices[1].pt_id, 3);
        assert_int_equal(a->devices[0].fd, -EBADF);
        assert_int_equal(a->holder_pidfd, -EBADF);
        assert_int_equal(a->iommufd, -EBADF);
        assert_int_equal(a->ioas_id, 5);
        assert_int_equal(a->memlock, 1 << 30);
        assert_int_equal(a->n_moved, 2);
        assert_true(a->moved[1].mdev_created);
        assert_false(a->moved[0].mdev_created);
        assert_string_equal(a->release_reason, "host maintenance \"now\"\n");
        assert_int_equal(a->release_deadline_usec, 1700000000500000ull);
        assert_int_equal(s.leases[1]->mode, LEASE_MODE_ACCESS);
        assert_string_equal(s.leases[1]->holder.comm, "a?b?");
        assert_true(s.leases[1]->groups[0].acl);
        assert_true(s.leases[2]->iommu_set);
        assert_int_equal(s.leases[2]->n_groups, 2);
        assert_null(s.leases[2]->release_reason);
        assert_string_equal(s.releasing[0].lease, "00000000000000ff");
        assert_string_equal(s.releasing[0].cdevs[1], "vfio7");
        assert_int_equal(s.releasing[0].n_restore, 1);
        assert_string_equal(s.releasing[1].lease, "");
        assert_int_equal(s.releasing[1].n_cdevs, 0);
        assert_int_equal(s.releasing[1].backend, LEASE_BACKEND_LEGACY);

        /* Written again from what was read: the same text. */
        again = lease_state_format(s.boot_id, s.leases, s.n_leases, s.releasing, s.n_releasing);
        assert_non_null(again);
        assert_string_equal(again, text);
        lease_state_done(&s);
        free(again);
        free(text);
}

/* Replace the first @from in the sample by @to; parse; must fail with an
 * error containing @want. */
static void refused(const char *from, const char *to, const char *want) {
        char *text = sample(), *p = strstr(text, from), *edited, error[256];
        LeaseState s;

        if (!p)
                fail_msg("'%s' is not in the sample", from);
        assert_true(asprintf(&edited, "%.*s%s%s", (int) (p - text), text, to, p + strlen(from)) > 0);
        assert_int_equal(lease_state_parse(edited, strlen(edited), &s, error, sizeof(error)), -EINVAL);
        if (!strstr(error, want))
                fail_msg("'%s' -> '%s': error \"%s\" lacks \"%s\"", from, to, error, want);
        free(edited);
        free(text);
}

static void test_refusals(void **state) {
        refused("\"version\":1", "\"version\":2", "version: 2, not 1");
        refused("\"bootId\"", "\"bootid\"", "unknown key \"bootid\"");
        refused("\"bootId\":\"" BOOT "\"", "\"bootId\":\"x\"", "bootId: not a boot id");
        refused("\"id\":\"1122334455667788\"", "\"id\":\"1122334455667788\",\"x\":1", "leases[0]: unknown key \"x\"");
        refused("\"id\":\"1122334455667788\"", "\"id\":\"112233445566778G\"", "leases[0].id: not a lease id");
        refused("\"id\":\"1122334455667788\"", "\"id\":\"0000000000000001\"", "lease 0000000000000001 is there twice");
        refused("\"mode\":\"access\"", "\"mode\":\"parked\"", "leases[1].mode: not a mode of the legacy backend");
        refused("\"name\":\"0000:00:03.0\"", "\"name\":\"0000:00:03.0/../x\"", "leases[0].devices[0].name: not a "
                                                                          "canonical PCI address or mdev UUID");
        refused("\"name\":\"0000:00:03.0\"", "\"name\":\"0000:00:03.00\"", "devices[0].name");
        refused("\"cdev\":\"vfio0\"", "\"cdev\":\"../../iommu\"", "leases[0].devices[0].cdev: not a VFIO device cdev");
        refused("\"cdev\":\"vfio0\"", "\"cdev\":\"\"", "an iommufd lease's device has no cdev");
        refused("\"group\":3", "\"group\":-3", "leases[0].devices[0].group: out of range");
        refused("\"group\":3", "\"group\":\"3\"", "leases[0].devices[0].group: not an integer");
        refused("\"group\":3", "\"group\":4", "IOMMU group 4 is in leases 1122334455667788 and aabbccddeeff0011");
        refused("\"group\":3", "\"group\":9", "IOMMU group 9 is in lease 1122334455667788 and releasing");
        refused("\"pid\":4242", "\"pid\":0.5", "leases[0].holder.pid: not an integer");
        refused("\"pid\":4242", "\"pid\":99999999", "leases[0].holder.pid: out of range");
        refused("\"command\":\"qemu-system-x86\"", "\"command\":\"qemu-system-x86_64-too-long\"",
                "leases[0].holder.command: too long");
        refused("\"command\":\"qemu-system-x86\"", "\"command\":\"a\\nb\"", "holds a control character");
        refused("\"command\":\"qemu-system-x86\"", "\"command\":\"\xff\xfe\"", "not JSON");
        refused("\"acl\":true", "\"acl\":false", "leases[1].groups[0]: acl does not match");
        refused("\"releaseReason\":\"host", "\"releaseReason\":null,\"x\":\"host", "unknown key");
        refused("\"mdevCreated\":true", "\"mdevCreated\":1", "leases[0].moved[1].mdevCreated: not a boolean");
        refused("\"lease\":\"\"", "\"lease\":\"zz\"", "releasing[1].lease: not a lease id");
        refused("\"vfio7\"", "\"\"", "releasing[0].cdevs[1]: not a VFIO device cdev name");
        refused("\"leases\":[", "\"leases\":{\"a\":[", "not JSON");
        refused("\"devices\":[", "\"devices\":7,\"d\":[", "unknown key");

        {
                char *text = sample(), error[256];
                size_t n = strlen(text);
                LeaseState s;

                /* Trailing bytes, a NUL, an empty file, cut short. */
                text = realloc(text, n + 3);
                memcpy(text + n, "x\n", 3);
                assert_int_equal(lease_state_parse(text, n + 2, &s, error, sizeof(error)), -EINVAL);
                /* (json-c's strict tokener sees them first, or iommud.) */
                if (!strstr(error, "follows") && !strstr(error, "not JSON"))
                        fail_msg("trailing bytes: %s", error);
                text[10] = 0;
                assert_int_equal(lease_state_parse(text, n, &s, error, sizeof(error)), -EINVAL);
                assert_int_equal(lease_state_parse(text, 0, &s, error, sizeof(error)), -EINVAL);
                assert_non_null(strstr(error, "empty"));
                free(text);
                text = sample();
                assert_int_equal(lease_state_parse(text, n / 2, &s, error, sizeof(error)), -EINVAL);
                assert_non_null(strstr(error, "ends too early"));
                free(text);
        }
}

static void test_fd_names(void **state) {
        char name[LEASE_FD_NAME_MAX], id[LEASE_ID_STRING_MAX];

        lease_state_fd_name(name, "1122334455667788", LEASE_FD_DEVICE, "0000:00:03.0");
        assert_string_equal(name, "L1122334455667788.dev.0000_00_03.0");
        assert_null(strchr(name, ':'));
        assert_int_equal(lease_state_fd_name_lease(name, id), 0);
        assert_string_equal(id, "1122334455667788");
        lease_state_fd_name(name, "1122334455667788", LEASE_FD_HOLDER, NULL);
        assert_string_equal(name, "L1122334455667788.holder");
        lease_state_fd_name(name, "1122334455667788", LEASE_FD_GROUP, "12");
        assert_string_equal(name, "L1122334455667788.group.12");
        assert_int_equal(lease_state_fd_name_lease("iommud.socket", id), -EINVAL);
        assert_int_equal(lease_state_fd_name_lease("varlink", id), -EINVAL);
        assert_int_equal(lease_state_fd_name_lease("L0000000000000000.holder", id), -EINVAL);
        assert_int_equal(lease_state_fd_name_lease("L112233445566778.holder", id), -EINVAL);
        assert_int_equal(lease_state_fd_name_lease("L1122334455667788", id), -EINVAL);
}

/* A process is found again by pid and start time, and only that one. */
static void test_start_time(void **state) {
        uint64_t t = 0, t2 = 0;
        pid_t child;
        int fd;

        assert_int_equal(process_start_time("/proc", getpid(), &t), 0);
        assert_true(t > 0);
        fd = pidfd_open_verified("/proc", getpid(), t);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(pidfd_open_verified("/proc", getpid(), t + 1), -ESRCH);
        child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                pause();
                _exit(0);
        }
        assert_int_equal(process_start_time("/proc", child, &t2), 0);
        assert_true(t2 >= t);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        assert_int_equal(pidfd_open_verified("/proc", child, t2), -ESRCH);
        assert_int_equal(process_start_time("/proc", child, &t2), -ESRCH);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_fd_names),
                cmocka_unit_test(test_start_time),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
