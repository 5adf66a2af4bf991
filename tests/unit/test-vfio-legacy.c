/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfio-legacy.c without VFIO: device names are checked before any ioctl,
 * failures say which step failed, each errno the kernel gives at a step
 * has its sentence, and POSIX ACLs are encoded as the kernel stores them
 * and edited without losing anyone else's entry.  (The calls themselves,
 * and the ACLs on devtmpfs, run against the real kernel in the VM check
 * legacy-backend.)
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/posix_acl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <cmocka.h>

#include "vfio-legacy.h"

#define U ((uint32_t) ACL_UNDEFINED_ID)

static void test_device_names(void **state) {
        static const char *const bad[] = {
                "", "0000:00:03.0 ", " 0000:00:03.0", "0000:00:03.0\n", "0000:00:03.8", "0000:00:20.0",
                "0000:00:03", "00:3.0", "0000:00:03.0 vf_token=00000000-0000-0000-0000-000000000000",
                "../0000:00:03.0", "/dev/vfio/1", "0000:00:03.0/../x", "1", "vfio0",
                "83b8f4f2-509f-382f-3c1e-e6bfe0fa100", "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001x",
                "83b8f4f2_509f_382f_3c1e_e6bfe0fa1001", "{83b8f4f2-509f-382f-3c1e-e6bfe0fa1001}",
        };
        int fd;

        /* /dev/null is no group: a name that passed the check reaches the
         * ioctl and gets ENOTTY, one that did not is EINVAL before it. */
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(vfio_legacy_device_open(fd, bad[i]), -EINVAL);
        assert_int_equal(vfio_legacy_device_open(fd, NULL), -EINVAL);
        for (const char *const *n = (const char *const[]) { "0000:00:03.0", "00:03.0", "0000:0A:1f.7",
                                                             "10000:00:00.0",
                                                             "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001",
                                                             "83B8F4F2-509F-382F-3C1E-E6BFE0FA1001", NULL };
             *n; n++)
                assert_int_equal(vfio_legacy_device_open(fd, *n), -ENOTTY);
        close(fd);
}

static void test_open_steps(void **state) {
        LegacyStep step = LEGACY_STEP_ACL;

        assert_int_equal(vfio_legacy_container_open("/nonexistent/vfio", &step), -ENOENT);
        assert_int_equal(step, LEGACY_STEP_CONTAINER_OPEN);
        /* Not a container: the open works, the version ioctl does not. */
        step = LEGACY_STEP_ACL;
        assert_int_equal(vfio_legacy_container_open("/dev/null", &step), -ENOTTY);
        assert_int_equal(step, LEGACY_STEP_API_VERSION);
        /* The other calls pass the kernel's answer on as it is. */
        int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(vfio_legacy_group_set_container(fd, fd), -ENOTTY);
        assert_int_equal(vfio_legacy_set_iommu(fd), -ENOTTY);
        assert_int_equal(vfio_legacy_unmap_all(fd), -ENOTTY);
        close(fd);
}

static void test_reasons(void **state) {
        assert_non_null(strstr(vfio_legacy_error_reason(LEGACY_STEP_GROUP_OPEN, -EBUSY), "one open file"));
        assert_non_null(strstr(vfio_legacy_error_reason(LEGACY_STEP_GROUP_OPEN, -EBUSY), "cdev"));
        assert_non_null(strstr(vfio_legacy_error_reason(LEGACY_STEP_GROUP_OPEN, -ENOENT), "VFIO driver"));
        assert_non_null(strstr(vfio_legacy_error_reason(LEGACY_STEP_GROUP_STATUS, -EADDRNOTAVAIL), "host driver"));
        assert_non_null(strstr(vfio_legacy_error_reason(LEGACY_STEP_SET_CONTAINER, -EPERM), "host driver"));
        assert_non_null(strstr(vfio_legacy_error_reason(LEGACY_STEP_SET_IOMMU, -EINVAL), "no group"));
        assert_non_null(strstr(vfio_legacy_error_reason(LEGACY_STEP_DEVICE_OPEN, -ENODEV), "no such device"));
        assert_non_null(strstr(vfio_legacy_error_reason(LEGACY_STEP_UNMAP_ALL, -EOPNOTSUPP), "5.13"));
        assert_non_null(strstr(vfio_legacy_error_reason(LEGACY_STEP_CONTAINER_OPEN, -ENOENT), "/dev/vfio/vfio"));
        assert_non_null(strstr(vfio_legacy_error_reason(LEGACY_STEP_TYPE1V2, -EOPNOTSUPP), "type1v2"));
        assert_non_null(strstr(vfio_legacy_error_reason(LEGACY_STEP_ACL, -EOPNOTSUPP), "TMPFS_POSIX_ACL"));
        /* Anything else: the kernel's own words. */
        assert_string_equal(vfio_legacy_error_reason(LEGACY_STEP_SET_IOMMU, -ENOMEM), strerror(ENOMEM));
        assert_string_equal(vfio_legacy_error_reason(LEGACY_STEP_GROUP_STATUS, -EBUSY), strerror(EBUSY));
        assert_string_equal(vfio_legacy_step_to_string(LEGACY_STEP_GROUP_OPEN), "open the group node");
        assert_string_equal(vfio_legacy_step_to_string((LegacyStep) 99), "?");
}

