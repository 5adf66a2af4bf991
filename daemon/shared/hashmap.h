/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hashmap.h - an open-addressing hash map from NUL-terminated string keys
 * to pointers.  Keys are not copied: a key must live as long as its entry
 * (iommud keys each object by a string the object owns).  Lookups,
 * insertions and removals are O(1) on average, so no per-event work grows
 * with the size of the registry.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef struct Hashmap Hashmap;

Hashmap *hashmap_new(void);
/** hashmap_free() - frees the map, not the values. */
Hashmap *hashmap_free(Hashmap *h);
void hashmap_freep(Hashmap **h);

/** hashmap_put() - -EEXIST if @key is present, -ENOMEM. */
int hashmap_put(Hashmap *h, const char *key, void *value);
/** hashmap_replace() - insert or overwrite; -ENOMEM. */
int hashmap_replace(Hashmap *h, const char *key, void *value);
void *hashmap_get(const Hashmap *h, const char *key);
/** hashmap_remove() - the removed value, or NULL. */
void *hashmap_remove(Hashmap *h, const char *key);
size_t hashmap_size(const Hashmap *h);

/** hashmap_iterate() - *@i starts at 0; false at the end.  The map must
 * not change during an iteration: collect what to remove, then remove it. */
bool hashmap_iterate(const Hashmap *h, size_t *i, void **ret_value, const char **ret_key);
