/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The varlink server and client over real AF_UNIX sockets.  The server
 * runs on an sd_event loop that the test turns by hand; the client end is
 * non-blocking, so both live in this one thread: read with timeout 0,
 * turn the loop, read again.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "shared/macro.h"
#include "shared/varlink-client.h"
#include "varlink.h"

#define IFACE "org.example.test"

static const char test_idl[] =
        "# A test interface.\n"
        "interface org.example.test\n"
        "\n"
        "method Echo() -> ()\n"
        "method Strict(name: string, count: int, flag: ?bool, big: ?int) -> (name: string, count: int)\n"
        "method Stream(count: int) -> (i: ?int, done: ?bool)\n"
        "error Broken (why: string)\n";

typedef struct Fixture {
        sd_event *event;
        VarlinkServer *server;
        unsigned cancelled;
        unsigned oneway_calls;
        unsigned pending_calls;
        VarlinkCall *held;
        VarlinkCall *deferred;
        sd_event_source *timer;
        int notify_without_more;
        int flood_error;
        char tmpdir[64];
} Fixture;

/* ---- the test interface ---- */

static json_object *obj(const char *json) {
        json_object *o = json_tokener_parse(json);
        assert_non_null(o);
        return o;
}

static int method_echo(VarlinkCall *c, json_object *params, void *userdata) {
        return varlink_call_reply(c, json_object_get(params));
}

/* A reply assembled as text, with an fd, as ListDevices assembles its own. */
static int method_text(VarlinkCall *c, json_object *params, void *userdata) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        close(p[1]);
        assert_int_equal(varlink_call_push_fd(c, p[0]), 0);
        assert_int_equal(varlink_call_reply_text(c, "not an object"), -EINVAL);
        return varlink_call_reply_text(c, "{\"items\":[{\"a\":1},{\"a\":2}]}");
}

static int method_strict(VarlinkCall *c, json_object *params, void *userdata) {
        const char *name;
        uint32_t count;
        bool flag;
        int64_t big;
        json_object *o;

        if (varlink_json_get_string(params, "name", true, 16, &name) < 0)
                return varlink_call_reply_invalid_parameter(c, "name");
        if (varlink_json_get_uint32(params, "count", true, &count) < 0)
                return varlink_call_reply_invalid_parameter(c, "count");
        if (varlink_json_get_bool(params, "flag", false, &flag) < 0)
                return varlink_call_reply_invalid_parameter(c, "flag");
        if (varlink_json_get_int64(params, "big", false, &big) < 0)
                return varlink_call_reply_invalid_parameter(c, "big");
        o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(name));
        json_object_object_add(o, "count", json_object_new_int64(count));
        return varlink_call_reply(c, o);
}

static int method_stream(VarlinkCall *c, json_object *params, void *userdata) {
        Fixture *f = userdata;
        uint32_t count = 0;
        int r;

        if (!varlink_call_wants_more(c)) {
                f->notify_without_more = varlink_call_notify(c, json_object_new_object());
                return varlink_call_reply_error(c, VARLINK_ERROR_EXPECTED_MORE, NULL);
        }
        if (varlink_json_get_uint32(params, "count", true, &count) < 0)
                return varlink_call_reply_invalid_parameter(c, "count");
        for (uint32_t i = 0; i < count; i++) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "i", json_object_new_int64(i));
                r = varlink_call_notify(c, o);
                if (r < 0)
                        return r;
        }
        return varlink_call_reply(c, obj("{\"done\":true}"));
}

static int on_deferred_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Fixture *f = userdata;
        VarlinkCall *c = f->deferred;
        json_object *o;

        f->deferred = NULL;
        f->timer = sd_event_source_unref(f->timer);
        o = json_object_new_object();
        json_object_object_add(o, "deferred", json_object_new_boolean(true));
        assert_int_equal(varlink_call_reply(c, o), 0);
        /* a second final reply is refused */
        assert_int_equal(varlink_call_reply(c, NULL), -EALREADY);
        varlink_call_unref(c);
        return 0;
}

static int method_deferred(VarlinkCall *c, json_object *params, void *userdata) {
        Fixture *f = userdata;
        uint32_t ms = 0;

        assert_null(f->deferred);
        (void) varlink_json_get_uint32(params, "delay", false, &ms);
        f->deferred = varlink_call_ref(c);
        return sd_event_add_time_relative(f->event, &f->timer, CLOCK_MONOTONIC, (uint64_t) ms * 1000, 0,
                                          on_deferred_timer, f);
}

static void pending_cancel(VarlinkCall *c, void *userdata) {
        Fixture *f = userdata;

        f->cancelled++;
        /* replying from the cancel callback is harmless */
        assert_true(varlink_call_reply(c, NULL) < 0);
        assert_false(varlink_call_is_connected(c));
        varlink_call_unref(c);
}

/* Keeps the call and never answers; the cancel callback cleans up. */
static int method_pending(VarlinkCall *c, json_object *params, void *userdata) {
        Fixture *f = userdata;

        f->pending_calls++;
        varlink_call_ref(c);
        varlink_call_set_cancel_callback(c, pending_cancel, f);
        return 0;
}

/* Keeps the call, no cancel callback. */
static int method_hold(VarlinkCall *c, json_object *params, void *userdata) {
        Fixture *f = userdata;

        assert_null(f->held);
        f->held = varlink_call_ref(c);
        return 0;
}

static int method_read_fd(VarlinkCall *c, json_object *params, void *userdata) {
        char buf[64];
        uint32_t index;
        ssize_t n;
        int fd;
        json_object *o;

        if (varlink_json_get_uint32(params, "fd", true, &index) < 0)
                return varlink_call_reply_invalid_parameter(c, "fd");
        fd = varlink_call_get_fd(c, index);
        if (fd < 0)
                return varlink_call_reply_invalid_parameter(c, "fd");
        n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        o = json_object_new_object();
        json_object_object_add(o, "data", json_object_new_string(buf));
        return varlink_call_reply(c, o);
}

static int method_count_fds(VarlinkCall *c, json_object *params, void *userdata) {
        unsigned n = 0;
        json_object *o;

        while (varlink_call_get_fd(c, n) >= 0)
                n++;
        assert_int_equal(varlink_call_get_fd(c, n), -ENXIO);
        o = json_object_new_object();
        json_object_object_add(o, "count", json_object_new_int64(n));
        return varlink_call_reply(c, o);
}

static int method_give_fd(VarlinkCall *c, json_object *params, void *userdata) {
        int p[2], idx;
        json_object *o;

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        assert_int_equal(write(p[1], "hello", 5), 5);
        safe_close(p[1]);
        idx = varlink_call_push_fd(c, p[0]);
        if (idx < 0)
                return idx;
        o = json_object_new_object();
        json_object_object_add(o, "fd", json_object_new_int(idx));
        return varlink_call_reply(c, o);
}

static int method_fail(VarlinkCall *c, json_object *params, void *userdata) {
        return -ENOENT;
}

static int method_forget(VarlinkCall *c, json_object *params, void *userdata) {
        return 0;
}

/* Keeps a reference and a cancel callback, then fails: the server answers
 * and the cancel callback cleans up. */
static int method_fail_after_ref(VarlinkCall *c, json_object *params, void *userdata) {
        varlink_call_ref(c);
        varlink_call_set_cancel_callback(c, pending_cancel, userdata);
        return -EIO;
}

static int method_count(VarlinkCall *c, json_object *params, void *userdata) {
        Fixture *f = userdata;

        f->oneway_calls++;
        assert_true(varlink_call_is_oneway(c));
        assert_false(varlink_call_wants_more(c));
        return varlink_call_reply(c, NULL);
}

static int method_creds(VarlinkCall *c, json_object *params, void *userdata) {
        struct ucred uc;
        char path[64], buf[1024];
        const char *p;
        ssize_t n;
        int pidfd, info;
        json_object *o;

        assert_int_equal(varlink_call_get_peer_creds(c, &uc), 0);
        pidfd = varlink_call_get_peer_pidfd(c);
        assert_true(pidfd >= 0);
        snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
        info = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(info >= 0);
        n = read(info, buf, sizeof(buf) - 1);
        assert_true(n > 0);
        buf[n] = 0;
        p = strstr(buf, "\nPid:\t");
        assert_non_null(p);
        safe_close(info);
        safe_close(pidfd);
        o = json_object_new_object();
        json_object_object_add(o, "uid", json_object_new_int64(uc.uid));
        json_object_object_add(o, "pid", json_object_new_int64(uc.pid));
        json_object_object_add(o, "pidfdPid", json_object_new_int64(atoi(p + 6)));
        return varlink_call_reply(c, o);
}

