/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iommud's D-Bus face, the daemon unmodified, on a umockdev testbed and a
 * private dbus-daemon (Debian's, with iommud's bus policy included);
 * busctl and gdbus, not ours, as the clients: the introspection matches
 * the XML shipped in data/dbus-1/interfaces; the properties say what the
 * varlink face says; changes go out as signals; refusals carry the same
 * names as on varlink; the bus going away and coming back loses nothing.
 * Root (setpriv, and dbus-daemon's policy by uid); skips without.
 *
 * Usage (meson passes them): test-bus IOMMUD IOMMUCTL BUS-POLICY XML-DIR
 */
#include <errno.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "bus-policy.h"
#include "run.h"
#include "testbed.h"

static const char *iommud, *iommuctl, *bus_policy, *xml_dir;
/* umockdev's preload, for iommud alone: the clients and dbus-daemon run
 * without it (busctl cannot read its peers' credentials under it). */
static char *preload;

#define MDEV "3b1d2f63-2a3c-4f39-9b3e-6c1a5e9c0d01"

typedef struct Fixture {
        Testbed *t;
        pid_t daemon, bus;
        char sock[256], bus_conf[300], address[300], log[300];
} Fixture;

static void start_bus(Fixture *f) {
        struct stat st;
        char path[300];

        snprintf(path, sizeof(path), "%s/bus", f->t->root);
        (void) unlink(path);
        f->bus = fork();
        assert_true(f->bus >= 0);
        if (f->bus == 0) {
                execlp("dbus-daemon", "dbus-daemon", "--nofork", "--nosyslog", "--config-file", f->bus_conf,
                       (char *) NULL);
                _exit(127);
        }
        for (int i = 0; i < 500 && stat(path, &st) < 0; i++)
                usleep(10000);
        assert_int_equal(stat(path, &st), 0);
}

static void stop_bus(Fixture *f) {
        if (f->bus <= 0)
                return;
        kill(f->bus, SIGTERM);
        assert_int_equal(waitpid(f->bus, NULL, 0), f->bus);
        f->bus = 0;
}

/* Whether org.iommud1 is on the bus, within @seconds. */
static bool wait_name(Fixture *f, int seconds) {
        for (int i = 0; i < seconds * 10; i++) {
                int st;
                free(run(&st, "busctl --address=%s status org.iommud1 >/dev/null", f->address));
                if (st == 0)
                        return true;
                usleep(100000);
        }
        return false;
}

static void write_bus_conf(Fixture *f) {
        FILE *c;

        snprintf(f->bus_conf, sizeof(f->bus_conf), "%s/bus.conf", f->t->root);
        snprintf(f->address, sizeof(f->address), "unix:path=%s/bus", f->t->root);
        c = fopen(f->bus_conf, "we");
        assert_non_null(c);
        /* Debian's system bus, in short: nothing may be owned or called
         * unless a policy says so; then iommud's policy. */
        fprintf(c,
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN\"\n"
                " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                "<busconfig>\n"
                "  <type>system</type>\n"
                "  <listen>unix:path=%s/bus</listen>\n"
                "  <auth>EXTERNAL</auth>\n"
                DEBIAN_SYSTEM_BUS_POLICY
                "  <include>%s</include>\n"
                "</busconfig>\n",
                f->t->root, bus_policy);
        assert_int_equal(fclose(c), 0);
}

static int setup_with(void **state, bool bus_first, bool no_dbus) {
        Fixture *f = calloc(1, sizeof(*f));
        struct stat st;

        assert_non_null(f);
        f->t = testbed_new();
        /* uid 65534 must reach the bus socket in it. */
        assert_int_equal(chmod(f->t->root, 0711), 0);
        testbed_add_sample_host(f->t);
        testbed_add_mtty(f->t, MDEV, 9);
        snprintf(f->sock, sizeof(f->sock), "%s/iommud.sock", f->t->root);
        snprintf(f->log, sizeof(f->log), "%s/iommud.log", f->t->root);
        write_bus_conf(f);
        if (bus_first)
                start_bus(f);
        f->daemon = fork();
        assert_true(f->daemon >= 0);
        if (f->daemon == 0) {
                char conf[300], state_dir[300];
                FILE *c;

                /* Records of prepared devices stay in the testbed. */
                snprintf(state_dir, sizeof(state_dir), "%s/state", f->t->root);
                if (mkdir(state_dir, 0755) < 0)
                        _exit(126);
                snprintf(conf, sizeof(conf), "%s/iommud.conf", f->t->root);
                c = fopen(conf, "we");
                if (!c)
                        _exit(126);
                fputs("[Assignable]\nParent=0000:03:00.0\nAddress=01:01.0\n", c);
                fclose(c);
                if (!freopen(f->log, "w", stderr))
                        _exit(126);
                setenv("DBUS_SYSTEM_BUS_ADDRESS", f->address, 1);
                if (preload)
                        setenv("LD_PRELOAD", preload, 1);
                execl(iommud, iommud, "--varlink-socket", f->sock, "--config", conf, "--state-dir", state_dir,
                      "--log-level", "info", no_dbus ? "--no-dbus" : NULL, (char *) NULL);
                _exit(127);
        }
        for (int i = 0; i < 500 && stat(f->sock, &st) < 0; i++)
                usleep(10000);
        assert_int_equal(stat(f->sock, &st), 0);
        if (bus_first && !no_dbus && !wait_name(f, 10)) {
                char *out = run(NULL, "cat %s; busctl --address=%s status org.iommud1", f->log, f->address);
                fail_msg("org.iommud1 is not on the bus:\n%s", out);
        }
        *state = f;
        return 0;
}

static int setup(void **state) {
        return setup_with(state, true, false);
}

static int setup_no_bus(void **state) {
        return setup_with(state, false, false);
}

static int setup_no_dbus(void **state) {
        return setup_with(state, true, true);
}

static int teardown(void **state) {
        Fixture *f = *state;

        kill(f->daemon, SIGTERM);
        assert_int_equal(waitpid(f->daemon, NULL, 0), f->daemon);
        stop_bus(f);
        testbed_free(f->t);
        free(f);
        return 0;
}

/* The <interface name="@iface"> element of @xml, NULL when absent. */
static char *interface_of(const char *xml, const char *iface) {
        char open[256];
        const char *a, *b;

        snprintf(open, sizeof(open), "<interface name=\"%s\">", iface);
        a = strstr(xml, open);
        if (!a)
                return NULL;
        b = strstr(a, "</interface>");
        if (!b)
                return NULL;
        return strndup(a, (size_t) (b - a) + strlen("</interface>"));
}

static void check_introspection(Fixture *f, const char *path, const char *iface) {
        char file[512], *live, *shipped, *a, *b;
        int st;

        live = run(&st, "busctl --address=%s introspect --xml-interface org.iommud1 %s", f->address, path);
        assert_int_equal(st, 0);
        snprintf(file, sizeof(file), "cat %s/%s.xml", xml_dir, iface);
        shipped = run(&st, "%s", file);
        assert_int_equal(st, 0);
        a = interface_of(live, iface);
        b = interface_of(shipped, iface);
        if (!a || !b || strcmp(a, b) != 0)
                fail_msg("%s at %s differs from %s/%s.xml:\n--- running\n%s\n--- shipped\n%s", iface, path, xml_dir,
                         iface, a ? a : live, b ? b : shipped);
        free(a);
        free(b);
        free(live);
        free(shipped);
}

static void test_introspection(void **state) {
        Fixture *f = *state;

        check_introspection(f, "/org/iommud1", "org.iommud1.Manager");
        check_introspection(f, "/org/iommud1/device/pci_0000_01_00_0", "org.iommud1.Device");
        check_introspection(f, "/org/iommud1/group/2", "org.iommud1.Group");
}

static const char *sget(json_object *o, const char *k) {
        json_object *v;
        return json_object_object_get_ex(o, k, &v) && v ? json_object_get_string(v) : NULL;
}

/* Every device's properties say what iommuctl (varlink) says. */
static void test_properties_match_varlink(void **state) {
        Fixture *f = *state;
        char *out, want[256];
        json_object *list;
        int st;

        out = run(&st, "%s --socket %s --json list", iommuctl, f->sock);
        assert_int_equal(st, 0);
        list = json_tokener_parse(out);
        free(out);
        assert_non_null(list);
        assert_int_equal(json_object_array_length(list), 9);
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                json_object *d = json_object_array_get_idx(list, i);
                const char *name = sget(d, "name"), *driver = sget(d, "driver"), *group = sget(d, "iommuGroup");
                char path[128], *o;

                out = run(&st, "busctl --address=%s call org.iommud1 /org/iommud1 org.iommud1.Manager GetDevice s %s",
                          f->address, name);
                assert_int_equal(st, 0);
                assert_int_equal(sscanf(out, "o \"%127[^\"]\"", path), 1);
                free(out);
                o = run(&st, "busctl --address=%s get-property org.iommud1 %s org.iommud1.Device Name Driver "
                        "IommuGroup PolicyAllows", f->address, path);
                assert_int_equal(st, 0);
                snprintf(want, sizeof(want), "s \"%s\"\ns \"%s\"\nx %s\nb %s\n", name, driver ? driver : "",
                         group ? group : "-1",
                         json_object_get_boolean(json_object_object_get(d, "policyAllows")) ? "true" : "false");
                if (strcmp(o, want) != 0)
                        fail_msg("%s (%s): D-Bus says\n%s\nvarlink says\n%s", name, path, o, want);
                free(o);
        }
        json_object_put(list);

        /* One call gets everything: the devices and the groups. */
        out = run(&st, "busctl --address=%s --json=short call org.iommud1 /org/iommud1 "
                  "org.freedesktop.DBus.ObjectManager GetManagedObjects", f->address);
        assert_int_equal(st, 0);
        {
                json_object *o = json_tokener_parse(out), *data, *objs;
                size_t devices = 0, groups = 0;

                assert_non_null(o);
                assert_true(json_object_object_get_ex(o, "data", &data));
                objs = json_object_array_get_idx(data, 0);
                json_object_object_foreach(objs, key, val) {
                        (void) val;
                        devices += strncmp(key, "/org/iommud1/device/", 20) == 0;
                        groups += strncmp(key, "/org/iommud1/group/", 19) == 0;
                }
                assert_int_equal(devices, 9);
                /* 1..5 and the mdev's 9: 00:1f.0 has none. */
                assert_int_equal(groups, 6);
                json_object_put(o);
        }
        free(out);
}

