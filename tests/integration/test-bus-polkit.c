/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iommud's D-Bus face against the real polkitd: the daemon unmodified, on
 * a umockdev testbed, on a private dbus-daemon (Debian's, with iommud's
 * and polkit's bus policies included) beside Debian's polkitd, in a mount
 * namespace of its own with tmpfs over polkit's directories (see
 * polkit-env.h); busctl and gdbus, not ours, as the clients, as users
 * other than root (setpriv; users of Debian's base-passwd, as dbus-daemon
 * refuses a uid without a passwd entry):
 *
 *   daemon  a rule lets it Reload, and Prepare 01:00.0 only (by device,
 *           vendor and driver: the details a D-Bus caller's check has);
 *   nobody  no rule: the policy's defaults decide;
 *   bin     a rule that takes 3 s (polkit.spawn) before it says yes, to
 *           stop polkitd, or the caller, in the middle of a check.
 *
 * Interactive authorization is seen from both ends: the error a caller
 * gets without the message's flag, and pkttyagent, registered for the
 * caller's process, asked for a password only when the flag is given.
 *
 * Nothing of this machine's is moved: iommud sees the testbed only (setup
 * checks that it does), and the authorized calls are Reload, and Prepare
 * and Claim of devices iommud.conf refuses or cannot hand out.  What it
 * measures is printed as TAP comments.  Skips (TAP "1..0 # SKIP", exit 0)
 * when not root, without polkitd (pkttyagent with it), dbus-daemon,
 * busctl, gdbus, setpriv or jq, or without mount namespaces.
 *
 * Usage (meson passes them): test-bus-polkit IOMMUD IOMMUCTL BUS-POLICY
 * ORG.IOMMUD.POLICY
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <pwd.h>
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
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "bus-policy.h"
#include "polkit-env.h"
#include "run.h"
#include "testbed.h"

#define USER_ALLOWED "daemon"
#define USER_DENIED "nobody"
#define USER_STALL "bin"
#define STALL_SEC 3

#define PKTTYAGENT "/usr/bin/pkttyagent"
#define POLKIT_BUS_POLICY "/usr/share/dbus-1/system.d/org.freedesktop.PolicyKit1.conf"
#define CONFIG "[Assignable]\nParent=0000:03:00.0\nAddress=01:01.0\n"
/* A method of org.iommud1.Manager, by gdbus. */
#define GDBUS "gdbus call --address %s --dest org.iommud1 --object-path /org/iommud1 --method org.iommud1.Manager."

static const char *iommud, *iommuctl, *bus_policy, *policy_file;
/* umockdev's preload, for iommud alone: the clients, dbus-daemon and
 * polkitd run without it. */
static char *preload;
static PolkitEnv env;
static Testbed *tb;
static pid_t daemon_pid = -1;
static uid_t uid_allowed, uid_denied, uid_stall;
static char sock[256], log_path[300], config[300], stalling[256];

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

/* @fmt run by @uid, its output and exit status. */
__attribute__((format(printf, 3, 4))) static char *run_as(uid_t uid, int *ret_status, const char *fmt, ...) {
        char cmd[2048];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(cmd, sizeof(cmd), fmt, ap);
        va_end(ap);
        return run(ret_status, "setpriv --reuid=%u --regid=%u --clear-groups %s", (unsigned) uid, (unsigned) uid,
                   cmd);
}

/* The same in the background, its output to @out; the pid is the
 * client's own (sh and setpriv exec it). */
__attribute__((format(printf, 3, 4))) static pid_t start_as(uid_t uid, const char *out, const char *fmt, ...) {
        char cmd[2048], line[2400];
        va_list ap;
        pid_t pid;

        va_start(ap, fmt);
        vsnprintf(cmd, sizeof(cmd), fmt, ap);
        va_end(ap);
        snprintf(line, sizeof(line), "exec setpriv --reuid=%u --regid=%u --clear-groups %s >%s 2>&1",
                 (unsigned) uid, (unsigned) uid, cmd, out);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                execl("/bin/sh", "sh", "-c", line, (char *) NULL);
                _exit(127);
        }
        return pid;
}

/* The D-Bus error's name in gdbus's output ("GDBus.Error:NAME: ..."),
 * "" when there is none. */
