/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hex.h - fixed-width hex parsing for names from outside: no sign, no
 * 0x, no white space, nothing strtoul() would forgive.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/** hex_parse_fixed() - exactly @n (at most 8) hex digits at @s; -EINVAL. */
int hex_parse_fixed(const char *s, size_t n, uint32_t *ret);
