/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>

#include "hex.h"

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int hex_parse_fixed(const char *s, size_t n, uint32_t *ret) {
        uint32_t v = 0;

        if (n == 0 || n > 8)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                int h = hexval(s[i]);
                if (h < 0)
                        return -EINVAL;
                v = v << 4 | (uint32_t) h;
        }
        *ret = v;
        return 0;
}