static const char *error_of(const char *out, char *buf, size_t size) {
        const char *p = strstr(out, "GDBus.Error:");
        size_t n = 0;

        buf[0] = 0;
        if (!p)
                return buf;
        p += strlen("GDBus.Error:");
        while (n + 1 < size && p[n] && p[n] != ':')
                n++;
        memcpy(buf, p, n);
        buf[n] = 0;
        return buf;
}

/* A gdbus call's outcome: its error's name, and @text in its output. */
static void expect_error(const char *out, int st, const char *name, const char *text) {
        char e[128];

        if (st == 0 || strcmp(error_of(out, e, sizeof(e)), name) != 0 || (text && !strstr(out, text)))
                fail_msg("expected %s%s%s, got (exit %d):\n%s", name, text ? " saying " : "", text ? text : "", st,
                         out);
}

static void expect_success(const char *out, int st) {
        if (st != 0)
                fail_msg("expected success, got (exit %d):\n%s", st, out);
}

static bool log_has(const char *text) {
        char *out = run(NULL, "cat %s", log_path);
        bool has = strstr(out, text) != NULL;

        free(out);
        return has;
}

static unsigned assignable_rules(void) {
        unsigned n = 0;
        int st;
        char *out = run(&st, "busctl --address=%s get-property org.iommud1 /org/iommud1 org.iommud1.Manager "
                        "AssignableRules", env.bus_address);

        assert_int_equal(st, 0);
        assert_int_equal(sscanf(out, "u %u", &n), 1);
        free(out);
        return n;
}

/* iommud.conf: the sample's, and @extra [Assignable] rules more, each
 * naming 00:1f.0 (no IOMMU group: nothing to move). */
static void write_config(unsigned extra) {
        char text[512];

        snprintf(text, sizeof(text), CONFIG);
        for (unsigned i = 0; i < extra; i++)
                strncat(text, "Address=0000:00:1f.0\n", sizeof(text) - strlen(text) - 1);
        polkit_env_write_file(config, text);
}

/* A Reload by @uid, with @client: "gdbus" or "busctl", as they call by
 * default (gdbus without the allow-interactive-authorization flag,
 * busctl with it), "gdbus-interactive" or "busctl-no".  Allowed, it
 * reads iommud.conf again (the count of rules changes); refused, it does
 * not. */
static char *reload(uid_t uid, int *st, bool allowed, const char *client) {
        unsigned before = assignable_rules();
        const char *flag = "";
        char *out;

        write_config(before == 2 ? 1 : 0);
        if (strcmp(client, "busctl-no") == 0)
                flag = " --allow-interactive-authorization=no";
        else if (strcmp(client, "gdbus-interactive") == 0)
                flag = " --interactive";
        if (strncmp(client, "busctl", 6) == 0)
                out = run_as(uid, st, "busctl%s --address=%s call org.iommud1 /org/iommud1 org.iommud1.Manager Reload",
                             flag, env.bus_address);
        else
                out = run_as(uid, st, "gdbus call%s --address %s --dest org.iommud1 --object-path /org/iommud1 "
                             "--method org.iommud1.Manager.Reload", flag, env.bus_address);
        if (allowed)
                assert_int_not_equal(assignable_rules(), before);
        else
                assert_int_equal(assignable_rules(), before);
        return out;
}

static void start_daemon(void) {
        struct stat st;

        daemon_pid = fork();
        assert_true(daemon_pid >= 0);
        if (daemon_pid == 0) {
                if (!freopen(log_path, "w", stderr))
                        _exit(126);
                setenv("DBUS_SYSTEM_BUS_ADDRESS", env.bus_address, 1);
                if (preload)
                        setenv("LD_PRELOAD", preload, 1);
                char statedir[300];
                snprintf(statedir, sizeof(statedir), "%s/run", tb->root);
                /* Not the host's /run/iommud: its own records. */
                execl(iommud, iommud, "--state-dir", statedir,
                      "--varlink-socket", sock, "--config", config, "--log-level", "info",
                      (char *) NULL);
                _exit(127);
        }
        for (int i = 0; i < 500 && stat(sock, &st) < 0; i++)
                usleep(10000);
        assert_int_equal(stat(sock, &st), 0);
        for (int i = 0; i < 500 && polkit_env_name_has_owner(&env, "org.iommud1") <= 0; i++)
                usleep(10000);
        if (polkit_env_name_has_owner(&env, "org.iommud1") <= 0) {
                char *out = run(NULL, "cat %s", log_path);
                fail_msg("org.iommud1 is not on the bus; iommud's log:\n%s", out);
        }
}