/* A figure that changes without a signal (the manager's uevent count)
 * is read afresh by every call, never served from an earlier call's. */
static void test_manager_properties_fresh(void **state) {
        Fixture *f = *state;
        char *a, *b, *v;
        int st;

        a = run(&st, "busctl --address=%s get-property org.iommud1 /org/iommud1 org.iommud1.Manager Events",
                f->address);
        assert_int_equal(st, 0);
        /* A uevent that changes nothing iommud shows: counted, not announced. */
        umockdev_testbed_uevent(f->t->tb, "/sys/devices/pci0000:00/0000:01:00.0", "change");
        for (int i = 0; i < 100; i++) {
                v = run(&st, "%s --socket %s --json status | jq -j .events", iommuctl, f->sock);
                b = run(&st, "busctl --address=%s get-property org.iommud1 /org/iommud1 org.iommud1.Manager Events",
                        f->address);
                if (strcmp(a, b) != 0)
                        break;
                free(v);
                free(b);
                v = b = NULL;
                usleep(50000);
        }
        if (!b || strcmp(a, b) == 0)
                fail_msg("Events stayed %s after a uevent", a);
        /* And it is varlink's figure. */
        {
                char want[64];
                snprintf(want, sizeof(want), "t %s\n", v);
                if (strcmp(b, want) != 0)
                        fail_msg("D-Bus Events %s, varlink events %s", b, v);
        }
        free(a);
        free(b);
        free(v);
}