/* Streams @count replies of @size bytes at once. */
static int method_flood(VarlinkCall *c, json_object *params, void *userdata) {
        Fixture *f = userdata;
        uint32_t count = 0, size = 0;
        char *payload;
        int r = 0;

        (void) varlink_json_get_uint32(params, "count", true, &count);
        (void) varlink_json_get_uint32(params, "size", true, &size);
        payload = malloc(size + 1);
        assert_non_null(payload);
        memset(payload, 'x', size);
        payload[size] = 0;
        for (uint32_t i = 0; i < count && r >= 0; i++) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "payload", json_object_new_string(payload));
                r = varlink_call_notify(c, o);
        }
        free(payload);
        f->flood_error = r;
        if (r < 0)
                return r;
        return varlink_call_reply(c, NULL);
}

static void count_cancel(VarlinkCall *c, void *userdata) {
        Fixture *f = userdata;

        f->cancelled++;
}

/* Streams until the client's output is over the limit, then gives its
 * final reply anyway (it can't be delivered) and forgets the call. */
static int method_overflow(VarlinkCall *c, json_object *params, void *userdata) {
        Fixture *f = userdata;
        int r = 0;

        varlink_call_set_cancel_callback(c, count_cancel, f);
        for (unsigned i = 0; i < 100000 && r >= 0; i++) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "payload", json_object_new_string("0123456789abcdef0123456789abcdef"));
                r = varlink_call_notify(c, o);
        }
        f->flood_error = r;
        assert_int_equal(varlink_call_notify(c, NULL), -ENOTCONN);
        assert_int_equal(varlink_call_reply(c, NULL), -ENOTCONN);
        assert_int_equal(varlink_call_reply(c, NULL), -EALREADY);
        return 0;
}

static const struct {
        const char *name;
        VarlinkMethod fn;
} test_methods[] = {
        { IFACE ".Overflow", method_overflow },
        { IFACE ".Echo", method_echo },
        { IFACE ".Text", method_text },
        { IFACE ".Strict", method_strict },
        { IFACE ".Stream", method_stream },
        { IFACE ".Deferred", method_deferred },
        { IFACE ".Pending", method_pending },
        { IFACE ".Hold", method_hold },
        { IFACE ".ReadFd", method_read_fd },
        { IFACE ".CountFds", method_count_fds },
        { IFACE ".GiveFd", method_give_fd },
        { IFACE ".Fail", method_fail },
        { IFACE ".Forget", method_forget },
        { IFACE ".FailAfterRef", method_fail_after_ref },
        { IFACE ".Count", method_count },
        { IFACE ".Creds", method_creds },
        { IFACE ".Flood", method_flood },
};

static const VarlinkServerInfo test_info = {
        .vendor = "Example",
        .product = "varlink-test",
        .version = "1.2",
        .url = "https://example.org",
};

static int new_server(Fixture *f, const VarlinkServerInfo *info, VarlinkServer **ret) {
        VarlinkServer *s;
        int r;

        r = varlink_server_new(f->event, info, &s);
        if (r < 0)
                return r;
        assert_int_equal(varlink_server_add_interface(s, IFACE, test_idl), 0);
        for (size_t i = 0; i < ELEMENTSOF(test_methods); i++)
                assert_int_equal(varlink_server_add_method(s, test_methods[i].name, test_methods[i].fn, f), 0);
        *ret = s;
        return 0;
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        assert_int_equal(sd_event_new(&f->event), 0);
        assert_int_equal(new_server(f, &test_info, &f->server), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        varlink_server_free(f->server);
        varlink_call_unref(f->held);
        varlink_call_unref(f->deferred);
        sd_event_source_unref(f->timer);
        sd_event_unref(f->event);
        if (f->tmpdir[0]) {
                char path[128];
                snprintf(path, sizeof(path), "%s/sock", f->tmpdir);
                (void) unlink(path);
                (void) rmdir(f->tmpdir);
        }
        free(f);
        return 0;
}

/* ---- helpers ---- */

#define PUMP_LIMIT 5000

static void pump(Fixture *f, unsigned n) {
        for (unsigned i = 0; i < n; i++)
                assert_true(sd_event_run(f->event, 0) >= 0);
}

/* A client on one end of a socketpair, the server on the other. */
static VarlinkClient *new_client(Fixture *f) {
        VarlinkClient *c;
        int sv[2];

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        assert_int_equal(varlink_server_add_connection(f->server, sv[0]), 0);
        assert_int_equal(varlink_client_new_from_fd(sv[1], &c), 0);
        return c;
}

/* The next reply, turning the server's loop while waiting. */
static int read_reply(Fixture *f, VarlinkClient *c, json_object **ret, const char **ret_error, bool *ret_continues) {
        for (unsigned i = 0; i < PUMP_LIMIT; i++) {
                int r = varlink_client_read_reply(c, 0, ret, ret_error, ret_continues);
                if (r != -ETIMEDOUT)
                        return r;
                assert_true(sd_event_run(f->event, 1000) >= 0);
        }
        return -ETIMEDOUT;
}

/* One call, one reply; returns the reply's parameters; *ret_error gets a
 * copy of the error name or NULL. */
static json_object *call(Fixture *f, VarlinkClient *c, const char *method, const char *params, char **ret_error) {
        const char *error = NULL;
        json_object *reply = NULL;
        bool continues = true;

        assert_int_equal(varlink_client_call(c, method, params ? obj(params) : NULL, 0), 0);
        assert_int_equal(read_reply(f, c, &reply, &error, &continues), 0);
        assert_false(continues);
        assert_non_null(reply);
        *ret_error = error ? strdup(error) : NULL;
        return reply;
}

static void assert_error(json_object *reply, char *error, const char *expected, const char *key, const char *value) {
        json_object *v;

        assert_non_null(error);
        assert_string_equal(error, expected);
        if (key) {
                assert_true(json_object_object_get_ex(reply, key, &v));
                assert_string_equal(json_object_get_string(v), value);
        }
        free(error);
        json_object_put(reply);
}

/* A call expected to fail with InvalidParameter(@parameter). */
static void expect_invalid(Fixture *f, VarlinkClient *c, const char *method, const char *params,
                           const char *parameter) {
        char *error;
        json_object *reply = call(f, c, method, params, &error);

        assert_error(reply, error, VARLINK_ERROR_INVALID_PARAMETER, "parameter", parameter);
}

static void raw_send(VarlinkClient *c, const char *data, size_t n) {
        int fd = varlink_client_get_fd(c);

        while (n > 0) {
                ssize_t k = send(fd, data, n, MSG_NOSIGNAL);
                assert_true(k > 0);
                data += k;
                n -= (size_t) k;
        }
}

/* @json and its NUL. */
static void raw_call(VarlinkClient *c, const char *json) {
        raw_send(c, json, strlen(json) + 1);
}

static void raw_send_fds(VarlinkClient *c, const char *json, const int *fds, size_t n_fds) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int) * 64)];
        } control;
        struct iovec iov = { .iov_base = (void *) json, .iov_len = strlen(json) + 1 };
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = CMSG_SPACE(sizeof(int) * n_fds),
        };
        struct cmsghdr *cm;

        assert_true(n_fds <= 64);
        memset(&control, 0, sizeof(control));
        cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * n_fds);
        assert_int_equal(sendmsg(varlink_client_get_fd(c), &mh, MSG_NOSIGNAL), (ssize_t) iov.iov_len);
}

/* Read on until the server closes; returns how many replies came first. */
static unsigned expect_closed(Fixture *f, VarlinkClient *c) {
        unsigned replies = 0;

        for (unsigned i = 0; i < PUMP_LIMIT; i++) {
                json_object *reply = NULL;
                int r = varlink_client_read_reply(c, 0, &reply, NULL, NULL);

                if (r == -ECONNRESET)
                        return replies;
                if (r == 0) {
                        json_object_put(reply);
                        replies++;
                        continue;
                }
                assert_int_equal(r, -ETIMEDOUT);
                assert_true(sd_event_run(f->event, 1000) >= 0);
        }
        fail_msg("the server did not close the connection");
        return replies;
}