/* polkitd again, with @policy as org.iommud.policy. */
static void restart_polkitd(const char *policy) {
        polkit_env_stop(&env.polkitd_pid, SIGTERM);
        polkit_env_write_file(POLKIT_ACTIONS_DIR "/org.iommud.policy", policy);
        polkit_env_start_polkitd(&env);
}

static char *read_policy(void) {
        char *out;
        int st;

        out = run(&st, "cat %s", policy_file);
        assert_int_equal(st, 0);
        return out;
}

/* Waits until the stalling rule runs (it touches a file first). */
static void wait_stalling(void) {
        struct stat st;

        for (int i = 0; i < 500 && stat(stalling, &st) < 0; i++)
                usleep(10000);
        if (stat(stalling, &st) < 0) {
                polkit_env_dump_log(&env, "polkitd.log");
                fail_msg("the stalling rule did not run");
        }
        (void) unlink(stalling);
}

static void test_rules_loaded(void **state) {
        polkit_env_assert_rules_loaded(&env, 1);
}

/* A rule says yes to daemon: the call succeeds, on both clients, and
 * iommud.conf is read again. */
static void test_allowed(void **state) {
        char *out;
        int st;

        out = reload(uid_allowed, &st, true, "gdbus");
        expect_success(out, st);
        assert_string_equal(out, "()\n");
        free(out);
        out = reload(uid_allowed, &st, true, "busctl");
        expect_success(out, st);
        free(out);
        /* Reading is open to everyone: no polkit there. */
        out = run_as(uid_denied, &st, "busctl --address=%s get-property org.iommud1 /org/iommud1/group/2 "
                     "org.iommud1.Group Viable", env.bus_address);
        expect_success(out, st);
        assert_string_equal(out, "b false\n");
        free(out);
}

/* No rule for nobody: the policy's default for anyone (allow_any, no
 * session here) is no; PermissionDenied, and iommud.conf is not read. */
static void test_denied(void **state) {
        char want[160], *out;
        int st;

        out = reload(uid_denied, &st, false, "gdbus");
        snprintf(want, sizeof(want),
                 "uid %u may not reload the policy: polkit action org.iommud.reload is not allowed", uid_denied);
        expect_error(out, st, "org.iommud1.Error.PermissionDenied", want);
        free(out);
        /* busctl prints the message only. */
        out = reload(uid_denied, &st, false, "busctl");
        assert_int_not_equal(st, 0);
        if (!strstr(out, want))
                fail_msg("busctl Reload by uid %u: %s", uid_denied, out);
        free(out);
}

/* The details reach the rules for a D-Bus caller: the rule lets daemon
 * prepare 01:00.0 (by its name, vendor and driver) and nothing else. */
static void test_details(void **state) {
        char want[160], *out;
        int st;

        /* Past polkit: iommud.conf refuses it (not [Assignable]). */
        out = run_as(uid_allowed, &st, GDBUS "Prepare \"['0000:01:00.0']\"", env.bus_address);
        expect_error(out, st, "org.iommud1.Error.NotAllowed", "0000:01:00.0");
        free(out);
        out = run_as(uid_allowed, &st, GDBUS "Prepare \"['0000:03:10.2']\"", env.bus_address);
        snprintf(want, sizeof(want),
                 "uid %u may not prepare 0000:03:10.2: polkit action org.iommud.prepare is not allowed", uid_allowed);
        expect_error(out, st, "org.iommud1.Error.PermissionDenied", want);
        free(out);
        /* A group: each function asked about (00:02.0 and 01:01.0 are
         * refused, 01:00.0 is not); the first refusal is the answer. */
        out = run_as(uid_allowed, &st, GDBUS "PrepareGroup 2", env.bus_address);
        expect_error(out, st, "org.iommud1.Error.PermissionDenied", NULL);
        if (!strstr(out, "may not prepare 0000:01:01.0") && !strstr(out, "may not prepare 0000:00:02.0"))
                fail_msg("PrepareGroup 2: %s", out);
        free(out);
        /* The same device for another user: no rule, no. */
        out = run_as(uid_denied, &st, GDBUS "Prepare \"['0000:01:00.0']\"", env.bus_address);
        snprintf(want, sizeof(want), "uid %u may not prepare 0000:01:00.0", uid_denied);
        expect_error(out, st, "org.iommud1.Error.PermissionDenied", want);
        free(out);
        /* Nothing moved. */
        out = run(&st, "%s --socket %s --json list | jq -c '[.[] | select(.driver == \"vfio-pci\")]'", iommuctl,
                  sock);
        assert_string_equal(out, "[]\n");
        free(out);
}

