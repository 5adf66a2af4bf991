/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pci-address.h - PCI function addresses (DDDD:BB:DD.F), parsed strictly.
 *
 * Every PCI address that reaches iommud from outside (a client, a config
 * file, a uevent) goes through pci_address_parse() before it may name
 * anything in sysfs.  The accepted grammar is the kernel's own naming:
 * a domain of 4 or more hex digits (VMD domains such as 10000 exist, up to
 * 0xffffffff), a 2-digit bus, a 2-digit device no larger than 0x1f and a
 * function 0-7; the short form BB:DD.F means domain 0000.  Anything else,
 * including surrounding white space or a trailing newline, is -EINVAL.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct PciAddress {
        uint32_t domain;
        uint8_t bus;
        uint8_t device;   /* 0x00-0x1f */
        uint8_t function; /* 0-7 */
} PciAddress;

/* "ffffffff:ff:1f.7" and its NUL. */
#define PCI_ADDRESS_STRING_MAX 17

/** pci_address_parse() - parse @s strictly; -EINVAL if it is not an address. */
int pci_address_parse(const char *s, PciAddress *ret);

/** pci_address_format() - the canonical form (lower case, 4+ digit domain). */
const char *pci_address_format(const PciAddress *a, char buf[static PCI_ADDRESS_STRING_MAX]);

/** pci_address_canonicalize() - parse @s and write its canonical form. */
int pci_address_canonicalize(const char *s, char buf[static PCI_ADDRESS_STRING_MAX]);

bool pci_address_equal(const PciAddress *a, const PciAddress *b);
