/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "mdevctl.h"
#include "shared/macro.h"

/* The deepest JSON we parse: an object holding an array of objects. */
#define MDEVCTL_JSON_DEPTH 8
/* Entries looked at in one directory: far beyond any real host. */
#define MDEVCTL_ENTRIES_MAX 65536

typedef struct Reader {
        MdevctlReport report;
        void *userdata;
        MdevctlDef *defs;
        size_t n;
} Reader;

static _printf_(4, 5) void report(Reader *rd, int level, const char *path, const char *fmt, ...) {
        char msg[512];
        va_list ap;

        if (!rd->report)
                return;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        rd->report(level, path, msg, rd->userdata);
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static void strv_free(char **v) {
        for (char **p = v; p && *p; p++)
                free(*p);
        free(v);
}

static void strvp(char ***v) {
        strv_free(*v);
}

/* The names in directory @fd (borrowed), sorted, "." and ".." left out. */
static int list_names(int fd, char ***ret) {
        _cleanup_(strvp) char **v = NULL;
        size_t n = 0;
        struct dirent *de;
        DIR *d;
        int dfd, r = 0;

        dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        d = fdopendir(dfd);
        if (!d) {
                r = -errno;
                safe_close(dfd);
                return r;
        }
        v = calloc(1, sizeof(*v));
        if (!v)
                r = -ENOMEM;
        while (r == 0 && (de = readdir(d))) {
                char **nv;

                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (n >= MDEVCTL_ENTRIES_MAX) {
                        r = -E2BIG;
                        break;
                }
                nv = realloc(v, (n + 2) * sizeof(*nv));
                if (!nv) {
                        r = -ENOMEM;
                        break;
                }
                v = nv;
                v[n] = strdup(de->d_name);
                if (!v[n]) {
                        r = -ENOMEM;
                        break;
                }
                v[++n] = NULL;
        }
        closedir(d);
        if (r < 0)
                return r;
        qsort(v, n, sizeof(*v), cmp_str);
        *ret = TAKE_PTR(v);
        return 0;
}

/* A name safe to print in a message: unprintable bytes as '?'. */
static const char *printable(const char *s, char *buf, size_t size) {
        size_t i;

        for (i = 0; s[i] && i + 1 < size; i++)
                buf[i] = (unsigned char) s[i] < ' ' || (unsigned char) s[i] >= 0x7f ? '?' : s[i];
        buf[i] = 0;
        return buf;
}

/* The file's contents, NUL-terminated: at most MDEVCTL_FILE_MAX bytes of a
 * regular file. */
static int read_file(int fd, char **ret, size_t *ret_size, const char **ret_why) {
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t len = 0;
        ssize_t k;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode)) {
                *ret_why = "not a regular file";
                return -EBADMSG;
        }
        if (st.st_size > MDEVCTL_FILE_MAX) {
                *ret_why = "larger than 65536 bytes";
                return -EBADMSG;
        }
        buf = malloc(MDEVCTL_FILE_MAX + 1);
        if (!buf)
                return -ENOMEM;
        /* The size may change under us: read one byte more than allowed. */
        while ((k = read(fd, buf + len, MDEVCTL_FILE_MAX + 1 - len)) > 0) {
                len += (size_t) k;
                if (len > MDEVCTL_FILE_MAX) {
                        *ret_why = "larger than 65536 bytes";
                        return -EBADMSG;
                }
        }
        if (k < 0)
                return -errno;
        buf[len] = 0;
        *ret = TAKE_PTR(buf);
        *ret_size = len;
        return 0;
}

/* {"mdev_type": TYPE, "start": "auto"|"manual", "attrs": []}: 1 taken,
 * 0 skipped (reported). */
