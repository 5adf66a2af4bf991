/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

static int max_level = LOG_INFO;
static bool journal_prefix;
static const char *program_name = "iommud";

void log_setup(const char *program) {
        const char *js = getenv("JOURNAL_STREAM");
        struct stat st;
        unsigned long long dev, ino;

        program_name = program;
        /* stderr is the journal when $JOURNAL_STREAM names it. */
        if (js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
            (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino)
                journal_prefix = true;
}

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

int log_level_from_string(const char *s) {
        static const char *const names[] = { "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug" };
        if (!s)
                return -EINVAL;
        for (int i = 0; i < 8; i++)
                if (strcmp(s, names[i]) == 0)
                        return i;
        if (s[0] >= '0' && s[0] <= '7' && s[1] == 0)
                return s[0] - '0';
        return -EINVAL;
}

int log_internal(int level, int error, const char *fmt, ...) {
        char buf[2048], msg[2048];
        const char *p;
        size_t k = 0;
        va_list ap;
        int saved = errno;

        if (error < 0)
                error = -error;
        if (level > max_level)
                return -error;
        /* Expand %m ourselves: it must mean @error, not errno. */
        for (p = fmt; *p && k < sizeof(buf) - 1; p++) {
                if (p[0] == '%' && p[1] == 'm') {
                        const char *e = strerror(error);
                        size_t n = strlen(e);
                        if (n > sizeof(buf) - 1 - k)
                                n = sizeof(buf) - 1 - k;
                        memcpy(buf + k, e, n);
                        k += n;
                        p++;
                } else if (p[0] == '%' && p[1] == '%' && k < sizeof(buf) - 2) {
                        buf[k++] = '%';
                        buf[k++] = '%';
                        p++;
                } else
                        buf[k++] = *p;
        }
        buf[k] = 0;
        va_start(ap, fmt);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        vsnprintf(msg, sizeof(msg), buf, ap);
#pragma GCC diagnostic pop
        va_end(ap);
        if (journal_prefix)
                fprintf(stderr, "<%d>%s\n", level, msg);
        else
                fprintf(stderr, "%s: %s\n", program_name, msg);
        errno = saved;
        return -error;
}