/* The daemon's pid and start time: iommud's own, the same on both faces,
 * and iommuctl status says how long it is up. */
static void test_status_pid_started(void **state) {
        Fixture *f = *state;
        char want[64], *out;
        long long started;
        struct timespec ts;
        int st;

        snprintf(want, sizeof(want), "u %d\n", (int) f->daemon);
        out = run(&st, "busctl --address=%s get-property org.iommud1 /org/iommud1 org.iommud1.Manager Pid", f->address);
        assert_string_equal(out, want);
        free(out);
        out = run(&st, "%s --socket %s --json status | jq -j .pid", iommuctl, f->sock);
        snprintf(want, sizeof(want), "%d", (int) f->daemon);
        assert_string_equal(out, want);
        free(out);
        out = run(&st, "%s --socket %s --json status | jq -j .started", iommuctl, f->sock);
        started = atoll(out);
        free(out);
        clock_gettime(CLOCK_REALTIME, &ts);
        {
                long long now = (long long) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
                if (started <= 0 || started > now || started < now - 120 * 1000000LL)
                        fail_msg("started %lld is not within the last two minutes (now %lld)", started, now);
        }
        snprintf(want, sizeof(want), "t %lld\n", started);
        out = run(&st, "busctl --address=%s get-property org.iommud1 /org/iommud1 org.iommud1.Manager Started",
                  f->address);
        assert_string_equal(out, want);
        free(out);
        /* What its start took back, on both faces: nothing (a fresh
         * state directory). */
        out = run(&st, "%s --socket %s --json status | jq -j '.lastStart | \"\\(.stateFile) \\(.recoveredLeases) "
                  "\\(.at)\"'", iommuctl, f->sock);
        {
                char file[16];
                long long at;
                char busline[128];
                assert_int_equal(sscanf(out, "%15s 0 %lld", file, &at), 2);
                assert_string_equal(file, "none");
                snprintf(busline, sizeof(busline), "(sstuuuuu) \"none\" \"\" %lld 0 0 0 0 0\n", at);
                free(out);
                out = run(&st, "busctl --address=%s get-property org.iommud1 /org/iommud1 org.iommud1.Manager "
                          "LastStart", f->address);
                assert_string_equal(out, busline);
        }
        free(out);
        out = run(&st, "%s --socket %s status", iommuctl, f->sock);
        snprintf(want, sizeof(want), "daemon: pid %d, up 0d 00:0", (int) f->daemon);
        if (!strstr(out, want))
                fail_msg("iommuctl status: wanted \"%s\" in:\n%s", want, out);
        free(out);
}

