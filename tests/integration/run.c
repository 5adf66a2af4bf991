/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "run.h"

char *run(int *ret_status, const char *fmt, ...) {
        char cmd[4096], *out = NULL;
        size_t n = 0, cap = 0;
        va_list ap;
        FILE *p;
        int st;

        va_start(ap, fmt);
        vsnprintf(cmd, sizeof(cmd), fmt, ap);
        va_end(ap);
        strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
        p = popen(cmd, "r");
        assert_non_null(p);
        for (;;) {
                size_t k;
                if (n + 4096 > cap) {
                        cap = cap ? cap * 2 : 65536;
                        out = realloc(out, cap);
                        assert_non_null(out);
                }
                k = fread(out + n, 1, cap - n - 1, p);
                if (k == 0)
                        break;
                n += k;
        }
        out[n] = 0;
        st = pclose(p);
        if (ret_status)
                *ret_status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        return out;
}

char *slurp(const char *path) {
        FILE *f = fopen(path, "re");
        char *buf = calloc(1, 65536);
        size_t n;

        assert_non_null(buf);
        if (!f)
                return buf;
        n = fread(buf, 1, 65535, f);
        buf[n] = 0;
        fclose(f);
        return buf;
}
