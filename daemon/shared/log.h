/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * log.h - logging for the programs' edges (the core logs nothing above
 * debug).  To stderr; under systemd, stderr is the journal, and each line
 * carries a <N> priority prefix that journald reads.
 */
#pragma once

#include <stdbool.h>
#include <syslog.h>

#include "macro.h"

void log_setup(const char *program);

/** log_open_kmsg() - also write messages at @level or more urgent to the
 * kernel log (/dev/kmsg), as "PROGRAM[PID]: text": for helpers that run
 * where no journal is yet (udev programs in the initramfs) or whose
 * stderr nobody shows (udev keeps it at debug level).  -errno when
 * /dev/kmsg cannot be opened; stderr still works. */
int log_open_kmsg(int level);
void log_set_max_level(int level);
/** log_to_journal() - whether stderr is the journal (log_setup() saw
 * $JOURNAL_STREAM name it): then structured records may go there too. */
bool log_to_journal(void);
int log_get_max_level(void);
/** log_level_from_string() - "err", "warning", "notice", "info", "debug" or 0-7. */
int log_level_from_string(const char *s);
/** log_set_max_level_from_string() - for a --log-level option: set the
 * level, or log what is accepted and return -EINVAL. */
int log_set_max_level_from_string(const char *s);

/** log_internal() - returns -abs(@error) (or 0), so edges can `return log_error_errno(r, ...)`;
 * "%m" in @fmt stands for strerror(@error). */
int log_internal(int level, int error, const char *fmt, ...) _printf_(3, 4);

#define log_debug(...)   __extension__ log_internal(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)    __extension__ log_internal(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...)  __extension__ log_internal(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) __extension__ log_internal(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)   __extension__ log_internal(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...)   __extension__ log_internal(LOG_DEBUG, e, __VA_ARGS__)
#define log_warning_errno(e, ...) __extension__ log_internal(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...)   __extension__ log_internal(LOG_ERR, e, __VA_ARGS__)
