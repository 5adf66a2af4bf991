/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * run.h - a shell command's output, for the tests that drive clients
 * that are not ours (busctl, gdbus, iommuctl).  Uses cmocka's assertions.
 */
#pragma once

/* Run @fmt (a shell command) and return its stdout and stderr, to be
 * freed, with its exit status in *@ret_status (-1 when it did not exit)
 * unless @ret_status is NULL. */
char *run(int *ret_status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The first 64 KiB of the file at @path, to be freed ("" when it cannot
 * be read). */
char *slurp(const char *path);