/* Changes reach a watcher as signals: a bind as PropertiesChanged, a
 * hotplug as InterfacesAdded and InterfacesRemoved. */
static void test_signals(void **state) {
        Fixture *f = *state;
        char mon[300], *out = NULL;
        pid_t pid;
        int st;

        snprintf(mon, sizeof(mon), "%s/monitor", f->t->root);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (!freopen(mon, "w", stdout))
                        _exit(126);
                                /* Line-buffered: it writes to a file. */
                execlp("stdbuf", "stdbuf", "-oL", "gdbus", "monitor", "--address", f->address, "--dest",
                       "org.iommud1", (char *) NULL);
                _exit(127);
        }
        /* gdbus prints a line once it watches. */
        for (int i = 0; i < 100; i++) {
                free(out);
                out = run(&st, "cat %s", mon);
                if (strstr(out, "Monitoring signals"))
                        break;
                usleep(50000);
        }
        testbed_set_driver(f->t, "0000:01:00.0", "vfio-pci");
        umockdev_testbed_uevent(f->t->tb, "/sys/devices/pci0000:00/0000:01:00.0", "bind");
        testbed_add_pci(f->t, "0000:04:00.0", 0x1234, 0x11e8, 7, NULL);
        for (int i = 0; i < 100; i++) {
                free(out);
                out = run(&st, "cat %s", mon);
                if (strstr(out, "pci_0000_01_00_0: org.freedesktop.DBus.Properties.PropertiesChanged") &&
                    strstr(out, "'Driver': <'vfio-pci'>") && strstr(out, "InterfacesAdded (objectpath "
                                                                           "'/org/iommud1/device/pci_0000_04_00_0'"))
                        break;
                usleep(50000);
        }
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        if (!strstr(out, "'Driver': <'vfio-pci'>") || !strstr(out, "/org/iommud1/device/pci_0000_04_00_0"))
                fail_msg("gdbus monitor saw:\n%s", out);
        free(out);
}

/* Call org.iommud1.Manager.@method_args (gdbus syntax) as root, or as
 * uid 65534 with @nobody, and insist it fails with output containing
 * @want and, unless NULL, @want2. */
static void expect_refused(Fixture *f, bool nobody, const char *method_args, const char *want, const char *want2) {
        char *out;
        int st;

        out = run(&st, "%sgdbus call --address %s --dest org.iommud1 --object-path /org/iommud1 "
                  "--method org.iommud1.Manager.%s",
                  nobody ? "setpriv --reuid=65534 --regid=65534 --clear-groups " : "", f->address, method_args);
        if (st == 0 || !strstr(out, want) || (want2 && !strstr(out, want2)))
                fail_msg("%s%s: exit %d, wanted \"%s\"%s%s%s:\n%s", nobody ? "(uid 65534) " : "", method_args, st,
                         want, want2 ? " and \"" : "", want2 ? want2 : "", want2 ? "\"" : "", out);
        free(out);
}

