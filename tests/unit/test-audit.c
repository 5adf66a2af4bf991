/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <cmocka.h>

#include "audit.h"

static size_t count_prefix(char **f, const char *prefix) {
        size_t n = 0;
        for (; *f; f++)
                n += strncmp(*f, prefix, strlen(prefix)) == 0;
        return n;
}

static const char *find(char **f, const char *key) {
        size_t k = strlen(key);
        for (; *f; f++)
                if (strncmp(*f, key, k) == 0 && (*f)[k] == '=')
                        return *f + k + 1;
        return NULL;
}

/* The IDs are an interface: admins' queries name them.  This list is
 * the one in iommud(8); a change to either must fail here. */
static void test_message_ids_are_fixed(void **state) {
        static const char *const want[_AUDIT_TYPE_MAX][2] = {
                [AUDIT_CLAIM_GRANTED]     = { "ff95a8dcbd8249c09e83f2388f6e8eee", "claim-granted" },
                [AUDIT_CLAIM_DENIED]      = { "44f86f5818cd49f3884ef4648b616922", "claim-denied" },
                [AUDIT_LEASE_ENDED]       = { "ee0c279c5431437484a320d333c387e3", "lease-ended" },
                [AUDIT_RELEASE_REQUESTED] = { "0babce7710aa45b7a45af64dd9468f74", "release-requested" },
                [AUDIT_DEVICE_PREPARED]   = { "4acd8c0ca8c0499db2f00736afb2aea6", "device-prepared" },
                [AUDIT_DEVICE_RESTORED]   = { "79d7299e2a9147b58c13e88a7d7795d8", "device-restored" },
                [AUDIT_MDEV_CREATED]      = { "1cbdeb14a94b4949a0e9a4a855862acb", "mdev-created" },
                [AUDIT_MDEV_REMOVED]      = { "acdb294f008149558c67b535efc8aa50", "mdev-removed" },
                [AUDIT_VFS_CHANGED]       = { "7b4fa6e24da34964b5619bf5d3878f03", "vfs-changed" },
        };

        for (int t = 0; t < _AUDIT_TYPE_MAX; t++) {
                assert_non_null(want[t][0]);
                assert_string_equal(audit_message_id(t), want[t][0]);
                assert_string_equal(audit_type_to_string(t), want[t][1]);
                for (int u = 0; u < t; u++)
                        assert_string_not_equal(audit_message_id(t), audit_message_id(u));
        }
        assert_null(audit_message_id(_AUDIT_TYPE_MAX));
        assert_null(audit_message_id(-1));
}

static void test_claim_granted(void **state) {
        const char *devices[] = { "0000:00:03.0", "0000:01:01.0" };
        uint32_t groups[] = { 4, 7 };
        ProcessInfo holder = { .pid = 4242, .uid = 1000, .comm = "qemu-system-x86" };
        ProcessInfo caller = { .pid = 17, .uid = 0 };
        char **f = NULL;
        size_t n = 0;

        assert_int_equal(audit_fields(&(AuditEvent) { .type = AUDIT_CLAIM_GRANTED, .message = "Lease granted",
                                                      .devices = devices, .n_devices = 2, .groups = groups,
                                                      .n_groups = 2, .lease = "00000000000000a1",
                                                      .process = &holder, .requester = &caller,
                                                      .mode = "bound" }, &f, &n), 0);
        assert_int_equal(n, 15);
        assert_null(f[n]);
        assert_string_equal(f[0], "MESSAGE=Lease granted");
        assert_string_equal(find(f, "MESSAGE_ID"), "ff95a8dcbd8249c09e83f2388f6e8eee");
        assert_string_equal(find(f, "PRIORITY"), "6");
        assert_string_equal(find(f, "IOMMUD_EVENT"), "claim-granted");
        /* Repeated fields, one each, in order. */
        assert_int_equal(count_prefix(f, "IOMMUD_DEVICE="), 2);
        assert_string_equal(f[4], "IOMMUD_DEVICE=0000:00:03.0");
        assert_string_equal(f[5], "IOMMUD_DEVICE=0000:01:01.0");
        assert_string_equal(f[6], "IOMMUD_GROUP=4");
        assert_string_equal(f[7], "IOMMUD_GROUP=7");
        assert_string_equal(find(f, "IOMMUD_LEASE"), "00000000000000a1");
        assert_string_equal(find(f, "IOMMUD_UID"), "1000");
        assert_string_equal(find(f, "IOMMUD_PID"), "4242");
        assert_string_equal(find(f, "IOMMUD_COMMAND"), "qemu-system-x86");
        assert_string_equal(find(f, "IOMMUD_REQUESTER_UID"), "0");
        assert_string_equal(find(f, "IOMMUD_REQUESTER_PID"), "17");
        assert_string_equal(find(f, "IOMMUD_MODE"), "bound");
        assert_null(find(f, "IOMMUD_ERROR"));
        assert_null(find(f, "IOMMUD_NUM_VFS"));
        audit_fields_free(f);
}

