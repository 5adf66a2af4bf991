/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "reserve.h"

#define VFIO_PCI "vfio-pci"

static bool ends_with(const char *s, const char *suffix) {
        size_t n = strlen(s), k = strlen(suffix);
        return n >= k && strcmp(s + n - k, suffix) == 0;
}

bool reserve_driver_is_vfio(const char *driver) {
        return driver && (strcmp(driver, VFIO_PCI) == 0 || ends_with(driver, "_vfio_pci"));
}

/* PCI-to-PCI (0604), CardBus (0607) and semi-transparent (0609) bridges:
 * the header types vfio-pci refuses to drive. */
static bool is_bridge(const Device *d) {
        uint32_t c = d->class_code >> 8;
        return c == 0x0604 || c == 0x0607 || c == 0x0609;
}

ReserveVerdict reserve_decide(const Config *c, const Device *d, bool hot_add, const char *critical) {
        ReserveVerdict v = { .action = RESERVE_NOT_LISTED };

        if (!c || d->kind != DEVICE_PCI || !config_match(&c->reserve, d, &v.line))
                return v;
        v.action = RESERVE_REFUSED;
        if (is_bridge(d)) {
                v.reason = "is a PCI bridge";
                return v;
        }
        if (critical) {
                v.reason = critical;
                return v;
        }
        if (d->driver_override && strcmp(d->driver_override, VFIO_PCI) != 0) {
                v.reason = "has its driver_override set to another driver";
                return v;
        }
        if (!d->driver)
                v.action = RESERVE_PROBE;
        else if (reserve_driver_is_vfio(d->driver))
                v.action = RESERVE_DONE;
        else
                v.action = hot_add ? RESERVE_UNBIND : RESERVE_KEEP;
        return v;
}

const char *reserve_action_to_result(ReserveAction a) {
        switch (a) {
        case RESERVE_PROBE:
                return "reserve";
        case RESERVE_UNBIND:
                return "reserve-unbind";
        case RESERVE_KEEP:
                return "reserve-keep";
        case RESERVE_NOT_LISTED:
        case RESERVE_REFUSED:
        case RESERVE_DONE:
                break;
        }
        return NULL;
}