/* pkttyagent, polkit's text agent, as root for the process @pid, on a
 * terminal of its own (it insists on one), registered when this
 * returns; *@master reads what it prints. */
static pid_t start_agent(pid_t pid, int *master) {
        char arg[32];
        int notify[2], slave;
        pid_t agent;
        char c;

        *master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        assert_true(*master >= 0);
        assert_int_equal(grantpt(*master), 0);
        assert_int_equal(unlockpt(*master), 0);
        assert_int_equal(pipe2(notify, O_CLOEXEC), 0);
        snprintf(arg, sizeof(arg), "%d", (int) pid);
        agent = fork();
        assert_true(agent >= 0);
        if (agent == 0) {
                /* A session of its own, whose terminal the pty becomes. */
                if (setsid() < 0 || (slave = open(ptsname(*master), O_RDWR)) < 0)
                        _exit(126);
                dup2(slave, STDIN_FILENO);
                dup2(slave, STDOUT_FILENO);
                dup2(slave, STDERR_FILENO);
                dup2(notify[1], 3);
                setenv("DBUS_SYSTEM_BUS_ADDRESS", env.bus_address, 1);
                execl(PKTTYAGENT, PKTTYAGENT, "--process", arg, "--notify-fd", "3", (char *) NULL);
                _exit(127);
        }
        close(notify[1]);
        /* It closes the fd once registered. */
        assert_int_equal(read(notify[0], &c, 1), 0);
        close(notify[0]);
        return agent;
}

/* What the agent printed within @usec (it says when it is asked). */
static void agent_output(int master, char *buf, size_t size, uint64_t usec) {
        struct pollfd p = { .fd = master, .events = POLLIN };
        uint64_t end = now_usec() + usec;
        size_t n = strlen(buf);

        while (n + 1 < size && !strstr(buf, "Password:") && now_usec() < end) {
                ssize_t k;

                if (poll(&p, 1, 50) <= 0)
                        continue;
                k = read(master, buf + n, size - n - 1);
                if (k <= 0)
                        break;
                n += (size_t) k;
                buf[n] = 0;
        }
}

/* A Reload by nobody, an agent registered for its process: polkit asks
 * the agent only when the message allows interactive authorization. */
