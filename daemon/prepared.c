/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prepared.h"
#include "shared/hashmap.h"
#include "shared/macro.h"
#include "sysfs.h"

#define RECORD_MAX 4096
#define DRIVER_MAX 64

struct PreparedStore {
        char *dir;
        int dir_fd;             /* -EBADF until the directory exists */
        Hashmap *records;       /* name -> PreparedRecord */
};

PreparedRecord *prepared_record_free(PreparedRecord *r) {
        if (!r)
                return NULL;
        free(r->driver);
        free(r->driver_override);
        free(r);
        return NULL;
}

static void prepared_record_freep(PreparedRecord **r) {
        prepared_record_free(*r);
}

static void json_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}

static bool driver_name_ok(const char *s) {
        return sysfs_name_is_valid(s) && strlen(s) < DRIVER_MAX;
}

/* A string or null field; -EINVAL for anything else. */
static int get_name_or_null(json_object *o, const char *key, char **ret) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v))
                return -EINVAL;
        if (!v) {
                *ret = NULL;
                return 0;
        }
        if (!json_object_is_type(v, json_type_string) ||
            (size_t) json_object_get_string_len(v) != strlen(json_object_get_string(v)) ||
            !driver_name_ok(json_object_get_string(v)))
                return -EINVAL;
        *ret = strdup(json_object_get_string(v));
        return *ret ? 0 : -ENOMEM;
}

int prepared_record_parse(const char *name, const char *text, size_t size, PreparedRecord **ret) {
        _cleanup_(json_putp) json_object *o = NULL;
        _cleanup_(prepared_record_freep) PreparedRecord *rec = NULL;
        json_tokener *tok;
        json_object *v;
        char canon[PCI_ADDRESS_STRING_MAX];
        int r;

        if (size == 0 || size > RECORD_MAX || memchr(text, 0, size))
                return -EINVAL;
        if (pci_address_canonicalize(name, canon) < 0 || strcmp(canon, name) != 0)
                return -EINVAL;
        tok = json_tokener_new_ex(4);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, text, (int) size);
        /* One object, then at most white space, up to @size: the text
         * need not be NUL-terminated, so nothing past it may count. */
        r = json_tokener_get_error(tok) == json_tokener_success;
        for (size_t i = json_tokener_get_parse_end(tok); r && i < size; i++)
                r = text[i] == ' ' || text[i] == '\t' || text[i] == '\n';
        json_tokener_free(tok);
        if (!r || !o || !json_object_is_type(o, json_type_object) || json_object_object_length(o) != 3)
                return -EINVAL;
        if (!json_object_object_get_ex(o, "device", &v) || !json_object_is_type(v, json_type_string) ||
            (size_t) json_object_get_string_len(v) != strlen(name) || strcmp(json_object_get_string(v), name) != 0)
                return -EINVAL;
        rec = calloc(1, sizeof(*rec));
        if (!rec)
                return -ENOMEM;
        memcpy(rec->name, canon, sizeof(canon));
        if ((r = get_name_or_null(o, "originalDriver", &rec->driver)) < 0 ||
            (r = get_name_or_null(o, "originalOverride", &rec->driver_override)) < 0)
                return r;
        *ret = TAKE_PTR(rec);
        return 0;
}

static int load_one(PreparedStore *s, const char *name, unsigned *damaged) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_(prepared_record_freep) PreparedRecord *rec = NULL;
        char buf[RECORD_MAX + 1];
        ssize_t n;
        int r;

        fd = openat(s->dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0)
                goto bad;
        n = read(fd, buf, sizeof(buf));
        if (n <= 0 || n > RECORD_MAX)
                goto bad;
        if (prepared_record_parse(name, buf, (size_t) n, &rec) < 0)
                goto bad;
        r = hashmap_put(s->records, rec->name, rec);
        if (r < 0)
                return r;
        TAKE_PTR(rec);
        return 0;
bad:
        (*damaged)++;
        return 0;
}

