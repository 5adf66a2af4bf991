/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "shared/hashmap.h"

#define N 5000

/* Random puts and removes checked against a plain array. */
static void test_against_reference(void **state) {
        static char keys[N][16];
        static int present[N];
        Hashmap *h = hashmap_new();
        unsigned seed = 12345;

        for (int i = 0; i < N; i++)
                snprintf(keys[i], sizeof(keys[i]), "0000:%02x:%02x.%d", i / 256, (i / 8) % 32, i % 8);
        for (int step = 0; step < 200000; step++) {
                int i;
                seed = seed * 1103515245u + 12345u;
                i = (int) ((seed >> 8) % N);
                if ((seed >> 4) & 1) {
                        int r = hashmap_put(h, keys[i], &present[i]);
                        assert_int_equal(r, present[i] ? -EEXIST : 0);
                        present[i] = 1;
                } else {
                        void *v = hashmap_remove(h, keys[i]);
                        assert_ptr_equal(v, present[i] ? &present[i] : NULL);
                        present[i] = 0;
                }
        }
        size_t n = 0;
        for (int i = 0; i < N; i++) {
                assert_ptr_equal(hashmap_get(h, keys[i]), present[i] ? &present[i] : NULL);
                n += (size_t) present[i];
        }
        assert_int_equal(hashmap_size(h), n);

        size_t it = 0, seen = 0;
        void *v;
        const char *k;
        while (hashmap_iterate(h, &it, &v, &k)) {
                assert_ptr_equal(hashmap_get(h, k), v);
                seen++;
        }
        assert_int_equal(seen, n);
        hashmap_free(h);
}

static void test_replace(void **state) {
        Hashmap *h = hashmap_new();
        int a, b;
        assert_int_equal(hashmap_put(h, "x", &a), 0);
        assert_int_equal(hashmap_replace(h, "x", &b), 0);
        assert_ptr_equal(hashmap_get(h, "x"), &b);
        assert_int_equal(hashmap_size(h), 1);
        assert_null(hashmap_get(h, "y"));
        assert_null(hashmap_remove(h, "y"));
        hashmap_free(h);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_against_reference),
                cmocka_unit_test(test_replace),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
