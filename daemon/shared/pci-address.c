/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hex.h"
#include "pci-address.h"

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
        if (hex_parse_fixed(p, 2, &bus) < 0 ||
            hex_parse_fixed(p + 3, 2, &dev) < 0 ||
            hex_parse_fixed(p + 6, 1, &fn) < 0)
                return -EINVAL;
        if (dev > 0x1f || fn > 7)
                return -EINVAL;

        if (len > 7) {
                /* DOMAIN: in front: 4 to 8 hex digits and a colon. */
                size_t dlen = len - 8;
                if (s[len - 8] != ':' || dlen < 4 || dlen > 8)
                        return -EINVAL;
                if (hex_parse_fixed(s, dlen, &domain) < 0)
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