int prepared_store_open(const char *dir, PreparedStore **ret, unsigned *ret_damaged) {
        _cleanup_(prepared_store_freep) PreparedStore *s = NULL;
        unsigned damaged = 0;
        DIR *d;
        struct dirent *de;
        int r = 0;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->dir_fd = -EBADF;
        s->dir = strdup(dir);
        s->records = hashmap_new();
        if (!s->records || !s->dir)
                return -ENOMEM;
        /* Created by the first record: a daemon that never prepares
         * anything leaves no trace. */
        s->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (s->dir_fd < 0 && errno != ENOENT)
                return -errno;
        if (s->dir_fd >= 0) {
                d = fdopendir(fcntl(s->dir_fd, F_DUPFD_CLOEXEC, 3));
                if (!d)
                        return -errno;
                while ((de = readdir(d))) {
                        if (de->d_name[0] == '.')
                                continue;       /* ., .. and our temporary files */
                        r = load_one(s, de->d_name, &damaged);
                        if (r < 0)
                                break;
                }
                closedir(d);
                if (r < 0)
                        return r;
        }
        if (ret_damaged)
                *ret_damaged = damaged;
        *ret = TAKE_PTR(s);
        return 0;
}

static int ensure_dir(PreparedStore *s) {
        if (s->dir_fd >= 0)
                return 0;
        if (mkdir(s->dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        s->dir_fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        return s->dir_fd < 0 ? -errno : 0;
}

PreparedStore *prepared_store_free(PreparedStore *s) {
        size_t i = 0;
        void *v;

        if (!s)
                return NULL;
        while (s->records && hashmap_iterate(s->records, &i, &v, NULL))
                prepared_record_free(v);
        hashmap_free(s->records);
        safe_close(s->dir_fd);
        free(s->dir);
        free(s);
        return NULL;
}

void prepared_store_freep(PreparedStore **s) {
        prepared_store_free(*s);
}

int prepared_store_put(PreparedStore *s, const char *name, const char *driver, const char *driver_override) {
        _cleanup_(prepared_record_freep) PreparedRecord *rec = NULL;
        _cleanup_(json_putp) json_object *o = NULL;
        _cleanup_close_ int fd = -EBADF;
        char canon[PCI_ADDRESS_STRING_MAX], tmp[32];
        const char *text;
        size_t len;
        int r;

        if (pci_address_canonicalize(name, canon) < 0 || strcmp(canon, name) != 0 ||
            (driver && !driver_name_ok(driver)) || (driver_override && !driver_name_ok(driver_override)))
                return -EINVAL;
        if (hashmap_get(s->records, name))
                return 0;
        rec = calloc(1, sizeof(*rec));
        if (!rec)
                return -ENOMEM;
        memcpy(rec->name, canon, sizeof(canon));
        rec->driver = driver ? strdup(driver) : NULL;
        rec->driver_override = driver_override ? strdup(driver_override) : NULL;
        if ((driver && !rec->driver) || (driver_override && !rec->driver_override))
                return -ENOMEM;
        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "device", json_object_new_string(canon));
        json_object_object_add(o, "originalDriver", driver ? json_object_new_string(driver) : NULL);
        json_object_object_add(o, "originalOverride", driver_override ? json_object_new_string(driver_override) : NULL);
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        len = strlen(text);

        r = ensure_dir(s);
        if (r < 0)
                return r;
        snprintf(tmp, sizeof(tmp), ".%s.tmp", canon);
        fd = openat(s->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        if (write(fd, text, len) != (ssize_t) len || write(fd, "\n", 1) != 1 || fsync(fd) < 0) {
                r = errno ? -errno : -EIO;
                (void) unlinkat(s->dir_fd, tmp, 0);
                return r;
        }
        if (renameat(s->dir_fd, tmp, s->dir_fd, canon) < 0) {
                r = -errno;
                (void) unlinkat(s->dir_fd, tmp, 0);
                return r;
        }
        (void) fsync(s->dir_fd);
        r = hashmap_put(s->records, rec->name, rec);
        if (r < 0)
                return r;
        TAKE_PTR(rec);
        return 0;
}

int prepared_store_remove(PreparedStore *s, const char *name) {
        PreparedRecord *rec = hashmap_remove(s->records, name);

        if (!rec)
                return -ENOENT;
        if (s->dir_fd >= 0)
                (void) unlinkat(s->dir_fd, rec->name, 0);
        prepared_record_free(rec);
        return 0;
}

const PreparedRecord *prepared_store_get(const PreparedStore *s, const char *name) {
        return hashmap_get(s->records, name);
}

size_t prepared_store_size(const PreparedStore *s) {
        return hashmap_size(s->records);
}

bool prepared_store_iterate(const PreparedStore *s, size_t *i, const PreparedRecord **ret) {
        void *v;

        if (!hashmap_iterate(s->records, i, &v, NULL))
                return false;
        *ret = v;
        return true;
}
