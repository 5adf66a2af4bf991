/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iommud.conf: every error path names the file, the line and the problem,
 * and nothing half-parsed comes back; the matcher picks the right devices.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "shared/macro.h"

static Config *parse_ok(const char *text) {
        Config *c = NULL;
        char *err = NULL;
        int r = config_parse(text, strlen(text), "iommud.conf", &c, &err);
        if (r < 0)
                fail_msg("unexpected error %d: %s", r, err ? err : "(none)");
        assert_null(err);
        return c;
}

static void expect_error(const char *text, size_t size, const char *message) {
        Config *c = (Config *) 0x1;
        char *err = NULL;

        assert_int_equal(config_parse(text, size, "iommud.conf", &c, &err), -EINVAL);
        assert_ptr_equal(c, (Config *) 0x1);    /* untouched */
        assert_non_null(err);
        if (strcmp(err, message) != 0)
                fail_msg("for %s\nexpected: %s\n     got: %s", text, message, err);
        free(err);
}

#define ERR(text, msg) expect_error(text, strlen(text), msg)

static void test_errors(void **state) {
        ERR("Address=0000:00:03.0\n", "iommud.conf:1: Address= outside any section");
        ERR("# policy\n[Assignabel]\n",
            "iommud.conf:2: unknown section [Assignabel]: expected [Assignable], [Managed], [Reserve], [Limits], "
            "[Leases] or [Persistent]");
        ERR("[Leases]\nBackend=vfio\n", "iommud.conf:2: invalid Backend=vfio: expected auto, iommufd or legacy");
        ERR("[Leases]\nBackend=legacy\nBackend=auto\n", "iommud.conf:3: Backend= given twice");
        ERR("[Leases]\nMode=bound\n", "iommud.conf:2: unknown key Mode= in [Leases]: expected Backend=");
        ERR("[Assignable\n", "iommud.conf:1: section header must end with ']'");
        ERR("[Assignable]\nAddress 0000:00:03.0\n", "iommud.conf:2: expected KEY=VALUE or [Section]");
        ERR("[Assignable]\nAdress=0000:00:03.0\n",
            "iommud.conf:2: unknown key Adress= in [Assignable]: expected Address=, Id=, Class= or Parent=");
        ERR("[Assignable]\nAddress=\n", "iommud.conf:2: Address= needs a value");
        ERR("[Assignable]\nAddress=0000:00:03.0 0000:00:04.0\n",
            "iommud.conf:2: white space inside the value of Address=");
        ERR("[Assignable]\nAddress=0000:00:20.0\n",
            "iommud.conf:2: invalid Address=0000:00:20.0: expected a PCI address such as 0000:01:00.0");
        ERR("[Assignable]\nAddress=../../etc\n",
            "iommud.conf:2: invalid Address=../../etc: expected a PCI address such as 0000:01:00.0");
        ERR("[Managed]\nId=8086-10ca\n",
            "iommud.conf:2: invalid Id=8086-10ca: expected VENDOR:DEVICE in hex, such as 8086:10ca or 8086:*");
        ERR("[Managed]\nId=808:10ca\n",
            "iommud.conf:2: invalid Id=808:10ca: expected VENDOR:DEVICE in hex, such as 8086:10ca or 8086:*");
        ERR("[Managed]\nId=8086:10cax\n",
            "iommud.conf:2: invalid Id=8086:10cax: expected VENDOR:DEVICE in hex, such as 8086:10ca or 8086:*");
        ERR("[Reserve]\nClass=020\n",
            "iommud.conf:2: invalid Class=020: expected 2, 4 or 6 hex digits of the PCI class, such as 0200");
        ERR("[Reserve]\nClass=zz\n",
            "iommud.conf:2: invalid Class=zz: expected 2, 4 or 6 hex digits of the PCI class, such as 0200");
        ERR("[Assignable]\nParent=..\n",
            "iommud.conf:2: invalid Parent=..: expected a PF's PCI address or an mdev parent's device name");
        ERR("[Assignable]\nParent=a/b\n",
            "iommud.conf:2: invalid Parent=a/b: expected a PF's PCI address or an mdev parent's device name");
        ERR("[Limits]\nMaxMemlok=1G\n", "iommud.conf:2: unknown key MaxMemlok= in [Limits]: expected MaxMemlock=");
        ERR("[Limits]\nMaxMemlock=1X\n",
            "iommud.conf:2: invalid MaxMemlock=1X: expected a size such as 512M, 64G or bytes");
        ERR("[Limits]\nMaxMemlock=G\n",
            "iommud.conf:2: invalid MaxMemlock=G: expected a size such as 512M, 64G or bytes");
        ERR("[Limits]\nMaxMemlock=99999999999T\n",
            "iommud.conf:2: invalid MaxMemlock=99999999999T: expected a size such as 512M, 64G or bytes (this one is too large)");
        ERR("[Limits]\nMaxMemlock=1G\nMaxMemlock=2G\n", "iommud.conf:3: MaxMemlock= given twice");
        ERR("[Assignable]\nAddress=0000:00:03.0\x01\n", "iommud.conf:2: control character (byte 0x01) in line");
        /* An embedded NUL is a control character too, not an end. */
        expect_error("[Assignable]\nAddress=0000:00:03.0\0junk\n", 36,
                     "iommud.conf:2: control character (byte 0x00) in line");
        {
                char line[CONFIG_LINE_MAX + 64];
                memset(line, 'x', sizeof(line) - 1);
                line[sizeof(line) - 1] = 0;
                ERR(line, "iommud.conf:1: line longer than 1024 bytes");
        }
}