/* Refusals: the varlink error's name under org.iommud1.Error. */
static void test_errors(void **state) {
        Fixture *f = *state;
        char *out;
        int st;

        expect_refused(f, false, "GetDevice 0000:09:00.0", "org.iommud1.Error.NoSuchDevice", NULL);
        expect_refused(f, false, "GetDevice ../../etc/passwd", "org.freedesktop.DBus.Error.InvalidArgs", NULL);

        /* SetNumVfs: the varlink refusals, by the same names; nothing is
         * written before polkit (none on this bus) answers for uid 65534. */
        expect_refused(f, false, "SetNumVfs 0000:01:00.0 1", "org.iommud1.Error.NotSriovCapable", NULL);
        expect_refused(f, false, "SetNumVfs 03:00.0 5000", "org.iommud1.Error.TooManyVfs", "at most 4096");
        expect_refused(f, false, "SetNumVfs 0000:09:00.0 1", "org.iommud1.Error.NoSuchDevice", NULL);
        expect_refused(f, false, "SetNumVfs ../03:00.0 1", "org.freedesktop.DBus.Error.InvalidArgs", NULL);
        expect_refused(f, false, "SetNumVfs 03:00.0 70000", "org.freedesktop.DBus.Error.InvalidArgs", NULL);
        expect_refused(f, true, "SetNumVfs 03:00.0 1", "org.iommud1.Error.PermissionDenied",
                       "may not set the VFs of 0000:03:00.0");
        out = run(&st, "cat %s/sys/devices/pci0000:00/0000:03:00.0/sriov_numvfs", f->t->root);
        assert_string_equal(out, "2");
        free(out);

        /* The policy refuses 01:00.0 (not in [Assignable]) to root too:
         * the same error as through varlink. */
        out = run(&st, "%s --socket %s --json prepare 0000:01:00.0", iommuctl, f->sock);
        if (!strstr(out, "org.iommud.Manager.NotAllowed"))
                fail_msg("varlink Prepare of 01:00.0: %s", out);
        free(out);
        expect_refused(f, false, "Prepare \"['0000:01:00.0']\"", "org.iommud1.Error.NotAllowed", NULL);

        /* Not root, and no polkit on this bus: no, by name; nothing moved. */
        expect_refused(f, true, "Prepare \"['0000:01:01.0']\"", "org.iommud1.Error.PermissionDenied", "uid 65534");
        out = run(&st, "%s --socket %s --json show 0000:01:01.0", iommuctl, f->sock);
        if (!strstr(out, "\"driver\": null") && !strstr(out, "\"driver\":null"))
                fail_msg("01:01.0 moved after a refused Prepare: %s", out);
        free(out);
        /* Reading is open to everyone. */
        out = run(&st, "setpriv --reuid=65534 --regid=65534 --clear-groups busctl --address=%s get-property "
                  "org.iommud1 /org/iommud1/group/2 org.iommud1.Group Viable", f->address);
        assert_int_equal(st, 0);
        assert_string_equal(out, "b false\n");
        free(out);

        /* The bus policy: nobody but root may own the name. */
        out = run(&st, "setpriv --reuid=65534 --regid=65534 --clear-groups busctl --address=%s call "
                  "org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus RequestName su org.iommud1 4",
                  f->address);
        assert_int_not_equal(st, 0);
        if (!strstr(out, "not allowed to own") && !strstr(out, "Access denied") && !strstr(out, "AccessDenied"))
                fail_msg("uid 65534 asking for org.iommud1: %s", out);
        free(out);
}

/* iommud's log has @text within 3 s. */
static bool log_has(Fixture *f, const char *text) {
        return testbed_wait_file(f->t, "iommud.log", text, 3);
}

/* While iommud stops (SIGTERM, with a Prepare whose bind the test holds
 * back), D-Bus calls that would start work get ShuttingDown, reads are
 * answered; once the bind comes, iommud exits. */
static void test_stop(void **state) {
        Fixture *f = *state;
        char *out;
        int st;

        testbed_add_rebind_files(f->t, "0000:03:10.0");
        free(run(NULL, "( %s --socket %s prepare 0000:03:10.0 ) >/dev/null 2>&1 &", iommuctl, f->sock));
        assert_true(testbed_wait_file(f->t, "sys/bus/pci/drivers_probe", "0000:03:10.0", 5));
        assert_int_equal(kill(f->daemon, SIGTERM), 0);
        if (!log_has(f, "Stopping: waiting up to 20 s for 1 operation: prepare of IOMMU group 4"))
                fail_msg("no 'waiting' line:\n%s", run(NULL, "cat %s", f->log));
        expect_refused(f, false, "Prepare \"['0000:01:01.0']\"", "org.iommud1.Error.ShuttingDown",
                       "iommud is stopping");
        expect_refused(f, false, "SetNumVfs 03:00.0 1", "org.iommud1.Error.ShuttingDown", NULL);
        out = run(&st, "busctl --address=%s call org.iommud1 /org/iommud1 org.iommud1.Manager GetDevice s 03:10.0",
                  f->address);
        if (st != 0 || !strstr(out, "pci_0000_03_10_0"))
                fail_msg("GetDevice while stopping: %s", out);
        free(out);
        out = run(&st, "busctl --address=%s get-property org.iommud1 /org/iommud1/device/pci_0000_03_10_0 "
                  "org.iommud1.Device Driver", f->address);
        assert_int_equal(st, 0);
        free(out);
        testbed_bind(f->t, "0000:03:10.0", "vfio-pci");
        if (!log_has(f, "Stopped; no leases were held"))
                fail_msg("iommud did not stop:\n%s", run(NULL, "cat %s", f->log));
}

