/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "errors.h"

#define NAME(n) #n,
static const char *const names[] = { IOMMUD_ERRORS(NAME) NULL };
#undef NAME

bool iommud_error_known(const char *name) {
        for (size_t i = 0; name && names[i]; i++)
                if (strcmp(names[i], name) == 0)
                        return true;
        return false;
}

const char *const *iommud_error_names(void) {
        return names;
}
