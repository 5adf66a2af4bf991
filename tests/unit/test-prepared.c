/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * prepared.c: the record parser's strictness (a record comes back from
 * disk after a restart and names drivers iommud will bind: nothing in it
 * is trusted), and the store in a temporary directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "prepared.h"
#include "shared/macro.h"

#define DEV "0000:00:04.0"
#define DEV2 "0000:01:00.1"
#define VALID "{\"device\":\"" DEV "\",\"originalDriver\":\"e1000e\",\"originalOverride\":null}"

static int parse(const char *name, const char *text, PreparedRecord **ret) {
        return prepared_record_parse(name, text, strlen(text), ret);
}

static void assert_refused(const char *name, const char *text) {
        PreparedRecord *r = NULL;
        int k = parse(name, text, &r);
        if (k != -EINVAL)
                fail_msg("accepted (%d): %s", k, text);
        assert_null(r);
}

static void test_parse_valid(void **state) {
        PreparedRecord *r = NULL;

        assert_int_equal(parse(DEV, VALID, &r), 0);
        assert_string_equal(r->name, DEV);
        assert_string_equal(r->driver, "e1000e");
        assert_null(r->driver_override);
        prepared_record_free(r);

        /* Both null (it was unbound, no override), white space around. */
        assert_int_equal(parse(DEV, " {\"originalOverride\" : \"vfio-pci\", \"device\": \"" DEV
                                    "\",\n\t\"originalDriver\": null}\n\n", &r), 0);
        assert_null(r->driver);
        assert_string_equal(r->driver_override, "vfio-pci");
        prepared_record_free(r);

        /* The long domain form is canonical too. */
        assert_int_equal(parse("10000:e1:1f.7",
                               "{\"device\":\"10000:e1:1f.7\",\"originalDriver\":\"mlx5_core\","
                               "\"originalOverride\":null}", &r), 0);
        assert_string_equal(r->name, "10000:e1:1f.7");
        prepared_record_free(r);
}

static void test_parse_keys(void **state) {
        /* An extra key, a missing one, a misspelt one, none. */
        assert_refused(DEV, "{\"device\":\"" DEV "\",\"originalDriver\":\"e1000e\",\"originalOverride\":null,"
                            "\"extra\":1}");
        assert_refused(DEV, "{\"device\":\"" DEV "\",\"originalDriver\":\"e1000e\"}");
        assert_refused(DEV, "{\"device\":\"" DEV "\",\"originalOverride\":null}");
        assert_refused(DEV, "{\"originalDriver\":\"e1000e\",\"originalOverride\":null}");
        assert_refused(DEV, "{\"device\":\"" DEV "\",\"originalDriver\":\"e1000e\",\"originaloverride\":null}");
        assert_refused(DEV, "{\"device\":\"" DEV "\",\"originalDriver\":\"e1000e\",\"extra\":null}");
        assert_refused(DEV, "{}");
}

static void test_parse_types(void **state) {
        static const char *const bad[] = {
                "[]", "null", "\"" DEV "\"", "1",
                "{\"device\":null,\"originalDriver\":\"e1000e\",\"originalOverride\":null}",
                "{\"device\":42,\"originalDriver\":\"e1000e\",\"originalOverride\":null}",
                "{\"device\":\"" DEV "\",\"originalDriver\":1,\"originalOverride\":null}",
                "{\"device\":\"" DEV "\",\"originalDriver\":true,\"originalOverride\":null}",
                "{\"device\":\"" DEV "\",\"originalDriver\":[\"e1000e\"],\"originalOverride\":null}",
                "{\"device\":\"" DEV "\",\"originalDriver\":{},\"originalOverride\":null}",
                "{\"device\":\"" DEV "\",\"originalDriver\":\"e1000e\",\"originalOverride\":false}",
                "{\"device\":\"" DEV "\",\"originalDriver\":\"e1000e\",\"originalOverride\":0}",
                /* Not JSON as json-c's strict mode sees it. */
                "{'device':'" DEV "','originalDriver':'e1000e','originalOverride':null}",
                "{\"device\":\"" DEV "\",\"originalDriver\":\"e1000e\",\"originalOverride\":null,}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_refused(DEV, bad[i]);
}

static void test_parse_driver_names(void **state) {
        static const char *const bad[] = {
                "../x", "a/b", "..", ".", "", "e1000e\\n", "a b", "e1000e\\u0000x",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",     /* 64 */
        };
        char text[512];

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                snprintf(text, sizeof(text),
                         "{\"device\":\"" DEV "\",\"originalDriver\":\"%s\",\"originalOverride\":null}", bad[i]);
                assert_refused(DEV, text);
                snprintf(text, sizeof(text),
                         "{\"device\":\"" DEV "\",\"originalDriver\":null,\"originalOverride\":\"%s\"}", bad[i]);
                assert_refused(DEV, text);
        }
}