/* What is not known is left out, not sent empty; a VF count of 0 is a
 * count. */
static void test_optional_fields_left_out(void **state) {
        ProcessInfo p = { .uid = 0 };
        char **f = NULL;
        size_t n = 0;

        assert_int_equal(audit_fields(&(AuditEvent) { .type = AUDIT_VFS_CHANGED, .message = "0000:02:00.0: 0 VFs",
                                                      .devices = (const char *[]) { "0000:02:00.0" }, .n_devices = 1,
                                                      .process = &p, .reason = "", .num_vfs = 0,
                                                      .previous_num_vfs = 7, .priority = LOG_NOTICE }, &f, &n), 0);
        assert_string_equal(find(f, "PRIORITY"), "5");
        assert_string_equal(find(f, "IOMMUD_UID"), "0");
        assert_null(find(f, "IOMMUD_PID"));
        assert_null(find(f, "IOMMUD_COMMAND"));
        assert_null(find(f, "IOMMUD_REASON"));
        assert_null(find(f, "IOMMUD_GROUP"));
        assert_null(find(f, "IOMMUD_LEASE"));
        assert_string_equal(find(f, "IOMMUD_NUM_VFS"), "0");
        assert_string_equal(find(f, "IOMMUD_PREVIOUS_NUM_VFS"), "7");
        assert_int_equal(n, 8);
        audit_fields_free(f);
}

/* A process names itself: its comm may hold a newline and anything
 * after it.  It stays one field's value (sent in the native protocol's
 * binary form), never a field of its own, and the MESSAGE, also printed
 * as a log line, has it escaped. */
static void test_values_cannot_make_fields(void **state) {
        ProcessInfo evil = { .pid = 9, .uid = 1000, .comm = "ev\nPRIORITY=0" };
        char **f = NULL;
        size_t n = 0;

        assert_int_equal(audit_fields(&(AuditEvent) { .type = AUDIT_CLAIM_DENIED,
                                                      .message = "Claim refused: ev\nPRIORITY=0 \x1b[31m",
                                                      .devices = (const char *[]) { "x\nMESSAGE_ID=0" },
                                                      .n_devices = 1, .process = &evil,
                                                      .error = "PermissionDenied" }, &f, &n), 0);
        assert_int_equal(count_prefix(f, "PRIORITY="), 1);
        assert_int_equal(count_prefix(f, "MESSAGE_ID="), 1);
        assert_string_equal(find(f, "PRIORITY"), "6");
        assert_string_equal(find(f, "IOMMUD_COMMAND"), "ev\nPRIORITY=0");
        assert_string_equal(find(f, "IOMMUD_DEVICE"), "x\nMESSAGE_ID=0");
        assert_string_equal(f[0], "MESSAGE=Claim refused: ev\\x0aPRIORITY=0 \\x1b[31m");
        assert_string_equal(find(f, "IOMMUD_ERROR"), "PermissionDenied");
        for (size_t i = 0; i < n; i++)
                assert_true(strncmp(f[i], "MESSAGE=", 8) != 0 || !strchr(f[i], '\n'));
        audit_fields_free(f);
}

static void test_invalid(void **state) {
        char **f = NULL;
        size_t n = 0;

        assert_int_equal(audit_fields(&(AuditEvent) { .type = _AUDIT_TYPE_MAX, .message = "x" }, &f, &n), -EINVAL);
        assert_int_equal(audit_fields(&(AuditEvent) { .type = AUDIT_LEASE_ENDED }, &f, &n), -EINVAL);
        assert_null(f);
}

/* Without a journal (stderr is no journal stream here) the record is
 * the plain log line, and nothing breaks. */
static void test_log_without_journal(void **state) {
        audit_log(&(AuditEvent) { .type = AUDIT_LEASE_ENDED, .message = "Lease 1 ended: test", .reason = "test" });
        audit_log(&(AuditEvent) { .type = _AUDIT_TYPE_MAX, .message = "no type" });
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_message_ids_are_fixed),
                cmocka_unit_test(test_claim_granted),
                cmocka_unit_test(test_optional_fields_left_out),
                cmocka_unit_test(test_values_cannot_make_fields),
                cmocka_unit_test(test_invalid),
                cmocka_unit_test(test_log_without_journal),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