static void agent_case(bool interactive) {
        char fifo[200], out_path[200], text[2048] = "", *out;
        int master, st, fd;
        pid_t client, agent;
        uint64_t t;

        snprintf(fifo, sizeof(fifo), "%s/go", env.dir);
        snprintf(out_path, sizeof(out_path), "%s/agent-client.out", env.dir);
        (void) unlink(fifo);
        assert_int_equal(mkfifo(fifo, 0666), 0);
        assert_int_equal(chmod(fifo, 0666), 0);
        /* The client waits for the agent; its pid is gdbus's at last. */
        client = start_as(uid_denied, out_path,
                          "sh -c 'read x <%s; exec gdbus call%s --address %s --dest org.iommud1 --object-path "
                          "/org/iommud1 --method org.iommud1.Manager.Reload'",
                          fifo, interactive ? " --interactive" : "", env.bus_address);
        agent = start_agent(client, &master);
        fd = open(fifo, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "go\n", 3), 3);
        close(fd);
        if (interactive) {
                agent_output(master, text, sizeof(text), 10000000);
                if (!strstr(text, "AUTHENTICATING FOR org.iommud.reload"))
                        fail_msg("the agent was not asked; it said: %s", text);
                /* Nobody to type a password: the agent goes away. */
                t = now_usec();
                assert_int_equal(kill(agent, SIGKILL), 0);
        }
        assert_int_equal(waitpid(client, &st, 0), client);
        out = run(NULL, "cat %s", out_path);
        if (interactive) {
                /* Measured with polkit 122: the agent gone, a plain no. */
                expect_error(out, WIFEXITED(st) ? WEXITSTATUS(st) : -1, "org.iommud1.Error.PermissionDenied",
                             "org.iommud.reload is not allowed");
                printf("# interactive, the agent asked for a password and was killed: the caller answered "
                       "%.1f ms later\n", (now_usec() - t) / 1000.0);
        } else {
                expect_error(out, WIFEXITED(st) ? WEXITSTATUS(st) : -1,
                             "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", NULL);
                agent_output(master, text, sizeof(text), 300000);
                if (strstr(text, "AUTHENTICATING"))
                        fail_msg("the agent was asked for a call without the flag: %s", text);
                assert_int_equal(kill(agent, SIGKILL), 0);
        }
        assert_int_equal(waitpid(agent, NULL, 0), agent);
        close(master);
        free(out);
}

/* A default that needs authentication (org.iommud.reload's allow_any
 * made auth_admin in a copy of the policy): without the message's
 * allow-interactive-authorization flag the caller is told to ask again
 * with it; with it, polkit is asked to authenticate: with no agent to
 * ask, that is a no; with one registered for the caller, the agent asks
 * for a password (and is never asked when the flag is not given). */
static void test_interactive(void **state) {
        char *policy = read_policy(), *copy, *p, *out;
        uint64_t t;
        int st;

        p = strstr(policy, "<action id=\"org.iommud.reload\">");
        assert_non_null(p);
        p = strstr(p, "<allow_any>no</allow_any>");
        assert_non_null(p);
        assert_non_null(copy = calloc(1, strlen(policy) + 16));
        memcpy(copy, policy, (size_t) (p - policy));
        strcat(copy, "<allow_any>auth_admin</allow_any>");
        strcat(copy, p + strlen("<allow_any>no</allow_any>"));
        restart_polkitd(copy);

        out = reload(uid_denied, &st, false, "gdbus");
        expect_error(out, st, "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired",
                     "needs authentication, and the call did not allow polkit to ask for it");
        free(out);
        out = reload(uid_denied, &st, false, "busctl-no");
        assert_int_not_equal(st, 0);
        if (!strstr(out, "did not allow polkit to ask"))
                fail_msg("busctl --allow-interactive-authorization=no: %s", out);
        free(out);

        /* Measured with polkit 122: no agent answers at once, not
         * authorized, and still a challenge (a password could have done
         * it): PermissionDenied, as the flag was given. */
        t = now_usec();
        out = reload(uid_denied, &st, false, "gdbus-interactive");
        t = now_usec() - t;
        expect_error(out, st, "org.iommud1.Error.PermissionDenied", "needs authentication, which was not given");
        printf("# interactive, no agent: %.1f ms, %s", t / 1000.0, out);
        free(out);
        /* busctl allows it by default. */
        out = reload(uid_denied, &st, false, "busctl");
        assert_int_not_equal(st, 0);
        if (!strstr(out, "needs authentication, which was not given"))
                fail_msg("busctl Reload, interactive by default: %s", out);
        free(out);
        /* With an agent: asked with the flag, not without it. */
        agent_case(false);
        agent_case(true);

        /* The shipped default again: a plain no. */
        restart_polkitd(policy);
        out = reload(uid_denied, &st, false, "gdbus-interactive");
        expect_error(out, st, "org.iommud1.Error.PermissionDenied", "org.iommud.reload is not allowed");
        free(out);
        free(copy);
        free(policy);
}

/* polkitd killed while a rule of its runs: the caller is refused at
 * once, iommud goes on answering, and asks the next polkitd. */
