/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iommud stopping on SIGTERM, the daemon unmodified, on a umockdev
 * testbed, over varlink: a Prepare whose bind the kernel (the test) has
 * not finished yet is waited for and answered, then iommud exits; meanwhile
 * a new call on an open connection is refused with ShuttingDown, a read is
 * still answered, and the socket iommud bound itself is gone.  At the
 * deadline (--stop-timeout) it exits anyway, naming what it abandons; a
 * second SIGTERM exits at once.
 *
 * Usage (meson passes them): test-stop IOMMUD IOMMUCTL
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "run.h"
#include "testbed.h"

static const char *iommud, *iommuctl;

/* A VF alone in IOMMU group 4, unbound, allowed by Parent=. */
#define VF "0000:03:10.0"
#define VF_OVERRIDE "sys/devices/pci0000:00/" VF "/driver_override"

typedef struct Fixture {
        Testbed *t;
        pid_t daemon;
        char sock[256], log[300], out[300];
} Fixture;

static int connect_to(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int e = errno;
                close(fd);
                return -e;
        }
        return fd;
}

/* @abandons: the test makes iommud exit with work under way, whose memory
 * it then does not free (under ASan, LeakSanitizer would say so). */
static void start(Fixture *f, const char *stop_timeout, bool abandons) {
        f->t = testbed_new();
        testbed_add_sample_host(f->t);
        testbed_add_rebind_files(f->t, VF);
        snprintf(f->sock, sizeof(f->sock), "%s/iommud.sock", f->t->root);
        snprintf(f->log, sizeof(f->log), "%s/iommud.log", f->t->root);
        snprintf(f->out, sizeof(f->out), "%s/prepare.out", f->t->root);
        free(run(NULL, "mkdir %s/state", f->t->root));
        f->daemon = fork();
        assert_true(f->daemon >= 0);
        if (f->daemon == 0) {
                char conf[300], state[300];
                FILE *c;

                snprintf(conf, sizeof(conf), "%s/iommud.conf", f->t->root);
                snprintf(state, sizeof(state), "%s/state", f->t->root);
                c = fopen(conf, "we");
                if (!c || !freopen(f->log, "w", stderr))
                        _exit(126);
                fputs("[Assignable]\nParent=0000:03:00.0\n", c);
                fclose(c);
                if (abandons) {
                        char opts[512];
                        snprintf(opts, sizeof(opts), "%s:detect_leaks=0",
                                 getenv("ASAN_OPTIONS") ? getenv("ASAN_OPTIONS") : "");
                        setenv("ASAN_OPTIONS", opts, 1);
                }
                execl(iommud, iommud, "--varlink-socket", f->sock, "--config", conf, "--state-dir", state,
                      "--no-dbus", "--stop-timeout", stop_timeout, (char *) NULL);
                _exit(127);
        }
        /* Until it accepts: the socket file is there from bind(), a
         * moment before listen(). */
        for (int i = 0; i < 500; i++) {
                int fd = connect_to(f->sock);
                if (fd >= 0) {
                        close(fd);
                        return;
                }
                usleep(10000);
        }
        fail_msg("iommud does not accept on %s", f->sock);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        start(f, "20", false);
        *state = f;
        return 0;
}

static int setup_abandoning(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        start(f, "20", true);
        *state = f;
        return 0;
}

static int setup_short(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        start(f, "1", true);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        if (f->daemon > 0) {
                kill(f->daemon, SIGKILL);
                (void) waitpid(f->daemon, NULL, 0);
        }
        testbed_free(f->t);
        free(f);
        return 0;
}

