/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bus-manager.h - the D-Bus face: org.iommud1 on the system bus.
 *
 * A face, like varlink-manager.c: it parses, calls the manager API and
 * replies; it decides nothing.  Every property is read from the same JSON
 * the varlink face sends (a device's, a group's, a lease's, GetStatus's),
 * every refusal is the manager's named error (errors.h) under
 * org.iommud1.Error., and polkit is asked by the manager's one
 * authorization path, with the caller as a system-bus-name subject.
 *
 * Objects (bus-path.h): the manager at /org/iommud1 (org.iommud1.Manager
 * and org.freedesktop.DBus.ObjectManager), one object per device, IOMMU
 * group and lease beneath it.  Changes go out as InterfacesAdded,
 * InterfacesRemoved and PropertiesChanged.
 *
 * The bus may be missing or go away: iommud serves varlink alone
 * meanwhile, and opens the connection again (after 1 s, backing off to
 * every 30 s); nothing else (leases, varlink clients) is touched.
 */
#pragma once

#include "manager.h"

typedef struct BusFace BusFace;

#define BUS_NAME "org.iommud1"

/** bus_face_new() - connect to the system bus (@address NULL: the
 * system bus, $DBUS_SYSTEM_BUS_ADDRESS or the default; else a D-Bus
 * address), export the objects and take the name org.iommud1.  When that
 * cannot be done now (no bus; the name owned by another or refused by the
 * bus policy) it says so in the log and tries again in the background.
 * -ENOMEM only. */
int bus_face_new(Manager *m, const char *address, BusFace **ret);
BusFace *bus_face_free(BusFace *b);
void bus_face_freep(BusFace **b);
