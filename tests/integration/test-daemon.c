/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iommud itself, unmodified, on a umockdev testbed, driven only through
 * its varlink socket with iommuctl: what a user sees of a fake host, and
 * how it follows hotplug, bind and unbind.
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
                execl(iommud, iommud, "--varlink-socket", f->sock, "--config", conf, "--log-level", "warning",
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

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_list_matches_host, setup, teardown),
                cmocka_unit_test_setup_teardown(test_follows_bind_unbind_hotplug, setup, teardown),
        };
        if (!testbed_preloaded() || argc != 3)
                return 77;
        iommud = argv[1];
        iommuctl = argv[2];
        return cmocka_run_group_tests(tests, NULL, NULL);
}
