/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * persistent.h - what to do about the definitions of [Persistent] (and
 * those imported from mdevctl): a pure planner.  It is given the
 * definitions and what the host has now (the mdevs, the types each parent
 * offers, each PF's VF counts and whether any of its VFs is in use) and
 * returns an ordered list of steps: create this mdev, set that PF's VF
 * count, or a reason to do nothing.  It never removes anything: an mdev
 * that exists is left alone whatever it is, and a PF whose VFs are in use
 * keeps them.  The manager reads the state, runs the plan
 * (manager-persistent.c), and plans again when a missing parent appears.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "shared/pci-address.h"
#include "shared/uuid.h"

/* "/etc/mdevctl.d/0000:00:02.0/<uuid>" and more. */
#define PERSISTENT_SOURCE_MAX 256

typedef enum PersistentKind {
        PERSISTENT_MDEV,
        PERSISTENT_SRIOV,
} PersistentKind;

/* One definition, borrowed: names already validated (config.c, mdevctl.c)
 * and canonical. */
typedef struct PersistentDef {
        PersistentKind kind;
        const char *source;     /* where it was defined: "FILE:LINE" or a file */
        const char *parent;     /* mdev */
        const char *type;
        const char *uuid;
        const char *pf;         /* SR-IOV: canonical PCI address */
        unsigned numvfs;
} PersistentDef;

/* The host now. */
typedef struct PersistentMdevState {
        const char *uuid, *parent, *type;       /* an mdev that exists */
} PersistentMdevState;

typedef struct PersistentTypeState {
        const char *parent, *type;      /* a type a parent offers now */
        long available;                 /* available_instances; -1: unknown */
} PersistentTypeState;

typedef struct PersistentPfState {
        const char *pf;                 /* a PCI function present now */
        int totalvfs;                   /* -1: not an SR-IOV PF */
        int numvfs;
        const char *in_use;             /* NULL, or why its VFs may not go ("VF 0000:02:10.0 is leased") */
} PersistentPfState;

typedef struct PersistentState {
        const PersistentMdevState *mdevs;
        size_t n_mdevs;
        const PersistentTypeState *types;
        size_t n_types;
        const PersistentPfState *pfs;
        size_t n_pfs;
} PersistentState;

typedef enum PersistentOutcome {
        PERSISTENT_CREATE_MDEV,         /* an action: create it */
        PERSISTENT_SET_NUMVFS,          /* an action: write sriov_numvfs */
        PERSISTENT_PRESENT,             /* as defined already: nothing to do */
        PERSISTENT_DEFERRED,            /* the parent or PF is not there (yet): when it appears */
        PERSISTENT_CONFLICT,            /* the UUID is another mdev, or defined twice: not touched */
        PERSISTENT_IN_USE,              /* the VF count differs but VFs are in use: not touched */
        PERSISTENT_INVALID,             /* cannot be done as defined (no such type, N > totalvfs, ...) */
} PersistentOutcome;

typedef struct PersistentStep {
        PersistentOutcome outcome;
        PersistentKind kind;
        char source[PERSISTENT_SOURCE_MAX];
        char parent[CONFIG_MDEV_NAME_MAX + 1];
        char type[CONFIG_MDEV_NAME_MAX + 1];
        char uuid[UUID_STRING_MAX];
        char pf[PCI_ADDRESS_STRING_MAX];
        unsigned numvfs;
        int current_numvfs;             /* SET_NUMVFS: what the PF has now */
        char reason[256];               /* every outcome but the two actions */
} PersistentStep;

typedef struct PersistentPlan {
        PersistentStep *steps;
        size_t n;
} PersistentPlan;

/** persistent_plan() - one step per definition, SR-IOV definitions first
 * (an mdev parent may be a VF), each group in the order given.  A UUID
 * defined twice counts once, at its first definition.  Creations of one
 * type are counted against its available instances.  -ENOMEM, or -EINVAL
 * for a definition with a missing name. */
int persistent_plan(const PersistentDef *defs, size_t n, const PersistentState *state, PersistentPlan **ret);

PersistentPlan *persistent_plan_free(PersistentPlan *p);
void persistent_plan_freep(PersistentPlan **p);

/** persistent_plan_count() - how many steps have @outcome. */
size_t persistent_plan_count(const PersistentPlan *p, PersistentOutcome outcome);

/** persistent_step_describe() - the step as a sentence for the journal:
 * "mdev 6c1f... (mtty-2 of mtty, iommud.conf:12): parent mtty is not
 * there yet; it is created when the parent appears". */
const char *persistent_step_describe(const PersistentStep *s, char *buf, size_t size);

const char *persistent_outcome_to_string(PersistentOutcome o);