static int parse_definition(Reader *rd, const char *path, const char *text, size_t size, MdevctlDef *def) {
        json_tokener *tok = json_tokener_new_ex(MDEVCTL_JSON_DEPTH);
        json_object *o = NULL, *type = NULL, *start = NULL, *attrs = NULL;
        char shown[80];
        int r = 0;

        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        o = json_tokener_parse_ex(tok, text, (int) size);
        if (json_tokener_get_error(tok) != json_tokener_success || !o) {
                enum json_tokener_error e = json_tokener_get_error(tok);
                report(rd, LOG_WARNING, path, "not valid JSON (%s): skipped",
                       e == json_tokener_continue ? "it ends too early" : json_tokener_error_desc(e));
                goto out;
        }
        /* Only white space may follow the object. */
        for (size_t i = json_tokener_get_parse_end(tok); i < size; i++)
                if (!strchr(" \t\r\n", text[i])) {
                        report(rd, LOG_WARNING, path, "text after the JSON object: skipped");
                        goto out;
                }
        if (!json_object_is_type(o, json_type_object)) {
                report(rd, LOG_WARNING, path, "not a JSON object: skipped");
                goto out;
        }
        json_object_object_foreach(o, key, val) {
                (void) val;
                if (strcmp(key, "mdev_type") != 0 && strcmp(key, "start") != 0 && strcmp(key, "attrs") != 0) {
                        report(rd, LOG_WARNING, path,
                               "unknown key \"%s\" (expected mdev_type, start and attrs): skipped",
                               printable(key, shown, sizeof(shown)));
                        goto out;
                }
        }
        if (!json_object_object_get_ex(o, "mdev_type", &type) || !json_object_is_type(type, json_type_string)) {
                report(rd, LOG_WARNING, path, "no \"mdev_type\" string: skipped");
                goto out;
        }
        if (!config_mdev_type_is_valid(json_object_get_string(type))) {
                report(rd, LOG_WARNING, path,
                       "\"mdev_type\" \"%s\" is not an mdev type name of letters, digits, '_', '.', ':', '+' and "
                       "'-' (at most 64): skipped",
                       printable(json_object_get_string(type), shown, sizeof(shown)));
                goto out;
        }
        if (!json_object_object_get_ex(o, "start", &start) || !json_object_is_type(start, json_type_string) ||
            (strcmp(json_object_get_string(start), "auto") != 0 &&
             strcmp(json_object_get_string(start), "manual") != 0)) {
                report(rd, LOG_WARNING, path, "no \"start\" of \"auto\" or \"manual\": skipped");
                goto out;
        }
        if (json_object_object_get_ex(o, "attrs", &attrs) && !json_object_is_type(attrs, json_type_array)) {
                report(rd, LOG_WARNING, path, "\"attrs\" is not an array: skipped");
                goto out;
        }
        if (strcmp(json_object_get_string(start), "manual") == 0) {
                report(rd, LOG_INFO, path, "\"start\": \"manual\": not created at start, as mdevctl would not");
                goto out;
        }
        if (attrs && json_object_array_length(attrs) > 0) {
                report(rd, LOG_WARNING, path,
                       "has %zu vendor attributes (\"attrs\"), which iommud does not write: skipped, create it "
                       "with mdevctl",
                       json_object_array_length(attrs));
                goto out;
        }
        snprintf(def->type, sizeof(def->type), "%s", json_object_get_string(type));
        r = 1;
out:
        json_object_put(o);
        json_tokener_free(tok);
        return r;
}

/* Only for the message, after O_NOFOLLOW refused it: ELOOP or ENOTDIR. */
static bool is_symlink(int dfd, const char *name) {
        struct stat st;
        int saved = errno;
        bool r = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);

        errno = saved;
        return r;
}

