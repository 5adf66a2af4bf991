/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfio-variant.c: the "vfio_pci:" aliases of a modules.alias excerpt (as
 * depmod writes it) and the variant driver they give a device's modalias.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "shared/macro.h"
#include "vfio-variant.h"

/* A ConnectX-7 VF: mlx5_vfio_pci has an alias for it. */
#define MLX5_VF "pci:v000015B3d0000101Esv000015B3sd00000001bc02sc00i00"
/* An Intel NIC nobody has a variant driver for. */
#define E1000E "pci:v00008086d000010D3sv00008086sd0000A01Fbc02sc00i00"
/* A HiSilicon accelerator VF. */
#define HISI_VF "pci:v000019E5d0000A251sv000019E5sd00000000bc12sc00i00"
/* A Pensando device, matched by two aliases below. */
#define PDS_VF "pci:v00001DD8d00001003sv00001DD8sd00005001bc02sc00i00"

static const char excerpt[] =
        "# Aliases extracted from modules themselves.\n"
        /* vfio-pci's own catch-all, first as depmod sorts it on Debian:
         * not a variant. */
        "alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci\n"
        "alias pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_core\n"
        "alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_vfio_pci\n"
        "alias vfio_pci:v000015B3d00001022sv*sd*bc*sc*i* mlx5_vfio_pci\n"
        "alias vfio_pci:v000019E5d0000A251sv*sd*bc*sc*i* hisi_acc_vfio_pci\n"
        "alias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e\n"
        "alias vfio_pci:v00001DD8d00001003sv*sd*bc*sc*i* pds_vfio_pci\n"
        "alias vfio_pci:v00001DD8d*sv*sd*bc*sc*i* later_vfio_pci\n"
        "alias virtio:d00000001v* virtio_net\n"
        "alias fs-vfat vfat\n"
        /* Malformed: no module; no pattern; a module name with '/', with
         * "..", with a space after it; the prefix alone; not "alias". */
        "alias vfio_pci:v00008086d000010D3sv*sd*bc*sc*i*\n"
        "alias vfio_pci: lonely_vfio_pci\n"
        "alias vfio_pci:v00008086d*sv*sd*bc*sc*i* ../../evil\n"
        "alias vfio_pci:v00008086d*sv*sd*bc*sc*i* a/b\n"
        "alias vfio_pci:v00008086d*sv*sd*bc*sc*i* ..\n"
        "alias vfio_pci:v00008086d*sv*sd*bc*sc*i* two words\n"
        "alias vfio_pci:\n"
        "softdep vfio_pci:v00008086d*sv*sd*bc*sc*i* soft_vfio_pci\n"
        "alias vfio_pci:v00008086d*sv*sd*bc*sc*i* crlf_vfio_pci\r\n"
        /* The last line has no newline. */
        "alias vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i* virtio_vfio_pci";

static VfioVariants *parse(const char *text, size_t size) {
        VfioVariants *v = NULL;
        assert_int_equal(vfio_variants_parse(text, size, &v), 0);
        assert_non_null(v);
        return v;
}

static void test_parse_excerpt(void **state) {
        VfioVariants *v = parse(excerpt, strlen(excerpt));

        /* mlx5 (2), hisi, pds, later, virtio: none of the malformed ones,
         * nor vfio-pci's own catch-all. */
        assert_int_equal(vfio_variants_count(v), 6);
        vfio_variants_free(v);
}

static void test_lookup(void **state) {
        VfioVariants *v = parse(excerpt, strlen(excerpt));

        assert_string_equal(vfio_variants_lookup(v, MLX5_VF), "mlx5_vfio_pci");
        assert_string_equal(vfio_variants_lookup(v, HISI_VF), "hisi_acc_vfio_pci");
        assert_string_equal(vfio_variants_lookup(v, "pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00"),
                            "virtio_vfio_pci");
        /* An "alias pci:" line is the host driver, not a variant; and the
         * malformed vfio_pci: lines for Intel were all dropped. */
        assert_null(vfio_variants_lookup(v, E1000E));
        /* Not a PCI modalias, or none. */
        assert_null(vfio_variants_lookup(v, "v000015B3d0000101Esv000015B3sd00000001bc02sc00i00"));
        assert_null(vfio_variants_lookup(v, "virtio:d00000001v00001AF4"));
        assert_null(vfio_variants_lookup(v, ""));
        assert_null(vfio_variants_lookup(v, NULL));
        /* A pattern matches the whole modalias, not a prefix of it. */
        assert_null(vfio_variants_lookup(v, "pci:v000015B3d0000101E"));
        vfio_variants_free(v);
}