static void test_valid(void **state) {
        _cleanup_(config_freep) Config *c = parse_ok(
                "# iommud.conf\n"
                "\n"
                "[Assignable]\n"
                "  Address = 00:03.0  \n"
                "Id=8086:*\n"
                "; a comment\n"
                "Class=0c03\n"
                "Parent=0000:02:00.0\n"
                "Parent=mtty\n"
                "[Managed]\n"
                "Id=1af4:1000\n"
                "[Reserve]\n"
                "Address=0000:01:01.0\n"
                "[Limits]\n"
                "MaxMemlock=64G\n"
                "[Leases]\n"
                "Backend=legacy\n"
                "[Assignable]\n"
                "Address=0000:00:04.0");       /* no final newline */
        assert_int_equal(c->assignable.n, 6);
        assert_int_equal(c->managed.n, 1);
        assert_int_equal(c->reserve.n, 1);
        assert_true(c->max_memlock == (UINT64_C(64) << 30));
        assert_int_equal(c->backend, CONFIG_BACKEND_LEGACY);
        assert_int_equal(c->assignable.matches[0].line, 4);
        assert_string_equal(c->assignable.matches[3].parent, "0000:02:00.0");
}

static void test_empty_is_deny_all(void **state) {
        _cleanup_(config_freep) Config *c = parse_ok("");
        _cleanup_(device_freep) Device *d = device_new(DEVICE_PCI, "0000:00:03.0");
        assert_false(config_match(&c->assignable, d, NULL));
        assert_true(c->max_memlock == 0);
        assert_int_equal(c->backend, CONFIG_BACKEND_AUTO);
}

static Device *pci(const char *bdf, uint16_t vendor, uint16_t device, uint32_t class_code, const char *physfn) {
        Device *d = device_new(DEVICE_PCI, bdf);
        assert_int_equal(pci_address_parse(bdf, &d->address), 0);
        d->vendor_id = vendor;
        d->device_id = device;
        d->class_code = class_code;
        d->physfn = physfn ? strdup(physfn) : NULL;
        return d;
}

static void test_matcher(void **state) {
        _cleanup_(config_freep) Config *c = parse_ok(
                "[Assignable]\nAddress=0000:00:03.0\nId=1af4:1000\nId=8086:*\nClass=0c03\nParent=0000:02:00.0\nParent=mtty\n");
        _cleanup_(device_freep) Device *edu = pci("0000:00:03.0", 0x1234, 0x11e8, 0x00ff00, NULL);
        _cleanup_(device_freep) Device *edu2 = pci("0000:01:01.0", 0x1234, 0x11e8, 0x00ff00, NULL);
        _cleanup_(device_freep) Device *vnet = pci("0000:01:02.0", 0x1af4, 0x1000, 0x020000, NULL);
        _cleanup_(device_freep) Device *vblk = pci("0000:00:0a.0", 0x1af4, 0x1001, 0x010000, NULL);
        _cleanup_(device_freep) Device *intel = pci("0000:00:1f.2", 0x8086, 0x2922, 0x010601, NULL);
        _cleanup_(device_freep) Device *usb = pci("0000:00:1d.0", 0x1b36, 0x000d, 0x0c0330, NULL);
        _cleanup_(device_freep) Device *vf = pci("0000:02:10.0", 0x1b36, 0x0011, 0x020000, "0000:02:00.0");
        _cleanup_(device_freep) Device *mdev = device_new(DEVICE_MDEV, "3b1d2f63-2a3c-4f39-9b3e-6c1a5e9c0d01");
        _cleanup_(device_freep) Device *mdev2 = device_new(DEVICE_MDEV, "3b1d2f63-2a3c-4f39-9b3e-6c1a5e9c0d02");
        unsigned line = 0;

        mdev->parent = strdup("mtty");
        mdev2->parent = strdup("mdpy");
        assert_true(config_match(&c->assignable, edu, &line));
        assert_int_equal(line, 2);
        assert_false(config_match(&c->assignable, edu2, NULL));
        assert_true(config_match(&c->assignable, vnet, &line));
        assert_int_equal(line, 3);
        assert_false(config_match(&c->assignable, vblk, NULL));
        assert_true(config_match(&c->assignable, intel, &line));
        assert_int_equal(line, 4);
        assert_true(config_match(&c->assignable, usb, &line));
        assert_int_equal(line, 5);
        assert_true(config_match(&c->assignable, vf, &line));
        assert_int_equal(line, 6);
        assert_true(config_match(&c->assignable, mdev, &line));
        assert_int_equal(line, 7);
        assert_false(config_match(&c->assignable, mdev2, NULL));
}

