/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iommud-reserve itself, unmodified, on a umockdev testbed: what it tells
 * udev for each device, that --all writes driver_override for the
 * reserved, unbound function and nothing else, and that bad names,
 * missing or broken policies and a planted symlink lead to nothing
 * written anywhere (the whole tree compared before and after).
 *
 * Usage (meson passes it): test-reserve-helper IOMMUD-RESERVE
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
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

#include "testbed.h"

static const char *helper;

#define EDU "0000:00:03.0"          /* listed, unbound */
#define NIC "0000:00:04.0"          /* listed by Id=, on e1000e */
#define OTHER "0000:00:05.0"        /* not listed, unbound */
#define PORT "0000:00:06.0"         /* listed by Class=, a bridge */
#define PLANTED "0000:00:07.0"      /* a symlink out of /sys, listed */

#define POLICY                          \
        "[Reserve]\n"                   \
        "Address=" EDU "\n"             \
        "Id=8086:10d3\n"                \
        "Class=0604\n"                  \
        "Address=" PLANTED "\n"

typedef struct Fixture {
        Testbed *t;
        char conf[512];
        char outside[512];      /* a device directory outside /sys */
} Fixture;

static void set_attr(Testbed *t, const char *bdf, const char *attr, const char *value) {
        char dir[128];
        snprintf(dir, sizeof(dir), "/sys/devices/pci0000:00/%s", bdf);
        umockdev_testbed_set_attribute(t->tb, dir, attr, value);
}

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        char path[600], link[600];

        f->t = testbed_new();
        testbed_add_pci(f->t, EDU, 0x1234, 0x11e8, 3, NULL);
        testbed_add_pci(f->t, NIC, 0x8086, 0x10d3, 4, "e1000e");
        testbed_add_pci(f->t, OTHER, 0x1af4, 0x1000, 5, NULL);
        testbed_add_pci(f->t, PORT, 0x1b36, 0x000c, 6, "pcieport");
        set_attr(f->t, EDU, "class", "0x00ff00");
        set_attr(f->t, NIC, "class", "0x020000");
        set_attr(f->t, OTHER, "class", "0x020000");
        set_attr(f->t, PORT, "class", "0x060400");
        /* What the kernel shows when no override is set. */
        set_attr(f->t, EDU, "driver_override", "(null)\n");
        set_attr(f->t, NIC, "driver_override", "(null)\n");
        set_attr(f->t, OTHER, "driver_override", "(null)\n");
        set_attr(f->t, PORT, "driver_override", "(null)\n");

        /* A listed "device" whose bus entry is an absolute symlink to a
         * directory outside the testbed's /sys, holding what would make
         * it reserved and unbound. */
        snprintf(f->outside, sizeof(f->outside), "%s/outside", f->t->root);
        assert_int_equal(mkdir(f->outside, 0755), 0);
        snprintf(path, sizeof(path), "%s/vendor", f->outside);
        write_file(path, "0x1234\n");
        snprintf(path, sizeof(path), "%s/driver_override", f->outside);
        write_file(path, "(null)\n");
        snprintf(link, sizeof(link), "%s/sys/bus/pci/devices/" PLANTED, f->t->root);
        assert_int_equal(symlink(f->outside, link), 0);

        snprintf(f->conf, sizeof(f->conf), "%s/iommud.conf", f->t->root);
        write_file(f->conf, POLICY);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        testbed_free(f->t);
        free(f);
        return 0;
}

/* The whole testbed (its /sys, the outside directory, the policy): every
 * file with its contents, every link with its target, one line each. */
static char *snap;
static size_t snap_len;

static void snap_add(const char *s, size_t n) {
        snap = realloc(snap, snap_len + n + 1);
        assert_non_null(snap);
        memcpy(snap + snap_len, s, n);
        snap_len += n;
        snap[snap_len] = 0;
}

static int snap_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        char buf[8192];
        ssize_t n;
        int fd;

        snap_add(path, strlen(path));
        if (type == FTW_SL) {
                n = readlink(path, buf, sizeof(buf) - 1);
                assert_true(n >= 0);
                snap_add(" -> ", 4);
                snap_add(buf, (size_t) n);
        } else if (type == FTW_F && S_ISREG(st->st_mode)) {
                fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
                if (fd < 0)
                        fail_msg("cannot open %s: %s", path, strerror(errno));
                n = read(fd, buf, sizeof(buf));
                assert_true(n >= 0);
                close(fd);
                snap_add(" = ", 3);
                snap_add(buf, (size_t) n);
        }
        snap_add("\n", 1);
        return 0;
}

