/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iommud itself, unmodified, on a umockdev testbed, driven only through
 * its varlink socket with iommuctl: what a user sees of a fake host, and
 * how it follows hotplug, bind and unbind, and SR-IOV VF counts set
 * through it (the test playing the kernel's part).
 *
 * Usage (meson passes them): test-daemon IOMMUD IOMMUCTL
 */
#include <errno.h>
#include <json-c/json.h>
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
#include "testbed.h"

static const char *iommud, *iommuctl;

#define MDEV "3b1d2f63-2a3c-4f39-9b3e-6c1a5e9c0d01"

typedef struct Fixture {
        Testbed *t;
        pid_t daemon;
        char sock[256];
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        struct stat st;

        f->t = testbed_new();
        testbed_add_sample_host(f->t);
        testbed_add_mtty(f->t, MDEV, 9);
        snprintf(f->sock, sizeof(f->sock), "%s/iommud.sock", f->t->root);
        /* The daemon inherits the preload and $UMOCKDEV_DIR. */
        f->daemon = fork();
        assert_true(f->daemon >= 0);
        if (f->daemon == 0) {
                char conf[300];
                FILE *c;
                snprintf(conf, sizeof(conf), "%s/iommud.conf", f->t->root);
                c = fopen(conf, "we");
                if (!c)
                        _exit(126);
                fputs("# the tests' policy\n[Assignable]\nParent=0000:03:00.0\nAddress=01:01.0\n", c);
                fclose(c);
                char statedir[300];
                snprintf(statedir, sizeof(statedir), "%s/run", f->t->root);
                /* Not the host's /run/iommud: its own records. */
                execl(iommud, iommud, "--state-dir", statedir,
                      "--varlink-socket", f->sock, "--config", conf, "--log-level", "warning",
                      (char *) NULL);
                _exit(127);
        }
        for (int i = 0; i < 500 && stat(f->sock, &st) < 0; i++)
                usleep(10000);
        assert_int_equal(stat(f->sock, &st), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        kill(f->daemon, SIGTERM);
        assert_int_equal(waitpid(f->daemon, NULL, 0), f->daemon);
        testbed_free(f->t);
        free(f);
        return 0;
}

/* Run iommuctl with @args; its stdout parsed as JSON (NULL if not JSON),
 * its exit status in *ret_status. */
static json_object *ctl(Fixture *f, const char *args, int *ret_status) {
        /* Its stderr not in the JSON. */
        char *out = run(ret_status, "{ %s --socket %s --json %s 2>/dev/null; }", iommuctl, f->sock, args);
        json_object *o = json_tokener_parse(out);

        free(out);
        return o;
}

static const char *sget(json_object *o, const char *k) {
        json_object *v;
        return json_object_object_get_ex(o, k, &v) && v ? json_object_get_string(v) : NULL;
}

static json_object *find(json_object *devices, const char *name) {
        for (size_t i = 0; i < json_object_array_length(devices); i++) {
                json_object *d = json_object_array_get_idx(devices, i);
                if (strcmp(sget(d, "name"), name) == 0)
                        return d;
        }
        return NULL;
}

/* Poll `iommuctl show NAME` until @key has @value ("(null)" for none). */
static void wait_show(Fixture *f, const char *name, const char *key, const char *value) {
        char args[128];
        snprintf(args, sizeof(args), "show %s", name);
        for (int i = 0; i < 200; i++) {
                int st;
                json_object *d = ctl(f, args, &st);
                const char *v = d ? sget(d, key) : NULL;
                bool match = st == 0 && strcmp(v ? v : "(null)", value) == 0;
                json_object_put(d);
                if (match)
                        return;
                usleep(25000);
        }
        fail_msg("%s: %s never became %s", name, key, value);
}

static bool group_viable(Fixture *f, int id) {
        char args[32];
        json_object *g, *v;
        bool viable;
        snprintf(args, sizeof(args), "group %d", id);
        g = ctl(f, args, NULL);
        assert_non_null(g);
        assert_true(json_object_object_get_ex(g, "viable", &v));
        viable = json_object_get_boolean(v);
        json_object_put(g);
        return viable;
}

static void test_list_matches_host(void **state) {
        Fixture *f = *state;
        int st;
        json_object *list = ctl(f, "list", &st), *d;

        assert_int_equal(st, 0);
        assert_non_null(list);
        assert_int_equal(json_object_array_length(list), 9);
        d = find(list, "0000:01:00.0");
        assert_non_null(d);
        assert_string_equal(sget(d, "driver"), "e1000e");
        assert_string_equal(sget(d, "iommuGroup"), "2");
        assert_string_equal(sget(d, "vendorId"), "8086");
        assert_false(json_object_get_boolean(json_object_object_get(d, "assignable")));
        d = find(list, "0000:03:10.2");
        assert_string_equal(sget(d, "physfn"), "0000:03:00.0");
        d = find(list, "0000:00:1f.0");
        assert_null(sget(d, "iommuGroup"));
        /* The policy's verdict, per device, with the rule that allows it. */
        assert_false(json_object_get_boolean(json_object_object_get(d, "policyAllows")));
        assert_non_null(strstr(sget(d, "policyReason"), "not listed in [Assignable]"));
        d = find(list, "0000:03:10.2");
        assert_true(json_object_get_boolean(json_object_object_get(d, "policyAllows")));
        assert_non_null(strstr(sget(d, "policyReason"), "iommud.conf:3"));
        d = find(list, "0000:01:01.0");
        assert_true(json_object_get_boolean(json_object_object_get(d, "policyAllows")));
        assert_non_null(strstr(sget(d, "policyReason"), "iommud.conf:4"));
        json_object_put(list);

        /* The mdev: kind, parent, type, group; listed after the PCI functions. */
        list = ctl(f, "list", &st);
        d = json_object_array_get_idx(list, 8);
        assert_string_equal(sget(d, "name"), MDEV);
        assert_string_equal(sget(d, "kind"), "mdev");
        assert_string_equal(sget(d, "parent"), "mtty");
        assert_string_equal(sget(d, "mdevType"), "mtty-2");
        assert_string_equal(sget(d, "iommuGroup"), "9");
        assert_true(json_object_get_boolean(json_object_object_get(d, "assignable")));
        json_object_put(list);

        /* The parent and its types, read live. */
        json_object *types = ctl(f, "mdev-types", &st), *p, *tv;
        assert_int_equal(st, 0);
        assert_int_equal(json_object_array_length(types), 1);
        p = json_object_array_get_idx(types, 0);
        assert_string_equal(sget(p, "parent"), "mtty");
        assert_true(json_object_object_get_ex(p, "types", &tv));
        assert_int_equal(json_object_array_length(tv), 2);
        assert_string_equal(sget(json_object_array_get_idx(tv, 1), "id"), "mtty-2");
        assert_string_equal(sget(json_object_array_get_idx(tv, 1), "name"), "Dual port serial");
        assert_string_equal(sget(json_object_array_get_idx(tv, 1), "availableInstances"), "11");
        json_object_put(types);

        /* The bridged group names its blocker. */
        json_object *g = ctl(f, "group 2", &st), *b;
        assert_int_equal(st, 0);
        assert_true(json_object_object_get_ex(g, "blockers", &b));
        assert_int_equal(json_object_array_length(b), 1);
        assert_string_equal(sget(json_object_array_get_idx(b, 0), "device"), "0000:01:00.0");
        json_object_put(g);

        /* The text form of a PF lists its VFs. */
        {
                char cmd[512], out[4096];
                size_t n;
                FILE *pp;
                snprintf(cmd, sizeof(cmd), "%s --socket %s show 03:00.0", iommuctl, f->sock);
                pp = popen(cmd, "r");
                assert_non_null(pp);
                n = fread(out, 1, sizeof(out) - 1, pp);
                out[n] = 0;
                assert_int_equal(pclose(pp), 0);
                if (!strstr(out, "SR-IOV VFs: 2 of 4096: 0000:03:10.0 0000:03:10.2"))
                        fail_msg("show 03:00.0 printed:\n%s", out);
        }

        /* Errors a script can tell apart. */
        json_object_put(ctl(f, "show 0000:09:00.0", &st));
        assert_int_equal(st, 4);
        json_object_put(ctl(f, "group 77", &st));
        assert_int_equal(st, 4);
        json_object_put(ctl(f, "show 0000:00:20.0", &st));
        assert_int_equal(st, 2);
}

static void test_follows_bind_unbind_hotplug(void **state) {
        Fixture *f = *state;
        const char *dev = "/sys/devices/pci0000:00/0000:01:00.0";
        int st;

        assert_false(group_viable(f, 2));
        testbed_set_driver(f->t, "0000:01:00.0", "vfio-pci");
        umockdev_testbed_uevent(f->t->tb, dev, "bind");
        wait_show(f, "0000:01:00.0", "driver", "vfio-pci");
        assert_true(group_viable(f, 2));

        testbed_set_driver(f->t, "0000:01:00.0", NULL);
        umockdev_testbed_uevent(f->t->tb, dev, "unbind");
        wait_show(f, "0000:01:00.0", "driver", "(null)");
        assert_true(group_viable(f, 2));

        testbed_add_pci(f->t, "0000:04:00.0", 0x1234, 0x11e8, 7, "e1000e");
        wait_show(f, "0000:04:00.0", "iommuGroup", "7");
        assert_false(group_viable(f, 7));

        umockdev_testbed_uevent(f->t->tb, "/sys/devices/pci0000:00/0000:04:00.0", "remove");
        umockdev_testbed_remove_device(f->t->tb, "/sys/devices/pci0000:00/0000:04:00.0");
        for (int i = 0; i < 200; i++) {
                json_object_put(ctl(f, "show 0000:04:00.0", &st));
                if (st == 4)
                        break;
                usleep(25000);
        }
        assert_int_equal(st, 4);
        json_object_put(ctl(f, "group 7", &st));
        assert_int_equal(st, 4);

        json_object *s = ctl(f, "status", &st);
        assert_int_equal(st, 0);
        assert_true(json_object_get_int(json_object_object_get(s, "events")) >= 4);
        assert_int_equal(json_object_get_int(json_object_object_get(s, "rescans")), 0);
        json_object_put(s);
}

/* ---- SR-IOV: iommuctl sriov against a PF of the fake host ---- */

#define PF_DIR "/sys/devices/pci0000:00/0000:03:00.0"

static void pf_attr(Fixture *f, const char *attr, char *buf, size_t size) {
        char path[512];
        FILE *a;
        size_t n;

        snprintf(path, sizeof(path), "%s%s/%s", f->t->root, PF_DIR, attr);
        a = fopen(path, "re");
        assert_non_null(a);
        n = fread(buf, 1, size - 1, a);
        buf[n] = 0;
        fclose(a);
}

/* Empty the PF's sriov_numvfs, so that what iommud writes next is all it
 * holds (a plain file keeps a longer old value's tail). */
static void pf_numvfs_clear(Fixture *f) {
        char path[512];
        FILE *a;

        snprintf(path, sizeof(path), "%s%s/sriov_numvfs", f->t->root, PF_DIR);
        a = fopen(path, "we");
        assert_non_null(a);
        fclose(a);
}

static const char *error_name(json_object *o) {
        return o ? sget(o, "error") : NULL;
}

/* Run `iommuctl sriov ARGS`: its exit status; its error's name, if any,
 * in @ret_error (a static buffer). */
static int sriov(Fixture *f, const char *args, const char **ret_error) {
        static char name[128];
        char a[128];
        int st;
        json_object *o;

        snprintf(a, sizeof(a), "sriov %s", args);
        o = ctl(f, a, &st);
        snprintf(name, sizeof(name), "%s", error_name(o) ? error_name(o) : "");
        json_object_put(o);
        if (ret_error)
                *ret_error = name;
        return st;
}

/* Poll `iommuctl sriov 03:00.0` until the PF counts @n VFs and lists @n. */
static void wait_vfs(Fixture *f, int n) {
        int count = -1, listed = -1;

        for (int i = 0; i < 400; i++) {
                int st;
                json_object *o = ctl(f, "sriov 03:00.0", &st), *d, *vfs;
                if (st == 0 && json_object_object_get_ex(o, "device", &d) &&
                    json_object_object_get_ex(o, "vfs", &vfs)) {
                        count = json_object_get_int(json_object_object_get(d, "sriovNumVfs"));
                        listed = (int) json_object_array_length(vfs);
                }
                json_object_put(o);
                if (count == n && listed == n)
                        return;
                usleep(25000);
        }
        fail_msg("the PF never had %d VFs (it counts %d, %d are listed)", n, count, listed);
}

static void vf_name(int i, char buf[static 16]) {
        snprintf(buf, 16, "0000:04:%02x.%d", i / 8, i % 8);
}

static void test_sriov(void **state) {
        Fixture *f = *state;
        const char *err;
        char v[64];
        int st;

        umockdev_testbed_set_attribute(f->t->tb, PF_DIR, "sriov_drivers_autoprobe", "1");

        /* Refused before anything is written, each by name. */
        assert_int_equal(sriov(f, "0000:09:00.0 1", &err), 4);
        assert_string_equal(err, "org.iommud.Manager.NoSuchDevice");
        assert_int_equal(sriov(f, "01:00.0 1", &err), 5);
        assert_string_equal(err, "org.iommud.Manager.NotSriovCapable");
        assert_int_equal(sriov(f, "03:10.0 1", &err), 5);          /* a VF */
        assert_string_equal(err, "org.iommud.Manager.NotSriovCapable");
        assert_int_equal(sriov(f, "03:00.0 4097", &err), 5);       /* sriov_totalvfs is 4096 */
        assert_string_equal(err, "org.iommud.Manager.TooManyVfs");
        assert_int_equal(sriov(f, "03:00.0 65536", NULL), 2);
        assert_int_equal(sriov(f, "03:00.0 -1", NULL), 2);
        assert_int_equal(sriov(f, "03:00.0 2x", NULL), 2);
        assert_int_equal(sriov(f, "../03:00.0 1", NULL), 2);
        pf_attr(f, "sriov_numvfs", v, sizeof(v));
        assert_string_equal(v, "2");
        pf_attr(f, "sriov_drivers_autoprobe", v, sizeof(v));
        assert_string_equal(v, "1");
        wait_vfs(f, 2);

        /* A write the kernel refuses: what was changed is put back.  Here
         * sriov_numvfs cannot be opened for writing (a directory, EISDIR):
         * autoprobe had been turned off for the VFs to come, and is on
         * again; the VFs there were stay. */
        {
                char path[600], attr[512];
                json_object *o, *p;
                snprintf(attr, sizeof(attr), "%s%s/sriov_numvfs", f->t->root, PF_DIR);
                snprintf(path, sizeof(path), "%s.file", attr);
                assert_int_equal(rename(attr, path), 0);
                assert_int_equal(mkdir(attr, 0755), 0);
                o = ctl(f, "sriov 03:00.0 4", &st);
                assert_int_equal(st, 1);
                assert_non_null(o);
                assert_string_equal(sget(o, "error"), "org.iommud.Manager.SriovFailed");
                p = json_object_object_get(o, "parameters");
                assert_string_equal(sget(p, "step"), "sriov_numvfs=0");
                assert_int_equal(json_object_get_int(json_object_object_get(p, "errno")), EISDIR);
                assert_true(json_object_get_boolean(json_object_object_get(p, "rolledBack")));
                json_object_put(o);
                pf_attr(f, "sriov_drivers_autoprobe", v, sizeof(v));
                assert_string_equal(v, "1");
                assert_int_equal(rmdir(attr), 0);
                assert_int_equal(rename(path, attr), 0);
                wait_vfs(f, 2);
        }

        /* 2 -> 64: autoprobe off, then (0 and) 64 written. */
        pf_numvfs_clear(f);
        assert_int_equal(sriov(f, "03:00.0 64", &err), 0);
        pf_attr(f, "sriov_numvfs", v, sizeof(v));
        assert_string_equal(v, "64");
        pf_attr(f, "sriov_drivers_autoprobe", v, sizeof(v));
        assert_string_equal(v, "0");
        /* The kernel's part: the two VFs go, 64 come, unbound, each in a
         * group of its own; iommud follows the storm of uevents. */
        testbed_remove_vf(f->t, "0000:03:10.0", "0000:03:00.0", 0, false);
        testbed_remove_vf(f->t, "0000:03:10.2", "0000:03:00.0", 1, false);
        for (int i = 0; i < 64; i++) {
                char bdf[16];
                vf_name(i, bdf);
                testbed_add_vf(f->t, bdf, "0000:03:00.0", 100 + i);
                usleep(10000);  /* umockdev drops uevents past 10 queued */
        }
        wait_vfs(f, 64);
        for (int i = 0; i < 64; i += 9) {
                char bdf[16], group[8];
                vf_name(i, bdf);
                snprintf(group, sizeof(group), "%d", 100 + i);
                wait_show(f, bdf, "iommuGroup", group);
                wait_show(f, bdf, "physfn", "0000:03:00.0");
                wait_show(f, bdf, "driver", "(null)");
        }

        /* Asking for what is there writes nothing. */
        pf_numvfs_clear(f);
        assert_int_equal(sriov(f, "03:00.0 64", &err), 0);
        pf_attr(f, "sriov_numvfs", v, sizeof(v));
        assert_string_equal(v, "");

        /* 64 -> 0, and the kernel's part. */
        assert_int_equal(sriov(f, "03:00.0 0", &err), 0);
        pf_attr(f, "sriov_numvfs", v, sizeof(v));
        assert_string_equal(v, "0");
        for (int i = 0; i < 64; i++) {
                char bdf[16];
                vf_name(i, bdf);
                testbed_remove_vf(f->t, bdf, "0000:03:00.0", (unsigned) (2 + i), i % 2 == 0);
                usleep(10000);
        }
        wait_vfs(f, 0);
        json_object *list = ctl(f, "list", &st);
        assert_int_equal(st, 0);
        assert_int_equal(json_object_array_length(list), 7);
        json_object_put(list);

        /* A PF with no driver cannot set VFs: refused, nothing written. */
        testbed_set_driver(f->t, "0000:03:00.0", NULL);
        umockdev_testbed_uevent(f->t->tb, PF_DIR, "unbind");
        wait_show(f, "0000:03:00.0", "driver", "(null)");
        pf_numvfs_clear(f);
        assert_int_equal(sriov(f, "03:00.0 1", &err), 5);
        assert_string_equal(err, "org.iommud.Manager.SriovNotConfigurable");
        pf_attr(f, "sriov_numvfs", v, sizeof(v));
        assert_string_equal(v, "");
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_list_matches_host, setup, teardown),
                cmocka_unit_test_setup_teardown(test_follows_bind_unbind_hotplug, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sriov, setup, teardown),
        };
        if (!testbed_preloaded() || argc != 3)
                return 77;
        iommud = argv[1];
        iommuctl = argv[2];
        return cmocka_run_group_tests(tests, NULL, NULL);
}
