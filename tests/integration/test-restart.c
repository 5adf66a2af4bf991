/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iommud, unmodified, starting where an earlier iommud left a state file
 * (on a umockdev testbed; the fd store and the kernel's files are the VM
 * check restart's): a damaged file is reported, kept aside and not
 * trusted, and a fresh one written; a lease whose holder exited while
 * iommud was down ends at the start and its group is free again; an
 * access-mode lease whose holder lives is taken back under its id, its
 * group held, and ends when the holder exits.
 *
 * Usage (meson passes them): test-restart IOMMUD IOMMUCTL
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
#include <json-c/json.h>

#include "run.h"
#include "testbed.h"

static const char *iommud, *iommuctl;

#define LEASE "00000000c0ffee01"
#define VF "0000:03:10.0"       /* IOMMU group 4 in the sample host */

typedef struct Fixture {
        Testbed *t;
        pid_t daemon;
        pid_t holder;           /* a process a recorded lease names, or 0 */
        char sock[256], log[256], dir[256];
} Fixture;

static void wait_log(Fixture *f, const char *text) {
        testbed_expect_file(f->t, "iommud.log", text, 10);
}

static json_object *ctl(Fixture *f, const char *args) {
        char *out = run(NULL, "{ %s --socket %s --json %s 2>/dev/null; }", iommuctl, f->sock, args);
        json_object *o = json_tokener_parse(out);

        free(out);
        assert_non_null(o);
        return o;
}

/* /proc/PID/stat's start time, as iommud records a holder's. */
static unsigned long long start_time(pid_t pid) {
        char path[64], *text, *p;
        unsigned long long v = 0;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        text = slurp(path);
        p = strrchr(text, ')');
        assert_non_null(p);
        p++;            /* the space before field 3 */
        for (int field = 3; field < 22 && p; field++)
                p = strchr(p + 1, ' ');
        assert_non_null(p);
        v = strtoull(p + 1, NULL, 10);
        free(text);
        return v;
}

static void start(Fixture *f) {
        struct stat st;

        f->daemon = fork();
        assert_true(f->daemon >= 0);
        if (f->daemon == 0) {
                char conf[300];
                if (!freopen(f->log, "w", stderr))
                        _exit(126);
                snprintf(conf, sizeof(conf), "%s/none.conf", f->t->root);
                execl(iommud, iommud, "--state-dir", f->dir, "--varlink-socket", f->sock, "--config", conf,
                      "--log-level", "info", (char *) NULL);
                _exit(127);
        }
        for (int i = 0; i < 500 && stat(f->sock, &st) < 0; i++)
                usleep(10000);
        assert_int_equal(stat(f->sock, &st), 0);
}

/* A testbed, and @state (a printf format taking the holder's pid and
 * start time, or NULL) as the state file an earlier iommud left. */
static Fixture *setup_with(const char *state, bool holder_alive, bool vf_on_vfio) {
        Fixture *f = calloc(1, sizeof(*f));
        FILE *c;

        assert_non_null(f);
        f->t = testbed_new();
        testbed_add_sample_host(f->t);
        snprintf(f->sock, sizeof(f->sock), "%s/iommud.sock", f->t->root);
        snprintf(f->log, sizeof(f->log), "%s/iommud.log", f->t->root);
        snprintf(f->dir, sizeof(f->dir), "%s/run", f->t->root);
        assert_int_equal(mkdir(f->dir, 0700), 0);
        if (vf_on_vfio)
                testbed_set_driver(f->t, VF, "vfio-pci");
        if (state) {
                char path[300];
                unsigned long long t;

                f->holder = fork();
                assert_true(f->holder >= 0);
                if (f->holder == 0) {
                        pause();
                        _exit(0);
                }
                t = start_time(f->holder);
                if (!holder_alive) {
                        kill(f->holder, SIGKILL);
                        assert_int_equal(waitpid(f->holder, NULL, 0), f->holder);
                }
                snprintf(path, sizeof(path), "%s/state.json", f->dir);
                c = fopen(path, "we");
                assert_non_null(c);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
                fprintf(c, state, (int) f->holder, t);  /* the tests' own formats */
#pragma GCC diagnostic pop
                assert_int_equal(fclose(c), 0);
                if (!holder_alive)
                        f->holder = 0;
        }
        start(f);
        return f;
}

static int teardown(void **state) {
        Fixture *f = *state;
        int status;

        if (f->holder > 0) {
                kill(f->holder, SIGKILL);
                waitpid(f->holder, NULL, 0);
        }
        kill(f->daemon, SIGTERM);
        assert_int_equal(waitpid(f->daemon, &status, 0), f->daemon);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        testbed_free(f->t);
        free(f);
        return 0;
}

static json_object *last_start(Fixture *f) {
        json_object *s = ctl(f, "status"), *ls = NULL;

        assert_true(json_object_object_get_ex(s, "lastStart", &ls));
        assert_non_null(ls);
        json_object_get(ls);
        json_object_put(s);
        return ls;
}

static int64_t iget(json_object *o, const char *k) {
        json_object *v;
        assert_true(json_object_object_get_ex(o, k, &v));
        return json_object_get_int64(v);
}

static const char *claim_of_group(Fixture *f, int g, char buf[static 32]) {
        char args[32];
        json_object *o, *v;

        snprintf(args, sizeof(args), "group %d", g);
        o = ctl(f, args);
        assert_true(json_object_object_get_ex(o, "claim", &v));
        snprintf(buf, 32, "%s", json_object_get_string(v));
        json_object_put(o);
        return buf;
}

static void wait_group_free(Fixture *f, int g) {
        char buf[32];
        for (int i = 0; i < 400; i++) {
                if (strcmp(claim_of_group(f, g, buf), "free") == 0)
                        return;
                usleep(25000);
        }
        fail_msg("group %d is %s, not free", g, buf);
}

static void test_no_state(void **state) {
        Fixture *f = *state = setup_with(NULL, false, false);
        json_object *ls = last_start(f);
        char path[300], *text;

        assert_string_equal(json_object_get_string(json_object_object_get(ls, "stateFile")), "none");
        assert_int_equal(iget(ls, "recoveredLeases"), 0);
        json_object_put(ls);
        /* The file is there from the start on, with no lease. */
        snprintf(path, sizeof(path), "%s/state.json", f->dir);
        text = slurp(path);
        assert_non_null(strstr(text, "\"leases\":[]"));
        free(text);
}

static void test_damaged(void **state) {
        Fixture *f = *state = setup_with("{\"version\":1,\"bootId\":\"\",\"leases\":[],\"releasing\":[],"
                                         "\"extra\":%d%llu}", false, false);
        json_object *ls = last_start(f);
        char path[300], *text;

        assert_string_equal(json_object_get_string(json_object_object_get(ls, "stateFile")), "damaged");
        assert_non_null(strstr(json_object_get_string(json_object_object_get(ls, "problem")), "unknown key \"extra\""));
        json_object_put(ls);
        wait_log(f, "state.json is damaged (unknown key \"extra\")");
        snprintf(path, sizeof(path), "%s/state.json.damaged", f->dir);
        text = slurp(path);
        assert_non_null(strstr(text, "\"extra\""));
        free(text);
        snprintf(path, sizeof(path), "%s/state.json", f->dir);
        text = slurp(path);
        assert_null(strstr(text, "extra"));
        assert_non_null(strstr(text, "\"leases\":[]"));
        free(text);
        text = run(NULL, "%s --socket %s status", iommuctl, f->sock);
        assert_non_null(strstr(text, "the state file was DAMAGED"));
        free(text);
}

#define LEASE_RECORD_RELEASE(backend, mode, groups, cdev, release)                                               \
        "{\"version\":1,\"bootId\":\"\",\"leases\":[{\"id\":\"" LEASE "\",\"mode\":\"" mode "\","              \
        "\"backend\":\"" backend "\",\"holder\":{\"pid\":%d,\"uid\":0,\"command\":\"qemu\",\"startTime\":%llu}," \
        "\"owner\":{\"pid\":1,\"uid\":0,\"command\":\"libvirtd\",\"startTime\":1},\"created\":1,\"memlock\":0,"   \
        "\"ioasId\":0,\"iommuSet\":false,\"groups\":" groups ",\"devices\":[{\"name\":\"" VF "\",\"group\":4,"   \
        "\"cdev\":\"" cdev "\",\"devid\":0,\"ptId\":0}],\"moved\":[]," release "}],\"releasing\":[]}\n"
#define LEASE_RECORD(backend, mode, groups, cdev)                                                                  \
        LEASE_RECORD_RELEASE(backend, mode, groups, cdev, "\"releaseReason\":null,\"releaseDeadline\":0")

static void test_holder_gone(void **state) {
        Fixture *f = *state = setup_with(LEASE_RECORD("iommufd", "bound", "[]", "vfio0"), false, false);
        json_object *ls = last_start(f), *leases;

        assert_string_equal(json_object_get_string(json_object_object_get(ls, "stateFile")), "ok");
        assert_int_equal(iget(ls, "recoveredLeases"), 1);
        assert_int_equal(iget(ls, "withoutFiles"), 1);
        assert_int_equal(iget(ls, "endedLeases"), 1);
        json_object_put(ls);
        wait_log(f, "Lease " LEASE " of qemu");
        wait_log(f, "ended: its holder exited while iommud was not running");
        leases = ctl(f, "leases");
        assert_int_equal(json_object_array_length(leases), 0);
        json_object_put(leases);
        wait_group_free(f, 4);
}

static void test_access_kept(void **state) {
        Fixture *f = *state = setup_with(LEASE_RECORD("legacy", "access", "[{\"id\":4,\"acl\":true}]", ""), true, true);
        json_object *ls = last_start(f), *leases;
        char buf[32];

        assert_int_equal(iget(ls, "recoveredLeases"), 1);
        assert_int_equal(iget(ls, "endedLeases"), 0);
        json_object_put(ls);
        leases = ctl(f, "leases");
        assert_int_equal(json_object_array_length(leases), 1);
        assert_string_equal(json_object_get_string(json_object_object_get(json_object_array_get_idx(leases, 0), "id")),
                            LEASE);
        json_object_put(leases);
        assert_string_equal(claim_of_group(f, 4, buf), "held");

        /* iommud stops: the lease stays as it is (no ACL entry revoked,
         * which here would log that it cannot be), and the next start
         * takes it back again. */
        kill(f->daemon, SIGTERM);
        assert_int_equal(waitpid(f->daemon, NULL, 0), f->daemon);
        {
                char *log = slurp(f->log);
                assert_null(strstr(log, "revoke"));
                free(log);
        }
        start(f);
        leases = ctl(f, "leases");
        assert_int_equal(json_object_array_length(leases), 1);
        json_object_put(leases);
        assert_string_equal(claim_of_group(f, 4, buf), "held");

        /* Its holder goes: the lease ends, found through pid and start time. */
        kill(f->holder, SIGKILL);
        assert_int_equal(waitpid(f->holder, NULL, 0), f->holder);
        f->holder = 0;
        wait_log(f, "Lease " LEASE " of qemu (pid");
        wait_log(f, "ended: its holder exited");
        wait_group_free(f, 4);
}

/* The device left its VFIO driver while iommud was down: the lease taken
 * back loses it at once, and with its last device ends. */
static void test_device_gone_meanwhile(void **state) {
        Fixture *f = *state = setup_with(LEASE_RECORD("legacy", "access", "[{\"id\":4,\"acl\":true}]", ""), true,
                                         false);
        json_object *leases;

        wait_log(f, "taken back: access mode, 1 devices");
        wait_log(f, VF " is being removed or unbound from its VFIO driver");
        wait_log(f, "ended: its last device, " VF);
        leases = ctl(f, "leases");
        assert_int_equal(json_object_array_length(leases), 0);
        json_object_put(leases);
        wait_group_free(f, 4);
}

/* A release request's deadline passed while iommud was down: the lease
 * taken back ends at once, for that reason. */
static void test_release_deadline_passed(void **state) {
        Fixture *f = *state = setup_with(LEASE_RECORD_RELEASE("legacy", "access", "[{\"id\":4,\"acl\":true}]", "",
                                                              "\"releaseReason\":\"host maintenance\","
                                                              "\"releaseDeadline\":1"),
                                         true, true);
        json_object *leases;

        wait_log(f, "taken back: access mode, 1 devices");
        wait_log(f, "ended: the grace period of a release request ran out");
        leases = ctl(f, "leases");
        assert_int_equal(json_object_array_length(leases), 0);
        json_object_put(leases);
        wait_group_free(f, 4);
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_no_state, teardown),
                cmocka_unit_test_teardown(test_damaged, teardown),
                cmocka_unit_test_teardown(test_holder_gone, teardown),
                cmocka_unit_test_teardown(test_access_kept, teardown),
                cmocka_unit_test_teardown(test_device_gone_meanwhile, teardown),
                cmocka_unit_test_teardown(test_release_deadline_passed, teardown),
        };
        if (!testbed_preloaded() || argc != 3)
                return 77;
        iommud = argv[1];
        iommuctl = argv[2];
        return cmocka_run_group_tests(tests, NULL, NULL);
}