/* --- ACLs ---------------------------------------------------------------- */

static void le16(uint8_t *p, uint16_t v) {
        p[0] = v & 0xff;
        p[1] = v >> 8;
}

static void le32(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++)
                p[i] = (v >> (8 * i)) & 0xff;
}

/* The bytes `setfacl -m u:1000:rw` leaves on a 0600 node, written out by
 * hand from include/uapi/linux/posix_acl_xattr.h. */
static size_t sample_xattr(uint8_t *buf) {
        static const struct { uint16_t tag, perm; uint32_t id; } e[] = {
                { ACL_USER_OBJ, 6, U }, { ACL_USER, 6, 1000 }, { ACL_GROUP_OBJ, 0, U }, { ACL_MASK, 6, U },
                { ACL_OTHER, 0, U },
        };
        le32(buf, 2);
        for (size_t i = 0; i < 5; i++) {
                le16(buf + 4 + 8 * i, e[i].tag);
                le16(buf + 6 + 8 * i, e[i].perm);
                le32(buf + 8 + 8 * i, e[i].id);
        }
        return 4 + 5 * 8;
}

static void assert_entry(const VfioAcl *acl, size_t i, uint16_t tag, uint16_t perm, uint32_t id) {
        assert_true(i < acl->n);
        assert_int_equal(acl->entries[i].tag, tag);
        assert_int_equal(acl->entries[i].perm, perm);
        assert_int_equal(acl->entries[i].id, id);
}

static void test_acl_wire_format(void **state) {
        uint8_t want[64], got[64];
        VfioAcl acl = { .n = 0 };
        size_t n = sample_xattr(want);

        assert_int_equal(vfio_acl_decode(want, n, &acl), 0);
        assert_int_equal(acl.n, 5);
        assert_entry(&acl, 1, ACL_USER, ACL_READ | ACL_WRITE, 1000);
        assert_entry(&acl, 3, ACL_MASK, ACL_READ | ACL_WRITE, U);
        assert_int_equal(vfio_acl_encode(&acl, NULL, 0), (int) n);
        assert_int_equal(vfio_acl_encode(&acl, got, n - 1), -ERANGE);
        assert_int_equal(vfio_acl_encode(&acl, got, sizeof(got)), (int) n);
        assert_memory_equal(got, want, n);
        vfio_acl_done(&acl);

        /* Built from the mode and granted: the same bytes. */
        assert_int_equal(vfio_acl_from_mode(S_IFCHR | 0600, &acl), 0);
        assert_int_equal(vfio_acl_grant_user(&acl, 1000, ACL_READ | ACL_WRITE), 0);
        assert_int_equal(vfio_acl_encode(&acl, got, sizeof(got)), (int) n);
        assert_memory_equal(got, want, n);
        vfio_acl_done(&acl);
}

