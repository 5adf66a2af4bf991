/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * holders.c against a fake /proc in a temporary directory: PID
 * directories with a comm file and an fd/ directory of symlinks whose
 * targets are what the kernel shows ("/dev/vfio/5", "socket:[123]").
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

#include "holders.h"
#include "shared/macro.h"

typedef struct Fixture {
        char proc[PATH_MAX];
} Fixture;

static void add_process(const char *proc, const char *pid, const char *comm, const char *const *fds) {
        char p[2 * PATH_MAX];
        FILE *f;

        snprintf(p, sizeof(p), "%s/%s", proc, pid);
        assert_int_equal(mkdir(p, 0755), 0);
        if (comm) {
                snprintf(p, sizeof(p), "%s/%s/comm", proc, pid);
                f = fopen(p, "we");
                assert_non_null(f);
                fprintf(f, "%s\n", comm);
                assert_int_equal(fclose(f), 0);
        }
        if (!fds)
                return;         /* no fd/: a kernel thread, or not ours to see */
        snprintf(p, sizeof(p), "%s/%s/fd", proc, pid);
        assert_int_equal(mkdir(p, 0755), 0);
        for (size_t i = 0; fds[i]; i++) {
                snprintf(p, sizeof(p), "%s/%s/fd/%zu", proc, pid, i + 3);
                assert_int_equal(symlink(fds[i], p), 0);
        }
}

#define FDS(...) ((const char *const[]) { __VA_ARGS__, NULL })

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        snprintf(f->proc, sizeof(f->proc), "/tmp/iommud-test-proc-XXXXXX");
        assert_non_null(mkdtemp(f->proc));

        add_process(f->proc, "1", "systemd", FDS("/dev/null", "socket:[10]", "anon_inode:[eventpoll]"));
        add_process(f->proc, "42", "cat", FDS("/dev/null", "/dev/pts/0"));
        add_process(f->proc, "300", "qemu-system-x86", FDS("/dev/null", "socket:[123]", "/dev/vfio/vfio", "/dev/vfio/5"));
        add_process(f->proc, "1200", "cloud-hypervisor", FDS("/dev/vfio/devices/vfio0", "/dev/kvm"));
        add_process(f->proc, "77", "crosvm", FDS("socket:[9]", "/dev/vfio/devices/vfio0"));
        /* Near misses: not the node, or a node since deleted. */
        add_process(f->proc, "50", "near", FDS("/dev/vfio/50", "/dev/vfio/5 (deleted)", "/dev/vfio/devices/vfio01",
                                               "/dev/vfio", "dev/vfio/5"));
        /* Not processes, though they hold it: ignored. */
        add_process(f->proc, "self", "self", FDS("/dev/vfio/5"));
        add_process(f->proc, "thread-self", "ts", FDS("/dev/vfio/5"));
        add_process(f->proc, "2x", "bad", FDS("/dev/vfio/5"));
        add_process(f->proc, "007", "zero", FDS("/dev/vfio/5"));
        add_process(f->proc, "-3", "minus", FDS("/dev/vfio/5"));
        add_process(f->proc, "99999999999", "huge", FDS("/dev/vfio/5"));
        /* A kernel thread: no fd/. */
        add_process(f->proc, "2", "kthreadd", NULL);
        *state = f;
        return 0;
}

static void put_fdinfo(const char *proc, const char *pid, const char *fd, const char *flags) {
        char p[2 * PATH_MAX];
        FILE *f;

        snprintf(p, sizeof(p), "%s/%s/fdinfo", proc, pid);
        (void) mkdir(p, 0755);
        snprintf(p, sizeof(p), "%s/%s/fdinfo/%s", proc, pid, fd);
        f = fopen(p, "we");
        assert_non_null(f);
        fprintf(f, "pos:\t0\nflags:\t%s\nmnt_id:\t25\nino:\t412\n", flags);
        assert_int_equal(fclose(f), 0);
}

/* udev-worker holds an O_PATH fd on a new node while it sets its owner
 * and mode: that never opened the device and must not count (seen in
 * the demo VM: a restore right after a prepare was refused). */
static void test_o_path_not_a_holder(void **state) {
        Fixture *f = *state;
        const char *paths[] = { "/dev/vfio/devices/vfio3" };
        Holder h = { 0 };

        add_process(f->proc, "20", "(udev-worker)", FDS("/dev/vfio/devices/vfio3"));
        put_fdinfo(f->proc, "20", "3", "012100000");    /* O_PATH|O_NOFOLLOW|O_CLOEXEC */
        assert_int_equal(holders_find(f->proc, paths, 1, 0, &h), 0);

        /* The same node opened for real (O_RDWR|O_CLOEXEC) is a holder. */
        add_process(f->proc, "21", "qemu", FDS("/dev/vfio/devices/vfio3"));
        put_fdinfo(f->proc, "21", "3", "02000002");
        assert_int_equal(holders_find(f->proc, paths, 1, 0, &h), 1);
        assert_int_equal(h.pid, 21);
}