static void test_parse_device_must_match_name(void **state) {
        /* The field names another device than the file does. */
        assert_refused(DEV2, VALID);
        /* The file name is not canonical, though it means the same. */
        assert_refused("00:04.0", VALID);
        assert_refused("0000:00:04.0.tmp", VALID);
        assert_refused(".0000:00:04.0.tmp", VALID);
        assert_refused("", VALID);
        /* The field is not canonical. */
        assert_refused(DEV, "{\"device\":\"00:04.0\",\"originalDriver\":\"e1000e\",\"originalOverride\":null}");
        assert_refused(DEV, "{\"device\":\"0000:00:04.0\\u0000x\",\"originalDriver\":\"e1000e\","
                            "\"originalOverride\":null}");
}

static void test_parse_trailing(void **state) {
        assert_refused(DEV, VALID "x");
        assert_refused(DEV, VALID "{}");
        assert_refused(DEV, VALID VALID);
        assert_refused(DEV, VALID "\n\n}");
        assert_refused(DEV, VALID " null");
        assert_refused(DEV, "{\"device\":\"" DEV "\"");
}

static void test_parse_reads_only_size_bytes(void **state) {
        /* The text is not a C string: what lies past @size is not the
         * record, however it looks. */
        static const char buf[] = VALID "\n" "  \n\t xyz";
        PreparedRecord *r = NULL;

        assert_int_equal(prepared_record_parse(DEV, buf, strlen(VALID) + 1, &r), 0);
        assert_string_equal(r->driver, "e1000e");
        prepared_record_free(r);
        assert_int_equal(prepared_record_parse(DEV, buf, strlen(VALID), &r), 0);
        prepared_record_free(r);
        /* And cut short, it is incomplete. */
        r = NULL;
        assert_int_equal(prepared_record_parse(DEV, buf, strlen(VALID) - 1, &r), -EINVAL);
        assert_null(r);
}

static void test_parse_nul_inside(void **state) {
        char buf[sizeof(VALID) + 8];
        PreparedRecord *r = NULL;

        /* A NUL after the object, where white space could be. */
        memcpy(buf, VALID, strlen(VALID));
        buf[strlen(VALID)] = 0;
        buf[strlen(VALID) + 1] = '\n';
        assert_int_equal(prepared_record_parse(DEV, buf, strlen(VALID) + 2, &r), -EINVAL);
        /* One inside the object. */
        memcpy(buf, VALID, strlen(VALID));
        buf[5] = 0;
        assert_int_equal(prepared_record_parse(DEV, buf, strlen(VALID), &r), -EINVAL);
        /* Empty. */
        assert_int_equal(prepared_record_parse(DEV, "", 0, &r), -EINVAL);
        assert_null(r);
}