/* The name after "Error." in @out (varlink's org.iommud.Manager.X or
 * D-Bus's org.iommud1.Error.X), into @buf. */
static const char *error_name(const char *out, const char *prefix, char *buf, size_t size) {
        const char *p = strstr(out, prefix);
        size_t n = 0;

        buf[0] = 0;
        if (!p)
                return buf;
        p += strlen(prefix);
        while (n + 1 < size && ((p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= 'a' && p[n] <= 'z')))
                n++;
        memcpy(buf, p, n);
        buf[n] = 0;
        return buf;
}

/* Claim refused: the same error on both faces, and nothing granted. */
static void test_claim_refusals(void **state) {
        static const char *const devices[] = {
                "0000:01:00.0",         /* not in [Assignable] */
                "0000:09:00.0",         /* no such device */
                "0000:03:10.0",         /* allowed, but on no VFIO driver */
                "0000:00:1f.0",         /* no IOMMU group */
        };
        Fixture *f = *state;
        char v[64], d[64], *out, *out2;
        int st;

        for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++) {
                out = run(&st, "%s --socket %s --json claim %s -- true", iommuctl, f->sock, devices[i]);
                assert_int_not_equal(st, 0);
                out2 = run(&st, "gdbus call --address %s --dest org.iommud1 --object-path /org/iommud1 "
                           "--method org.iommud1.Manager.Claim \"['%s']\" \"{}\"", f->address, devices[i]);
                assert_int_not_equal(st, 0);
                error_name(out, "org.iommud.Manager.", v, sizeof(v));
                error_name(out2, "org.iommud1.Error.", d, sizeof(d));
                if (!v[0] || strcmp(v, d) != 0)
                        fail_msg("Claim of %s: varlink said\n%s\nD-Bus said\n%s", devices[i], out, out2);
                printf("# Claim %s: %s on both faces\n", devices[i], v);
                free(out);
                free(out2);
        }
        /* Bad arguments never reach the manager. */
        expect_refused(f, false, "Claim \"['0000:01:01.0']\" \"{'mode': <'sideways'>}\"", "InvalidArgs", "sideways");
        expect_refused(f, false, "Claim \"['0000:01:01.0']\" \"{'colour': <'red'>}\"", "InvalidArgs", "colour");
        expect_refused(f, false, "Claim \"['0000:01:01.0', '01:01.0']\" \"{}\"", "InvalidArgs", "named twice");
        expect_refused(f, false, "Claim \"['0000:01:01.0']\" \"{'vfToken': <'../x'>}\"", "InvalidArgs", "vfToken");
        out = run(&st, "%s --socket %s claim --vf-token ../x 0000:01:01.0 -- true", iommuctl, f->sock);
        assert_int_equal(st, 2);
        assert_non_null(strstr(out, "--vf-token takes a UUID"));
        free(out);
        /* Not root, no polkit: PermissionDenied. */
        expect_refused(f, true, "Claim \"['0000:01:01.0']\" \"{}\"", "org.iommud1.Error.PermissionDenied", NULL);
        out = run(&st, "%s --socket %s --json leases | jq length", iommuctl, f->sock);
        assert_string_equal(out, "0\n");
        free(out);
}

/* A claim that asks for mdevs: refused before anything is made, with the
 * same name on both faces; a creation the kernel fails, and an mdev that
 * never shows up, end the claim with MdevFailed and leave nothing. */