static const char *sget(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v))
                return NULL;
        return json_object_get_string(v);
}

static int64_t iget(json_object *o, const char *key) {
        json_object *v;

        assert_true(json_object_object_get_ex(o, key, &v));
        return json_object_get_int64(v);
}

/* ---- names and getters ---- */

static void test_names(void **state) {
        static const char *good_iface[] = { "org.varlink.service", "org.iommud.Manager", "io.systemd.UserDatabase",
                                            "a.b", "org.ex-ample.test", "x1.2y", "org.a--b.c" };
        static const char *bad_iface[] = { "", "org", "org.", ".org", "org..x", "1org.x", "-org.x", "org.-x",
                                           "org.x-", "org.x y", "org.x/y", "org.\xc3\xa9t\xc3\xa9", "org.x_y" };
        static const char *good_method[] = { "org.varlink.service.GetInfo", "a.b.C", "org.example.test.Echo2" };
        static const char *bad_method[] = { "", "GetInfo", "org.varlink.service", "org.varlink.service.getInfo",
                                            "org.varlink.service.Get_Info", "org.varlink.service.", "org.Method",
                                            ".org.x.Y", "org.x.Y.", "org.x.Y-z" };
        char longname[VARLINK_NAME_MAX + 8];

        for (size_t i = 0; i < ELEMENTSOF(good_iface); i++)
                assert_true(varlink_interface_name_is_valid(good_iface[i]));
        for (size_t i = 0; i < ELEMENTSOF(bad_iface); i++) {
                if (varlink_interface_name_is_valid(bad_iface[i]))
                        fail_msg("accepted interface '%s'", bad_iface[i]);
        }
        for (size_t i = 0; i < ELEMENTSOF(good_method); i++)
                assert_true(varlink_qualified_name_is_valid(good_method[i]));
        for (size_t i = 0; i < ELEMENTSOF(bad_method); i++) {
                if (varlink_qualified_name_is_valid(bad_method[i]))
                        fail_msg("accepted method '%s'", bad_method[i]);
        }
        assert_false(varlink_interface_name_is_valid(NULL));
        assert_false(varlink_member_name_is_valid("lower"));
        assert_true(varlink_member_name_is_valid("A"));

        memset(longname, 'a', sizeof(longname));
        memcpy(longname, "org.", 4);
        longname[VARLINK_NAME_MAX] = 0;
        assert_true(varlink_interface_name_is_valid(longname));
        longname[VARLINK_NAME_MAX] = 'a';
        longname[VARLINK_NAME_MAX + 1] = 0;
        assert_false(varlink_interface_name_is_valid(longname));
}

static void test_json_getters(void **state) {
        json_object *p = obj("{\"s\":\"abc\",\"nul\":\"a\\u0000b\",\"n\":null,\"i\":7,\"neg\":-1,"
                             "\"big\":4294967296,\"max\":4294967295,\"huge\":18446744073709551615,"
                             "\"i64max\":9223372036854775807,\"i64min\":-9223372036854775808,"
                             "\"d\":1.0,\"str\":\"1\",\"t\":true,\"obj\":{}}");
        const char *s = NULL;
        uint32_t u = 0;
        int64_t i = 0;
        bool b = false;

        assert_int_equal(varlink_json_get_string(p, "s", true, 3, &s), 1);
        assert_string_equal(s, "abc");
        assert_int_equal(varlink_json_get_string(p, "s", true, 2, &s), -EINVAL);       /* too long */
        assert_int_equal(varlink_json_get_string(p, "nul", true, 100, &s), -EINVAL);   /* embedded NUL */
        assert_int_equal(varlink_json_get_string(p, "i", true, 100, &s), -EINVAL);     /* not a string */
        assert_int_equal(varlink_json_get_string(p, "obj", true, 100, &s), -EINVAL);
        assert_int_equal(varlink_json_get_string(p, "missing", true, 100, &s), -ENOENT);
        assert_int_equal(varlink_json_get_string(p, "n", true, 100, &s), -ENOENT);     /* null = absent */
        s = "untouched";
        assert_int_equal(varlink_json_get_string(p, "missing", false, 100, &s), 0);
        assert_string_equal(s, "untouched");
        assert_int_equal(varlink_json_get_string(NULL, "s", false, 100, &s), 0);
        assert_int_equal(varlink_json_get_string(NULL, "s", true, 100, &s), -ENOENT);

        assert_int_equal(varlink_json_get_uint32(p, "i", true, &u), 1);
        assert_int_equal(u, 7);
        assert_int_equal(varlink_json_get_uint32(p, "max", true, &u), 1);
        assert_int_equal(u, UINT32_MAX);
        assert_int_equal(varlink_json_get_uint32(p, "neg", true, &u), -EINVAL);
        assert_int_equal(varlink_json_get_uint32(p, "big", true, &u), -EINVAL);
        assert_int_equal(varlink_json_get_uint32(p, "huge", true, &u), -EINVAL);
        assert_int_equal(varlink_json_get_uint32(p, "d", true, &u), -EINVAL);
        assert_int_equal(varlink_json_get_uint32(p, "str", true, &u), -EINVAL);
        assert_int_equal(varlink_json_get_uint32(p, "t", true, &u), -EINVAL);
        assert_int_equal(varlink_json_get_uint32(p, "missing", true, &u), -ENOENT);
        assert_int_equal(varlink_json_get_uint32(p, "missing", false, &u), 0);

        assert_int_equal(varlink_json_get_int64(p, "neg", true, &i), 1);
        assert_int_equal(i, -1);
        assert_int_equal(varlink_json_get_int64(p, "i64max", true, &i), 1);
        assert_true(i == INT64_MAX);
        assert_int_equal(varlink_json_get_int64(p, "i64min", true, &i), 1);
        assert_true(i == INT64_MIN);
        assert_int_equal(varlink_json_get_int64(p, "huge", true, &i), -EINVAL);
        assert_int_equal(varlink_json_get_int64(p, "d", true, &i), -EINVAL);
        assert_int_equal(varlink_json_get_int64(p, "str", true, &i), -EINVAL);

        assert_int_equal(varlink_json_get_bool(p, "t", true, &b), 1);
        assert_true(b);
        assert_int_equal(varlink_json_get_bool(p, "i", true, &b), -EINVAL);
        assert_int_equal(varlink_json_get_bool(p, "str", true, &b), -EINVAL);
        assert_int_equal(varlink_json_get_bool(p, "n", false, &b), 0);

        assert_true(varlink_text_has_nul_escape("\"a\\u0000\"", 9));
        assert_false(varlink_text_has_nul_escape("\"a\\\\u0000\"", 10));       /* an escaped backslash */
        assert_false(varlink_text_has_nul_escape("\"a\\u0001\"", 9));
        json_object_put(p);
}

/* ---- org.varlink.service ---- */

static void test_reply_text(void **state) {
        Fixture *f = *state;
        _cleanup_(varlink_client_freep) VarlinkClient *c = new_client(f);
        json_object *reply, *items;
        char *error;
        int fd;

        reply = call(f, c, IFACE ".Text", NULL, &error);
        assert_null(error);
        assert_true(json_object_object_get_ex(reply, "items", &items));
        assert_int_equal(json_object_array_length(items), 2);
        assert_int_equal(iget(json_object_array_get_idx(items, 1), "a"), 2);
        /* The fd pushed before the text reply travels with it. */
        fd = varlink_client_take_fd(c, 0);
        assert_true(fd >= 0);
        close(fd);
        json_object_put(reply);
        /* The connection goes on after a text reply. */
        reply = call(f, c, IFACE ".Echo", "{\"x\":1}", &error);
        assert_null(error);
        assert_int_equal(iget(reply, "x"), 1);
        json_object_put(reply);
}

static void test_get_info(void **state) {
        Fixture *f = *state;
        _cleanup_(varlink_client_freep) VarlinkClient *c = new_client(f);
        json_object *reply, *a;
        char *error;

        reply = call(f, c, "org.varlink.service.GetInfo", NULL, &error);
        assert_null(error);
        assert_string_equal(sget(reply, "vendor"), "Example");
        assert_string_equal(sget(reply, "product"), "varlink-test");
        assert_string_equal(sget(reply, "version"), "1.2");
        assert_string_equal(sget(reply, "url"), "https://example.org");
        assert_true(json_object_object_get_ex(reply, "interfaces", &a));
        assert_int_equal(json_object_array_length(a), 2);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(a, 0)), "org.varlink.service");
        assert_string_equal(json_object_get_string(json_object_array_get_idx(a, 1)), IFACE);
        json_object_put(reply);
}