static void test_load(void **state) {
        char path[] = "/tmp/iommud-conf-XXXXXX";
        Config *c = NULL;
        char *err = NULL;
        int fd = mkstemp(path);
        FILE *f;

        assert_true(fd >= 0);
        f = fdopen(fd, "w");
        fputs("[Assignable]\nAddress=0000:00:03.0\n", f);
        fflush(f);
        assert_int_equal(config_load(path, &c, &err), 0);
        assert_true(c->found);
        assert_int_equal(c->assignable.n, 1);
        config_free(c);
        fputs("[Bogus]\n", f);
        fclose(f);
        assert_int_equal(config_load(path, &c, &err), -EINVAL);
        assert_non_null(strstr(err, ":3: unknown section [Bogus]"));
        assert_non_null(strstr(err, path));
        free(err);
        assert_int_equal(unlink(path), 0);

        /* No file: the defaults, nothing assignable. */
        assert_int_equal(config_load(path, &c, &err), 0);
        assert_null(err);
        assert_int_equal(c->assignable.n, 0);
        assert_false(c->found);
        config_free(c);

        /* A directory is not a configuration. */
        assert_int_equal(config_load("/tmp", &c, &err), -EINVAL);
        assert_string_equal(err, "/tmp: not a regular file");
        free(err);
}

#define U1 "6c1f2e3d-4b5a-4978-8a6b-5c4d3e2f1a0b"
#define U2 "0b1a2f3e-4d5c-4b6a-8b7a-6c5d4e3f2a1b"

/* [Persistent]: each refusal names the line and what is wrong with the
 * value, and a name that could become a path never gets through. */
