/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * errors.h against the varlink IDL: every named error the faces answer
 * with is declared in data/org.iommud.Manager.varlink, and every error the
 * IDL declares is in the table (so the D-Bus face, which names them from
 * the table, offers exactly the varlink errors).
 *
 * Usage (meson passes it): test-errors IDL
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "errors.h"

static const char *idl_path;

static void test_table_is_the_idl(void **state) {
        char line[1024], declared[64][64];
        size_t n = 0, n_table = 0;
        FILE *f = fopen(idl_path, "re");

        assert_non_null(f);
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, "error ", 6) == 0) {
                        assert_true(n < 64);
                        assert_int_equal(sscanf(line + 6, "%63[A-Za-z]", declared[n]), 1);
                        if (!iommud_error_known(declared[n]))
                                fail_msg("the IDL declares %s, errors.h does not have it", declared[n]);
                        n++;
                }
        fclose(f);
        for (const char *const *e = iommud_error_names(); *e; e++) {
                bool found = false;
                for (size_t i = 0; i < n; i++)
                        found = found || strcmp(declared[i], *e) == 0;
                if (!found)
                        fail_msg("errors.h has %s, the IDL does not declare it", *e);
                n_table++;
        }
        assert_int_equal(n_table, n);
        assert_false(iommud_error_known("Cancelled"));
        assert_false(iommud_error_known(NULL));
        assert_false(iommud_error_known("groupbusy"));
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table_is_the_idl),
        };
        if (argc != 2)
                return 1;
        idl_path = argv[1];
        return cmocka_run_group_tests(tests, NULL, NULL);
}
