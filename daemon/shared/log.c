/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static int max_level = LOG_INFO;
static bool journal_prefix;
static const char *program_name = "iommud";
static int kmsg_fd = -1;
static int kmsg_level = -1;

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

int log_open_kmsg(int level) {
        int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);

        if (fd < 0)
                return -errno;
        if (kmsg_fd >= 0)
                close(kmsg_fd);
        kmsg_fd = fd;
        kmsg_level = level;
        return 0;
}

void log_set_max_level(int level) {
        max_level = level;
}

bool log_to_journal(void) {
        return journal_prefix;
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

int log_set_max_level_from_string(const char *s) {
        int r = log_level_from_string(s);

        if (r < 0) {
                log_error("Unknown log level '%s': use err, warning, notice, info or debug", s ? s : "");
                return r;
        }
        log_set_max_level(r);
        return 0;
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
        if (kmsg_fd >= 0 && level <= kmsg_level) {
                /* One write(2) per record, as /dev/kmsg wants; the
                 * facility is daemon's, as systemd's tools use there. */
                int n = snprintf(buf, sizeof(buf), "<%d>%s[%d]: %s\n", LOG_DAEMON | level, program_name,
                                 (int) getpid(), msg);
                if (n > 0)
                        (void) !write(kmsg_fd, buf, (size_t) n < sizeof(buf) ? (size_t) n : sizeof(buf) - 1);
                /* journald reads the kernel log too: once is enough. */
                if (journal_prefix) {
                        errno = saved;
                        return -error;
                }
        }
        if (journal_prefix)
                fprintf(stderr, "<%d>%s\n", level, msg);
        else
                fprintf(stderr, "%s: %s\n", program_name, msg);
        errno = saved;
        return -error;
}
