/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pci-address.h"

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Exactly @n hex digits at @s; no sign, no 0x, no white space. */
static int parse_hex_fixed(const char *s, size_t n, uint32_t *ret) {
        uint32_t v = 0;
        for (size_t i = 0; i < n; i++) {
                int h = hexval(s[i]);
                if (h < 0)
                        return -EINVAL;
                v = v << 4 | (uint32_t) h;
        }
        *ret = v;
        return 0;
}

int pci_address_parse(const char *s, PciAddress *ret) {
        uint32_t domain = 0, bus, dev, fn;
        size_t len;
        const char *p;

        if (!s)
                return -EINVAL;
        /* Bound the scan before anything else: the longest valid form is 16. */
        len = strnlen(s, PCI_ADDRESS_STRING_MAX);
        if (len < 7 || len >= PCI_ADDRESS_STRING_MAX)
                return -EINVAL;

        /* The tail is always BB:DD.F. */
        p = s + len - 7;
        if (p[2] != ':' || p[5] != '.')
                return -EINVAL;
        if (parse_hex_fixed(p, 2, &bus) < 0 ||
            parse_hex_fixed(p + 3, 2, &dev) < 0 ||
            parse_hex_fixed(p + 6, 1, &fn) < 0)
                return -EINVAL;
        if (dev > 0x1f || fn > 7)
                return -EINVAL;

        if (len > 7) {
                /* DOMAIN: in front: 4 to 8 hex digits and a colon. */
                size_t dlen = len - 8;
                if (s[len - 8] != ':' || dlen < 4 || dlen > 8)
                        return -EINVAL;
                if (parse_hex_fixed(s, dlen, &domain) < 0)
                        return -EINVAL;
                /* More than 4 digits only where the value needs them, so
                 * that each function has exactly one spelling. */
                if (dlen > 4 && (domain >> ((dlen - 1) * 4)) == 0)
                        return -EINVAL;
        }

        if (ret)
                *ret = (PciAddress) {
                        .domain = domain,
                        .bus = (uint8_t) bus,
                        .device = (uint8_t) dev,
                        .function = (uint8_t) fn,
                };
        return 0;
}

const char *pci_address_format(const PciAddress *a, char buf[static PCI_ADDRESS_STRING_MAX]) {
        snprintf(buf, PCI_ADDRESS_STRING_MAX, "%04x:%02x:%02x.%x",
                 (unsigned) a->domain, a->bus, a->device, a->function);
        return buf;
}

int pci_address_canonicalize(const char *s, char buf[static PCI_ADDRESS_STRING_MAX]) {
        PciAddress a;
        int r = pci_address_parse(s, &a);
        if (r < 0)
                return r;
        pci_address_format(&a, buf);
        return 0;
}

bool pci_address_equal(const PciAddress *a, const PciAddress *b) {
        return a->domain == b->domain && a->bus == b->bus &&
               a->device == b->device && a->function == b->function;
}