static void test_get_interface_description(void **state) {
        Fixture *f = *state;
        _cleanup_(varlink_client_freep) VarlinkClient *c = new_client(f);
        json_object *reply;
        char *error;

        reply = call(f, c, "org.varlink.service.GetInterfaceDescription", "{\"interface\":\"" IFACE "\"}", &error);
        assert_null(error);
        assert_string_equal(sget(reply, "description"), test_idl);      /* verbatim */
        json_object_put(reply);

        reply = call(f, c, "org.varlink.service.GetInterfaceDescription", "{\"interface\":\"org.varlink.service\"}",
                     &error);
        assert_null(error);
        assert_non_null(strstr(sget(reply, "description"), "interface org.varlink.service\n"));
        assert_non_null(strstr(sget(reply, "description"), "method GetInterfaceDescription(interface: string)"));
        assert_non_null(strstr(sget(reply, "description"), "error ExpectedMore ()"));
        json_object_put(reply);

        reply = call(f, c, "org.varlink.service.GetInterfaceDescription", "{\"interface\":\"org.nothere\"}", &error);
        assert_error(reply, error, VARLINK_ERROR_INTERFACE_NOT_FOUND, "interface", "org.nothere");
        expect_invalid(f, c, "org.varlink.service.GetInterfaceDescription", "{\"interface\":\"Nope\"}", "interface");
        expect_invalid(f, c, "org.varlink.service.GetInterfaceDescription", "{\"interface\":7}", "interface");
        expect_invalid(f, c, "org.varlink.service.GetInterfaceDescription", NULL, "interface");
}

static void test_method_not_found(void **state) {
        Fixture *f = *state;
        _cleanup_(varlink_client_freep) VarlinkClient *c = new_client(f);
        json_object *reply;
        char *error;

        reply = call(f, c, IFACE ".Nope", NULL, &error);
        assert_error(reply, error, VARLINK_ERROR_METHOD_NOT_FOUND, "method", IFACE ".Nope");
        reply = call(f, c, "org.nothere.Thing", "{}", &error);
        assert_error(reply, error, VARLINK_ERROR_INTERFACE_NOT_FOUND, "interface", "org.nothere");
        reply = call(f, c, "org.varlink.service.Nope", NULL, &error);
        assert_error(reply, error, VARLINK_ERROR_METHOD_NOT_FOUND, "method", "org.varlink.service.Nope");
}

/* Malformed calls are answered; the connection stays usable. */
static void test_malformed_calls(void **state) {
        Fixture *f = *state;
        _cleanup_(varlink_client_freep) VarlinkClient *c = new_client(f);
        static const struct {
                const char *json, *parameter;
        } cases[] = {
                { "{}", "method" },
                { "{\"method\":\"foo\"}", "method" },
                { "{\"method\":42}", "method" },
                { "{\"method\":null}", "method" },
                { "{\"method\":\"org.example.test.lower\"}", "method" },
                { "{\"method\":\"org.example.test.Echo\\u0000x\"}", "method" },
                { "{\"method\":\"org.example.test.Echo\",\"parameters\":[1]}", "parameters" },
                { "{\"method\":\"org.example.test.Echo\",\"parameters\":\"x\"}", "parameters" },
                { "{\"method\":\"org.example.test.Echo\",\"oneway\":\"yes\"}", "oneway" },
                { "{\"method\":\"org.example.test.Echo\",\"more\":1}", "more" },
                { "{\"method\":\"org.example.test.Echo\",\"upgrade\":\"x\"}", "upgrade" },
                { "{\"method\":\"org.example.test.Echo\",\"upgrade\":true}", "upgrade" },
                /* a NUL in a parameter the method never reads is caught too */
                { "{\"method\":\"org.example.test.Echo\","
                  "\"parameters\":{\"a\":1,\"deep\":[{\"x\":\"\\u0000\"}]}}", "deep" },
                /* json-c would cut this key to "a": only the text shows it */
                { "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"a\\u0000b\":1}}", "parameters" },
        };
        json_object *reply;
        const char *error;
        char *e;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                raw_call(c, cases[i].json);
                assert_int_equal(read_reply(f, c, &reply, &error, NULL), 0);
                if (!error || strcmp(error, VARLINK_ERROR_INVALID_PARAMETER) != 0 ||
                    !sget(reply, "parameter") || strcmp(sget(reply, "parameter"), cases[i].parameter) != 0)
                        fail_msg("%s: got %s %s", cases[i].json, error ? error : "no error",
                                 json_object_to_json_string(reply));
                json_object_put(reply);
        }
        /* unknown top-level keys are ignored */
        raw_call(c, "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"k\":1},\"whatever\":[1,2]}");
        assert_int_equal(read_reply(f, c, &reply, &error, NULL), 0);
        assert_null(error);
        assert_int_equal(iget(reply, "k"), 1);
        json_object_put(reply);

        reply = call(f, c, "org.varlink.service.GetInfo", NULL, &e);
        assert_null(e);
        json_object_put(reply);
        assert_int_equal(varlink_server_current_connections(f->server), 1);
}

static void test_parameters_equivalence(void **state) {
        Fixture *f = *state;
        _cleanup_(varlink_client_freep) VarlinkClient *c = new_client(f);
        static const char *calls[] = {
                "{\"method\":\"org.example.test.Echo\"}",
                "{\"method\":\"org.example.test.Echo\",\"parameters\":null}",
                "{\"method\":\"org.example.test.Echo\",\"parameters\":{}}",
        };
        json_object *reply;
        const char *error;

        for (size_t i = 0; i < ELEMENTSOF(calls); i++) {
                raw_call(c, calls[i]);
                assert_int_equal(read_reply(f, c, &reply, &error, NULL), 0);
                assert_null(error);
                assert_true(json_object_is_type(reply, json_type_object));
                assert_int_equal(json_object_object_length(reply), 0);
                json_object_put(reply);
        }
        /* and a method with required parameters sees them all as missing */
        raw_call(c, "{\"method\":\"org.example.test.Strict\",\"parameters\":null}");
        assert_int_equal(read_reply(f, c, &reply, &error, NULL), 0);
        assert_string_equal(error, VARLINK_ERROR_INVALID_PARAMETER);
        assert_string_equal(sget(reply, "parameter"), "name");
        json_object_put(reply);
}

static void test_invalid_parameters(void **state) {
        Fixture *f = *state;
        _cleanup_(varlink_client_freep) VarlinkClient *c = new_client(f);
        json_object *reply;
        char *error;

        expect_invalid(f, c, IFACE ".Strict", "{\"count\":1}", "name");
        expect_invalid(f, c, IFACE ".Strict", "{\"name\":5,\"count\":1}", "name");
        expect_invalid(f, c, IFACE ".Strict", "{\"name\":\"ab\\u0000cd\",\"count\":1}", "name");
        expect_invalid(f, c, IFACE ".Strict", "{\"name\":\"abcdefghijklmnopq\",\"count\":1}", "name");
        expect_invalid(f, c, IFACE ".Strict", "{\"name\":\"a\"}", "count");
        expect_invalid(f, c, IFACE ".Strict", "{\"name\":\"a\",\"count\":\"1\"}", "count");
        expect_invalid(f, c, IFACE ".Strict", "{\"name\":\"a\",\"count\":-1}", "count");
        expect_invalid(f, c, IFACE ".Strict", "{\"name\":\"a\",\"count\":4294967296}", "count");
        expect_invalid(f, c, IFACE ".Strict", "{\"name\":\"a\",\"count\":1.0}", "count");
        expect_invalid(f, c, IFACE ".Strict", "{\"name\":\"a\",\"count\":1,\"flag\":\"true\"}", "flag");
        expect_invalid(f, c, IFACE ".Strict", "{\"name\":\"a\",\"count\":1,\"big\":18446744073709551615}", "big");
        expect_invalid(f, c, IFACE ".Strict", "{\"name\":\"a\",\"count\":1,\"other\":\"x\\u0000\"}", "other");

        /* and the well-formed call works, also at the limits */
        reply = call(f, c, IFACE ".Strict", "{\"name\":\"abcdefghijklmnop\",\"count\":4294967295,\"flag\":null}",
                     &error);
        assert_null(error);
        assert_string_equal(sget(reply, "name"), "abcdefghijklmnop");
        assert_true(iget(reply, "count") == UINT32_MAX);
        json_object_put(reply);
}

