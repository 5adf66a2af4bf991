/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * macro.h - the few GNU C extensions iommud relies on, in one place:
 * scope-bound cleanup (_cleanup_) and ownership hand-off (TAKE_PTR/TAKE_FD).
 */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(gnu_printf, a, b)))
#define _warn_unused_result_ __attribute__((warn_unused_result))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#ifndef MAX
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#endif
#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif

/* Hand ownership on: return the value and leave NULL / -EBADF behind. */
#define TAKE_PTR(p) __extension__({             \
        __typeof__(p) _p_ = (p);                \
        (p) = NULL;                             \
        _p_;                                    \
})
#define TAKE_FD(fd) __extension__({             \
        int _fd_ = (fd);                        \
        (fd) = -EBADF;                          \
        _fd_;                                   \
})

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}
static inline void closep(int *fd) {
        safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)