static void test_claim_mdev_refusals(void **state) {
        static const struct {
                const char *iommuctl, *dbus, *want;
        } cases[] = {
                { "--mdev nosuch/mtty-2", "('nosuch', 'mtty-2', '')", "NoSuchParent" },
                { "--mdev mtty/mtty-9", "('mtty', 'mtty-9', '')", "NoSuchMdevType" },
                { "--mdev mtty/mtty-2/" MDEV, "('mtty', 'mtty-2', '" MDEV "')", "MdevExists" },
                /* 11 instances left, 12 asked for */
                { "--mdev mtty/mtty-2 --mdev mtty/mtty-2 --mdev mtty/mtty-2 --mdev mtty/mtty-2 --mdev mtty/mtty-2 "
                  "--mdev mtty/mtty-2 --mdev mtty/mtty-2 --mdev mtty/mtty-2 --mdev mtty/mtty-2 --mdev mtty/mtty-2 "
                  "--mdev mtty/mtty-2 --mdev mtty/mtty-2",
                  "('mtty', 'mtty-2', ''), ('mtty', 'mtty-2', ''), ('mtty', 'mtty-2', ''), ('mtty', 'mtty-2', ''), "
                  "('mtty', 'mtty-2', ''), ('mtty', 'mtty-2', ''), ('mtty', 'mtty-2', ''), ('mtty', 'mtty-2', ''), "
                  "('mtty', 'mtty-2', ''), ('mtty', 'mtty-2', ''), ('mtty', 'mtty-2', ''), ('mtty', 'mtty-2', '')",
                  "NoInstancesLeft" },
                /* 15 devices at most, mdevs included */
                { "--mdev mtty/mtty-1 --mdev mtty/mtty-1 --mdev mtty/mtty-1 --mdev mtty/mtty-1 "
                  "--mdev mtty/mtty-1 --mdev mtty/mtty-1 --mdev mtty/mtty-1 --mdev mtty/mtty-1 --mdev mtty/mtty-1 "
                  "--mdev mtty/mtty-1 --mdev mtty/mtty-1 --mdev mtty/mtty-1 --mdev mtty/mtty-1 --mdev mtty/mtty-1 "
                  "0000:01:01.0 0000:03:10.0",
                  NULL, "TooManyDevices" },
                /* the kernel fails the creation: the type has no create file here */
                { "--mdev mtty/mtty-1", "('mtty', 'mtty-1', '')", "MdevFailed" },
        };
        Fixture *f = *state;
        char v[64], d[64], *out, *out2;
        int st;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                out = run(&st, "%s --socket %s --json claim %s -- true", iommuctl, f->sock, cases[i].iommuctl);
                assert_int_not_equal(st, 0);
                error_name(out, "org.iommud.Manager.", v, sizeof(v));
                if (strcmp(v, cases[i].want) != 0)
                        fail_msg("claim %s: wanted %s:\n%s", cases[i].iommuctl, cases[i].want, out);
                free(out);
                if (!cases[i].dbus)
                        continue;
                out2 = run(&st, "gdbus call --address %s --dest org.iommud1 --object-path /org/iommud1 "
                           "--method org.iommud1.Manager.Claim \"@as []\" \"{'mdevs': <[%s]>}\"", f->address,
                           cases[i].dbus);
                assert_int_not_equal(st, 0);
                error_name(out2, "org.iommud1.Error.", d, sizeof(d));
                if (strcmp(d, cases[i].want) != 0)
                        fail_msg("D-Bus Claim of mdevs %s: wanted %s:\n%s", cases[i].dbus, cases[i].want, out2);
                printf("# Claim with %s: %s on both faces\n", cases[i].dbus, v);
                free(out2);
        }
        /* Not root, no polkit: manage-mdev is asked first, and says no. */
        out = run(&st, "setpriv --reuid=65534 --regid=65534 --clear-groups %s --socket %s --json claim --mdev "
                  "mtty/mtty-1 -- true", iommuctl, f->sock);
        error_name(out, "org.iommud.Manager.", v, sizeof(v));
        if (st == 0 || strcmp(v, "PermissionDenied") != 0 || !strstr(out, "org.iommud.manage-mdev"))
                fail_msg("uid 65534 claiming a new mdev: %s", out);
        free(out);

        /* The kernel says yes, but the mdev never appears (a create file
         * that is only a file): MdevFailed after iommud's wait, nothing
         * claimed, nothing left pending. */
        umockdev_testbed_set_attribute(f->t->tb, "/sys/devices/virtual/mtty/mtty", "mdev_supported_types/mtty-1/create",
                                       "");
        out = run(&st, "%s --socket %s --json claim --mdev mtty/mtty-1/0e9a3d59-6f43-4d2e-8c1b-2a8f8a3f7d10 "
                  "0000:01:01.0 -- true", iommuctl, f->sock);
        error_name(out, "org.iommud.Manager.", v, sizeof(v));
        if (st == 0 || strcmp(v, "MdevFailed") != 0 || !strstr(out, "did not show up"))
                fail_msg("a created mdev that never shows up: %s", out);
        free(out);
        out = run(&st, "cat %s/sys/devices/virtual/mtty/mtty/mdev_supported_types/mtty-1/create", f->t->root);
        assert_string_equal(out, "0e9a3d59-6f43-4d2e-8c1b-2a8f8a3f7d10");
        free(out);
        out = run(&st, "%s --socket %s --json leases | jq length", iommuctl, f->sock);
        assert_string_equal(out, "0\n");
        free(out);
        /* 01:01.0's group was taken and given back: free. */
        out = run(&st, "%s --socket %s --json show 0000:01:01.0 | jq -r .claim", iommuctl, f->sock);
        assert_string_equal(out, "free\n");
        free(out);
}