static void test_polkitd_killed(void **state) {
        char out_path[200], want[160], *out;
        uint64_t killed, answered;
        pid_t client;
        int st;

        snprintf(out_path, sizeof(out_path), "%s/killed.out", env.dir);
        client = start_as(uid_stall, out_path, GDBUS "Reload", env.bus_address);
        wait_stalling();
        killed = now_usec();
        polkit_env_stop(&env.polkitd_pid, SIGKILL);
        assert_int_equal(waitpid(client, &st, 0), client);
        answered = now_usec();
        out = run(NULL, "cat %s", out_path);
        snprintf(want, sizeof(want), "uid %u may not reload the policy: polkit could not be asked", uid_stall);
        expect_error(out, WIFEXITED(st) ? WEXITSTATUS(st) : -1, "org.iommud1.Error.PermissionDenied", want);
        printf("# polkitd killed mid-check: the caller answered %.1f ms later: %s", (answered - killed) / 1000.0,
               out);
        assert_true(answered - killed < 1000000);
        free(out);

        /* iommud answers; with no polkitd, no, at once. */
        out = run(&st, "busctl --address=%s get-property org.iommud1 /org/iommud1 org.iommud1.Manager Devices",
                  env.bus_address);
        expect_success(out, st);
        free(out);
        killed = now_usec();
        out = reload(uid_allowed, &st, false, "gdbus");
        answered = now_usec();
        expect_error(out, st, "org.iommud1.Error.PermissionDenied", "polkit could not be asked");
        printf("# no polkitd: %.1f ms: %s", (answered - killed) / 1000.0, out);
        free(out);

        /* polkitd back: asked again. */
        polkit_env_start_polkitd(&env);
        out = reload(uid_allowed, &st, true, "gdbus");
        expect_success(out, st);
        free(out);
}

/* polkitd stopped (SIGSTOP) mid-check: iommud gives up after its 5 s. */
static void test_polkitd_stopped(void **state) {
        char out_path[200], *out;
        uint64_t t;
        pid_t client;
        int st;

        snprintf(out_path, sizeof(out_path), "%s/stopped.out", env.dir);
        t = now_usec();
        client = start_as(uid_stall, out_path, GDBUS "Reload", env.bus_address);
        wait_stalling();
        assert_int_equal(kill(env.polkitd_pid, SIGSTOP), 0);
        assert_int_equal(waitpid(client, &st, 0), client);
        t = now_usec() - t;
        assert_int_equal(kill(env.polkitd_pid, SIGCONT), 0);
        out = run(NULL, "cat %s", out_path);
        expect_error(out, WIFEXITED(st) ? WEXITSTATUS(st) : -1, "org.iommud1.Error.PermissionDenied",
                     "polkit could not be asked");
        printf("# polkitd stopped mid-check: the caller answered after %.1f ms: %s", t / 1000.0, out);
        assert_true(t >= 4900000 && t < 7000000);
        free(out);
        /* The late answer is dropped; the next check works. */
        out = reload(uid_allowed, &st, true, "gdbus");
        expect_success(out, st);
        free(out);
}

static unsigned leases(void) {
        json_object *o;
        unsigned n;
        int st;
        char *out = run(&st, "%s --socket %s --json leases", iommuctl, sock);

        assert_int_equal(st, 0);
        o = json_tokener_parse(out);
        assert_non_null(o);
        assert_true(json_object_is_type(o, json_type_array));
        n = (unsigned) json_object_array_length(o);
        json_object_put(o);
        free(out);
        return n;
}

/* The caller of a Claim leaves the bus while polkit decides: the claim
 * stops, whatever polkit then says, and nothing is granted. */