/* ---- replies ---- */

static void test_oneway(void **state) {
        Fixture *f = *state;
        _cleanup_(varlink_client_freep) VarlinkClient *c = new_client(f);
        json_object *reply;
        char *error;

        assert_int_equal(varlink_client_call(c, IFACE ".Count", NULL, VARLINK_CALL_ONEWAY), 0);
        assert_int_equal(varlink_client_call(c, IFACE ".Count", NULL, VARLINK_CALL_ONEWAY | VARLINK_CALL_MORE), 0);
        /* errors are not answered either */
        assert_int_equal(varlink_client_call(c, IFACE ".Nope", NULL, VARLINK_CALL_ONEWAY), 0);
        raw_call(c, "{\"method\":\"org.example.test.Echo\",\"oneway\":true,\"upgrade\":true}");
        pump(f, 20);
        assert_int_equal(varlink_client_read_reply(c, 0, &reply, NULL, NULL), -ETIMEDOUT);
        assert_int_equal(f->oneway_calls, 2);

        /* the next reply on the connection is the next normal call's */
        reply = call(f, c, IFACE ".Echo", "{\"tag\":\"after\"}", &error);
        assert_null(error);
        assert_string_equal(sget(reply, "tag"), "after");
        json_object_put(reply);

        /* a oneway call sent just before hanging up still runs */
        {
                VarlinkClient *gone = new_client(f);

                assert_int_equal(varlink_client_call(gone, IFACE ".Count", NULL, VARLINK_CALL_ONEWAY), 0);
                varlink_client_free(gone);
                pump(f, 20);
                assert_int_equal(f->oneway_calls, 3);
                assert_int_equal(varlink_server_current_connections(f->server), 1);
        }
}

static void test_more_streaming(void **state) {
        Fixture *f = *state;
        _cleanup_(varlink_client_freep) VarlinkClient *c = new_client(f);
        json_object *reply;
        const char *error;
        bool continues;
        char *e;

        assert_int_equal(varlink_client_call(c, IFACE ".Stream", obj("{\"count\":3}"), VARLINK_CALL_MORE), 0);
        for (int i = 0; i < 3; i++) {
                assert_int_equal(read_reply(f, c, &reply, &error, &continues), 0);
                assert_null(error);
                assert_true(continues);
                assert_int_equal(iget(reply, "i"), i);
                json_object_put(reply);
        }
        assert_int_equal(read_reply(f, c, &reply, &error, &continues), 0);
        assert_null(error);
        assert_false(continues);
        assert_true(json_object_get_boolean(json_object_object_get(reply, "done")));
        json_object_put(reply);

        /* without "more": ExpectedMore, and notify is refused */
        reply = call(f, c, IFACE ".Stream", "{\"count\":3}", &e);
        assert_error(reply, e, VARLINK_ERROR_EXPECTED_MORE, NULL, NULL);
        assert_int_equal(f->notify_without_more, -EPROTO);

        /* an empty stream is one final reply */
        assert_int_equal(varlink_client_call(c, IFACE ".Stream", obj("{\"count\":0}"), VARLINK_CALL_MORE), 0);
        assert_int_equal(read_reply(f, c, &reply, &error, &continues), 0);
        assert_false(continues);
        json_object_put(reply);
}

static void test_deferred_reply(void **state) {
        Fixture *f = *state;
        _cleanup_(varlink_client_freep) VarlinkClient *c = new_client(f);
        json_object *reply;
        const char *error;

        assert_int_equal(varlink_client_call(c, IFACE ".Deferred", obj("{\"delay\":30}"), 0), 0);
        pump(f, 5);
        assert_non_null(f->deferred);
        assert_int_equal(varlink_client_read_reply(c, 0, &reply, NULL, NULL), -ETIMEDOUT);
        assert_int_equal(read_reply(f, c, &reply, &error, NULL), 0);
        assert_null(error);
        assert_true(json_object_get_boolean(json_object_object_get(reply, "deferred")));
        assert_null(f->deferred);
        json_object_put(reply);
}

static void test_pipelined_in_order(void **state) {
        Fixture *f = *state;
        _cleanup_(varlink_client_freep) VarlinkClient *c = new_client(f);
        static const char calls[] =
                "{\"method\":\"org.example.test.Deferred\",\"parameters\":{\"delay\":20}}\0"
                "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"tag\":2}}\0"
                "{\"method\":\"org.example.test.Nope\"}\0"
                "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"tag\":4}}";
        json_object *reply;
        const char *error;

        /* one write: the server reads them all at once */
        raw_send(c, calls, sizeof(calls));
        assert_int_equal(read_reply(f, c, &reply, &error, NULL), 0);
        assert_null(error);
        assert_true(json_object_get_boolean(json_object_object_get(reply, "deferred")));
        json_object_put(reply);
        assert_int_equal(read_reply(f, c, &reply, &error, NULL), 0);
        assert_int_equal(iget(reply, "tag"), 2);
        json_object_put(reply);
        assert_int_equal(read_reply(f, c, &reply, &error, NULL), 0);
        assert_string_equal(error, VARLINK_ERROR_METHOD_NOT_FOUND);
        json_object_put(reply);
        assert_int_equal(read_reply(f, c, &reply, &error, NULL), 0);
        assert_null(error);
        assert_int_equal(iget(reply, "tag"), 4);
        json_object_put(reply);
}

static void test_half_close(void **state) {
        Fixture *f = *state;
        _cleanup_(varlink_client_freep) VarlinkClient *c = new_client(f);
        json_object *reply;
        const char *error;

        /* a client that shuts down its side after the call still gets the answer */
        assert_int_equal(varlink_client_call(c, IFACE ".Deferred", obj("{\"delay\":5}"), 0), 0);
        assert_int_equal(shutdown(varlink_client_get_fd(c), SHUT_WR), 0);
        assert_int_equal(read_reply(f, c, &reply, &error, NULL), 0);
        assert_null(error);
        json_object_put(reply);
        assert_int_equal(expect_closed(f, c), 0);
        assert_int_equal(varlink_server_current_connections(f->server), 0);
}

static void test_disconnect_cancels_pending(void **state) {
        Fixture *f = *state;
        VarlinkClient *c = new_client(f), *c2 = new_client(f);

        assert_int_equal(varlink_client_call(c, IFACE ".Pending", NULL, VARLINK_CALL_MORE), 0);
        assert_int_equal(varlink_client_call(c2, IFACE ".Hold", NULL, 0), 0);
        /* calls queued behind a pending one are dropped with it */
        assert_int_equal(varlink_client_call(c2, IFACE ".Pending", NULL, 0), 0);
        pump(f, 10);
        assert_int_equal(f->pending_calls, 1);
        assert_non_null(f->held);
        assert_true(varlink_call_is_connected(f->held));
        assert_int_equal(f->cancelled, 0);

        varlink_client_free(c);
        varlink_client_free(c2);
        pump(f, 10);
        assert_int_equal(f->cancelled, 1);
        assert_int_equal(f->pending_calls, 1);
        assert_int_equal(varlink_server_current_connections(f->server), 0);
        /* the call we still hold is disconnected; replying is harmless */
        assert_false(varlink_call_is_connected(f->held));
        assert_int_equal(varlink_call_notify(f->held, NULL), -EPROTO);
        assert_int_equal(varlink_call_push_fd(f->held, open("/dev/null", O_RDONLY | O_CLOEXEC)), -ENOTCONN);
        assert_int_equal(varlink_call_reply(f->held, json_object_new_object()), -ENOTCONN);
        assert_int_equal(varlink_call_get_peer_pidfd(f->held), -ENOTCONN);
        f->held = varlink_call_unref(f->held);
}

static void test_server_free_cancels(void **state) {
        Fixture *f = *state;
        _cleanup_(varlink_client_freep) VarlinkClient *c = new_client(f);

        assert_int_equal(varlink_client_call(c, IFACE ".Pending", NULL, 0), 0);
        pump(f, 10);
        assert_int_equal(f->pending_calls, 1);
        f->server = varlink_server_free(f->server);
        assert_int_equal(f->cancelled, 1);
        assert_int_equal(varlink_client_read_reply(c, 1000, NULL, NULL, NULL), -ECONNRESET);
}

