/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "shared/macro.h"
#include "shared/pci-address.h"

static const struct {
        const char *in, *canonical;
} valid[] = {
        { "0000:00:00.0", "0000:00:00.0" },
        { "0000:00:03.0", "0000:00:03.0" },
        { "0000:01:1f.7", "0000:01:1f.7" },
        { "00:03.0", "0000:00:03.0" },           /* short form: domain 0 */
        { "ABCD:EF:1A.3", "abcd:ef:1a.3" },      /* upper case canonicalised */
        { "ffff:ff:1f.7", "ffff:ff:1f.7" },
        { "10000:e1:00.0", "10000:e1:00.0" },    /* VMD domain */
        { "ffffffff:ff:1f.7", "ffffffff:ff:1f.7" },
};

static const char *const invalid[] = {
        "", "0", "00:03", "0000:00:03", "0000:00:03.", "0000:00:20.0", /* device > 0x1f */
        "0000:00:03.8",                 /* function > 7 */
        " 0000:00:03.0", "0000:00:03.0 ", "0000:00:03.0\n", "0000:00:03.0\t",
        "000:00:03.0", "0:00:03.0",     /* domain shorter than 4 digits */
        "00000:00:03.0",                /* leading zero beyond 4 digits */
        "1ffffffff:00:03.0",            /* domain beyond 32 bits */
        "0000:0:03.0", "0000:000:03.0", "0000:00:3.0", "0000:00:003.0", "0000:00:03.00",
        "0000-00:03.0", "0000:00-03.0", "0000:00:03-0", "0000:00:03:0",
        "0x00:00:03.0", "+000:00:03.0", "-000:00:03.0", "0000:0g:03.0", "0000:00:03.g",
        "../00:03.0", "0000:00:03.0/..", "0000:00:01.0/../../", "..", ".", "/",
        "0000:00:03.0/../../../../etc/passwd",
        "0000:00:03.0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
};

static void test_valid_canonical(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(valid); i++) {
                char buf[PCI_ADDRESS_STRING_MAX];
                PciAddress a, b;

                assert_int_equal(pci_address_parse(valid[i].in, &a), 0);
                assert_string_equal(pci_address_format(&a, buf), valid[i].canonical);
                /* The canonical form parses back to the same function. */
                assert_int_equal(pci_address_parse(buf, &b), 0);
                assert_true(pci_address_equal(&a, &b));
                assert_int_equal(pci_address_canonicalize(valid[i].in, buf), 0);
                assert_string_equal(buf, valid[i].canonical);
        }
}

static void test_fields(void **state) {
        PciAddress a;
        assert_int_equal(pci_address_parse("10000:e1:1d.6", &a), 0);
        assert_int_equal(a.domain, 0x10000);
        assert_int_equal(a.bus, 0xe1);
        assert_int_equal(a.device, 0x1d);
        assert_int_equal(a.function, 6);
}

static void test_invalid(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
                PciAddress a = { .domain = 0x1234 };
                char buf[PCI_ADDRESS_STRING_MAX] = "untouched";

                if (pci_address_parse(invalid[i], &a) != -EINVAL)
                        fail_msg("accepted \"%s\"", invalid[i]);
                /* Nothing is written on failure. */
                assert_int_equal(a.domain, 0x1234);
                assert_int_equal(pci_address_canonicalize(invalid[i], buf), -EINVAL);
                assert_string_equal(buf, "untouched");
        }
        assert_int_equal(pci_address_parse(NULL, NULL), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid_canonical),
                cmocka_unit_test(test_fields),
                cmocka_unit_test(test_invalid),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