static char *snapshot(Fixture *f) {
        snap = NULL;
        snap_len = 0;
        /* nftw walks the real directory: umockdev only redirects /sys. */
        assert_int_equal(nftw(f->t->root, snap_one, 32, FTW_PHYS), 0);
        return snap;
}

/* Run the helper with @argv (after its name); stdout and stderr into
 * @out and @err; its exit status. */
static int run(const char *const *argv, char *out, size_t out_size, char *err, size_t err_size) {
        int po[2], pe[2], st;
        const char *args[16];
        size_t n = 0;
        ssize_t k;
        pid_t pid;

        args[n++] = helper;
        for (; *argv && n < 15; argv++)
                args[n++] = *argv;
        args[n] = NULL;
        assert_int_equal(pipe2(po, O_CLOEXEC), 0);
        assert_int_equal(pipe2(pe, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                /* Inherits the preload and $UMOCKDEV_DIR. */
                dup2(po[1], STDOUT_FILENO);
                dup2(pe[1], STDERR_FILENO);
                execv(helper, (char *const *) args);
                _exit(127);
        }
        close(po[1]);
        close(pe[1]);
        k = read(po[0], out, out_size - 1);
        out[k > 0 ? k : 0] = 0;
        k = read(pe[0], err, err_size - 1);
        err[k > 0 ? k : 0] = 0;
        close(po[0]);
        close(pe[0]);
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        return WEXITSTATUS(st);
}

static char *read_sys(Fixture *f, const char *bdf, const char *attr) {
        static char buf[256];
        char path[600];
        ssize_t n;
        int fd;

        snprintf(path, sizeof(path), "%s/sys/devices/pci0000:00/%s/%s", f->t->root, bdf, attr);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        buf[n > 0 ? n : 0] = 0;
        return buf;
}

/* One device, one event: the word udev gets, and nothing written. */
static void expect_word(Fixture *f, const char *bdf, bool hot_add, const char *word, const char *log) {
        char out[512], err[4096], *before, *after;
        const char *argv[] = { "--config", f->conf, hot_add ? "--hot-add" : bdf, hot_add ? bdf : NULL, NULL };

        before = snapshot(f);
        assert_int_equal(run(argv, out, sizeof(out), err, sizeof(err)), 0);
        after = snapshot(f);
        if (strcmp(out, word) != 0)
                fail_msg("%s%s: printed '%s', expected '%s' (stderr: %s)", bdf, hot_add ? " hot-add" : "", out,
                         word, err);
        if (log && !strstr(err, log))
                fail_msg("%s: stderr lacks '%s': %s", bdf, log, err);
        assert_string_equal(before, after);
        free(before);
        free(after);
}

static void test_one_device(void **state) {
        Fixture *f = *state;

        expect_word(f, EDU, false, "reserve\n", EDU ": reserved by");
        expect_word(f, EDU, true, "reserve\n", EDU ": reserved by");
        expect_word(f, NIC, true, "reserve-unbind\n", "e1000e took it as it was added, unbinding it");
        expect_word(f, NIC, false, "reserve-keep\n", "left there, with driver_override=vfio-pci");
        expect_word(f, OTHER, false, "", NULL);
        expect_word(f, OTHER, true, "", NULL);
        expect_word(f, PORT, true, "", "not reserved: it is a PCI bridge");
}

static void test_all_writes_only_the_reserved(void **state) {
        Fixture *f = *state;
        char out[512], err[4096], *before, *after, *expected, *p;
        const char *argv[] = { "--config", f->conf, "--all", NULL };
        char needle[256];

        before = snapshot(f);
        assert_int_equal(run(argv, out, sizeof(out), err, sizeof(err)), 0);
        after = snapshot(f);
        assert_string_equal(out, "");
        assert_non_null(strstr(err, EDU ": reserved by"));
        assert_non_null(strstr(err, "1 PCI function(s) reserved before coldplug, 0 failed"));
        assert_string_equal(read_sys(f, EDU, "driver_override"), "vfio-pci");

        /* Exactly that one file differs. */
        snprintf(needle, sizeof(needle), "/sys/devices/pci0000:00/" EDU "/driver_override = ");
        p = strstr(before, needle);
        assert_non_null(p);
        p += strlen(needle);
        assert_int_equal(strncmp(p, "(null)\n\n", 8), 0);
        assert_true(asprintf(&expected, "%.*svfio-pci\n%s", (int) (p - before), before, p + 8) > 0);
        assert_string_equal(after, expected);
        free(before);
        free(after);
        free(expected);

        /* A second pass finds it unbound with our override: written
         * again, to the same value. */
        assert_int_equal(run(argv, out, sizeof(out), err, sizeof(err)), 0);
        assert_string_equal(read_sys(f, EDU, "driver_override"), "vfio-pci");
}

static void expect_refused(Fixture *f, const char *name) {
        char out[512], err[4096], *before, *after;
        const char *argv[] = { "--config", f->conf, "--hot-add", name, NULL };

        before = snapshot(f);
        assert_int_equal(run(argv, out, sizeof(out), err, sizeof(err)), 1);
        after = snapshot(f);
        assert_string_equal(out, "");
        if (!strstr(err, "not a canonical PCI address"))
                fail_msg("no refusal for a bad name: %s", err);
        assert_string_equal(before, after);
        free(before);
        free(after);
}

static void test_bad_names(void **state) {
        Fixture *f = *state;
        char garbage[301];

        expect_refused(f, "../x");
        expect_refused(f, EDU "/../../");
        expect_refused(f, "../../../outside");
        expect_refused(f, "/sys/bus/pci/devices/" EDU);
        expect_refused(f, EDU "\n");
        expect_refused(f, "00:03.0");           /* short: not how the kernel names it */
        expect_refused(f, "0000:00:03.0 ");
        expect_refused(f, "");
        /* Three hundred bytes of everything but NUL. */
        for (size_t i = 0; i < 300; i++)
                garbage[i] = (char) (1 + i % 255);
        garbage[300] = 0;
        expect_refused(f, garbage);
}

static void test_planted_symlink(void **state) {
        Fixture *f = *state;
        char out[512], err[4096], *before, *after, path[600];
        const char *argv[] = { "--config", f->conf, "--all", NULL };
        const char *one[] = { "--config", f->conf, "--hot-add", PLANTED, NULL };
        int fd;
        ssize_t n;

        before = snapshot(f);
        /* The link resolves inside the root, where nothing is: skipped. */
        assert_int_equal(run(one, out, sizeof(out), err, sizeof(err)), 1);
        assert_string_equal(out, "");
        assert_int_equal(run(argv, out, sizeof(out), err, sizeof(err)), 0);
        after = snapshot(f);
        /* Only the real reserved device changed... */
        assert_string_equal(read_sys(f, EDU, "driver_override"), "vfio-pci");
        /* ...and the directory outside did not. */
        snprintf(path, sizeof(path), "%s/driver_override", f->outside);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        n = read(fd, path, sizeof(path) - 1);
        close(fd);
        assert_int_equal(n, 7);
        assert_memory_equal(path, "(null)\n", 7);
        assert_string_not_equal(before, after);
        free(before);
        free(after);
}

static void expect_nothing(Fixture *f, const char *conf, const char *log) {
        char out[512], err[4096], *before, *after;
        const char *one[] = { "--config", conf, "--hot-add", EDU, NULL };
        const char *all[] = { "--config", conf, "--all", NULL };

        before = snapshot(f);
        assert_int_equal(run(one, out, sizeof(out), err, sizeof(err)), 0);
        assert_string_equal(out, "");
        if (!strstr(err, log))
                fail_msg("expected '%s' in: %s", log, err);
        assert_int_equal(run(all, out, sizeof(out), err, sizeof(err)), 0);
        assert_string_equal(out, "");
        after = snapshot(f);
        assert_string_equal(before, after);
        free(before);
        free(after);
}

static void test_no_usable_policy(void **state) {
        Fixture *f = *state;
        char path[600];

        snprintf(path, sizeof(path), "%s/missing.conf", f->t->root);
        expect_nothing(f, path, "no device is reserved");
        snprintf(path, sizeof(path), "%s/broken.conf", f->t->root);
        write_file(path, "[Reserve]\nAddress=" EDU "\nAdress=0000:00:04.0\n");
        expect_nothing(f, path, "Not reserving any device: ");
        expect_nothing(f, path, "broken.conf:3: unknown key Adress= in [Reserve]");
        snprintf(path, sizeof(path), "%s/empty.conf", f->t->root);
        write_file(path, "[Assignable]\nAddress=" EDU "\n");
        expect_nothing(f, path, "");
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_one_device, setup, teardown),
                cmocka_unit_test_setup_teardown(test_all_writes_only_the_reserved, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
                cmocka_unit_test_setup_teardown(test_planted_symlink, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_usable_policy, setup, teardown),
        };
        if (argc != 2) {
                fprintf(stderr, "usage: %s IOMMUD-RESERVE\n", argv[0]);
                return 2;
        }
        helper = argv[1];
        if (!testbed_preloaded())
                return 77;
        return cmocka_run_group_tests(tests, NULL, NULL);
}