static void test_method_failures(void **state) {
        Fixture *f = *state;
        _cleanup_(varlink_client_freep) VarlinkClient *c = new_client(f);
        VarlinkServer *s2;
        json_object *reply;
        char *error;

        reply = call(f, c, IFACE ".Fail", NULL, &error);
        assert_string_equal(error, VARLINK_ERROR_SYSTEM);
        assert_int_equal(iget(reply, "errno"), ENOENT);
        free(error);
        json_object_put(reply);

        /* returning without a reply or a reference is answered too */
        reply = call(f, c, IFACE ".Forget", NULL, &error);
        assert_string_equal(error, VARLINK_ERROR_SYSTEM);
        assert_int_equal(iget(reply, "errno"), EPROTO);
        free(error);
        json_object_put(reply);

        /* failing with a reference held: answered, and the cancel callback cleans up */
        reply = call(f, c, IFACE ".FailAfterRef", NULL, &error);
        assert_string_equal(error, VARLINK_ERROR_SYSTEM);
        assert_int_equal(iget(reply, "errno"), EIO);
        free(error);
        json_object_put(reply);
        assert_int_equal(f->cancelled, 1);

        /* the connection goes on */
        reply = call(f, c, IFACE ".Echo", "{\"ok\":true}", &error);
        assert_null(error);
        json_object_put(reply);

        /* the error name is the server's to choose */
        {
                VarlinkServerInfo info = test_info;
                VarlinkClient *c2;
                int sv[2];

                info.internal_error = IFACE ".Broken";
                assert_int_equal(new_server(f, &info, &s2), 0);
                assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
                assert_int_equal(varlink_server_add_connection(s2, sv[0]), 0);
                assert_int_equal(varlink_client_new_from_fd(sv[1], &c2), 0);
                reply = call(f, c2, IFACE ".Fail", NULL, &error);
                assert_error(reply, error, IFACE ".Broken", NULL, NULL);
                varlink_client_free(c2);
                varlink_server_free(s2);

                info.internal_error = "not a name";
                assert_int_equal(varlink_server_new(f->event, &info, &s2), -EINVAL);
        }
}

/* ---- hostile and broken input ---- */

static void test_truncated_then_eof(void **state) {
        Fixture *f = *state;
        _cleanup_(varlink_client_freep) VarlinkClient *c = new_client(f);
        static const char partial[] = "{\"method\":\"org.varlink.service.GetInfo\"";

        raw_send(c, partial, sizeof(partial) - 1);
        pump(f, 5);
        assert_int_equal(varlink_server_current_connections(f->server), 1);
        assert_int_equal(shutdown(varlink_client_get_fd(c), SHUT_WR), 0);
        assert_int_equal(expect_closed(f, c), 0);      /* no reply for half a call */
        assert_int_equal(varlink_server_current_connections(f->server), 0);
}

static void test_not_an_object(void **state) {
        Fixture *f = *state;
        static const char *garbage[] = {
                "[1,2]", "\"str\"", "42", "null", "true", "", "   ", "{\"method\":\"org.example.test.Echo\"",
                "{\"method\":\"org.example.test.Echo\"} x", "{'method':'x'}", "{\"method\":\"\xff\xfe\"}",
                "{\"a\":1,}", "\x01\x02\x03",
        };

        for (size_t i = 0; i < ELEMENTSOF(garbage); i++) {
                _cleanup_(varlink_client_freep) VarlinkClient *c = new_client(f);
                json_object *reply = NULL;
                const char *error;

                raw_call(c, garbage[i]);
                /* more calls behind the garbage are not served */
                raw_call(c, "{\"method\":\"org.example.test.Echo\"}");
                assert_int_equal(read_reply(f, c, &reply, &error, NULL), 0);
                if (!error || strcmp(error, VARLINK_ERROR_INVALID_PARAMETER) != 0)
                        fail_msg("'%s' got %s", garbage[i], error ? error : "no error");
                json_object_put(reply);
                assert_int_equal(expect_closed(f, c), 0);
                assert_int_equal(varlink_server_current_connections(f->server), 0);
        }
}

static void test_oversized_message(void **state) {
        Fixture *f = *state;
        _cleanup_(varlink_client_freep) VarlinkClient *c = new_client(f);
        char chunk[16384];
        size_t total = 0;
        unsigned replies;
        int fd = varlink_client_get_fd(c);

        /* 100k '[' deep and never a NUL */
        memset(chunk, '[', sizeof(chunk));
        for (unsigned i = 0; i < PUMP_LIMIT; i++) {
                ssize_t n = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL | MSG_DONTWAIT);

                if (n < 0) {
                        if (errno == EAGAIN) {
                                assert_true(sd_event_run(f->event, 1000) >= 0);
                                continue;
                        }
                        assert_true(errno == EPIPE || errno == ECONNRESET);
                        break;
                }
                total += (size_t) n;
                assert_true(total < 8u * 1024 * 1024);
                pump(f, 1);
        }
        /* the server gave up after its limit, plus what the socket buffers held */
        assert_true(total > VARLINK_DEFAULT_MAX_MESSAGE_SIZE);
        assert_true(total < 2u * 1024 * 1024);
        replies = expect_closed(f, c);
        assert_true(replies <= 1);
        assert_int_equal(varlink_server_current_connections(f->server), 0);
}

static void test_deep_nesting(void **state) {
        Fixture *f = *state;
        _cleanup_(varlink_client_freep) VarlinkClient *ok = new_client(f), *bad = new_client(f);
        char msg[512];
        json_object *reply;
        const char *error;
        int n;

        /* 12 levels inside the call (14 in all) are fine */
        n = snprintf(msg, sizeof(msg), "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"a\":%.*s1%.*s}}",
                     12, "[[[[[[[[[[[[", 12, "]]]]]]]]]]]]");
        assert_true(n > 0);
        raw_call(ok, msg);
        assert_int_equal(read_reply(f, ok, &reply, &error, NULL), 0);
        assert_null(error);
        json_object_put(reply);

        /* 100 are not: answered, then closed */
        memcpy(msg, "{\"method\":\"org.example.test.Echo\",\"parameters\":{\"a\":", 52);
        memset(msg + 52, '[', 100);
        memset(msg + 152, ']', 100);
        memcpy(msg + 252, "}}", 3);
        raw_call(bad, msg);
        assert_int_equal(read_reply(f, bad, &reply, &error, NULL), 0);
        assert_string_equal(error, VARLINK_ERROR_INVALID_PARAMETER);
        json_object_put(reply);
        assert_int_equal(expect_closed(f, bad), 0);
        assert_int_equal(varlink_server_current_connections(f->server), 1);
}

static void test_too_many_pending_calls(void **state) {
        Fixture *f = *state;
        _cleanup_(varlink_client_freep) VarlinkClient *c = new_client(f);
        char buf[4096];
        size_t n = 0;

        /* one call pending, then more queued behind it than allowed */
        assert_int_equal(varlink_client_call(c, IFACE ".Hold", NULL, 0), 0);
        pump(f, 5);
        assert_non_null(f->held);
        assert_true(varlink_call_is_connected(f->held));
        for (int i = 0; i < 20; i++)
                n += (size_t) snprintf(buf + n, sizeof(buf) - n, "{\"method\":\"org.example.test.Echo\"}") + 1;
        assert_true(n < sizeof(buf));
        raw_send(c, buf, n);
        assert_int_equal(expect_closed(f, c), 0);
        assert_int_equal(varlink_server_current_connections(f->server), 0);
        assert_non_null(f->held);
        assert_false(varlink_call_is_connected(f->held));
        assert_int_equal(varlink_call_reply(f->held, NULL), -ENOTCONN);
}

