/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * [Persistent] carried out by iommud itself, unmodified, on a umockdev
 * testbed: at start it writes the UUID of a missing mdev to its type's
 * "create" (and only that one), leaves an mdev that holds a defined UUID
 * as another type alone, reports a missing parent, a function that is no
 * PF, and a VF count it cannot set yet (the SR-IOV hook is not
 * connected); and it still starts and serves.  A definition that waits for
 * its parent is carried out when a driver registers the parent.
 *
 * Usage (meson passes them): test-persistent IOMMUD IOMMUCTL
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "run.h"
#include "shared/macro.h"
#include "testbed.h"

static const char *iommud, *iommuctl;

#define MTTY "/sys/devices/virtual/mtty/mtty"
#define OLD "3b1d2f63-2a3c-4f39-9b3e-6c1a5e9c0d01"      /* exists, mtty-2 */
#define NEW "3b1d2f63-2a3c-4f39-9b3e-6c1a5e9c0d02"
#define LATER "3b1d2f63-2a3c-4f39-9b3e-6c1a5e9c0d03"

typedef struct Fixture {
        Testbed *t;
        pid_t daemon;
        char sock[256];
        char log[256];
} Fixture;

static void wait_log(Fixture *f, const char *text) {
        testbed_expect_file(f->t, "iommud.log", text, 10);
}

static int setup_with(void **state, const char *policy) {
        Fixture *f = calloc(1, sizeof(*f));
        char conf[300];
        struct stat st;
        FILE *c;

        f->t = testbed_new();
        testbed_add_sample_host(f->t);
        testbed_add_mtty(f->t, OLD, 9);
        /* The kernel's write-only attributes, as files to read back. */
        umockdev_testbed_set_attribute(f->t->tb, MTTY, "mdev_supported_types/mtty-1/create", "");
        umockdev_testbed_set_attribute(f->t->tb, MTTY, "mdev_supported_types/mtty-2/create", "");
        snprintf(f->sock, sizeof(f->sock), "%s/iommud.sock", f->t->root);
        snprintf(f->log, sizeof(f->log), "%s/iommud.log", f->t->root);
        snprintf(conf, sizeof(conf), "%s/iommud.conf", f->t->root);
        c = fopen(conf, "we");
        assert_non_null(c);
        fputs(policy, c);
        assert_int_equal(fclose(c), 0);
        f->daemon = fork();
        assert_true(f->daemon >= 0);
        if (f->daemon == 0) {
                if (!freopen(f->log, "w", stderr))
                        _exit(126);
                char statedir[300];
                snprintf(statedir, sizeof(statedir), "%s/run", f->t->root);
                /* Not the host's /run/iommud: its own records. */
                execl(iommud, iommud, "--state-dir", statedir,
                      "--varlink-socket", f->sock, "--config", conf, "--log-level", "info",
                      (char *) NULL);
                _exit(127);
        }
        for (int i = 0; i < 500 && stat(f->sock, &st) < 0; i++)
                usleep(10000);
        assert_int_equal(stat(f->sock, &st), 0);
        *state = f;
        return 0;
}

static int setup(void **state) {
        return setup_with(state, "[Assignable]\n"
                                 "Parent=mtty\n"
                                 "[Persistent]\n"
                                 "Mdev=mtty/mtty-1/" NEW "\n"                 /* created */
                                 "Mdev=mtty/mtty-1/" OLD "\n"                 /* taken by an mtty-2 */
                                 "Mdev=0000:04:00.0/nvidia-63/" LATER "\n"    /* no such parent */
                                 "SriovNumVfs=0000:03:00.0/3\n"               /* 2 now, VFs unbound */
                                 "SriovNumVfs=0000:01:00.0/1\n");             /* no PF */
}

static int setup_later(void **state) {
        return setup_with(state, "[Persistent]\n"
                                 "Mdev=mtty/mtty-1/" NEW "\n"
                                 "Mdev=0000:01:01.0/vgpu-1/" LATER "\n");
}

static int teardown(void **state) {
        Fixture *f = *state;
        int status;

        kill(f->daemon, SIGTERM);
        assert_int_equal(waitpid(f->daemon, &status, 0), f->daemon);
        /* A clean exit: under ASan, also no leak of the rounds. */
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                char *out = run(NULL, "cat '%s'", f->log);
                fprintf(stderr, "iommud's log:\n%s\n", out);
                free(out);
                fail_msg("iommud did not exit cleanly: status 0x%x", (unsigned) status);
        }
        testbed_free(f->t);
        free(f);
        return 0;
}