/* The bus goes away (dbus restarted) and comes back: varlink answers all
 * along, and iommud takes its name again. */
static void test_bus_restart(void **state) {
        Fixture *f = *state;
        char *out;
        int st;

        stop_bus(f);
        out = run(&st, "%s --socket %s --json status", iommuctl, f->sock);
        assert_int_equal(st, 0);
        free(out);
        start_bus(f);
        if (!wait_name(f, 15)) {
                out = run(&st, "cat %s", f->log);
                fail_msg("org.iommud1 did not come back; iommud's log:\n%s", out);
        }
        out = run(&st, "cat %s", f->log);
        assert_non_null(strstr(out, "lost the system bus"));
        assert_non_null(strstr(out, "connected to the system bus again"));
        free(out);
        assert_int_equal(kill(f->daemon, 0), 0);
}

/* No bus when iommud starts: varlink alone, said in the log; the bus
 * arriving later is found. */
static void test_no_bus_at_start(void **state) {
        Fixture *f = *state;
        char *out;
        int st;

        out = run(&st, "%s --socket %s --json status", iommuctl, f->sock);
        assert_int_equal(st, 0);
        free(out);
        out = run(&st, "cat %s", f->log);
        if (!strstr(out, "serving varlink alone"))
                fail_msg("iommud's log:\n%s", out);
        free(out);
        start_bus(f);
        assert_true(wait_name(f, 15));
}

/* --no-dbus: varlink alone, with a bus right there. */
static void test_no_dbus_option(void **state) {
        Fixture *f = *state;
        char *out;
        int st;

        out = run(&st, "%s --socket %s --json status", iommuctl, f->sock);
        assert_int_equal(st, 0);
        free(out);
        assert_false(wait_name(f, 2));
        out = run(&st, "cat %s", f->log);
        if (!strstr(out, "D-Bus disabled (--no-dbus): serving varlink alone"))
                fail_msg("iommud's log:\n%s", out);
        free(out);
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_introspection, setup, teardown),
                cmocka_unit_test_setup_teardown(test_properties_match_varlink, setup, teardown),
                cmocka_unit_test_setup_teardown(test_manager_properties_fresh, setup, teardown),
                cmocka_unit_test_setup_teardown(test_signals, setup, teardown),
                cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_claim_refusals, setup, teardown),
                cmocka_unit_test_setup_teardown(test_claim_mdev_refusals, setup, teardown),
                cmocka_unit_test_setup_teardown(test_status_pid_started, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bus_restart, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_bus_at_start, setup_no_bus, teardown),
                cmocka_unit_test_setup_teardown(test_no_dbus_option, setup_no_dbus, teardown),
        };
        if (!testbed_preloaded() || argc != 5)
                return 77;
        if (geteuid() != 0) {
                printf("1..0 # SKIP needs root (setpriv, and the bus policy is by uid)\n");
                return 0;
        }
        if (system("command -v dbus-daemon >/dev/null && command -v gdbus >/dev/null && command -v busctl >/dev/null")
            != 0) {
                printf("1..0 # SKIP needs dbus-daemon, gdbus (libglib2.0-bin) and busctl\n");
                return 0;
        }
        if (getenv("LD_PRELOAD")) {
                preload = strdup(getenv("LD_PRELOAD"));
                unsetenv("LD_PRELOAD");
        }
        iommud = argv[1];
        iommuctl = argv[2];
        bus_policy = argv[3];
        xml_dir = argv[4];
        return cmocka_run_group_tests(tests, NULL, NULL);
}