/* Send @call on @fd and return the reply (to be freed), or NULL at EOF. */
static char *call(int fd, const char *message) {
        char *buf = calloc(1, 65536);
        size_t n = 0;

        assert_non_null(buf);
        if (write(fd, message, strlen(message) + 1) != (ssize_t) strlen(message) + 1) {
                free(buf);
                return NULL;
        }
        while (n < 65535) {
                ssize_t k = read(fd, buf + n, 1);
                if (k <= 0) {
                        free(buf);
                        return NULL;
                }
                if (buf[n] == 0)
                        return buf;
                n++;
        }
        fail_msg("reply too long");
        return NULL;
}

/* The daemon's exit status within @seconds; -1 while it runs on.  Not 0:
 * its log goes to the test's output. */
static int wait_exit(Fixture *f, double seconds) {
        for (int i = 0; i < (int) (seconds * 100); i++) {
                int st;
                pid_t p = waitpid(f->daemon, &st, WNOHANG);
                assert_true(p >= 0);
                if (p == f->daemon) {
                        f->daemon = 0;
                        st = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                        if (st != 0) {
                                char *out = run(NULL, "cat %s", f->log);
                                printf("# iommud exited %d; its log:\n%s", st, out);
                                free(out);
                        }
                        return st;
                }
                usleep(10000);
        }
        return -1;
}

/* iommud's log has @text within 3 s. */
static bool log_has(Fixture *f, const char *text) {
        return testbed_wait_file(f->t, "iommud.log", text, 3);
}

/* iommuctl prepare VF in the background; its output and "rc=N" in
 * f->out; returns once the job waits for the kernel to bind. */
static void prepare_in_background(Fixture *f) {
        free(run(NULL, "( %s --socket %s --json prepare " VF " >%s 2>&1; echo rc=$? >>%s ) >/dev/null 2>&1 &",
                 iommuctl, f->sock, f->out, f->out));
        if (!testbed_wait_file(f->t, VF_OVERRIDE, "vfio-pci", 5) ||
            !testbed_wait_file(f->t, "sys/bus/pci/drivers_probe", VF, 5))
                fail_msg("the Prepare did not get to the bind: %s\n%s", run(NULL, "cat %s", f->out),
                         run(NULL, "cat %s", f->log));
}

static void test_stop_waits_for_rebind(void **state) {
        Fixture *f = *state;
        char *reply, *out;
        int idle = connect_to(f->sock), fd;

        assert_true(idle >= 0);
        prepare_in_background(f);
        assert_int_equal(kill(f->daemon, SIGTERM), 0);
        if (!log_has(f, "Stopping: waiting up to 20 s for 1 operation: prepare of IOMMU group 4 (1 device)"))
                fail_msg("no 'waiting' line:\n%s", run(NULL, "cat %s", f->log));

        /* Still running, for the rebind: calls that would start work are
         * refused, reads answered; no new connections. */
        reply = call(idle, "{\"method\":\"org.iommud.Manager.Prepare\",\"parameters\":{\"devices\":[\"" VF "\"]}}");
        assert_non_null(reply);
        if (!strstr(reply, "\"error\":\"org.iommud.Manager.ShuttingDown\"") || !strstr(reply, "iommud is stopping"))
                fail_msg("Prepare while stopping: %s", reply);
        free(reply);
        reply = call(idle, "{\"method\":\"org.iommud.Manager.GetStatus\"}");
        if (!reply)
                fail_msg("no answer to GetStatus while stopping:\n%s", run(NULL, "cat %s", f->log));
        if (strstr(reply, "\"error\"") || !strstr(reply, "\"version\""))
                fail_msg("GetStatus while stopping: %s", reply);
        free(reply);
        fd = connect_to(f->sock);
        assert_int_equal(fd, -ENOENT);
        out = run(NULL, "%s --socket %s status", iommuctl, f->sock);
        free(out);
        assert_int_equal(wait_exit(f, 0.5), -1);

        /* The kernel binds: the Prepare is answered, and iommud exits. */
        testbed_bind(f->t, VF, "vfio-pci");
        assert_int_equal(wait_exit(f, 10), 0);
        /* iommuctl has its answer; the shell's "rc=" may come a moment
         * after iommud exited. */
        (void) testbed_wait_file(f->t, "prepare.out", "rc=", 5);
        out = run(NULL, "cat %s", f->out);
        if (!strstr(out, "rc=0") || !strstr(out, "\"rebound\""))
                fail_msg("the Prepare in flight: %s", out);
        free(out);
        assert_true(log_has(f, "Stopping: prepare of IOMMU group 4 (1 device) finished; nothing is under way any "
                               "more"));
        assert_true(log_has(f, "Stopped; no leases were held"));
        /* The open connection ends with the process. */
        reply = call(idle, "{\"method\":\"org.iommud.Manager.GetStatus\"}");
        assert_null(reply);
        close(idle);
}