static void test_acl_decode_refuses(void **state) {
        uint8_t buf[64];
        VfioAcl acl = { .n = 0 };
        size_t n = sample_xattr(buf);

        assert_int_equal(vfio_acl_decode(buf, 3, &acl), -EINVAL);
        assert_int_equal(vfio_acl_decode(buf, n - 1, &acl), -EINVAL);
        /* Only the header: no USER_OBJ. */
        assert_int_equal(vfio_acl_decode(buf, 4, &acl), -EINVAL);
        le32(buf, 1);
        assert_int_equal(vfio_acl_decode(buf, n, &acl), -EOPNOTSUPP);
        le32(buf, 2);
        /* Named entry without its mask. */
        memmove(buf + 4 + 3 * 8, buf + 4 + 4 * 8, 8);
        assert_int_equal(vfio_acl_decode(buf, n - 8, &acl), -EINVAL);
        /* Out of order: GROUP_OBJ before the named user. */
        n = sample_xattr(buf);
        uint8_t tmp[8];
        memcpy(tmp, buf + 4 + 8, 8);
        memcpy(buf + 4 + 8, buf + 4 + 16, 8);
        memcpy(buf + 4 + 16, tmp, 8);
        assert_int_equal(vfio_acl_decode(buf, n, &acl), -EINVAL);
        /* A perm beyond rwx. */
        n = sample_xattr(buf);
        le16(buf + 6, 8);
        assert_int_equal(vfio_acl_decode(buf, n, &acl), -EINVAL);
        assert_int_equal(vfio_acl_decode(NULL, 0, &acl), -EINVAL);
}

static void test_acl_merge(void **state) {
        VfioAcl acl = { .n = 0 };

        /* Someone else's entries: user 2000 r, group 30 rw, a mask r that
         * keeps group 30 at r effectively. */
        assert_int_equal(vfio_acl_from_mode(0640, &acl), 0);
        assert_int_equal(vfio_acl_grant_user(&acl, 2000, ACL_READ), 0);
        acl.entries = reallocarray(acl.entries, acl.n + 1, sizeof(VfioAclEntry));
        assert_non_null(acl.entries);
        acl.entries[acl.n++] = (VfioAclEntry) { .tag = ACL_GROUP, .perm = ACL_READ | ACL_WRITE, .id = 30 };
        assert_int_equal(vfio_acl_encode(&acl, NULL, 0), 4 + 6 * 8);
        assert_entry(&acl, 4, ACL_MASK, ACL_READ, U);

        /* Granting sorts our entry among the others, by id, and widens
         * the mask by rw only. */
        assert_int_equal(vfio_acl_grant_user(&acl, 1000, ACL_READ | ACL_WRITE), 0);
        assert_int_equal(acl.n, 7);
        assert_entry(&acl, 0, ACL_USER_OBJ, 6, U);
        assert_entry(&acl, 1, ACL_USER, 6, 1000);
        assert_entry(&acl, 2, ACL_USER, 4, 2000);
        assert_entry(&acl, 3, ACL_GROUP_OBJ, 4, U);
        assert_entry(&acl, 4, ACL_GROUP, 6, 30);
        assert_entry(&acl, 5, ACL_MASK, 6, U);
        assert_entry(&acl, 6, ACL_OTHER, 0, U);
        /* Again: replaced, not doubled. */
        assert_int_equal(vfio_acl_grant_user(&acl, 1000, ACL_READ | ACL_WRITE), 0);
        assert_int_equal(acl.n, 7);

        /* Removing ours keeps everyone else's; the mask may only narrow:
         * the remaining entries use rw (group 30), so it stays rw. */
        assert_int_equal(vfio_acl_remove_user(&acl, 1000), 1);
        assert_int_equal(vfio_acl_remove_user(&acl, 1000), 0);
        assert_int_equal(acl.n, 6);
        assert_entry(&acl, 1, ACL_USER, 4, 2000);
        assert_entry(&acl, 3, ACL_GROUP, 6, 30);
        assert_entry(&acl, 4, ACL_MASK, 6, U);
        assert_true(vfio_acl_encode(&acl, NULL, 0) > 0);
        vfio_acl_done(&acl);

        /* A restrictive mask narrows further on removal, never widens. */
        assert_int_equal(vfio_acl_from_mode(0600, &acl), 0);
        assert_int_equal(vfio_acl_grant_user(&acl, 1000, ACL_READ | ACL_WRITE), 0);
        assert_int_equal(vfio_acl_grant_user(&acl, 2000, ACL_READ), 0);
        assert_int_equal(vfio_acl_remove_user(&acl, 1000), 1);
        assert_entry(&acl, 3, ACL_MASK, ACL_READ, U);
        /* The last named entry gone: the mask goes, the ACL is the mode
         * again (GROUP_OBJ as it was). */
        assert_int_equal(vfio_acl_remove_user(&acl, 2000), 1);
        assert_int_equal(acl.n, 3);
        assert_entry(&acl, 1, ACL_GROUP_OBJ, 0, U);
        vfio_acl_done(&acl);

        /* Nonsense is refused. */
        assert_int_equal(vfio_acl_from_mode(0600, &acl), 0);
        assert_int_equal(vfio_acl_grant_user(&acl, (uid_t) -1, ACL_READ), -EINVAL);
        assert_int_equal(vfio_acl_grant_user(&acl, 1000, 8), -EINVAL);
        vfio_acl_done(&acl);
}

