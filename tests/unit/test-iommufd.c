/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iommufd.c without a kernel that has iommufd: names are checked before
 * any open, failures say which step failed, and each errno the kernel
 * documents for a step has its sentence.  (The calls themselves run
 * against the real kernel in the VM check iommufd-backend.)
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "iommufd.h"

static void test_device_names(void **state) {
        static const char *const bad[] = {
                "", "vfio", "vfio01", "vfio-1", "vfio1a", "../vfio0", "vfio0/../x", "vfio0 ", " vfio0",
                "vfio12345678901", "VFIO0", "vfi0", "devices/vfio0",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(iommufd_device_open(bad[i]), -EINVAL);
        assert_int_equal(iommufd_device_open(NULL), -EINVAL);
        /* Valid names get as far as the open (which fails here, or not,
         * depending on this machine): never -EINVAL. */
        for (const char *const *n = (const char *const[]) { "vfio0", "vfio7", "vfio1234567890", NULL }; *n; n++) {
                int fd = iommufd_device_open(*n);
                assert_int_not_equal(fd, -EINVAL);
                if (fd >= 0)
                        close(fd);
        }
}

static void test_open_steps(void **state) {
        IommufdStep step = IOMMUFD_STEP_ATTACH;

        assert_int_equal(iommufd_open("/nonexistent/iommu", &step), -ENOENT);
        assert_int_equal(step, IOMMUFD_STEP_OPEN);
        /* Not an iommufd: the open works, the option ioctl does not. */
        step = IOMMUFD_STEP_ATTACH;
        assert_int_equal(iommufd_open("/dev/null", &step), -ENOTTY);
        assert_int_equal(step, IOMMUFD_STEP_RLIMIT_MODE);
}

static void test_reasons(void **state) {
        assert_non_null(strstr(iommufd_error_reason(IOMMUFD_STEP_BIND, -EPERM), "host driver"));
        assert_non_null(strstr(iommufd_error_reason(IOMMUFD_STEP_BIND, -EBUSY), "legacy node"));
        assert_non_null(strstr(iommufd_error_reason(IOMMUFD_STEP_RLIMIT_MODE, -EPERM), "CAP_SYS_RESOURCE"));
        assert_non_null(strstr(iommufd_error_reason(IOMMUFD_STEP_OPEN, -ENOENT), "legacy VFIO backend"));
        assert_non_null(strstr(iommufd_error_reason(IOMMUFD_STEP_DEVICE_OPEN, -ENOENT), "VFIO driver"));
        /* Anything else: the kernel's own words. */
        assert_string_equal(iommufd_error_reason(IOMMUFD_STEP_ATTACH, -ENOMEM), strerror(ENOMEM));
        assert_string_equal(iommufd_step_to_string(IOMMUFD_STEP_BIND), "bind the device to iommufd");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_device_names),
                cmocka_unit_test(test_open_steps),
                cmocka_unit_test(test_reasons),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