static void test_garbage_client_does_not_hurt_others(void **state) {
        Fixture *f = *state;
        _cleanup_(varlink_client_freep) VarlinkClient *good = new_client(f);
        static const char junk[] = "\xff\x00{\"method\":1}\x00[[[[\x00{}\x00\x00{\"a\":\"\\u0000\"}\x00";
        json_object *reply;
        const char *e;
        char *error;

        srand(42);
        for (int round = 0; round < 20; round++) {
                _cleanup_(varlink_client_freep) VarlinkClient *bad = new_client(f);
                char noise[2048];

                for (size_t i = 0; i < sizeof(noise); i++)
                        noise[i] = (char) (rand() % 8 == 0 ? 0 : rand() % 256);
                raw_send(bad, round % 2 ? junk : noise, round % 2 ? sizeof(junk) : sizeof(noise));
                assert_int_equal(varlink_client_call(good, IFACE ".Echo", obj("{\"round\":1}"), 0), 0);
                reply = NULL;
                assert_int_equal(read_reply(f, good, &reply, &e, NULL), 0);
                assert_null(e);
                assert_int_equal(iget(reply, "round"), 1);
                json_object_put(reply);
                (void) expect_closed(f, bad);
        }
        assert_int_equal(varlink_server_current_connections(f->server), 1);
        reply = call(f, good, "org.varlink.service.GetInfo", NULL, &error);
        assert_null(error);
        json_object_put(reply);
}

static void test_output_limit(void **state) {
        Fixture *f = *state;
        _cleanup_(varlink_client_freep) VarlinkClient *reader = new_client(f);
        VarlinkLimits l = { .max_output_size = 64 * 1024 };
        VarlinkClient *sleeper;
        json_object *reply;
        char *error;

        varlink_server_set_limits(f->server, &l);
        sleeper = new_client(f);
        /* 4 MiB of replies to a client that never reads */
        assert_int_equal(varlink_client_call(sleeper, IFACE ".Flood", obj("{\"count\":1024,\"size\":4096}"),
                                             VARLINK_CALL_MORE), 0);
        pump(f, 20);
        assert_int_equal(f->flood_error, -ENOBUFS);
        assert_int_equal(varlink_server_current_connections(f->server), 1);
        varlink_client_free(sleeper);

        reply = call(f, reader, "org.varlink.service.GetInfo", NULL, &error);
        assert_null(error);
        json_object_put(reply);

        /* the same stream is fine for a client that reads */
        f->flood_error = 1;
        assert_int_equal(varlink_client_call(reader, IFACE ".Flood", obj("{\"count\":10,\"size\":4096}"),
                                             VARLINK_CALL_MORE), 0);
        for (int i = 0; i <= 10; i++) {
                bool continues;
                const char *e;

                assert_int_equal(read_reply(f, reader, &reply, &e, &continues), 0);
                assert_null(e);
                assert_int_equal(continues, i < 10);
                json_object_put(reply);
        }
        assert_int_equal(f->flood_error, 0);
}

/* A final reply ends the call even on a connection that is being dropped:
 * the cancel callback must not run after the method thinks it is done. */
static void test_final_reply_on_failed_connection(void **state) {
        Fixture *f = *state;
        VarlinkLimits l = { .max_output_size = 16 * 1024 };
        VarlinkClient *c;

        varlink_server_set_limits(f->server, &l);
        c = new_client(f);
        assert_int_equal(varlink_client_call(c, IFACE ".Overflow", NULL, VARLINK_CALL_MORE), 0);
        pump(f, 20);
        assert_int_equal(f->flood_error, -ENOBUFS);
        assert_int_equal(varlink_server_current_connections(f->server), 0);
        assert_int_equal(f->cancelled, 0);
        /* what was queued before the limit is dropped with the connection */
        (void) expect_closed(f, c);
        varlink_client_free(c);
}

/* ---- fds ---- */

static void test_fd_to_server(void **state) {
        Fixture *f = *state;
        _cleanup_(varlink_client_freep) VarlinkClient *c = new_client(f);
        json_object *reply;
        char *error;
        int p[2];

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        assert_int_equal(write(p[1], "through a pipe", 14), 14);
        assert_int_equal(varlink_client_push_fd(c, p[0]), 0);
        reply = call(f, c, IFACE ".ReadFd", "{\"fd\":0}", &error);
        assert_null(error);
        assert_string_equal(sget(reply, "data"), "through a pipe");
        json_object_put(reply);
        /* the server closed its copy when the call ended: no reader is left */
        assert_int_equal(write(p[1], "x", 1), -1);
        assert_int_equal(errno, EPIPE);
        safe_close(p[1]);

        /* an index beyond the fds sent */
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        assert_int_equal(varlink_client_push_fd(c, p[0]), 0);
        expect_invalid(f, c, IFACE ".ReadFd", "{\"fd\":1}", "fd");
        safe_close(p[1]);
        /* fds don't carry over to the next call */
        expect_invalid(f, c, IFACE ".ReadFd", "{\"fd\":0}", "fd");
}

static void test_fd_to_client(void **state) {
        Fixture *f = *state;
        _cleanup_(varlink_client_freep) VarlinkClient *c = new_client(f);
        json_object *reply;
        char *error;
        char buf[16] = { 0 };
        int fd;

        reply = call(f, c, IFACE ".GiveFd", NULL, &error);
        assert_null(error);
        fd = varlink_client_take_fd(c, (unsigned) iget(reply, "fd"));
        assert_true(fd >= 0);
        assert_int_equal(read(fd, buf, sizeof(buf)), 5);
        assert_string_equal(buf, "hello");
        assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
        safe_close(fd);
        assert_int_equal(varlink_client_take_fd(c, 0), -EBADF);
        assert_int_equal(varlink_client_take_fd(c, 1), -ENXIO);
        json_object_put(reply);

        /* pipelined: each reply's fd arrives with that reply */
        assert_int_equal(varlink_client_call(c, IFACE ".GiveFd", NULL, 0), 0);
        assert_int_equal(varlink_client_call(c, IFACE ".Echo", NULL, 0), 0);
        assert_int_equal(varlink_client_call(c, IFACE ".GiveFd", NULL, 0), 0);
        for (int i = 0; i < 3; i++) {
                const char *e;

                assert_int_equal(read_reply(f, c, &reply, &e, NULL), 0);
                assert_null(e);
                if (i == 1) {
                        assert_int_equal(varlink_client_take_fd(c, 0), -ENXIO);
                } else {
                        fd = varlink_client_take_fd(c, 0);
                        assert_true(fd >= 0);
                        assert_int_equal(read(fd, buf, sizeof(buf)), 5);
                        safe_close(fd);
                }
                json_object_put(reply);
        }
}

static void test_fd_limit(void **state) {
        Fixture *f = *state;
        _cleanup_(varlink_client_freep) VarlinkClient *c = new_client(f), *c2 = new_client(f);
        int fds[VARLINK_DEFAULT_MAX_FDS + 1];
        json_object *reply;
        const char *error;

        for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
                fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
                assert_true(fds[i] >= 0);
        }
        /* 16 are fine */
        raw_send_fds(c, "{\"method\":\"org.example.test.CountFds\"}", fds, VARLINK_DEFAULT_MAX_FDS);
        assert_int_equal(read_reply(f, c, &reply, &error, NULL), 0);
        assert_null(error);
        assert_int_equal(iget(reply, "count"), VARLINK_DEFAULT_MAX_FDS);
        json_object_put(reply);
        /* 17 on one message: disconnected */
        raw_send_fds(c2, "{\"method\":\"org.example.test.CountFds\"}", fds, ELEMENTSOF(fds));
        assert_int_equal(expect_closed(f, c2), 0);
        assert_int_equal(varlink_server_current_connections(f->server), 1);
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                safe_close(fds[i]);

        /* the client holds itself to the same limit */
        for (unsigned i = 0; i < VARLINK_CLIENT_MAX_FDS; i++)
                assert_int_equal(varlink_client_push_fd(c, open("/dev/null", O_RDONLY | O_CLOEXEC)), (int) i);
        assert_int_equal(varlink_client_push_fd(c, open("/dev/null", O_RDONLY | O_CLOEXEC)), -ETOOMANYREFS);
        assert_int_equal(varlink_client_call(c, IFACE ".CountFds", NULL, 0), 0);
        assert_int_equal(read_reply(f, c, &reply, &error, NULL), 0);
        assert_int_equal(iget(reply, "count"), VARLINK_CLIENT_MAX_FDS);
        json_object_put(reply);
}

/* ---- connections ---- */

static void test_peer_creds(void **state) {
        Fixture *f = *state;
        _cleanup_(varlink_client_freep) VarlinkClient *c = new_client(f);
        json_object *reply;
        char *error;

        reply = call(f, c, IFACE ".Creds", NULL, &error);
        assert_null(error);
        assert_int_equal(iget(reply, "uid"), getuid());
        assert_int_equal(iget(reply, "pid"), getpid());
        assert_int_equal(iget(reply, "pidfdPid"), getpid());
        json_object_put(reply);
}

