/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * varlink-manager.h - the org.iommud.Manager varlink interface: parses
 * and validates each call, asks the manager, replies.
 */
#pragma once

#include "varlink.h"

typedef struct Manager Manager;

/** varlink_manager_register() - add the interface and its methods. */
int varlink_manager_register(Manager *m, VarlinkServer *s);

/** The IDL, data/org.iommud.Manager.varlink, compiled in. */
extern const char org_iommud_manager_varlink[];