static int teardown(void **state) {
        Fixture *f = *state;
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->proc);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

static void test_group_node_holder(void **state) {
        Fixture *f = *state;
        const char *paths[] = { "/dev/vfio/5" };
        Holder h = { 0 };

        assert_int_equal(holders_find(f->proc, paths, 1, 0, &h), 1);
        assert_int_equal(h.pid, 300);
        assert_string_equal(h.comm, "qemu-system-x86");
        assert_string_equal(h.path, "/dev/vfio/5");
}

static void test_lowest_pid_wins(void **state) {
        Fixture *f = *state;
        const char *paths[] = { "/dev/vfio/5", "/dev/vfio/devices/vfio0" };
        Holder h = { 0 };

        /* 77, 300 and 1200 hold one each: 77, with its own comm and the
         * node it holds, whatever order the directory lists them in. */
        assert_int_equal(holders_find(f->proc, paths, 2, 0, &h), 1);
        assert_int_equal(h.pid, 77);
        assert_string_equal(h.comm, "crosvm");
        assert_string_equal(h.path, "/dev/vfio/devices/vfio0");
}

static void test_skip_pid(void **state) {
        Fixture *f = *state;
        const char *paths[] = { "/dev/vfio/5", "/dev/vfio/devices/vfio0" };
        const char *cdev[] = { "/dev/vfio/devices/vfio0" };
        Holder h = { 0 };

        assert_int_equal(holders_find(f->proc, paths, 2, 77, &h), 1);
        assert_int_equal(h.pid, 300);
        assert_string_equal(h.comm, "qemu-system-x86");
        assert_string_equal(h.path, "/dev/vfio/5");

        assert_int_equal(holders_find(f->proc, cdev, 1, 77, &h), 1);
        assert_int_equal(h.pid, 1200);
        assert_string_equal(h.comm, "cloud-hypervisor");
        assert_string_equal(h.path, "/dev/vfio/devices/vfio0");
}

static void test_nobody(void **state) {
        Fixture *f = *state;
        const char *paths[] = { "/dev/vfio/9", "/dev/vfio/devices/vfio3" };
        const char *only_ours[] = { "/dev/vfio/5" };
        Holder h = { .pid = 4242 };

        assert_int_equal(holders_find(f->proc, paths, 2, 0, &h), 0);
        /* None asked for. */
        assert_int_equal(holders_find(f->proc, paths, 0, 0, &h), 0);
        /* No ret wanted: the answer alone. */
        assert_int_equal(holders_find(f->proc, only_ours, 1, 0, NULL), 1);
        assert_int_equal(holders_find(f->proc, paths, 2, 0, NULL), 0);
        assert_int_equal(h.pid, 4242);
}

static void test_only_holders_skipped(void **state) {
        Fixture *f = *state;
        const char *paths[] = { "/dev/vfio/5" };
        char p[PATH_MAX + 16];

        /* With 300 gone, only the non-numeric directories hold it. */
        snprintf(p, sizeof(p), "rm -rf '%s/300'", f->proc);
        assert_int_equal(system(p), 0);
        assert_int_equal(holders_find(f->proc, paths, 1, 0, NULL), 0);
}

static void test_missing_comm(void **state) {
        Fixture *f = *state;
        const char *paths[] = { "/dev/vfio/7" };
        Holder h;

        memset(&h, 'x', sizeof(h));
        add_process(f->proc, "5", NULL, FDS("/dev/vfio/7"));
        assert_int_equal(holders_find(f->proc, paths, 1, 0, &h), 1);
        assert_int_equal(h.pid, 5);
        assert_string_equal(h.comm, "");
        assert_string_equal(h.path, "/dev/vfio/7");
}

static void test_unreadable_proc(void **state) {
        Fixture *f = *state;
        const char *paths[] = { "/dev/vfio/5" };
        char p[PATH_MAX + 16];

        snprintf(p, sizeof(p), "%s/nonexistent", f->proc);
        assert_int_equal(holders_find(p, paths, 1, 0, NULL), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_group_node_holder, setup, teardown),
                cmocka_unit_test_setup_teardown(test_lowest_pid_wins, setup, teardown),
                cmocka_unit_test_setup_teardown(test_skip_pid, setup, teardown),
                cmocka_unit_test_setup_teardown(test_nobody, setup, teardown),
                cmocka_unit_test_setup_teardown(test_only_holders_skipped, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_comm, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unreadable_proc, setup, teardown),
                cmocka_unit_test_setup_teardown(test_o_path_not_a_holder, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