static void test_persistent_errors(void **state) {
        ERR("[Persistent]\nMdev=mtty/mtty-2\n",
            "iommud.conf:2: invalid Mdev=mtty/mtty-2: expected PARENT/TYPE/UUID, such as "
            "mtty/mtty-2/6c1f2e3d-4b5a-4978-8a6b-5c4d3e2f1a0b");
        ERR("[Persistent]\nMdev=mtty/mtty-2/" U1 "/x\n",
            "iommud.conf:2: invalid Mdev=mtty/mtty-2/" U1 "/x: expected PARENT/TYPE/UUID, such as "
            "mtty/mtty-2/6c1f2e3d-4b5a-4978-8a6b-5c4d3e2f1a0b");
        ERR("[Persistent]\nMdev=mtty/mtty-2/../" U1 "\n",
            "iommud.conf:2: invalid Mdev=mtty/mtty-2/../" U1 ": expected PARENT/TYPE/UUID, such as "
            "mtty/mtty-2/6c1f2e3d-4b5a-4978-8a6b-5c4d3e2f1a0b");
        ERR("[Persistent]\nMdev=../mtty/" U1 "\n",
            "iommud.conf:2: invalid Mdev=../mtty/" U1 ": the parent is neither a PCI address nor a device name of "
            "letters, digits, '_', '.', ':' and '-' (at most 64)");
        ERR("[Persistent]\nMdev=/mtty-2/" U1 "\n",
            "iommud.conf:2: invalid Mdev=/mtty-2/" U1 ": the parent is neither a PCI address nor a device name of "
            "letters, digits, '_', '.', ':' and '-' (at most 64)");
        ERR("[Persistent]\nMdev=mtty/../" U1 "\n",
            "iommud.conf:2: invalid Mdev=mtty/../" U1 ": the type is not an mdev type name of letters, digits, "
            "'_', '.', ':', '+' and '-' (at most 64)");
        ERR("[Persistent]\nMdev=mtty/mtty*2/" U1 "\n",
            "iommud.conf:2: invalid Mdev=mtty/mtty*2/" U1 ": the type is not an mdev type name of letters, digits, "
            "'_', '.', ':', '+' and '-' (at most 64)");
        ERR("[Persistent]\nMdev=mtty/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/" U1 "\n",
            "iommud.conf:2: invalid Mdev=mtty/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/" U1
            ": the type is not an mdev type name of letters, digits, '_', '.', ':', '+' and '-' (at most 64)");
        ERR("[Persistent]\nMdev=mtty/mtty-2/6c1f2e3d-4b5a-4978-8a6b-5c4d3e2f1a0\n",
            "iommud.conf:2: invalid Mdev=mtty/mtty-2/6c1f2e3d-4b5a-4978-8a6b-5c4d3e2f1a0: the UUID is not "
            "8-4-4-4-12 hex digits");
        ERR("[Persistent]\nMdev=mtty/mtty-2/" U1 "\nMdev=mtty/mtty-1/6C1F2E3D-4B5A-4978-8A6B-5C4D3E2F1A0B\n",
            "iommud.conf:3: Mdev= with UUID " U1 " given twice (first on line 2): a UUID names one mdev");
        ERR("[Persistent]\nSriovNumVfs=0000:02:00.0\n",
            "iommud.conf:2: invalid SriovNumVfs=0000:02:00.0: expected PF/N, such as 0000:02:00.0/4");
        ERR("[Persistent]\nSriovNumVfs=0000:02:00.0/4/4\n",
            "iommud.conf:2: invalid SriovNumVfs=0000:02:00.0/4/4: expected PF/N, such as 0000:02:00.0/4");
        ERR("[Persistent]\nSriovNumVfs=mtty/4\n",
            "iommud.conf:2: invalid SriovNumVfs=mtty/4: the PF is not a PCI address such as 0000:02:00.0");
        ERR("[Persistent]\nSriovNumVfs=0000:02:00.0/65536\n",
            "iommud.conf:2: invalid SriovNumVfs=0000:02:00.0/65536: the count is not a number from 0 to 65535 "
            "(sriov_totalvfs is 16 bits)");
        ERR("[Persistent]\nSriovNumVfs=0000:02:00.0/-1\n",
            "iommud.conf:2: invalid SriovNumVfs=0000:02:00.0/-1: the count is not a number from 0 to 65535");
        ERR("[Persistent]\nSriovNumVfs=0000:02:00.0/04\n",
            "iommud.conf:2: invalid SriovNumVfs=0000:02:00.0/04: the count is not a number from 0 to 65535");
        ERR("[Persistent]\nSriovNumVfs=0000:02:00.0/\n",
            "iommud.conf:2: invalid SriovNumVfs=0000:02:00.0/: the count is not a number from 0 to 65535");
        ERR("[Persistent]\nSriovNumVfs=0000:02:00.0/1000000\n",
            "iommud.conf:2: invalid SriovNumVfs=0000:02:00.0/1000000: the count is not a number from 0 to 65535");
        /* The same PF in two spellings is still one PF. */
        ERR("[Persistent]\nSriovNumVfs=0000:02:00.0/4\n\nSriovNumVfs=02:00.0/2\n",
            "iommud.conf:4: SriovNumVfs= for PF 0000:02:00.0 given twice (first on line 2)");
        ERR("[Persistent]\nImportMdevctl=true\n", "iommud.conf:2: invalid ImportMdevctl=true: expected yes or no");
        ERR("[Persistent]\nImportMdevctl=no\nImportMdevctl=yes\n", "iommud.conf:3: ImportMdevctl= given twice");
        ERR("[Persistent]\nAddress=0000:00:03.0\n",
            "iommud.conf:2: unknown key Address= in [Persistent]: expected Mdev=, SriovNumVfs= or ImportMdevctl=");
        ERR("[Persistent]\nMdev=mtty/mtty-2/" U1 " mtty/mtty-2/" U2 "\n",
            "iommud.conf:2: white space inside the value of Mdev=");
        /* Definitions are not match rules. */
        ERR("[Assignable]\nMdev=mtty/mtty-2/" U1 "\n",
            "iommud.conf:2: unknown key Mdev= in [Assignable]: expected Address=, Id=, Class= or Parent=");
}

