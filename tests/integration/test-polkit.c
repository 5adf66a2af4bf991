/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * polkit.c against the real polkitd (Debian's /usr/lib/polkit-1/polkitd)
 * on a private dbus-daemon.
 *
 * In a mount namespace of its own, with tmpfs over polkit's directories
 * holding org.iommud.policy, the example rule and the test's rules below
 * (see polkit-env.h).
 *
 * Subjects are child processes that switch to uid 1000 (allowed) or 1001
 * (not), as varlink peers would be; the test process itself, as root, is
 * the D-Bus subject.  Skips (TAP "1..0 # SKIP", exit 0: under meson's TAP
 * protocol exit 77 would be an error) when not root, without polkitd,
 * dbus-daemon, the user polkitd or polkit's directories, or when mount
 * namespaces are not allowed.
 *
 * What it measures (timeouts, latency, what polkit answers when the
 * subject is gone) is printed as TAP comments.
 *
 * Usage: test-polkit ORG.IOMMUD.POLICY 50-IOMMUD-KVM.RULES.EXAMPLE
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "polkit-env.h"
#include "polkit.h"
#include "shared/macro.h"

#define UID_ALLOWED 1000
#define UID_DENIED 1001
#define TIMEOUT_USEC (1000ULL * 1000ULL)        /* the Polkit's, for the hung-polkitd case */

static const char *policy_file, *example_rules;
static PolkitEnv env;
static sd_event *event;
static Polkit *pk;

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

/* A client connection of the test's own to the private bus. */
static sd_bus *open_bus(void) {
        sd_bus *bus = NULL;

        assert_true(sd_bus_new(&bus) >= 0);
        assert_true(sd_bus_set_address(bus, env.bus_address) >= 0);
        assert_true(sd_bus_set_bus_client(bus, true) >= 0);
        assert_true(sd_bus_start(bus) >= 0);
        return bus;
}

/* A varlink peer stand-in: a process of its own, running as @uid. */
typedef struct Child {
        pid_t pid;
        int pidfd;
        int hold;       /* the child exits when this closes */
} Child;

static void child_start(Child *c, uid_t uid) {
        int hold[2], ready[2];
        char b;

        assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
        assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
        c->pid = fork();
        assert_true(c->pid >= 0);
        if (c->pid == 0) {
                close(hold[1]);
                close(ready[0]);
                if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
                        _exit(1);
                (void) write(ready[1], "x", 1);
                (void) read(hold[0], &b, 1);
                _exit(0);
        }
        close(hold[0]);
        close(ready[1]);
        assert_int_equal(read(ready[0], &b, 1), 1);
        close(ready[0]);
        c->hold = hold[1];
        c->pidfd = (int) syscall(SYS_pidfd_open, c->pid, 0);
        assert_true(c->pidfd >= 0);
}

static void child_exit(Child *c) {
        if (c->hold >= 0)
                close(c->hold);
        c->hold = -1;
        if (c->pid > 0)
                waitpid(c->pid, NULL, 0);
        c->pid = -1;
}

static void child_free(Child *c) {
        child_exit(c);
        if (c->pidfd >= 0)
                close(c->pidfd);
        c->pidfd = -1;
}

typedef struct Verdict {
        bool done;
        bool synchronous;       /* called from inside polkit_check(): a bug */
        int calls;
        int result;
        bool challenge;
        char message[512];
        uint64_t started, finished;
} Verdict;

static bool in_check;

static void on_done(int result, bool challenge, const char *message, void *userdata) {
        Verdict *v = userdata;

        v->done = true;
        v->calls++;
        v->synchronous = in_check;
        v->result = result;
        v->challenge = challenge;
        snprintf(v->message, sizeof(v->message), "%s", message ? message : "");
        v->finished = now_usec();
        if (result < 0 && !message)
                v->message[0] = '!';    /* an error must come with a message */
}

static int start_check(const PolkitSubject *s, const char *action, const char *const *details,
                       bool interactive, Verdict *v, PolkitQuery **q) {
        int r;

        *v = (Verdict) { .started = now_usec() };
        in_check = true;
        r = polkit_check(pk, s, action, details, interactive, on_done, v, q);
        in_check = false;
        return r;
}

static void run_until(const bool *done, uint64_t max_usec) {
        uint64_t end = now_usec() + max_usec;

        while (!*done && now_usec() < end)
                assert_true(sd_event_run(event, 20000) >= 0);
}

static void run_for(uint64_t usec) {
        uint64_t end = now_usec() + usec;

        while (now_usec() < end)
                assert_true(sd_event_run(event, 10000) >= 0);
}

/* One check to its end: its verdict, after the checks every test makes. */
static Verdict check(const PolkitSubject *s, const char *action, const char *const *details) {
        Verdict v;

        assert_int_equal(start_check(s, action, details, false, &v, NULL), 0);
        assert_false(v.done);
        run_until(&v.done, 10 * 1000000ULL);
        assert_true(v.done);
        assert_false(v.synchronous);
        assert_int_equal(v.calls, 1);
        assert_true(v.message[0] != '!');
        if (v.result < 0)
                printf("# %s: %d (%s)\n", action, v.result, v.message);
        return v;
}

static PolkitSubject child_subject(const Child *c, uid_t uid) {
        return POLKIT_SUBJECT_PROCESS_INIT(c->pid, uid, c->pidfd);
}

static void test_allowed_uid(void **state) {
        Child c;
        PolkitSubject s;

        child_start(&c, UID_ALLOWED);
        s = child_subject(&c, UID_ALLOWED);
        assert_int_equal(check(&s, POLKIT_ACTION_CLAIM, NULL).result, 1);
        /* Without the pidfd too: polkit 122 needs only pid, start-time, uid. */
        s.pidfd = -1;
        assert_int_equal(check(&s, POLKIT_ACTION_CLAIM, NULL).result, 1);
        child_free(&c);
}

static void test_other_uid_denied(void **state) {
        Child c;
        PolkitSubject s;
        Verdict v;

        child_start(&c, UID_DENIED);
        s = child_subject(&c, UID_DENIED);
        v = check(&s, POLKIT_ACTION_CLAIM, NULL);
        assert_int_equal(v.result, 0);
        assert_false(v.challenge);
        /* polkit believes the uid it is sent (so it must be SO_PEERCRED's). */
        s.uid = UID_ALLOWED;
        assert_int_equal(check(&s, POLKIT_ACTION_CLAIM, NULL).result, 1);
        child_free(&c);
}

static void test_details_reach_rules(void **state) {
        const char *const yes[] = { POLKIT_DETAIL_DEVICE, "0000:03:00.0", POLKIT_DETAIL_VENDOR, "10de", NULL };
        const char *const no[] = { POLKIT_DETAIL_DEVICE, "0000:04:00.0", POLKIT_DETAIL_VENDOR, "10de", NULL };
        Child c;
        PolkitSubject s;

        child_start(&c, UID_DENIED);
        s = child_subject(&c, UID_DENIED);
        assert_int_equal(check(&s, POLKIT_ACTION_PREPARE, yes).result, 1);
        assert_int_equal(check(&s, POLKIT_ACTION_PREPARE, no).result, 0);
        assert_int_equal(check(&s, POLKIT_ACTION_PREPARE, NULL).result, 0);
        child_free(&c);
}

static void test_challenge(void **state) {
        Child c;
        PolkitSubject s;
        Verdict v;

        child_start(&c, UID_DENIED);
        s = child_subject(&c, UID_DENIED);
        /* The rule says AUTH_ADMIN: not now, but a password could. */
        v = check(&s, POLKIT_ACTION_RELOAD, NULL);
        assert_int_equal(v.result, 0);
        assert_true(v.challenge);
        /* Interactive, with no agent to ask: a plain no. */
        assert_int_equal(start_check(&s, POLKIT_ACTION_RELOAD, NULL, true, &v, NULL), 0);
        run_until(&v.done, 10 * 1000000ULL);
        assert_true(v.done);
        assert_int_equal(v.result, 0);
        printf("# interactive, no agent: result %d, challenge %d\n", v.result, v.challenge);
        child_free(&c);
}

static void test_bus_name_subject(void **state) {
        sd_bus *bus;
        const char *name;
        PolkitSubject s;

        bus = open_bus();
        assert_int_equal(sd_bus_get_unique_name(bus, &name), 0);
        /* polkit looks the name up itself: root, whom polkit always allows
         * (before any rule runs). */
        s = POLKIT_SUBJECT_BUS_NAME_INIT(name);
        assert_int_equal(check(&s, POLKIT_ACTION_MANAGE_MDEV, NULL).result, 1);
        /* Not on the bus (gone): polkit says so with an error. */
        s = POLKIT_SUBJECT_BUS_NAME_INIT(":1.99999");
        assert_int_equal(check(&s, POLKIT_ACTION_MANAGE_MDEV, NULL).result, -ESRCH);
        sd_bus_flush_close_unref(bus);
}

static void test_bad_arguments(void **state) {
        const char *const odd[] = { POLKIT_DETAIL_DEVICE, NULL };
        const char *const not_utf8[] = { POLKIT_DETAIL_DEVICE, "\xff", NULL };
        PolkitSubject s = POLKIT_SUBJECT_PROCESS_INIT(getpid(), 0, -1);
        PolkitSubject none = POLKIT_SUBJECT_PROCESS_INIT(0, 0, -1);
        PolkitSubject well_known = POLKIT_SUBJECT_BUS_NAME_INIT("org.iommud1");
        Verdict v;

        assert_int_equal(start_check(&s, POLKIT_ACTION_CLAIM, odd, false, &v, NULL), -EINVAL);
        assert_int_equal(start_check(&s, POLKIT_ACTION_CLAIM, not_utf8, false, &v, NULL), -EINVAL);
        assert_int_equal(start_check(&none, POLKIT_ACTION_CLAIM, NULL, false, &v, NULL), -EINVAL);
        assert_int_equal(start_check(&well_known, POLKIT_ACTION_CLAIM, NULL, false, &v, NULL), -EINVAL);
        assert_int_equal(start_check(&s, "", NULL, false, &v, NULL), -EINVAL);
        run_for(50000);
        assert_false(v.done);
        assert_int_equal(polkit_pending(pk), 0);
}

static void test_exited_subject(void **state) {
        Child c, other;
        PolkitSubject s;
        Verdict v;
        pid_t dead;

        /* Exited and reaped, its pidfd kept: refused before polkit is asked. */
        child_start(&c, UID_ALLOWED);
        s = child_subject(&c, UID_ALLOWED);
        dead = c.pid;
        child_exit(&c);
        v = check(&s, POLKIT_ACTION_CLAIM, NULL);
        assert_int_equal(v.result, -ESRCH);

        /* Its pid now names another process (as after reuse): the pidfd
         * says it is not the same one. */
        child_start(&other, UID_ALLOWED);
        s.pid = other.pid;
        v = check(&s, POLKIT_ACTION_CLAIM, NULL);
        assert_int_equal(v.result, -ESRCH);
        child_free(&other);

        /* Without a pidfd: /proc/PID is gone. */
        s.pidfd = -1;
        s.pid = dead;
        v = check(&s, POLKIT_ACTION_CLAIM, NULL);
        assert_int_equal(v.result, -ESRCH);
        child_free(&c);

        /* Gone after the check left but before polkit looked: polkit
         * answers with an error, which is a denial. */
        child_start(&c, UID_ALLOWED);
        s = child_subject(&c, UID_ALLOWED);
        kill(env.polkitd_pid, SIGSTOP);
        assert_int_equal(start_check(&s, POLKIT_ACTION_CLAIM, NULL, false, &v, NULL), 0);
        run_for(100000);
        child_exit(&c);
        kill(env.polkitd_pid, SIGCONT);
        run_until(&v.done, 10 * 1000000ULL);
        assert_true(v.done);
        assert_int_equal(v.result, -EIO);
        printf("# exited before polkit looked: %s\n", v.message);
        child_free(&c);

        /* A wrong start time: a process replaced under the same pid.  Not
         * reachable through the API (we read the start time ourselves), so
         * fake it on the wire. */
        child_start(&c, UID_ALLOWED);
        {
                sd_bus *bus;
                sd_bus_message *reply = NULL;
                sd_bus_error error = SD_BUS_ERROR_NULL;
                int r;

                bus = open_bus();
                r = sd_bus_call_method(bus, "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
                                       "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization", &error, &reply,
                                       "(sa{sv})sa{ss}us", "unix-process", 3,
                                       "pid", "u", (uint32_t) c.pid, "start-time", "t", (uint64_t) 1,
                                       "uid", "i", (int32_t) UID_ALLOWED,
                                       POLKIT_ACTION_CLAIM, 0, 0, "");
                assert_true(r < 0);
                printf("# wrong start-time: %s: %s\n", error.name, error.message);
                sd_bus_error_free(&error);
                reply = sd_bus_message_unref(reply);

                /* The same with the right pidfd beside: polkit 122 ignores
                 * the pidfd and still goes by the start time. */
                r = sd_bus_call_method(bus, "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
                                       "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization", &error, &reply,
                                       "(sa{sv})sa{ss}us", "unix-process", 4,
                                       "pid", "u", (uint32_t) c.pid, "start-time", "t", (uint64_t) 1,
                                       "uid", "i", (int32_t) UID_ALLOWED, "pidfd", "h", c.pidfd,
                                       POLKIT_ACTION_CLAIM, 0, 0, "");
                assert_true(r < 0);
                printf("# wrong start-time, right pidfd: %s: %s\n", error.name, error.message);
                sd_bus_error_free(&error);
                sd_bus_message_unref(reply);
                sd_bus_flush_close_unref(bus);
        }
        child_free(&c);
}

static void test_cancel(void **state) {
        Child c;
        PolkitSubject s;
        Verdict v, w;
        PolkitQuery *q;

        child_start(&c, UID_ALLOWED);
        s = child_subject(&c, UID_ALLOWED);

        /* Cancelled while polkitd holds it. */
        kill(env.polkitd_pid, SIGSTOP);
        assert_int_equal(start_check(&s, POLKIT_ACTION_CLAIM, NULL, true, &v, &q), 0);
        assert_int_equal(start_check(&s, POLKIT_ACTION_CLAIM, NULL, false, &w, NULL), 0);
        assert_int_equal(polkit_pending(pk), 2);
        run_for(100000);
        assert_null(polkit_query_cancel(q));
        assert_int_equal(polkit_pending(pk), 1);
        kill(env.polkitd_pid, SIGCONT);
        run_until(&w.done, 10 * 1000000ULL);
        run_for(100000);
        assert_false(v.done);
        assert_true(w.done);
        assert_int_equal(w.result, 1);

        /* Cancelled before its deferred error was reported. */
        child_exit(&c);
        assert_int_equal(start_check(&s, POLKIT_ACTION_CLAIM, NULL, false, &v, &q), 0);
        polkit_query_cancel(q);
        run_for(50000);
        assert_false(v.done);
        assert_int_equal(polkit_pending(pk), 0);
        child_free(&c);
}

static void test_polkitd_killed_mid_check(void **state) {
        Child c;
        PolkitSubject s;
        Verdict v;
        uint64_t killed;

        child_start(&c, UID_ALLOWED);
        s = child_subject(&c, UID_ALLOWED);
        kill(env.polkitd_pid, SIGSTOP);
        assert_int_equal(start_check(&s, POLKIT_ACTION_CLAIM, NULL, false, &v, NULL), 0);
        run_for(100000);
        assert_false(v.done);
        killed = now_usec();
        polkit_env_stop(&env.polkitd_pid, SIGKILL);
        run_until(&v.done, 5 * 1000000ULL);
        assert_true(v.done);
        assert_int_equal(v.result, -ETIMEDOUT);
        printf("# polkitd killed: %s after %.1f ms\n", v.message, (v.finished - killed) / 1000.0);
        assert_true(v.finished - killed < 500000);

        /* Not running: deny at once. */
        v = check(&s, POLKIT_ACTION_CLAIM, NULL);
        assert_int_equal(v.result, -EHOSTUNREACH);
        printf("# polkitd absent: %s after %.1f ms\n", v.message, (v.finished - v.started) / 1000.0);
        assert_true(v.finished - v.started < 500000);

        /* Back: the same connection serves. */
        polkit_env_start_polkitd(&env);
        assert_int_equal(check(&s, POLKIT_ACTION_CLAIM, NULL).result, 1);
        child_free(&c);
}

static void test_polkitd_hung(void **state) {
        Child c;
        PolkitSubject s;
        Verdict v;

        child_start(&c, UID_ALLOWED);
        s = child_subject(&c, UID_ALLOWED);
        kill(env.polkitd_pid, SIGSTOP);
        v = check(&s, POLKIT_ACTION_CLAIM, NULL);
        kill(env.polkitd_pid, SIGCONT);
        assert_int_equal(v.result, -ETIMEDOUT);
        printf("# polkitd stopped: %s after %.1f ms (timeout %.0f ms)\n", v.message,
               (v.finished - v.started) / 1000.0, TIMEOUT_USEC / 1000.0);
        assert_true(v.finished - v.started >= TIMEOUT_USEC - 10000);
        assert_true(v.finished - v.started < TIMEOUT_USEC + 500000);
        /* The late answer to the timed-out call is dropped; the next works. */
        assert_int_equal(check(&s, POLKIT_ACTION_CLAIM, NULL).result, 1);
        child_free(&c);
}

static void test_bus_restarted(void **state) {
        Child c;
        PolkitSubject s;
        Verdict v;
        uint64_t killed;

        child_start(&c, UID_ALLOWED);
        s = child_subject(&c, UID_ALLOWED);
        assert_int_equal(check(&s, POLKIT_ACTION_CLAIM, NULL).result, 1);

        /* The bus goes away under a pending check. */
        kill(env.polkitd_pid, SIGSTOP);
        assert_int_equal(start_check(&s, POLKIT_ACTION_CLAIM, NULL, false, &v, NULL), 0);
        run_for(100000);
        killed = now_usec();
        polkit_env_stop(&env.dbus_pid, SIGKILL);
        run_until(&v.done, 5 * 1000000ULL);
        assert_true(v.done);
        assert_true(v.result < 0);
        printf("# dbus-daemon killed: %d (%s) after %.1f ms\n", v.result, v.message,
               (v.finished - killed) / 1000.0);
        assert_true(v.finished - killed < 500000);
        polkit_env_stop(&env.polkitd_pid, SIGKILL);

        /* No bus at all: an error, still reported from the loop. */
        v = check(&s, POLKIT_ACTION_CLAIM, NULL);
        assert_true(v.result == -ENOENT || v.result == -ECONNREFUSED);
        printf("# no bus: %s\n", v.message);

        /* Bus and polkitd back: the next check connects again. */
        polkit_env_start_bus(&env);
        polkit_env_start_polkitd(&env);
        assert_int_equal(check(&s, POLKIT_ACTION_CLAIM, NULL).result, 1);
        child_free(&c);
}

static int compare_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static void test_latency(void **state) {
        enum { N = 200, M = 100 };
        static uint64_t t[N];
        static Verdict v[M];
        Child c;
        PolkitSubject s;
        uint64_t start;
        bool all;

        child_start(&c, UID_ALLOWED);
        s = child_subject(&c, UID_ALLOWED);
        for (int i = 0; i < N; i++) {
                Verdict one = check(&s, POLKIT_ACTION_CLAIM, NULL);
                assert_int_equal(one.result, 1);
                t[i] = one.finished - one.started;
        }
        qsort(t, N, sizeof(t[0]), compare_u64);
        printf("# %d sequential checks: median %.2f ms, p90 %.2f ms, max %.2f ms\n", N,
               t[N / 2] / 1000.0, t[N * 9 / 10] / 1000.0, t[N - 1] / 1000.0);

        start = now_usec();
        for (int i = 0; i < M; i++)
                assert_int_equal(start_check(&s, POLKIT_ACTION_CLAIM, NULL, false, &v[i], NULL), 0);
        assert_int_equal(polkit_pending(pk), M);
        do {
                all = true;
                for (int i = 0; i < M && all; i++)
                        all = v[i].done;
                if (!all)
                        assert_true(sd_event_run(event, 20000) >= 0);
        } while (!all && now_usec() - start < 20 * 1000000ULL);
        assert_true(all);
        for (int i = 0; i < M; i++)
                assert_int_equal(v[i].result, 1);
        printf("# %d concurrent checks: %.1f ms in all\n", M, (now_usec() - start) / 1000.0);
        child_free(&c);
}

/* The callback may free the Polkit, with other checks still pending and
 * inside the dispatch of the connection it frees (a shutdown). */
static void on_done_free(int result, bool challenge, const char *message, void *userdata) {
        on_done(result, challenge, message, userdata);
        pk = polkit_free(pk);
}

static void test_free_from_callback(void **state) {
        Child c;
        PolkitSubject s;
        Verdict v, w;

        child_start(&c, UID_ALLOWED);
        s = child_subject(&c, UID_ALLOWED);
        v = (Verdict) { .started = now_usec() };
        assert_int_equal(polkit_check(pk, &s, POLKIT_ACTION_CLAIM, NULL, false, on_done_free, &v, NULL), 0);
        assert_int_equal(start_check(&s, POLKIT_ACTION_CLAIM, NULL, false, &w, NULL), 0);
        run_until(&v.done, 10 * 1000000ULL);
        assert_true(v.done);
        assert_int_equal(v.result, 1);
        assert_null(pk);
        run_for(100000);
        assert_false(w.done);   /* dropped with the Polkit, silently */

        assert_int_equal(polkit_new(event, env.bus_address, &pk), 0);
        polkit_set_timeouts(pk, TIMEOUT_USEC, TIMEOUT_USEC);
        assert_int_equal(check(&s, POLKIT_ACTION_CLAIM, NULL).result, 1);
        child_free(&c);
}

static void test_rules_loaded(void **state) {
        /* The example rule compiles (polkitd logs its errors and goes on). */
        polkit_env_assert_rules_loaded(&env, 2);
}

static int setup(void **state) {
        char allowed[64], rules[2048];

        /* A system bus that lets everyone talk. */
        polkit_env_init(&env, "test-polkit",
                        "  <policy context=\"default\">\n"
                        "    <allow user=\"*\"/>\n"
                        "    <allow own=\"*\"/>\n"
                        "    <allow send_type=\"method_call\"/>\n"
                        "    <allow send_type=\"signal\"/>\n"
                        "    <allow send_type=\"method_return\"/>\n"
                        "    <allow send_type=\"error\"/>\n"
                        "    <allow receive_type=\"method_call\"/>\n"
                        "    <allow receive_type=\"signal\"/>\n"
                        "    <allow receive_type=\"method_return\"/>\n"
                        "    <allow receive_type=\"error\"/>\n"
                        "  </policy>\n");
        polkit_env_copy_file(policy_file, POLKIT_ACTIONS_DIR "/org.iommud.policy");
        polkit_env_copy_file(example_rules, POLKIT_RULES_DIR "/50-iommud-kvm.rules");
        polkit_env_user_name(UID_ALLOWED, allowed, sizeof(allowed));
        snprintf(rules, sizeof(rules),
                 "polkit.addRule(function(action, subject) {\n"
                 "        if (action.id == \"org.iommud.claim\")\n"
                 "                return subject.user == \"%s\" ? polkit.Result.YES : polkit.Result.NO;\n"
                 "        if (action.id == \"org.iommud.prepare\")\n"
                 "                return action.lookup(\"device\") == \"0000:03:00.0\" ?\n"
                 "                        polkit.Result.YES : polkit.Result.NO;\n"
                 "        if (action.id == \"org.iommud.reload\")\n"
                 "                return polkit.Result.AUTH_ADMIN;\n"
                 "        if (action.id == \"org.iommud.manage-mdev\")\n"
                 "                return subject.user == \"root\" ? polkit.Result.YES : polkit.Result.NO;\n"
                 "});\n", allowed);
        polkit_env_write_file(POLKIT_RULES_DIR "/10-iommud-test.rules", rules);

        polkit_env_start_bus(&env);
        polkit_env_start_polkitd(&env);

        if (sd_event_new(&event) < 0)
                return -1;
        if (polkit_new(event, env.bus_address, &pk) < 0)
                return -1;
        polkit_set_timeouts(pk, TIMEOUT_USEC, TIMEOUT_USEC);
        return 0;
}

static int teardown(void **state) {
        pk = polkit_free(pk);
        event = sd_event_unref(event);
        polkit_env_done(&env);
        return 0;
}

static int skip_all(const char *why) {
        printf("1..0 # SKIP %s\n", why);
        return 0;
}

int main(int argc, char *argv[]) {
        const char *why;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rules_loaded),
                cmocka_unit_test(test_allowed_uid),
                cmocka_unit_test(test_other_uid_denied),
                cmocka_unit_test(test_details_reach_rules),
                cmocka_unit_test(test_challenge),
                cmocka_unit_test(test_bus_name_subject),
                cmocka_unit_test(test_bad_arguments),
                cmocka_unit_test(test_exited_subject),
                cmocka_unit_test(test_cancel),
                cmocka_unit_test(test_polkitd_hung),
                cmocka_unit_test(test_polkitd_killed_mid_check),
                cmocka_unit_test(test_bus_restarted),
                cmocka_unit_test(test_latency),
                cmocka_unit_test(test_free_from_callback),
        };

        if (argc != 3) {
                fprintf(stderr, "usage: %s ORG.IOMMUD.POLICY RULES.EXAMPLE\n", argv[0]);
                return 2;
        }
        policy_file = argv[1];
        example_rules = argv[2];

        why = polkit_env_enter();
        if (why)
                return skip_all(why);
        signal(SIGPIPE, SIG_IGN);

        return cmocka_run_group_tests(tests, setup, teardown);
}