static void test_start(void **state) {
        Fixture *f = *state;
        char path[512], *v, *out;
        int st;

        wait_log(f, "Persistent: 5 definitions: 1 to create, 1 VF counts to set, 0 present, 1 waiting for their "
                    "parent, 2 not done (conflict, in use or invalid)");
        wait_log(f, "mdev " NEW " (mtty-1 of mtty) created by iommud for ");
        /* The one write: NEW to mtty-1's create, nothing to mtty-2's. */
        snprintf(path, sizeof(path), "%s" MTTY "/mdev_supported_types/mtty-1/create", f->t->root);
        v = slurp(path);
        assert_string_equal(v, NEW);
        free(v);
        snprintf(path, sizeof(path), "%s" MTTY "/mdev_supported_types/mtty-2/create", f->t->root);
        v = slurp(path);
        assert_string_equal(v, "");
        free(v);
        wait_log(f, "an mdev " OLD " exists already as mtty-2 of mtty: left as it is");
        wait_log(f, "there is no mdev parent 0000:04:00.0 (yet): the mdev is created when it appears");
        wait_log(f, "0000:01:00.0 is not an SR-IOV physical function (no sriov_totalvfs)");
        wait_log(f, "3 VFs on 0000:03:00.0 (");
        /* Carried out by SetNumVfs's own checks and writes (the hook
         * manager-sriov.c connects): autoprobe off, then 0 and 3. */
        wait_log(f, "Persistent: 0000:03:00.0 has 3 VFs now (");
        wait_log(f, "0000:03:00.0: 3 VFs (were 2; through 0, so every VF is new), set by iommud for ");
        snprintf(path, sizeof(path), "%s/sys/devices/pci0000:00/0000:03:00.0/sriov_numvfs", f->t->root);
        v = slurp(path);
        assert_string_equal(v, "3");
        free(v);
        snprintf(path, sizeof(path), "%s/sys/devices/pci0000:00/0000:03:00.0/sriov_drivers_autoprobe", f->t->root);
        v = slurp(path);
        assert_string_equal(v, "0");
        free(v);
        /* And iommud serves. */
        out = run(&st, "%s --socket %s status", iommuctl, f->sock);
        assert_int_equal(st, 0);
        free(out);
}

static char *attr_path(Fixture *f, const char *dev, const char *attr) {
        char *p = NULL;
        assert_true(asprintf(&p, "%s%s/%s", f->t->root, dev, attr) > 0);
        return p;
}

static void assert_file(const char *path, const char *want) {
        char *v = slurp(path);
        assert_string_equal(v, want);
        free(v);
}

/* A definition waiting for its parent is carried out when the parent
 * appears (here: a driver binds to 01:01.0 and registers it as an mdev
 * parent); a definition whose parent was there all along is not made
 * again by that event (the admin removed it), only at a reload. */
static void test_parent_appears(void **state) {
        Fixture *f = *state;
        const char *dev = "/sys/devices/pci0000:00/0000:01:01.0";
        _cleanup_free_ char *mtty1 = attr_path(f, MTTY, "mdev_supported_types/mtty-1/create");
        _cleanup_free_ char *vgpu = attr_path(f, dev, "mdev_supported_types/vgpu-1/create");
        FILE *c;

        wait_log(f, "mdev " NEW " (mtty-1 of mtty) created by iommud for ");
        assert_file(mtty1, NEW);
        wait_log(f, "there is no mdev parent 0000:01:01.0 (yet)");
        /* The admin removes NEW (on the testbed it never appeared: the
         * write is all there is to undo). */
        c = fopen(mtty1, "we");
        assert_non_null(c);
        assert_int_equal(fclose(c), 0);

        umockdev_testbed_set_attribute(f->t->tb, dev, "mdev_supported_types/vgpu-1/available_instances", "4");
        umockdev_testbed_set_attribute(f->t->tb, dev, "mdev_supported_types/vgpu-1/create", "");
        umockdev_testbed_set_attribute_link(f->t->tb, "/sys/class", "mdev_bus/0000:01:01.0",
                                            "../../devices/pci0000:00/0000:01:01.0");
        testbed_set_driver(f->t, "0000:01:01.0", "vgpu-host");
        umockdev_testbed_uevent(f->t->tb, dev, "bind");

        wait_log(f, "mdev " LATER " (vgpu-1 of 0000:01:01.0) created by iommud for ");
        assert_file(vgpu, LATER);
        wait_log(f, "Persistent: " NEW " (");
        wait_log(f, "missing, but its parent was there before this device event: left for the next start or reload");
        assert_file(mtty1, "");
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_start, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parent_appears, setup_later, teardown),
        };
        if (!testbed_preloaded() || argc != 3)
                return 77;
        iommud = argv[1];
        iommuctl = argv[2];
        return cmocka_run_group_tests(tests, NULL, NULL);
}