static void test_stop_deadline(void **state) {
        Fixture *f = *state;
        struct timespec a, b;
        char *out;

        prepare_in_background(f);
        clock_gettime(CLOCK_MONOTONIC, &a);
        assert_int_equal(kill(f->daemon, SIGTERM), 0);
        /* The bind never comes: at the deadline (1 s), not the rebind's
         * own (10 s), iommud exits, saying what it leaves. */
        assert_int_equal(wait_exit(f, 8), 0);
        clock_gettime(CLOCK_MONOTONIC, &b);
        assert_true(b.tv_sec - a.tv_sec < 5);
        if (!log_has(f, "Stopping: gave up waiting after 1 s; exiting with work still under way, 1 operation: "
                        "prepare of IOMMU group 4 (1 device), for 1."))
                fail_msg("no 'gave up' line:\n%s", run(NULL, "cat %s", f->log));
        /* The record stays for a restore. */
        out = run(NULL, "ls %s/state/prepared", f->t->root);
        if (!strstr(out, VF))
                fail_msg("no record of " VF ": %s", out);
        free(out);
}

static void test_second_signal(void **state) {
        Fixture *f = *state;

        prepare_in_background(f);
        assert_int_equal(kill(f->daemon, SIGTERM), 0);
        assert_true(log_has(f, "Stopping: waiting up to 20 s"));
        assert_int_equal(kill(f->daemon, SIGINT), 0);
        assert_int_equal(wait_exit(f, 3), 0);
        assert_true(log_has(f, "Received SIGINT again: exiting now, abandoning 1 operation: prepare of IOMMU group 4"));
}

/* Nothing under way: the stop is immediate. */
static void test_stop_idle(void **state) {
        Fixture *f = *state;

        assert_int_equal(kill(f->daemon, SIGTERM), 0);
        assert_int_equal(wait_exit(f, 3), 0);
        assert_true(log_has(f, "Stopping: nothing is under way"));
}

/* A client that connected just before the stop and asks a moment after
 * it gets its answer (ShuttingDown), not a closed connection. */
static void test_stop_answers_a_silent_client(void **state) {
        Fixture *f = *state;
        int fd = connect_to(f->sock);
        char *reply;

        assert_true(fd >= 0);
        usleep(100000);         /* accepted by now */
        assert_int_equal(kill(f->daemon, SIGTERM), 0);
        usleep(200000);         /* the stop is under way; the client has not asked yet */
        reply = call(fd, "{\"method\":\"org.iommud.Manager.Reload\",\"parameters\":{}}");
        assert_non_null(reply);
        assert_non_null(strstr(reply, "org.iommud.Manager.ShuttingDown"));
        free(reply);
        close(fd);
        assert_int_equal(wait_exit(f, 3), 0);
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_stop_idle, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stop_answers_a_silent_client, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stop_waits_for_rebind, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stop_deadline, setup_short, teardown),
                cmocka_unit_test_setup_teardown(test_second_signal, setup_abandoning, teardown),
        };
        if (!testbed_preloaded() || argc != 3)
                return 77;
        iommud = argv[1];
        iommuctl = argv[2];
        return cmocka_run_group_tests(tests, NULL, NULL);
}