static void test_parse_size_limit(void **state) {
        size_t n = 4097;
        char *big = malloc(n + 1);
        PreparedRecord *r = NULL;

        /* A valid record padded with white space to 4096 bytes passes;
         * one byte more is refused. */
        assert_non_null(big);
        memset(big, ' ', n);
        memcpy(big, VALID, strlen(VALID));
        big[n] = 0;
        assert_int_equal(prepared_record_parse(DEV, big, 4096, &r), 0);
        prepared_record_free(r);
        r = NULL;
        assert_int_equal(prepared_record_parse(DEV, big, 4097, &r), -EINVAL);
        assert_null(r);
        free(big);
}

static void test_parse_depth(void **state) {
        assert_refused(DEV, "{\"device\":\"" DEV "\",\"originalDriver\":[[[[[[[[[[[[[[[[\"e1000e\"]]]]]]]]]]]]]]]],"
                            "\"originalOverride\":null}");
        assert_refused(DEV, "{\"device\":\"" DEV "\",\"originalDriver\":{\"a\":{\"b\":{\"c\":{\"d\":{}}}}},"
                            "\"originalOverride\":null}");
        assert_refused(DEV, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                            "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
}

/* ---- the store ---- */

typedef struct Fixture {
        char tmp[PATH_MAX];
        char dir[PATH_MAX + 16];
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        snprintf(f->tmp, sizeof(f->tmp), "/tmp/iommud-test-prepared-XXXXXX");
        assert_non_null(mkdtemp(f->tmp));
        snprintf(f->dir, sizeof(f->dir), "%s/prepared", f->tmp);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->tmp);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

static void put_file(const char *dir, const char *name, const char *content) {
        char p[2 * PATH_MAX];
        FILE *fp;

        snprintf(p, sizeof(p), "%s/%s", dir, name);
        fp = fopen(p, "we");
        assert_non_null(fp);
        fputs(content, fp);
        assert_int_equal(fclose(fp), 0);
}

/* The entries of @dir, sorted, ", "-joined; "" when empty. */
static void list_dir(const char *dir, char *buf, size_t size) {
        struct dirent **names;
        int n = scandir(dir, &names, NULL, alphasort);

        buf[0] = 0;
        assert_true(n >= 0);
        for (int i = 0; i < n; i++) {
                if (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, "..") != 0) {
                        if (buf[0])
                                strncat(buf, ", ", size - strlen(buf) - 1);
                        strncat(buf, names[i]->d_name, size - strlen(buf) - 1);
                }
                free(names[i]);
        }
        free(names);
}

static PreparedStore *open_store(const char *dir, unsigned expect_damaged) {
        PreparedStore *s = NULL;
        unsigned damaged = 12345;

        assert_int_equal(prepared_store_open(dir, &s, &damaged), 0);
        assert_non_null(s);
        assert_int_equal(damaged, expect_damaged);
        return s;
}