static void test_first_match_wins(void **state) {
        VfioVariants *v = parse(excerpt, strlen(excerpt));
        VfioVariants *w;
        static const char reversed[] =
                "alias vfio_pci:v00001DD8d*sv*sd*bc*sc*i* later_vfio_pci\n"
                "alias vfio_pci:v00001DD8d00001003sv*sd*bc*sc*i* pds_vfio_pci\n";

        /* Both Pensando aliases match: the earlier line wins... */
        assert_string_equal(vfio_variants_lookup(v, PDS_VF), "pds_vfio_pci");
        /* ...and the later one still serves what only it matches. */
        assert_string_equal(vfio_variants_lookup(v, "pci:v00001DD8d00001009sv00001DD8sd00000000bc02sc00i00"),
                            "later_vfio_pci");
        vfio_variants_free(v);

        w = parse(reversed, strlen(reversed));
        assert_string_equal(vfio_variants_lookup(w, PDS_VF), "later_vfio_pci");
        vfio_variants_free(w);
}

static void test_none(void **state) {
        VfioVariants *v = parse("", 0);

        assert_int_equal(vfio_variants_count(v), 0);
        assert_null(vfio_variants_lookup(v, MLX5_VF));
        vfio_variants_free(v);
        /* No table at all: vfio-pci for everything. */
        assert_null(vfio_variants_lookup(NULL, MLX5_VF));
        assert_int_equal(vfio_variants_count(NULL), 0);
}

static void test_size_bounds_the_text(void **state) {
        /* Only the first line is within @size; the rest must not count. */
        static const char text[] =
                "alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_vfio_pci\n"
                "alias vfio_pci:v000019E5d0000A251sv*sd*bc*sc*i* hisi_acc_vfio_pci\n";
        size_t first = strchr(text, '\n') - text + 1;
        VfioVariants *v = parse(text, first);

        assert_int_equal(vfio_variants_count(v), 1);
        assert_null(vfio_variants_lookup(v, HISI_VF));
        vfio_variants_free(v);

        /* Cut inside the module name: the name ends there. */
        v = parse(text, first - 5);
        assert_int_equal(vfio_variants_count(v), 1);
        assert_string_equal(vfio_variants_lookup(v, MLX5_VF), "mlx5_vfio");
        vfio_variants_free(v);
}

static void test_load(void **state) {
        char dir[] = "/tmp/iommud-test-alias-XXXXXX", path[PATH_MAX];
        VfioVariants *v = NULL;
        FILE *f;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/modules.alias", dir);

        /* Missing: no variants, no error. */
        assert_int_equal(vfio_variants_load(path, &v), 0);
        assert_int_equal(vfio_variants_count(v), 0);
        v = vfio_variants_free(v);

        f = fopen(path, "we");
        assert_non_null(f);
        fputs(excerpt, f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(vfio_variants_load(path, &v), 0);
        assert_int_equal(vfio_variants_count(v), 6);
        assert_string_equal(vfio_variants_lookup(v, MLX5_VF), "mlx5_vfio_pci");
        v = vfio_variants_free(v);

        /* A directory is no alias file. */
        assert_true(vfio_variants_load(dir, &v) < 0);
        assert_null(v);

        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(dir), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_excerpt),
                cmocka_unit_test(test_lookup),
                cmocka_unit_test(test_first_match_wins),
                cmocka_unit_test(test_none),
                cmocka_unit_test(test_size_bounds_the_text),
                cmocka_unit_test(test_load),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
