/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <systemd/sd-bus.h>

#include "polkit-env.h"

static const char *dbus_daemon(void) {
        static const char *const paths[] = { "/usr/bin/dbus-daemon", "/bin/dbus-daemon" };

        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
                if (access(paths[i], X_OK) == 0)
                        return paths[i];
        return NULL;
}

const char *polkit_env_enter(void) {
        if (geteuid() != 0)
                return "needs root";
        if (access(POLKITD, X_OK) < 0)
                return POLKITD " not installed (Debian package polkitd)";
        if (!dbus_daemon())
                return "dbus-daemon not installed (Debian package dbus-daemon)";
        if (!getpwnam("polkitd"))
                return "no user polkitd";
        if (access(POLKIT_ACTIONS_DIR, F_OK) < 0 || access(POLKIT_RULES_DIR, F_OK) < 0 ||
            access(POLKIT_VENDOR_RULES_DIR, F_OK) < 0)
                return "polkit's directories are missing";
        /* A mount namespace of our own, so the tmpfs mounts over polkit's
         * directories are seen by us and our children only. */
        if (unshare(CLONE_NEWNS) < 0)
                return "cannot create a mount namespace";
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return "cannot make / private in the mount namespace";
        return NULL;
}

void polkit_env_write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        assert_true(fputs(text, f) >= 0);
        assert_int_equal(fclose(f), 0);
}

void polkit_env_copy_file(const char *from, const char *to) {
        char buf[65536];
        size_t n;
        FILE *f = fopen(from, "re");

        assert_non_null(f);
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = 0;
        polkit_env_write_file(to, buf);
}

void polkit_env_user_name(uid_t uid, char *buf, size_t size) {
        struct passwd *pw = getpwuid(uid);

        if (pw)
                snprintf(buf, size, "%s", pw->pw_name);
        else
                snprintf(buf, size, "%u", (unsigned) uid);
}

void polkit_env_dump_log(PolkitEnv *e, const char *name) {
        char path[128], line[512];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", e->dir, name);
        f = fopen(path, "re");
        if (!f)
                return;
        while (fgets(line, sizeof(line), f))
                printf("# %s: %s", name, line);
        fclose(f);
}

void polkit_env_assert_rules_loaded(PolkitEnv *e, unsigned n) {
        char path[128], line[512], want[64];
        bool loaded = false;
        FILE *f;

        snprintf(path, sizeof(path), "%s/polkitd.log", e->dir);
        snprintf(want, sizeof(want), "executing %u rules", n);
        f = fopen(path, "re");
        assert_non_null(f);
        while (fgets(line, sizeof(line), f)) {
                if (strstr(line, "rror"))
                        printf("# polkitd: %s", line);
                assert_null(strstr(line, "Error compiling"));
                assert_null(strstr(line, "Error evaluating"));
                loaded = loaded || strstr(line, want);
        }
        fclose(f);
        assert_true(loaded);
}

static pid_t spawn(PolkitEnv *e, const char *log, char *const argv[], const char *env) {
        char path[128];
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                int fd;

                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                snprintf(path, sizeof(path), "%s/%s", e->dir, log);
                fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                if (fd >= 0) {
                        dup2(fd, STDOUT_FILENO);
                        dup2(fd, STDERR_FILENO);
                }
                if (env)
                        putenv((char *) env);
                execv(argv[0], argv);
                _exit(127);
        }
        return pid;
}

void polkit_env_stop(pid_t *pid, int sig) {
        if (*pid <= 0)
                return;
        kill(*pid, SIGCONT);
        kill(*pid, sig);
        waitpid(*pid, NULL, 0);
        *pid = -1;
}

int polkit_env_name_has_owner(PolkitEnv *e, const char *name) {
        sd_bus *bus = NULL;
        sd_bus_message *reply = NULL;
        int r, has = 0;

        r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, e->bus_address);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, true);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r >= 0)
                r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner", NULL, &reply, "s", name);
        if (r >= 0)
                r = sd_bus_message_read(reply, "b", &has);
        sd_bus_message_unref(reply);
        sd_bus_flush_close_unref(bus);
        return r < 0 ? r : has;
}

void polkit_env_init(PolkitEnv *e, const char *name, const char *policy) {
        const char *mounts[] = { POLKIT_ACTIONS_DIR, POLKIT_RULES_DIR, POLKIT_VENDOR_RULES_DIR };
        char path[160], conf[8192];

        *e = (PolkitEnv) { .dbus_pid = -1, .polkitd_pid = -1 };
        snprintf(e->dir, sizeof(e->dir), "/tmp/%s-XXXXXX", name);
        assert_non_null(mkdtemp(e->dir));
        /* polkitd, as user polkitd, connects to the bus in it. */
        assert_int_equal(chmod(e->dir, 0755), 0);
        for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++)
                assert_int_equal(mount("tmpfs", mounts[i], "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"), 0);

        snprintf(e->bus_address, sizeof(e->bus_address), "unix:path=%s/bus", e->dir);
        snprintf(conf, sizeof(conf),
                 "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                 " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                 "<busconfig>\n"
                 "  <type>system</type>\n"
                 "  <listen>%s</listen>\n"
                 "  <auth>EXTERNAL</auth>\n"
                 "%s"
                 "</busconfig>\n", e->bus_address, policy);
        snprintf(path, sizeof(path), "%s/bus.conf", e->dir);
        polkit_env_write_file(path, conf);
}

/* Until @name has an owner, for at most 10 s. */
static void wait_name(PolkitEnv *e, const char *name, const char *log) {
        for (int i = 0; i < 400; i++) {
                if (polkit_env_name_has_owner(e, name) > 0)
                        return;
                usleep(25000);
        }
        polkit_env_dump_log(e, log);
        fail_msg("%s is not on the bus %s", name, e->bus_address);
}

void polkit_env_start_bus(PolkitEnv *e) {
        char config[160], socket[96];
        char *argv[] = { (char *) dbus_daemon(), config, (char *) "--nofork", (char *) "--nopidfile", NULL };

        snprintf(config, sizeof(config), "--config-file=%s/bus.conf", e->dir);
        snprintf(socket, sizeof(socket), "%s/bus", e->dir);
        unlink(socket);
        e->dbus_pid = spawn(e, "dbus-daemon.log", argv, NULL);
        wait_name(e, "org.freedesktop.DBus", "dbus-daemon.log");
}

void polkit_env_start_polkitd(PolkitEnv *e) {
        char *argv[] = { (char *) POLKITD, NULL }, env[160];

        snprintf(env, sizeof(env), "DBUS_SYSTEM_BUS_ADDRESS=%s", e->bus_address);
        e->polkitd_pid = spawn(e, "polkitd.log", argv, env);
        wait_name(e, "org.freedesktop.PolicyKit1", "polkitd.log");
}

void polkit_env_done(PolkitEnv *e) {
        char cmd[128];

        polkit_env_stop(&e->polkitd_pid, SIGTERM);
        polkit_env_stop(&e->dbus_pid, SIGTERM);
        if (getenv("TEST_POLKIT_KEEP") || !e->dir[0])
                return;
        snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
        (void) system(cmd);
}
