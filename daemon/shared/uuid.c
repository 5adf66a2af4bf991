/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "uuid.h"

int uuid_canonicalize(const char *s, char buf[static UUID_STRING_MAX]) {
        char out[UUID_STRING_MAX];

        if (!s || strnlen(s, UUID_STRING_MAX) != UUID_STRING_MAX - 1)
                return -EINVAL;
        for (int i = 0; i < UUID_STRING_MAX - 1; i++) {
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (s[i] != '-')
                                return -EINVAL;
                        out[i] = '-';
                } else {
                        if (!isxdigit((unsigned char) s[i]))
                                return -EINVAL;
                        out[i] = (char) tolower((unsigned char) s[i]);
                }
        }
        out[UUID_STRING_MAX - 1] = 0;
        memcpy(buf, out, UUID_STRING_MAX);
        return 0;
}