/* On a real file, where this machine's file system has ACLs (the VM
 * check does it on devtmpfs). */
static void test_node_acl(void **state) {
        char dir[] = "/tmp/test-vfio-legacy-XXXXXX";
        VfioAcl acl = { .n = 0 };
        struct stat st;
        int dfd, fd, r;

        assert_non_null(mkdtemp(dir));
        dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        fd = openat(dfd, "node", O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(fchmod(fd, 0600), 0);
        close(fd);
        assert_int_equal(symlinkat("node", dfd, "link"), 0);

        /* Names are one component, links are not followed. */
        assert_int_equal(vfio_node_acl_grant(dfd, "../node", 1000), -EINVAL);
        assert_int_equal(vfio_node_acl_grant(dfd, "..", 1000), -EINVAL);
        assert_int_equal(vfio_node_acl_grant(dfd, "", 1000), -EINVAL);
        assert_int_equal(vfio_node_acl_grant(dfd, NULL, 1000), -EINVAL);
        assert_int_equal(vfio_node_acl_grant(dfd, "link", 1000), -ELOOP);
        assert_int_equal(vfio_node_acl_grant(dfd, "missing", 1000), -ENOENT);
        /* The group variant wants a character device. */
        assert_int_equal(vfio_group_acl_grant(dfd, 7, 1000), -ENOENT);
        assert_int_equal(renameat(dfd, "node", dfd, "7"), 0);
        assert_int_equal(vfio_group_acl_grant(dfd, 7, 1000), -ENOTTY);
        assert_int_equal(renameat(dfd, "7", dfd, "node"), 0);

        assert_int_equal(vfio_node_acl_read(dfd, "node", &acl), 0);
        assert_int_equal(acl.n, 3);
        vfio_acl_done(&acl);

        r = vfio_node_acl_grant(dfd, "node", 1000);
        if (r == -EOPNOTSUPP) {
                print_message("no POSIX ACLs on %s here: the rest is the VM check's\n", dir);
                goto out;
        }
        assert_int_equal(r, 0);
        assert_int_equal(vfio_node_acl_grant(dfd, "node", 2000), 0);
        assert_int_equal(vfio_node_acl_read(dfd, "node", &acl), 0);
        assert_int_equal(acl.n, 6);
        assert_entry(&acl, 1, ACL_USER, 6, 1000);
        assert_entry(&acl, 2, ACL_USER, 6, 2000);
        vfio_acl_done(&acl);
        assert_int_equal(fstatat(dfd, "node", &st, 0), 0);
        assert_int_equal(st.st_mode & 07777, 0660);     /* group bits: the mask */

        assert_int_equal(vfio_node_acl_revoke(dfd, "node", 1000), 1);
        assert_int_equal(vfio_node_acl_revoke(dfd, "node", 1000), 0);
        assert_int_equal(vfio_node_acl_read(dfd, "node", &acl), 0);
        assert_int_equal(acl.n, 5);
        assert_entry(&acl, 1, ACL_USER, 6, 2000);
        vfio_acl_done(&acl);

        /* The last one gone: no xattr, and the mode as it was. */
        assert_int_equal(vfio_node_acl_revoke(dfd, "node", 2000), 1);
        char path[sizeof(dir) + 8];
        snprintf(path, sizeof(path), "%s/node", dir);
        assert_int_equal(getxattr(path, "system.posix_acl_access", NULL, 0), -1);
        assert_int_equal(errno, ENODATA);
        assert_int_equal(fstatat(dfd, "node", &st, 0), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
out:
        assert_int_equal(unlinkat(dfd, "link", 0), 0);
        assert_int_equal(unlinkat(dfd, "node", 0), 0);
        close(dfd);
        assert_int_equal(rmdir(dir), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_device_names),
                cmocka_unit_test(test_open_steps),
                cmocka_unit_test(test_reasons),
                cmocka_unit_test(test_acl_wire_format),
                cmocka_unit_test(test_acl_decode_refuses),
                cmocka_unit_test(test_acl_merge),
                cmocka_unit_test(test_node_acl),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