static int read_parent(Reader *rd, int top, const char *dir, const char *parent) {
        _cleanup_(strvp) char **names = NULL;
        _cleanup_close_ int pfd = -EBADF;
        char path[PERSISTENT_SOURCE_MAX];
        int r;

        snprintf(path, sizeof(path), "%.150s/%.64s", dir, parent);
        pfd = openat(top, parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (pfd < 0) {
                report(rd, LOG_WARNING, path, "cannot open the directory (%s): skipped",
                       is_symlink(top, parent) ? "a symlink" : strerror(errno));
                return 0;
        }
        r = list_names(pfd, &names);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                report(rd, LOG_WARNING, path, "cannot list the directory (%s): skipped", strerror(-r));
                return 0;
        }
        for (char **n = names; *n; n++) {
                _cleanup_free_ char *text = NULL;
                _cleanup_close_ int fd = -EBADF;
                char uuid[UUID_STRING_MAX], file[PERSISTENT_SOURCE_MAX], shown[80];
                const char *why = NULL;
                MdevctlDef def = { 0 }, *v;
                size_t size = 0;

                /* mdevctl names the file by the UUID as the kernel writes
                 * it: lower case. */
                if (uuid_canonicalize(*n, uuid) < 0 || strcmp(uuid, *n) != 0) {
                        report(rd, LOG_WARNING, path, "\"%s\" is not named by a lower-case UUID: skipped",
                               printable(*n, shown, sizeof(shown)));
                        continue;
                }
                snprintf(file, sizeof(file), "%.215s/%s", path, uuid);
                /* O_NONBLOCK: a FIFO planted here must not hang the daemon. */
                fd = openat(pfd, uuid, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
                if (fd < 0) {
                        report(rd, LOG_WARNING, file, "cannot open (%s): skipped",
                               is_symlink(pfd, uuid) ? "a symlink" : strerror(errno));
                        continue;
                }
                r = read_file(fd, &text, &size, &why);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        report(rd, LOG_WARNING, file, "%s: skipped", why ? why : strerror(-r));
                        continue;
                }
                r = parse_definition(rd, file, text, size, &def);
                if (r < 0)
                        return r;
                if (r == 0)
                        continue;
                if (rd->n >= CONFIG_PERSISTENT_MAX) {
                        report(rd, LOG_WARNING, file, "more than %d definitions: skipped", CONFIG_PERSISTENT_MAX);
                        continue;
                }
                snprintf(def.source, sizeof(def.source), "%s", file);
                snprintf(def.parent, sizeof(def.parent), "%s", parent);
                memcpy(def.uuid, uuid, sizeof(def.uuid));
                v = realloc(rd->defs, (rd->n + 1) * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                rd->defs = v;
                rd->defs[rd->n++] = def;
        }
        return 0;
}

int mdevctl_read(const char *dir, MdevctlReport report_fn, void *userdata, MdevctlDef **ret, size_t *ret_n) {
        _cleanup_(strvp) char **names = NULL;
        _cleanup_close_ int top = -EBADF;
        Reader rd = { .report = report_fn, .userdata = userdata };
        int r;

        /* Room for the parent and the UUID in every message's path. */
        if (strlen(dir) > 150)
                return -ENAMETOOLONG;
        top = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (top < 0 && errno == ENOENT) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (top < 0)
                return is_symlink(AT_FDCWD, dir) ? -ELOOP : -errno;
        r = list_names(top, &names);
        if (r < 0)
                return r;
        for (char **n = names; *n; n++) {
                char canon[CONFIG_MDEV_NAME_MAX + 1], path[PERSISTENT_SOURCE_MAX], shown[80];

                /* mdevctl's own call-out scripts live beside the parents. */
                if (strcmp(*n, "scripts.d") == 0)
                        continue;
                snprintf(path, sizeof(path), "%.150s/%.79s", dir, printable(*n, shown, sizeof(shown)));
                /* The directory is named as sysfs names the parent: a PCI
                 * address in another spelling would name no parent. */
                if (config_mdev_parent_canonicalize(*n, canon) < 0 || strcmp(canon, *n) != 0) {
                        report(&rd, LOG_WARNING, path,
                               "not named like an mdev parent (a canonical PCI address such as 0000:00:02.0, or a "
                               "device name): skipped");
                        continue;
                }
                r = read_parent(&rd, top, dir, *n);
                if (r < 0) {
                        free(rd.defs);
                        return r;
                }
        }
        *ret = rd.defs;
        *ret_n = rd.n;
        return 0;
}