/* 4096 definitions pass, the 4097th is refused on its own line. */
static void test_persistent_limit(void **state) {
        size_t size = 16 + (CONFIG_PERSISTENT_MAX + 1) * 40, k = 0;
        char *text = malloc(size), want[128];
        Config *c;

        assert_non_null(text);
        k += (size_t) snprintf(text + k, size - k, "[Persistent]\n");
        for (int i = 0; i < CONFIG_PERSISTENT_MAX; i++)
                k += (size_t) snprintf(text + k, size - k, "SriovNumVfs=0000:%02x:%02x.%x/1\n", i / 256,
                                       (i / 8) % 32, i % 8);
        c = parse_ok(text);
        assert_int_equal(c->n_sriov, CONFIG_PERSISTENT_MAX);
        config_free(c);
        k += (size_t) snprintf(text + k, size - k, "Mdev=mtty/mtty-2/" U1 "\n");
        snprintf(want, sizeof(want), "iommud.conf:%d: more than %d [Persistent] definitions",
                 CONFIG_PERSISTENT_MAX + 2, CONFIG_PERSISTENT_MAX);
        expect_error(text, k, want);
        free(text);
}

static void test_persistent_valid(void **state) {
        Config *c = parse_ok("[Persistent]\n"
                             "Mdev=mtty/mtty-2/" U1 "\n"
                             "Mdev=03:00.0/nvidia-63/0B1A2F3E-4D5C-4B6A-8B7A-6C5D4E3F2A1B\n"
                             "SriovNumVfs=02:00.0/7\n"
                             "SriovNumVfs=0000:04:00.1/0\n"
                             "SriovNumVfs=0000:05:00.0/65535\n"
                             "ImportMdevctl=yes\n"
                             "[Assignable]\nParent=mtty\n");
        char a[PCI_ADDRESS_STRING_MAX];

        assert_int_equal(c->n_mdevs, 2);
        assert_string_equal(c->mdevs[0].parent, "mtty");
        assert_string_equal(c->mdevs[0].type, "mtty-2");
        assert_string_equal(c->mdevs[0].uuid, U1);
        assert_int_equal(c->mdevs[0].line, 2);
        /* Written canonical: the parent as sysfs names it, the UUID as the
         * kernel does. */
        assert_string_equal(c->mdevs[1].parent, "0000:03:00.0");
        assert_string_equal(c->mdevs[1].type, "nvidia-63");
        assert_string_equal(c->mdevs[1].uuid, U2);
        assert_int_equal(c->n_sriov, 3);
        assert_string_equal(pci_address_format(&c->sriov[0].pf, a), "0000:02:00.0");
        assert_int_equal(c->sriov[0].numvfs, 7);
        assert_int_equal(c->sriov[0].line, 4);
        assert_int_equal(c->sriov[1].numvfs, 0);
        assert_int_equal(c->sriov[2].numvfs, 65535);
        assert_true(c->import_mdevctl);
        assert_int_equal(c->assignable.n, 1);
        config_free(c);

        /* No section: nothing persistent, no import. */
        c = parse_ok("[Assignable]\nParent=mtty\n");
        assert_int_equal(c->n_mdevs, 0);
        assert_int_equal(c->n_sriov, 0);
        assert_false(c->import_mdevctl);
        config_free(c);
}

static void test_mdev_names(void **state) {
        char buf[CONFIG_MDEV_NAME_MAX + 1];

        assert_true(config_mdev_type_is_valid("i915-GVTg_V5_4"));
        assert_true(config_mdev_type_is_valid("vfio_ap-passthrough"));
        assert_false(config_mdev_type_is_valid(""));
        assert_false(config_mdev_type_is_valid(".."));
        assert_false(config_mdev_type_is_valid(".hidden"));
        assert_false(config_mdev_type_is_valid("a/b"));
        assert_false(config_mdev_type_is_valid("a b"));
        assert_false(config_mdev_type_is_valid(NULL));
        assert_int_equal(config_mdev_parent_canonicalize("00:02.0", buf), 0);
        assert_string_equal(buf, "0000:00:02.0");
        assert_int_equal(config_mdev_parent_canonicalize("0.0.0033", buf), 0);      /* an s390 subchannel */
        assert_string_equal(buf, "0.0.0033");
        assert_int_equal(config_mdev_parent_canonicalize("..", buf), -EINVAL);
        assert_int_equal(config_mdev_parent_canonicalize("mt+ty", buf), -EINVAL);
        assert_int_equal(config_mdev_parent_canonicalize("", buf), -EINVAL);
        assert_int_equal(config_mdev_parent_canonicalize(
                                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", buf),
                         -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_persistent_errors),
                cmocka_unit_test(test_persistent_valid),
                cmocka_unit_test(test_persistent_limit),
                cmocka_unit_test(test_mdev_names),
                cmocka_unit_test(test_valid),
                cmocka_unit_test(test_empty_is_deny_all),
                cmocka_unit_test(test_matcher),
                cmocka_unit_test(test_load),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
