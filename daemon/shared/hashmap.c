/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"

typedef struct Entry {
        const char *key; /* NULL: empty slot */
        void *value;
        uint32_t hash;
} Entry;

struct Hashmap {
        Entry *slots;
        size_t n_slots; /* a power of two, or 0 */
        size_t n_items;
};

/* FNV-1a: keys are short (PCI addresses, UUIDs, group numbers). */
static uint32_t hash_key(const char *s) {
        uint32_t h = 2166136261u;
        for (; *s; s++) {
                h ^= (uint8_t) *s;
                h *= 16777619u;
        }
        return h;
}

Hashmap *hashmap_new(void) {
        return calloc(1, sizeof(Hashmap));
}

Hashmap *hashmap_free(Hashmap *h) {
        if (h) {
                free(h->slots);
                free(h);
        }
        return NULL;
}

void hashmap_freep(Hashmap **h) {
        hashmap_free(*h);
}

static size_t find_slot(const Hashmap *h, const char *key, uint32_t hash) {
        size_t mask = h->n_slots - 1, i = hash & mask;
        while (h->slots[i].key) {
                if (h->slots[i].hash == hash && strcmp(h->slots[i].key, key) == 0)
                        return i;
                i = (i + 1) & mask;
        }
        return i;
}

static int resize(Hashmap *h, size_t n) {
        Entry *old = h->slots;
        size_t n_old = h->n_slots;
        Entry *slots = calloc(n, sizeof(Entry));
        if (!slots)
                return -ENOMEM;
        h->slots = slots;
        h->n_slots = n;
        for (size_t i = 0; i < n_old; i++)
                if (old[i].key)
                        h->slots[find_slot(h, old[i].key, old[i].hash)] = old[i];
        free(old);
        return 0;
}

static int put(Hashmap *h, const char *key, void *value, bool replace) {
        uint32_t hash = hash_key(key);
        size_t i;

        /* Keep the load factor under 0.7. */
        if ((h->n_items + 1) * 10 > h->n_slots * 7) {
                int r = resize(h, h->n_slots ? h->n_slots * 2 : 16);
                if (r < 0)
                        return r;
        }
        i = find_slot(h, key, hash);
        if (h->slots[i].key) {
                if (!replace)
                        return -EEXIST;
                h->slots[i].key = key;
                h->slots[i].value = value;
                return 0;
        }
        h->slots[i] = (Entry) { .key = key, .value = value, .hash = hash };
        h->n_items++;
        return 0;
}

int hashmap_put(Hashmap *h, const char *key, void *value) {
        return put(h, key, value, false);
}

int hashmap_replace(Hashmap *h, const char *key, void *value) {
        return put(h, key, value, true);
}

void *hashmap_get(const Hashmap *h, const char *key) {
        size_t i;
        if (!h || h->n_items == 0)
                return NULL;
        i = find_slot(h, key, hash_key(key));
        return h->slots[i].key ? h->slots[i].value : NULL;
}

void *hashmap_remove(Hashmap *h, const char *key) {
        size_t mask, i, j;
        void *value;

        if (!h || h->n_items == 0)
                return NULL;
        mask = h->n_slots - 1;
        i = find_slot(h, key, hash_key(key));
        if (!h->slots[i].key)
                return NULL;
        value = h->slots[i].value;
        h->slots[i].key = NULL;
        h->n_items--;
        /* Backward-shift deletion: move later members of the probe run
         * into the hole so lookups never stop early. */
        j = i;
        for (;;) {
                size_t home;
                j = (j + 1) & mask;
                if (!h->slots[j].key)
                        break;
                home = h->slots[j].hash & mask;
                /* Move j to i if its home is not cyclically in (i, j]. */
                if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
                        h->slots[i] = h->slots[j];
                        h->slots[j].key = NULL;
                        i = j;
                }
        }
        return value;
}

size_t hashmap_size(const Hashmap *h) {
        return h ? h->n_items : 0;
}

bool hashmap_iterate(const Hashmap *h, size_t *i, void **ret_value, const char **ret_key) {
        if (!h)
                return false;
        for (; *i < h->n_slots; (*i)++)
                if (h->slots[*i].key) {
                        if (ret_value)
                                *ret_value = h->slots[*i].value;
                        if (ret_key)
                                *ret_key = h->slots[*i].key;
                        (*i)++;
                        return true;
                }
        return false;
}