static void test_caller_gone(void **state) {
        char out_path[200], want[128], *out;
        pid_t client;
        int st;

        /* Let to finish, the same Claim gets past polkit (the rule says
         * yes) to what the testbed allows: 03:10.0 is on no VFIO driver,
         * and not [Managed] for iommud to move it. */
        out = run_as(uid_stall, &st, GDBUS "Claim \"['0000:03:10.0']\" \"{}\"", env.bus_address);
        expect_error(out, st, "org.iommud1.Error.NotReady", NULL);
        free(out);
        (void) unlink(stalling);

        snprintf(out_path, sizeof(out_path), "%s/gone.out", env.dir);
        client = start_as(uid_stall, out_path, GDBUS "Claim \"['0000:03:10.0']\" \"{}\"", env.bus_address);
        wait_stalling();
        assert_int_equal(kill(client, SIGKILL), 0);
        assert_int_equal(waitpid(client, NULL, 0), client);
        snprintf(want, sizeof(want), "Claim: the caller (pid %d, uid %u) went away", (int) client,
                 (unsigned) uid_stall);
        for (int i = 0; i < (STALL_SEC + 3) * 10 &&
                        !log_has("Claim refused: the caller went away before the claim was granted"); i++)
                usleep(100000);
        if (!log_has(want) || !log_has("Claim refused: the caller went away before the claim was granted")) {
                out = run(NULL, "cat %s", log_path);
                fail_msg("iommud's log, without the claim stopped:\n%s", out);
        }
        out = run(NULL, "grep -e 'Claim' -e 'Denied' %s | tail -n 3 | sed 's/^/# /'", log_path);
        printf("%s", out);
        free(out);
        assert_int_equal(leases(), 0);
        out = run(&st, "busctl --address=%s get-property org.iommud1 /org/iommud1/group/4 org.iommud1.Group Claim",
                  env.bus_address);
        expect_success(out, st);
        assert_string_equal(out, "s \"free\"\n");
        free(out);
}

/* SIGTERM while a Claim waits for polkit (the stalling rule): the claim
 * is refused at once with ShuttingDown, its check withdrawn, and iommud
 * exits cleanly (under ASan: no error, no leak).  Last: the daemon is
 * gone after it. */
static void test_stop_refuses_waiting_claim(void **state) {
        char out_path[200], *out;
        uint64_t t;
        pid_t client;
        int st;

        snprintf(out_path, sizeof(out_path), "%s/stop.out", env.dir);
        client = start_as(uid_stall, out_path, GDBUS "Claim \"['0000:03:10.0']\" \"{}\"", env.bus_address);
        wait_stalling();
        t = now_usec();
        assert_int_equal(kill(daemon_pid, SIGTERM), 0);
        assert_int_equal(waitpid(client, &st, 0), client);
        t = now_usec() - t;
        out = run(NULL, "cat %s", out_path);
        expect_error(out, WIFEXITED(st) ? WEXITSTATUS(st) : -1, "org.iommud1.Error.ShuttingDown", "iommud is stopping");
        printf("# SIGTERM while a Claim waited for polkit: refused %.1f ms later: %s", t / 1000.0, out);
        assert_true(t < 1000000);
        free(out);
        assert_int_equal(waitpid(daemon_pid, &st, 0), daemon_pid);
        daemon_pid = 0;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !log_has("which was waiting for polkit")) {
                out = run(NULL, "cat %s", log_path);
                fail_msg("iommud exited with status %d; its log:\n%s", st, out);
        }
}

