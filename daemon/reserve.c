/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "reserve.h"

#define VFIO_PCI "vfio-pci"

ReserveVerdict reserve_decide(const Config *c, const Device *d, bool hot_add, const char *critical) {
        ReserveVerdict v = { .action = RESERVE_NOT_LISTED };

        if (!c || d->kind != DEVICE_PCI || !config_match(&c->reserve, d, &v.line))
                return v;
        v.action = RESERVE_REFUSED;
        if (device_is_bridge(d)) {
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
        else if (device_driver_is_vfio(d->driver))
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