static void test_missing_dir_created_on_put(void **state) {
        Fixture *f = *state;
        PreparedStore *s = open_store(f->dir, 0);
        struct stat st;
        char ls[256];

        /* Opening leaves no trace. */
        assert_int_equal(prepared_store_size(s), 0);
        assert_null(prepared_store_get(s, DEV));
        assert_int_equal(stat(f->dir, &st), -1);
        assert_int_equal(errno, ENOENT);

        assert_int_equal(prepared_store_put(s, DEV, "e1000e", NULL), 0);
        assert_int_equal(stat(f->dir, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0700);
        list_dir(f->dir, ls, sizeof(ls));
        assert_string_equal(ls, DEV);
        assert_int_equal(stat(f->dir, &st), 0);
        prepared_store_free(s);
}

static void test_put_survives_reopen(void **state) {
        Fixture *f = *state;
        PreparedStore *s = open_store(f->dir, 0);
        const PreparedRecord *r;
        char ls[256];

        assert_int_equal(prepared_store_put(s, DEV, "e1000e", NULL), 0);
        assert_int_equal(prepared_store_put(s, DEV2, NULL, "virtio-pci"), 0);
        assert_int_equal(prepared_store_size(s), 2);
        prepared_store_free(s);

        s = open_store(f->dir, 0);
        assert_int_equal(prepared_store_size(s), 2);
        r = prepared_store_get(s, DEV);
        assert_non_null(r);
        assert_string_equal(r->name, DEV);
        assert_string_equal(r->driver, "e1000e");
        assert_null(r->driver_override);
        r = prepared_store_get(s, DEV2);
        assert_non_null(r);
        assert_null(r->driver);
        assert_string_equal(r->driver_override, "virtio-pci");
        /* Only the records: no temporary file is left behind. */
        list_dir(f->dir, ls, sizeof(ls));
        assert_string_equal(ls, DEV ", " DEV2);
        prepared_store_free(s);
}

static void test_first_original_wins(void **state) {
        Fixture *f = *state;
        PreparedStore *s = open_store(f->dir, 0);
        const PreparedRecord *r;

        assert_int_equal(prepared_store_put(s, DEV, "e1000e", NULL), 0);
        /* A second prepare sees the device on vfio-pci: that is not its
         * original driver. */
        assert_int_equal(prepared_store_put(s, DEV, "vfio-pci", "vfio-pci"), 0);
        r = prepared_store_get(s, DEV);
        assert_string_equal(r->driver, "e1000e");
        assert_null(r->driver_override);
        prepared_store_free(s);

        /* On disk too. */
        s = open_store(f->dir, 0);
        assert_int_equal(prepared_store_put(s, DEV, "vfio-pci", "vfio-pci"), 0);
        prepared_store_free(s);
        s = open_store(f->dir, 0);
        r = prepared_store_get(s, DEV);
        assert_non_null(r);
        assert_string_equal(r->driver, "e1000e");
        assert_null(r->driver_override);
        prepared_store_free(s);
}

static void test_remove(void **state) {
        Fixture *f = *state;
        PreparedStore *s = open_store(f->dir, 0);
        char ls[256];

        assert_int_equal(prepared_store_put(s, DEV, "e1000e", NULL), 0);
        assert_int_equal(prepared_store_put(s, DEV2, "virtio-pci", NULL), 0);
        assert_int_equal(prepared_store_remove(s, DEV), 0);
        assert_null(prepared_store_get(s, DEV));
        assert_int_equal(prepared_store_size(s), 1);
        list_dir(f->dir, ls, sizeof(ls));
        assert_string_equal(ls, DEV2);
        assert_int_equal(prepared_store_remove(s, DEV), -ENOENT);
        prepared_store_free(s);

        s = open_store(f->dir, 0);
        assert_null(prepared_store_get(s, DEV));
        assert_non_null(prepared_store_get(s, DEV2));
        /* Removed, it may be recorded afresh. */
        assert_int_equal(prepared_store_put(s, DEV, "igb", NULL), 0);
        assert_string_equal(prepared_store_get(s, DEV)->driver, "igb");
        prepared_store_free(s);
}

static void test_put_refuses_bad_names(void **state) {
        Fixture *f = *state;
        PreparedStore *s = open_store(f->dir, 0);
        struct stat st;

        assert_int_equal(prepared_store_put(s, "00:04.0", "e1000e", NULL), -EINVAL);
        assert_int_equal(prepared_store_put(s, "../0000:00:04.0", "e1000e", NULL), -EINVAL);
        assert_int_equal(prepared_store_put(s, DEV, "../x", NULL), -EINVAL);
        assert_int_equal(prepared_store_put(s, DEV, "e1000e", "a/b"), -EINVAL);
        assert_int_equal(prepared_store_put(s, DEV, "..", NULL), -EINVAL);
        assert_int_equal(prepared_store_size(s), 0);
        /* Nothing was written, not even the directory. */
        assert_int_equal(stat(f->dir, &st), -1);
        prepared_store_free(s);
}

static void test_damaged_files_counted_and_ignored(void **state) {
        Fixture *f = *state;
        PreparedStore *s;
        char sub[PATH_MAX + 32];

        assert_int_equal(mkdir(f->dir, 0700), 0);
        put_file(f->dir, DEV, VALID "\n");
        /* Not JSON; the wrong device; a name that is no address; empty;
         * a driver name that climbs; a directory. */
        put_file(f->dir, DEV2, "garbage\n");
        put_file(f->dir, "0000:00:05.0", VALID "\n");
        put_file(f->dir, "notes.txt", VALID "\n");
        put_file(f->dir, "0000:00:06.0", "");
        put_file(f->dir, "0000:00:07.0",
                 "{\"device\":\"0000:00:07.0\",\"originalDriver\":\"../../x\",\"originalOverride\":null}\n");
        snprintf(sub, sizeof(sub), "%s/0000:00:08.0", f->dir);
        assert_int_equal(mkdir(sub, 0700), 0);
        /* Ours, from a put that died before its rename: not counted. */
        put_file(f->dir, ".0000:00:09.0.tmp", "{\"dev");

        s = open_store(f->dir, 6);
        assert_int_equal(prepared_store_size(s), 1);
        assert_non_null(prepared_store_get(s, DEV));
        assert_null(prepared_store_get(s, DEV2));
        assert_null(prepared_store_get(s, "0000:00:05.0"));
        assert_null(prepared_store_get(s, "0000:00:07.0"));
        prepared_store_free(s);

        /* NULL for the count is fine. */
        s = NULL;
        assert_int_equal(prepared_store_open(f->dir, &s, NULL), 0);
        assert_int_equal(prepared_store_size(s), 1);
        prepared_store_free(s);
}

static void test_symlinked_record_ignored(void **state) {
        Fixture *f = *state;
        char target[PATH_MAX + 32], link[PATH_MAX + 32];
        PreparedStore *s;

        /* A record is a file in the directory, never a link to one. */
        assert_int_equal(mkdir(f->dir, 0700), 0);
        snprintf(target, sizeof(target), "%s/elsewhere", f->tmp);
        put_file(f->tmp, "elsewhere", VALID "\n");
        snprintf(link, sizeof(link), "%s/" DEV, f->dir);
        assert_int_equal(symlink(target, link), 0);
        s = open_store(f->dir, 1);
        assert_int_equal(prepared_store_size(s), 0);
        prepared_store_free(s);
}

static void test_fifo_record_does_not_hang(void **state) {
        Fixture *f = *state;
        char fifo[PATH_MAX + 32];
        PreparedStore *s;

        assert_int_equal(mkdir(f->dir, 0700), 0);
        snprintf(fifo, sizeof(fifo), "%s/" DEV, f->dir);
        assert_int_equal(mkfifo(fifo, 0600), 0);
        s = open_store(f->dir, 1);
        assert_int_equal(prepared_store_size(s), 0);
        prepared_store_free(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_valid),
                cmocka_unit_test(test_parse_keys),
                cmocka_unit_test(test_parse_types),
                cmocka_unit_test(test_parse_driver_names),
                cmocka_unit_test(test_parse_device_must_match_name),
                cmocka_unit_test(test_parse_trailing),
                cmocka_unit_test(test_parse_reads_only_size_bytes),
                cmocka_unit_test(test_parse_nul_inside),
                cmocka_unit_test(test_parse_size_limit),
                cmocka_unit_test(test_parse_depth),
                cmocka_unit_test_setup_teardown(test_missing_dir_created_on_put, setup, teardown),
                cmocka_unit_test_setup_teardown(test_put_survives_reopen, setup, teardown),
                cmocka_unit_test_setup_teardown(test_first_original_wins, setup, teardown),
                cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
                cmocka_unit_test_setup_teardown(test_put_refuses_bad_names, setup, teardown),
                cmocka_unit_test_setup_teardown(test_damaged_files_counted_and_ignored, setup, teardown),
                cmocka_unit_test_setup_teardown(test_symlinked_record_ignored, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fifo_record_does_not_hang, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