static void test_uid_limit(void **state) {
        Fixture *f = *state;
        int peers[VARLINK_DEFAULT_MAX_CONNECTIONS_PER_UID + 1];
        char c;

        for (size_t i = 0; i < ELEMENTSOF(peers); i++) {
                int sv[2];

                assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
                assert_int_equal(varlink_server_add_connection(f->server, sv[0]),
                                 i < VARLINK_DEFAULT_MAX_CONNECTIONS_PER_UID ? 0 : -EUSERS);
                peers[i] = sv[1];
        }
        assert_int_equal(varlink_server_current_connections(f->server), VARLINK_DEFAULT_MAX_CONNECTIONS_PER_UID);
        /* the 65th was closed at once */
        assert_int_equal(recv(peers[VARLINK_DEFAULT_MAX_CONNECTIONS_PER_UID], &c, 1, MSG_DONTWAIT), 0);
        /* the first one still works */
        assert_int_equal(recv(peers[0], &c, 1, MSG_DONTWAIT), -1);
        assert_int_equal(errno, EAGAIN);
        for (size_t i = 0; i < ELEMENTSOF(peers); i++)
                safe_close(peers[i]);
        pump(f, 200);
        assert_int_equal(varlink_server_current_connections(f->server), 0);
}

static void make_tmpdir(Fixture *f, char path[static 128]) {
        snprintf(f->tmpdir, sizeof(f->tmpdir), "/tmp/test-varlink-XXXXXX");
        assert_non_null(mkdtemp(f->tmpdir));
        snprintf(path, 128, "%s/sock", f->tmpdir);
}

static void test_listen_address(void **state) {
        Fixture *f = *state;
        VarlinkLimits l = { .max_connections_per_uid = 3, .max_connections = 10 };
        VarlinkClient *clients[4];
        VarlinkServer *s2;
        char path[128];
        struct stat st;
        json_object *reply;
        char *error;

        make_tmpdir(f, path);
        varlink_server_set_limits(f->server, &l);
        assert_int_equal(varlink_server_listen_address(f->server, path, 0660), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0660);

        /* a live socket is not taken over */
        assert_int_equal(new_server(f, &test_info, &s2), 0);
        assert_int_equal(varlink_server_listen_address(s2, path, 0666), -EADDRINUSE);
        /* (its probe connected; let that come and go) */
        pump(f, 20);
        assert_int_equal(varlink_server_current_connections(f->server), 0);

        for (size_t i = 0; i < ELEMENTSOF(clients); i++)
                assert_int_equal(varlink_client_connect(path, &clients[i]), 0);
        pump(f, 20);
        /* the limit per uid: the 4th is closed, the others are served */
        assert_int_equal(varlink_server_current_connections(f->server), 3);
        assert_int_equal(varlink_client_read_reply(clients[3], 1000, NULL, NULL, NULL), -ECONNRESET);
        for (size_t i = 0; i < 3; i++) {
                reply = call(f, clients[i], "org.varlink.service.GetInfo", NULL, &error);
                assert_null(error);
                json_object_put(reply);
        }
        for (size_t i = 0; i < ELEMENTSOF(clients); i++)
                varlink_client_free(clients[i]);

        /* a stale socket (nobody accepts) is replaced */
        f->server = varlink_server_free(f->server);
        assert_int_equal(varlink_client_connect(path, &clients[0]), -ECONNREFUSED);
        assert_int_equal(varlink_server_listen_address(s2, path, 0666), 0);
        assert_int_equal(varlink_client_connect(path, &clients[0]), 0);
        varlink_client_free(clients[0]);
        varlink_server_free(s2);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(varlink_client_connect(path, &clients[0]), -ENOENT);

        /* never something that isn't a socket */
        assert_int_equal(new_server(f, &test_info, &s2), 0);
        assert_int_equal(mkdir(path, 0700), 0);
        assert_int_equal(varlink_server_listen_address(s2, path, 0666), -EEXIST);
        assert_int_equal(rmdir(path), 0);
        assert_int_equal(varlink_server_listen_address(s2, "relative", 0666), -EINVAL);
        varlink_server_free(s2);
}

static void test_registration(void **state) {
        Fixture *f = *state;

        assert_int_equal(varlink_server_add_interface(f->server, IFACE, "x"), -EEXIST);
        assert_int_equal(varlink_server_add_interface(f->server, "Bad", "x"), -EINVAL);
        assert_int_equal(varlink_server_add_interface(f->server, "org.varlink.service", "x"), -EEXIST);
        assert_int_equal(varlink_server_add_method(f->server, IFACE ".Echo", method_echo, f), -EEXIST);
        assert_int_equal(varlink_server_add_method(f->server, "org.other.Echo", method_echo, f), -ENOENT);
        assert_int_equal(varlink_server_add_method(f->server, IFACE ".echo", method_echo, f), -EINVAL);
        assert_int_equal(varlink_server_add_method(f->server, IFACE ".Other", NULL, f), -EINVAL);
}

static void test_client_errors(void **state) {
        Fixture *f = *state;
        _cleanup_(varlink_client_freep) VarlinkClient *c = new_client(f);
        VarlinkClient *none = NULL;
        char longpath[200];

        memset(longpath, 'a', sizeof(longpath));
        longpath[0] = '/';
        longpath[sizeof(longpath) - 1] = 0;
        assert_int_equal(varlink_client_connect(longpath, &none), -ENAMETOOLONG);
        assert_null(none);
        assert_int_equal(varlink_client_call(c, "nomethod", NULL, 0), -EINVAL);
        assert_int_equal(varlink_client_call(c, IFACE ".Echo", json_object_new_array(), 0), -EINVAL);
        assert_int_equal(varlink_client_read_reply(c, 0, NULL, NULL, NULL), -ETIMEDOUT);

        /* a reply that is not a varlink reply */
        {
                int sv[2];
                VarlinkClient *c2;
                static const char bad[] = "{\"parameters\":[1]}";

                assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
                assert_int_equal(varlink_client_new_from_fd(sv[1], &c2), 0);
                assert_int_equal(send(sv[0], bad, sizeof(bad), 0), (ssize_t) sizeof(bad));
                assert_int_equal(send(sv[0], "[]", 3, 0), 3);
                assert_int_equal(varlink_client_read_reply(c2, 1000, NULL, NULL, NULL), -EBADMSG);
                assert_int_equal(varlink_client_read_reply(c2, 1000, NULL, NULL, NULL), -EBADMSG);
                safe_close(sv[0]);
                assert_int_equal(varlink_client_read_reply(c2, 1000, NULL, NULL, NULL), -ECONNRESET);
                varlink_client_free(c2);
        }
        /* and a reply over the client's size limit */
        {
                int sv[2];
                VarlinkClient *c2;
                char big[300];

                memset(big, ' ', sizeof(big));
                assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
                assert_int_equal(varlink_client_new_from_fd(sv[1], &c2), 0);
                varlink_client_set_max_message_size(c2, 256);
                assert_int_equal(send(sv[0], big, sizeof(big), 0), (ssize_t) sizeof(big));
                assert_int_equal(varlink_client_read_reply(c2, 1000, NULL, NULL, NULL), -EMSGSIZE);
                safe_close(sv[0]);
                varlink_client_free(c2);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_json_getters),
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
                T(test_get_info),
                T(test_reply_text),
                T(test_get_interface_description),
                T(test_method_not_found),
                T(test_malformed_calls),
                T(test_parameters_equivalence),
                T(test_invalid_parameters),
                T(test_oneway),
                T(test_more_streaming),
                T(test_deferred_reply),
                T(test_pipelined_in_order),
                T(test_half_close),
                T(test_disconnect_cancels_pending),
                T(test_server_free_cancels),
                T(test_method_failures),
                T(test_truncated_then_eof),
                T(test_not_an_object),
                T(test_oversized_message),
                T(test_deep_nesting),
                T(test_too_many_pending_calls),
                T(test_garbage_client_does_not_hurt_others),
                T(test_output_limit),
                T(test_final_reply_on_failed_connection),
                T(test_fd_to_server),
                T(test_fd_to_client),
                T(test_fd_limit),
                T(test_peer_creds),
                T(test_uid_limit),
                T(test_listen_address),
                T(test_registration),
                T(test_client_errors),
#undef T
        };

        /* the tests write to pipes whose readers they closed */
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