static int setup(void **state) {
        char rules[2048], policy[2048], path[200], *out;
        int st;

        /* Debian's system bus; then polkit's and iommud's policies. */
        snprintf(policy, sizeof(policy),
                 DEBIAN_SYSTEM_BUS_POLICY
                 "  <include>" POLKIT_BUS_POLICY "</include>\n"
                 "  <include>%s</include>\n",
                 bus_policy);
        polkit_env_init(&env, "test-bus-polkit", policy);

        /* Where the stalling rule, as user polkitd, says it runs. */
        snprintf(path, sizeof(path), "%s/polkitd", env.dir);
        assert_int_equal(mkdir(path, 0755), 0);
        out = run(&st, "chown polkitd: %s", path);
        assert_int_equal(st, 0);
        free(out);
        snprintf(stalling, sizeof(stalling), "%s/stalling", path);

        polkit_env_copy_file(policy_file, POLKIT_ACTIONS_DIR "/org.iommud.policy");
        snprintf(rules, sizeof(rules),
                 "polkit.addRule(function(action, subject) {\n"
                 "        if (subject.user == \"%s\") {\n"
                 "                polkit.spawn([\"/bin/sh\", \"-c\", \"touch %s; exec sleep %d\"]);\n"
                 "                return polkit.Result.YES;\n"
                 "        }\n"
                 "        if (subject.user != \"%s\")\n"
                 "                return polkit.Result.NOT_HANDLED;\n"
                 "        if (action.id == \"org.iommud.reload\")\n"
                 "                return polkit.Result.YES;\n"
                 "        if (action.id == \"org.iommud.prepare\")\n"
                 "                return action.lookup(\"device\") == \"0000:01:00.0\" &&\n"
                 "                       action.lookup(\"vendor\") == \"8086\" &&\n"
                 "                       action.lookup(\"driver\") == \"e1000e\" ?\n"
                 "                        polkit.Result.YES : polkit.Result.NO;\n"
                 "        return polkit.Result.NOT_HANDLED;\n"
                 "});\n",
                 USER_STALL, stalling, STALL_SEC, USER_ALLOWED);
        polkit_env_write_file(POLKIT_RULES_DIR "/10-iommud-test.rules", rules);
        polkit_env_start_bus(&env);
        polkit_env_start_polkitd(&env);

        tb = testbed_new();
        testbed_add_sample_host(tb);
        snprintf(sock, sizeof(sock), "%s/iommud.sock", tb->root);
        snprintf(log_path, sizeof(log_path), "%s/iommud.log", tb->root);
        snprintf(config, sizeof(config), "%s/iommud.conf", tb->root);
        write_config(0);
        start_daemon();
        /* The testbed's 8 functions, not this machine's: nothing real is
         * ever asked to move. */
        out = run(&st, "busctl --address=%s get-property org.iommud1 /org/iommud1 org.iommud1.Manager Devices",
                  env.bus_address);
        assert_int_equal(st, 0);
        assert_string_equal(out, "u 8\n");
        free(out);
        assert_int_equal(assignable_rules(), 2);
        return 0;
}

static int teardown(void **state) {
        int st = 0, r = 0;

        if (daemon_pid > 0) {
                kill(daemon_pid, SIGTERM);
                assert_int_equal(waitpid(daemon_pid, &st, 0), daemon_pid);
        }
        /* (A test that stopped it checked its exit itself.) */
        /* Clean exit: under ASan, no error and no leak either. */
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                char *out = run(NULL, "cat %s", log_path);
                printf("# iommud exited with status %d; its log:\n%s", st, out);
                free(out);
                r = -1;
        }
        polkit_env_done(&env);
        testbed_free(tb);
        return r;
}

static int skip_all(const char *why) {
        printf("1..0 # SKIP %s\n", why);
        return 0;
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rules_loaded),
                cmocka_unit_test(test_allowed),
                cmocka_unit_test(test_denied),
                cmocka_unit_test(test_details),
                cmocka_unit_test(test_interactive),
                cmocka_unit_test(test_polkitd_killed),
                cmocka_unit_test(test_polkitd_stopped),
                cmocka_unit_test(test_caller_gone),
                cmocka_unit_test(test_stop_refuses_waiting_claim),
        };
        const struct passwd *pw;
        const char *why;

        if (!testbed_preloaded() || argc != 5)
                return 77;
        if (!(pw = getpwnam(USER_ALLOWED)) || (uid_allowed = pw->pw_uid) == 0 || !(pw = getpwnam(USER_DENIED)) ||
            (uid_denied = pw->pw_uid) == 0 || !(pw = getpwnam(USER_STALL)) || (uid_stall = pw->pw_uid) == 0)
                return skip_all("needs the users " USER_ALLOWED ", " USER_DENIED " and " USER_STALL);
        if (system("command -v gdbus >/dev/null && command -v busctl >/dev/null && command -v setpriv >/dev/null "
                   "&& command -v jq >/dev/null") != 0)
                return skip_all("needs gdbus (libglib2.0-bin), busctl, setpriv and jq");
        if (access(POLKIT_BUS_POLICY, R_OK) < 0 || access(PKTTYAGENT, X_OK) < 0)
                return skip_all(POLKIT_BUS_POLICY " or " PKTTYAGENT " is missing (Debian package polkitd)");
        why = polkit_env_enter();
        if (why)
                return skip_all(why);
        if (getenv("LD_PRELOAD")) {
                preload = strdup(getenv("LD_PRELOAD"));
                unsetenv("LD_PRELOAD");
        }
        iommud = argv[1];
        iommuctl = argv[2];
        bus_policy = argv[3];
        policy_file = argv[4];
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, setup, teardown);
}
