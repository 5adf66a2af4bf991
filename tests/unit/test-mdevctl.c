/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Importing mdevctl's definitions: only "start": "auto" ones without
 * attributes are taken; every other file is reported with its reason and
 * the rest are still read; symlinks are never followed, names that could
 * be paths never taken, a FIFO never blocks.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>
#include <cmocka.h>

#include "mdevctl.h"

#define U1 "6c1f2e3d-4b5a-4978-8a6b-5c4d3e2f1a0b"
#define U2 "0b1a2f3e-4d5c-4b6a-8b7a-6c5d4e3f2a1b"
#define U3 "11111111-2222-4333-8444-555555555555"
#define U4 "22222222-2222-4333-8444-555555555555"

typedef struct Fixture {
        char root[64];
        char dir[96];
        char reports[64][600];
        int levels[64];
        size_t n_reports;
} Fixture;

static void put(const char *dir, const char *path, const char *text) {
        char p[512], cmd[700];
        FILE *f;

        snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s/%s')\"", dir, path);
        assert_int_equal(system(cmd), 0);
        snprintf(p, sizeof(p), "%s/%s", dir, path);
        f = fopen(p, "we");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

static void on_report(int level, const char *path, const char *problem, void *userdata) {
        Fixture *f = userdata;

        assert_true(f->n_reports < 64);
        f->levels[f->n_reports] = level;
        snprintf(f->reports[f->n_reports++], sizeof(f->reports[0]), "%s: %s", path, problem);
}

/* The report about @path: exactly one, and it says @problem. */
static void expect_report(Fixture *f, int level, const char *path, const char *problem) {
        char want[600];
        size_t found = 0, at = 0;

        snprintf(want, sizeof(want), "%s/%s: %s", f->dir, path, problem);
        for (size_t i = 0; i < f->n_reports; i++)
                if (strcmp(f->reports[i], want) == 0) {
                        found++;
                        at = i;
                }
        if (found != 1) {
                for (size_t i = 0; i < f->n_reports; i++)
                        print_message("report: %s\n", f->reports[i]);
                fail_msg("expected one report: %s", want);
        }
        assert_int_equal(f->levels[at], level);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        snprintf(f->root, sizeof(f->root), "/tmp/iommud-test-mdevctl-XXXXXX");
        assert_non_null(mkdtemp(f->root));
        snprintf(f->dir, sizeof(f->dir), "%s/mdevctl.d", f->root);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

static void test_missing_dir_is_empty(void **state) {
        Fixture *f = *state;
        MdevctlDef *defs = (MdevctlDef *) 0x1;
        size_t n = 99;

        assert_int_equal(mdevctl_read(f->dir, on_report, f, &defs, &n), 0);
        assert_null(defs);
        assert_int_equal(n, 0);
        assert_int_equal(f->n_reports, 0);
}

static void test_import(void **state) {
        Fixture *f = *state;
        MdevctlDef *defs = NULL;
        size_t n = 0;
        char p[300], t[300];

        /* Taken: auto, no attributes (or an empty list), in any layout. */
        put(f->dir, "mtty/" U1, "{\"mdev_type\":\"mtty-2\",\"start\":\"auto\",\"attrs\":[]}\n");
        put(f->dir, "0000:00:02.0/" U2, "{\n  \"mdev_type\": \"i915-GVTg_V5_4\",\n  \"start\": \"auto\"\n}\n");
        /* Not taken, each reported. */
        put(f->dir, "mtty/" U3, "{\"mdev_type\":\"mtty-1\",\"start\":\"manual\",\"attrs\":[]}");
        put(f->dir, "mtty/" U4, "{\"mdev_type\":\"mtty-1\",\"start\":\"auto\",\"attrs\":[{\"assign_adapter\":\"5\"}]}");
        put(f->dir, "mtty/33333333-2222-4333-8444-555555555555", "{\"mdev_type\":\"mtty-1\",\"start\":\"auto\",");
        put(f->dir, "mtty/44444444-2222-4333-8444-555555555555",
            "{\"mdev_type\":\"mtty-1\",\"start\":\"auto\",\"attrs\":[]} {}");
        put(f->dir, "mtty/55555555-2222-4333-8444-555555555555",
            "{\"mdev_type\":\"mtty-1\",\"start\":\"auto\",\"parent\":\"x\"}");
        put(f->dir, "mtty/66666666-2222-4333-8444-555555555555", "{\"mdev_type\":\"../../x\",\"start\":\"auto\"}");
        put(f->dir, "mtty/77777777-2222-4333-8444-555555555555", "{\"mdev_type\":\"mtty-1\",\"start\":\"always\"}");
        put(f->dir, "mtty/88888888-2222-4333-8444-555555555555", "{\"start\":\"auto\"}");
        put(f->dir, "mtty/99999999-2222-4333-8444-555555555555", "[\"mtty-1\"]");
        put(f->dir, "mtty/aaaaaaaa-2222-4333-8444-555555555555", "{\"mdev_type\":\"mtty-1\",\"start\":\"auto\",\"attrs\":{}}");
        put(f->dir, "mtty/AAAAAAAA-2222-4333-8444-555555555555", "{\"mdev_type\":\"mtty-1\",\"start\":\"auto\"}");
        put(f->dir, "mtty/notes.txt", "hello");
        put(f->dir, "00:02.0/" U3, "{\"mdev_type\":\"mtty-1\",\"start\":\"auto\"}");
        put(f->dir, "bad+name/" U3, "{\"mdev_type\":\"mtty-1\",\"start\":\"auto\"}");
        /* mdevctl's call-outs: not a parent, not reported. */
        put(f->dir, "scripts.d/callouts/x", "#!/bin/sh\n");
        /* A symlinked file and a symlinked parent directory: never followed. */
        put(f->root, "elsewhere/" U3, "{\"mdev_type\":\"mtty-1\",\"start\":\"auto\"}");
        snprintf(t, sizeof(t), "%s/elsewhere/" U3, f->root);
        snprintf(p, sizeof(p), "%s/mtty/bbbbbbbb-2222-4333-8444-555555555555", f->dir);
        assert_int_equal(symlink(t, p), 0);
        snprintf(t, sizeof(t), "%s/elsewhere", f->root);
        snprintf(p, sizeof(p), "%s/link", f->dir);
        assert_int_equal(symlink(t, p), 0);
        /* A FIFO would block a plain open. */
        snprintf(p, sizeof(p), "%s/mtty/cccccccc-2222-4333-8444-555555555555", f->dir);
        assert_int_equal(mkfifo(p, 0600), 0);
        /* Too large. */
        {
                char *big = malloc(MDEVCTL_FILE_MAX + 2);
                assert_non_null(big);
                memset(big, ' ', MDEVCTL_FILE_MAX + 1);
                big[MDEVCTL_FILE_MAX + 1] = 0;
                put(f->dir, "mtty/dddddddd-2222-4333-8444-555555555555", big);
                free(big);
        }

        assert_int_equal(mdevctl_read(f->dir, on_report, f, &defs, &n), 0);
        assert_int_equal(n, 2);
        /* Sorted by parent: "0000:00:02.0" before "mtty". */
        assert_string_equal(defs[0].parent, "0000:00:02.0");
        assert_string_equal(defs[0].type, "i915-GVTg_V5_4");
        assert_string_equal(defs[0].uuid, U2);
        snprintf(p, sizeof(p), "%s/0000:00:02.0/" U2, f->dir);
        assert_string_equal(defs[0].source, p);
        assert_string_equal(defs[1].parent, "mtty");
        assert_string_equal(defs[1].type, "mtty-2");
        assert_string_equal(defs[1].uuid, U1);
        free(defs);

        expect_report(f, LOG_INFO, "mtty/" U3, "\"start\": \"manual\": not created at start, as mdevctl would not");
        expect_report(f, LOG_WARNING, "mtty/" U4,
                      "has 1 vendor attributes (\"attrs\"), which iommud does not write: skipped, create it with "
                      "mdevctl");
        expect_report(f, LOG_WARNING, "mtty/33333333-2222-4333-8444-555555555555",
                      "not valid JSON (it ends too early): skipped");
        expect_report(f, LOG_WARNING, "mtty/44444444-2222-4333-8444-555555555555",
                      "not valid JSON (unexpected character): skipped");
        expect_report(f, LOG_WARNING, "mtty/55555555-2222-4333-8444-555555555555",
                      "unknown key \"parent\" (expected mdev_type, start and attrs): skipped");
        expect_report(f, LOG_WARNING, "mtty/66666666-2222-4333-8444-555555555555",
                      "\"mdev_type\" \"../../x\" is not an mdev type name of letters, digits, '_', '.', ':', '+' and "
                      "'-' (at most 64): skipped");
        expect_report(f, LOG_WARNING, "mtty/77777777-2222-4333-8444-555555555555",
                      "no \"start\" of \"auto\" or \"manual\": skipped");
        expect_report(f, LOG_WARNING, "mtty/88888888-2222-4333-8444-555555555555",
                      "no \"mdev_type\" string: skipped");
        expect_report(f, LOG_WARNING, "mtty/99999999-2222-4333-8444-555555555555", "not a JSON object: skipped");
        expect_report(f, LOG_WARNING, "mtty/aaaaaaaa-2222-4333-8444-555555555555",
                      "\"attrs\" is not an array: skipped");
        expect_report(f, LOG_WARNING, "mtty", "\"AAAAAAAA-2222-4333-8444-555555555555\" is not named by a lower-case "
                                              "UUID: skipped");
        expect_report(f, LOG_WARNING, "mtty", "\"notes.txt\" is not named by a lower-case UUID: skipped");
        expect_report(f, LOG_WARNING, "00:02.0",
                      "not named like an mdev parent (a canonical PCI address such as 0000:00:02.0, or a device "
                      "name): skipped");
        expect_report(f, LOG_WARNING, "bad+name",
                      "not named like an mdev parent (a canonical PCI address such as 0000:00:02.0, or a device "
                      "name): skipped");
        expect_report(f, LOG_WARNING, "mtty/bbbbbbbb-2222-4333-8444-555555555555", "cannot open (a symlink): skipped");
        expect_report(f, LOG_WARNING, "link", "cannot open the directory (a symlink): skipped");
        expect_report(f, LOG_WARNING, "mtty/cccccccc-2222-4333-8444-555555555555", "not a regular file: skipped");
        expect_report(f, LOG_WARNING, "mtty/dddddddd-2222-4333-8444-555555555555", "larger than 65536 bytes: skipped");
        assert_int_equal(f->n_reports, 18);
}

/* The directory itself a symlink: refused as a whole. */
static void test_symlinked_dir(void **state) {
        Fixture *f = *state;
        MdevctlDef *defs = NULL;
        size_t n = 0;
        char t[300];

        put(f->root, "real/mtty/" U1, "{\"mdev_type\":\"mtty-2\",\"start\":\"auto\"}");
        snprintf(t, sizeof(t), "%s/real", f->root);
        assert_int_equal(symlink(t, f->dir), 0);
        assert_int_equal(mdevctl_read(f->dir, on_report, f, &defs, &n), -ELOOP);
        assert_null(defs);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_missing_dir_is_empty, setup, teardown),
                cmocka_unit_test_setup_teardown(test_import, setup, teardown),
                cmocka_unit_test_setup_teardown(test_symlinked_dir, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
