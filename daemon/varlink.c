/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "shared/hashmap.h"
#include "shared/macro.h"
#include "shared/fd-util.h"
#include "varlink.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

/* One recvmsg() reads at most this; also one fairness unit per wake-up. */
#define READ_CHUNK (64u * 1024u)
/* Calls dispatched on one connection before others get a turn. */
#define DISPATCH_BUDGET 16u
/* Connections accepted per wake-up of a listening socket. */
#define ACCEPT_BUDGET 32u
/* After EMFILE and friends, wait before accepting again (the pending
 * connection would otherwise wake us up at once, forever). */
#define ACCEPT_RETRY_USEC (100u * 1000u)

static const char org_varlink_service_idl[] =
        "# The Varlink Service Interface is provided by every varlink service. It\n"
        "# describes the service and the interfaces it implements.\n"
        "interface org.varlink.service\n"
        "\n"
        "# Get a list of all the interfaces a service provides and information\n"
        "# about the implementation.\n"
        "method GetInfo() -> (\n"
        "  vendor: string,\n"
        "  product: string,\n"
        "  version: string,\n"
        "  url: string,\n"
        "  interfaces: []string\n"
        ")\n"
        "\n"
        "# Get the description of an interface that is implemented by this service.\n"
        "method GetInterfaceDescription(interface: string) -> (description: string)\n"
        "\n"
        "# The requested interface was not found.\n"
        "error InterfaceNotFound (interface: string)\n"
        "\n"
        "# The requested method was not found\n"
        "error MethodNotFound (method: string)\n"
        "\n"
        "# The interface defines the requested method, but the service does not\n"
        "# implement it.\n"
        "error MethodNotImplemented (method: string)\n"
        "\n"
        "# One of the passed parameters is invalid.\n"
        "error InvalidParameter (parameter: string)\n"
        "\n"
        "# Client is denied access\n"
        "error PermissionDenied ()\n"
        "\n"
        "# Method is expected to be called with 'more' set to true, but wasn't\n"
        "error ExpectedMore ()\n";

typedef struct VarlinkConnection VarlinkConnection;
typedef struct VarlinkListener VarlinkListener;

typedef struct VarlinkInterface {
        char *name;
        char *description;
} VarlinkInterface;

typedef struct VarlinkMethodEntry {
        char *name;             /* the key in VarlinkServer.methods */
        VarlinkMethod cb;
        void *userdata;
} VarlinkMethodEntry;

struct VarlinkListener {
        VarlinkServer *server;
        VarlinkListener *next;
        int fd;
        sd_event_source *io, *retry;
};

struct VarlinkServer {
        sd_event *event;
        char *vendor, *product, *version, *url, *internal_error;
        VarlinkLimits limits;
        VarlinkLog log;
        void *log_userdata;

        VarlinkInterface *interfaces;
        size_t n_interfaces;
        Hashmap *methods;

        VarlinkListener *listeners;
        VarlinkConnection *connections;
        size_t n_connections;
        unsigned next_id;

        json_tokener *tok;      /* one parse at a time: single-threaded */
        char *scratch;          /* READ_CHUNK, shared by all connections */
};

struct VarlinkConnection {
        VarlinkServer *server;
        VarlinkConnection *prev, *next;
        unsigned id;
        int fd;
        struct ucred ucred;
        int pidfd;              /* or -errno */
        sd_event_source *io, *defer;
        uint32_t io_events;
        VarlinkReader reader;
        VarlinkWriter writer;
        VarlinkCall *current;   /* the call being served; holds a reference */
        bool asked;             /* a message came: the client is not waiting to ask */
        bool eof;               /* the client shut down its side: no more calls */
        bool closing;           /* protocol error: send what's queued, then close */
        bool failed;            /* close at the next chance, send nothing more */
};

struct VarlinkCall {
        unsigned n_ref;
        VarlinkConnection *conn;        /* NULL once ended */
        char *method;
        json_object *parameters;
        bool oneway, more;
        bool finished;                  /* the final reply was sent */
        int *in_fds;
        size_t n_in_fds;
        int *out_fds;
        size_t n_out_fds;
        unsigned max_fds;
        struct ucred ucred;
        VarlinkCancel cancel;
        void *cancel_userdata;
};

static void json_unrefp(json_object **o) {
        json_object_put(*o);
}

static void close_many(int *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                safe_close(fds[i]);
}

_printf_(2, 3) static void server_log(VarlinkServer *s, const char *fmt, ...) {
        char buf[512];
        va_list ap;

        if (!s->log)
                return;
        va_start(ap, fmt);
        (void) vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        s->log(buf, s->log_userdata);
}

static void connection_process(VarlinkConnection *c);

/* ---- connections ---- */

/* Run connection_process() at the next turn of the loop: used wherever we
 * may be inside a method's or the manager's code, where freeing the
 * connection (and running cancel callbacks) would pull state from under
 * them. */
static void connection_kick(VarlinkConnection *c) {
        (void) sd_event_source_set_enabled(c->defer, SD_EVENT_ONESHOT);
}

static void connection_fail(VarlinkConnection *c) {
        c->failed = true;
        connection_kick(c);
}

static bool connection_wants_input(VarlinkConnection *c) {
        return !c->failed && !c->eof && !c->closing && varlink_writer_pending(&c->writer) == 0;
}

static void connection_update_events(VarlinkConnection *c) {
        uint32_t ev = 0;

        if (connection_wants_input(c))
                ev |= EPOLLIN;
        if (varlink_writer_pending(&c->writer) > 0)
                ev |= EPOLLOUT;
        if (ev != c->io_events && sd_event_source_set_io_events(c->io, ev) >= 0)
                c->io_events = ev;
}

/* @now: a call's final reply, sent at once when the socket takes it,
 * so that whatever the method does after replying (logging) does not
 * delay the client.  Notifications wait for the loop: a claim that tells
 * every monitor must not send to them before answering its caller. */
static int connection_queue(VarlinkConnection *c, json_object *msg, const char *text, int *fds, size_t n_fds,
                            bool now) {
        int r;

        r = text ? varlink_writer_queue_text(&c->writer, text, fds, n_fds)
                 : varlink_writer_queue(&c->writer, msg, fds, n_fds);
        if (r < 0) {
                server_log(c->server, "varlink connection %u: cannot queue a reply (%s), disconnecting",
                           c->id, strerror(-r));
                connection_fail(c);
                return r;
        }
        if (now) {
                /* What does not fit waits for EPOLLOUT, as any output. */
                r = varlink_writer_flush(&c->writer);
                if (r < 0 && r != -EAGAIN) {
                        server_log(c->server, "varlink connection %u: send failed: %s", c->id, strerror(-r));
                        c->failed = true;
                }
        }
        connection_kick(c);
        return 0;
}

/* {"parameters": @parameters or {}, "continues": true?, "error": @error?};
 * takes @parameters. */
static json_object *reply_new(json_object *parameters, const char *error, bool continues) {
        json_object *o = json_object_new_object();

        if (!parameters)
                parameters = json_object_new_object();
        if (!o || !parameters)
                goto fail;
        if (json_object_object_add(o, "parameters", TAKE_PTR(parameters)) < 0)
                goto fail;
        if (continues && json_object_object_add(o, "continues", json_object_new_boolean(true)) < 0)
                goto fail;
        if (error && json_object_object_add(o, "error", json_object_new_string(error)) < 0)
                goto fail;
        return o;
fail:
        json_object_put(parameters);
        json_object_put(o);
        return NULL;
}

/* An error answered before there is a call (malformed call, unknown
 * method).  Nothing for a oneway call. */
static void connection_send_error(VarlinkConnection *c, bool oneway, const char *error, const char *key,
                                  const char *value) {
        _cleanup_(json_unrefp) json_object *msg = NULL;
        json_object *p = NULL;

        server_log(c->server, "varlink connection %u: %s %s=%s", c->id, error, key ? key : "-",
                   value ? value : "-");
        if (oneway)
                return;
        if (key) {
                p = json_object_new_object();
                if (!p || json_object_object_add(p, key, json_object_new_string(value)) < 0) {
                        json_object_put(p);
                        connection_fail(c);
                        return;
                }
        }
        msg = reply_new(p, error, false);
        if (!msg) {
                connection_fail(c);
                return;
        }
        (void) connection_queue(c, msg, NULL, NULL, 0, false);
}

/* The stream can't be trusted past this point: answer if that keeps the
 * order, and close once that is sent. */
static void connection_protocol_error(VarlinkConnection *c, const char *parameter) {
        varlink_reader_discard(&c->reader);
        c->closing = true;
        if (c->current) {
                connection_fail(c);
                return;
        }
        connection_send_error(c, false, VARLINK_ERROR_INVALID_PARAMETER, "parameter", parameter);
}

static void call_end(VarlinkCall *call, bool cancel);

static void connection_free(VarlinkConnection *c) {
        VarlinkServer *s;

        if (!c)
                return;
        s = c->server;
        server_log(s, "varlink connection %u (uid %u, pid %d): closed", c->id, (unsigned) c->ucred.uid,
                   (int) c->ucred.pid);
        if (c->current)
                call_end(c->current, true);
        c->io = sd_event_source_disable_unref(c->io);
        c->defer = sd_event_source_disable_unref(c->defer);
        varlink_reader_done(&c->reader);
        varlink_writer_done(&c->writer);
        if (c->pidfd >= 0)
                safe_close(c->pidfd);
        safe_close(c->fd);
        if (c->prev)
                c->prev->next = c->next;
        else
                s->connections = c->next;
        if (c->next)
                c->next->prev = c->prev;
        s->n_connections--;
        free(c);
}

/* ---- calls ---- */

VarlinkCall *varlink_call_ref(VarlinkCall *call) {
        if (call)
                call->n_ref++;
        return call;
}

VarlinkCall *varlink_call_unref(VarlinkCall *call) {
        if (!call || --call->n_ref > 0)
                return NULL;
        json_object_put(call->parameters);
        close_many(call->in_fds, call->n_in_fds);
        free(call->in_fds);
        close_many(call->out_fds, call->n_out_fds);
        free(call->out_fds);
        free(call->method);
        free(call);
        return NULL;
}

void varlink_call_unrefp(VarlinkCall **call) {
        varlink_call_unref(*call);
}

/* The call stops being the connection's: by its final reply, or (@cancel)
 * because the client or the server went away or the method failed. */
static void call_end(VarlinkCall *call, bool cancel) {
        VarlinkConnection *c = call->conn;
        VarlinkCancel cb = cancel ? call->cancel : NULL;
        void *userdata = call->cancel_userdata;

        call->conn = NULL;
        call->cancel = NULL;
        close_many(call->out_fds, call->n_out_fds);
        free(call->out_fds);
        call->out_fds = NULL;
        call->n_out_fds = 0;
        if (cb)
                cb(call, userdata);
        if (c && c->current == call) {
                c->current = NULL;
                connection_kick(c);
                varlink_call_unref(call);
        }
}

static int call_send(VarlinkCall *call, json_object *parameters, const char *error, bool continues) {
        _cleanup_(json_unrefp) json_object *params = parameters;
        _cleanup_(json_unrefp) json_object *msg = NULL;
        VarlinkConnection *c = call->conn;
        int *fds;
        size_t n_fds;
        int r;

        if (params && !json_object_is_type(params, json_type_object))
                return -EINVAL;
        if (call->oneway)
                return 0;
        if (call->finished)
                return -EALREADY;
        if (!c || c->failed) {
                r = -ENOTCONN;
        } else {
                fds = TAKE_PTR(call->out_fds);
                n_fds = call->n_out_fds;
                call->n_out_fds = 0;
                msg = reply_new(TAKE_PTR(params), error, continues);
                if (!msg) {
                        close_many(fds, n_fds);
                        free(fds);
                        connection_fail(c);
                        r = -ENOMEM;
                } else {
                        r = connection_queue(c, msg, NULL, fds, n_fds, !continues);
                }
        }
        /* A final reply ends the call even when it can't be delivered:
         * the method is done with it, so no cancel callback may follow. */
        if (!continues) {
                call->finished = true;
                call_end(call, false);
        }
        return r;
}

int varlink_call_reply(VarlinkCall *call, json_object *parameters) {
        return call_send(call, parameters, NULL, false);
}

int varlink_call_reply_text(VarlinkCall *call, const char *parameters_json) {
        VarlinkConnection *c = call->conn;
        _cleanup_free_ char *msg = NULL;
        int *fds;
        size_t n_fds, n;
        int r;

        if (!parameters_json || parameters_json[0] != '{')
                return -EINVAL;
        if (call->oneway)
                return 0;
        if (call->finished)
                return -EALREADY;
        if (!c || c->failed) {
                r = -ENOTCONN;
        } else {
                n = strlen(parameters_json);
                msg = malloc(n + sizeof("{\"parameters\":}"));
                if (!msg) {
                        connection_fail(c);
                        r = -ENOMEM;
                } else {
                        memcpy(msg, "{\"parameters\":", 14);
                        memcpy(msg + 14, parameters_json, n);
                        memcpy(msg + 14 + n, "}", 2);
                        fds = TAKE_PTR(call->out_fds);
                        n_fds = call->n_out_fds;
                        call->n_out_fds = 0;
                        r = connection_queue(c, NULL, msg, fds, n_fds, true);
                }
        }
        call->finished = true;
        call_end(call, false);
        return r;
}

int varlink_call_notify(VarlinkCall *call, json_object *parameters) {
        if (!call->oneway && !call->more) {
                json_object_put(parameters);
                return -EPROTO;
        }
        return call_send(call, parameters, NULL, true);
}

int varlink_call_reply_error(VarlinkCall *call, const char *error, json_object *parameters) {
        if (!varlink_qualified_name_is_valid(error)) {
                json_object_put(parameters);
                return -EINVAL;
        }
        return call_send(call, parameters, error, false);
}

int varlink_call_reply_invalid_parameter(VarlinkCall *call, const char *parameter) {
        json_object *p = json_object_new_object();

        if (!p || json_object_object_add(p, "parameter", json_object_new_string(parameter)) < 0) {
                json_object_put(p);
                return -ENOMEM;
        }
        return varlink_call_reply_error(call, VARLINK_ERROR_INVALID_PARAMETER, p);
}

bool varlink_call_wants_more(VarlinkCall *call) {
        return call->more;
}

bool varlink_call_is_oneway(VarlinkCall *call) {
        return call->oneway;
}

const char *varlink_call_get_method(VarlinkCall *call) {
        return call->method;
}

bool varlink_call_is_connected(VarlinkCall *call) {
        return call->conn && !call->conn->failed;
}

void varlink_call_set_cancel_callback(VarlinkCall *call, VarlinkCancel cb, void *userdata) {
        call->cancel = cb;
        call->cancel_userdata = userdata;
}

int varlink_call_get_peer_creds(VarlinkCall *call, struct ucred *ret) {
        *ret = call->ucred;
        return 0;
}

int varlink_call_get_peer_pidfd(VarlinkCall *call) {
        int fd;

        if (!call->conn)
                return -ENOTCONN;
        if (call->conn->pidfd < 0)
                return call->conn->pidfd;
        fd = fcntl(call->conn->pidfd, F_DUPFD_CLOEXEC, 3);
        return fd < 0 ? -errno : fd;
}

int varlink_call_get_fd(VarlinkCall *call, unsigned index) {
        if (index >= call->n_in_fds)
                return -ENXIO;
        return call->in_fds[index] < 0 ? -EBADF : call->in_fds[index];
}

int varlink_call_take_fd(VarlinkCall *call, unsigned index) {
        int fd = varlink_call_get_fd(call, index);

        if (fd >= 0)
                call->in_fds[index] = -EBADF;
        return fd;
}

int varlink_call_push_fd(VarlinkCall *call, int fd) {
        int *a;

        if (fd < 0)
                return -EBADF;
        if (call->finished || !call->conn) {
                safe_close(fd);
                return -ENOTCONN;
        }
        if (call->n_out_fds >= call->max_fds) {
                safe_close(fd);
                return -ETOOMANYREFS;
        }
        a = realloc(call->out_fds, (call->n_out_fds + 1) * sizeof(int));
        if (!a) {
                safe_close(fd);
                return -ENOMEM;
        }
        a[call->n_out_fds] = fd;
        call->out_fds = a;
        return (int) call->n_out_fds++;
}

/* The server answers for a method that returned @error (> 0) without its
 * final reply, then lets the method clean up. */
static void call_fail(VarlinkCall *call, int error) {
        VarlinkServer *s = call->conn->server;
        VarlinkCancel cb = call->cancel;
        void *userdata = call->cancel_userdata;
        json_object *p;

        call->cancel = NULL;
        p = json_object_new_object();
        if (p)
                (void) json_object_object_add(p, "errno", json_object_new_int(error));
        (void) varlink_call_reply_error(call, s->internal_error, p);
        if (!call->finished) {
                /* could not even queue the reply: the connection is failing */
                call->finished = true;
                call_end(call, false);
        }
        if (cb)
                cb(call, userdata);
}

/* ---- dispatch ---- */

static int get_flag(json_object *o, const char *key, bool *ret) {
        json_object *v;

        *ret = false;
        if (!json_object_object_get_ex(o, key, &v) || !v)
                return 0;
        if (!json_object_is_type(v, json_type_boolean))
                return -EINVAL;
        *ret = json_object_get_boolean(v);
        return 0;
}

static bool server_has_interface(VarlinkServer *s, const char *name, size_t n) {
        for (size_t i = 0; i < s->n_interfaces; i++)
                if (strlen(s->interfaces[i].name) == n && memcmp(s->interfaces[i].name, name, n) == 0)
                        return true;
        return false;
}

/* Check the call @o (the text of @f).  NULL if it is well-formed, else
 * the field InvalidParameter names.  *ret_oneway is set first, as far as
 * it can be, since it decides whether an error gets an answer. */
static const char *call_validate(json_object *o, const VarlinkFrame *f, bool *ret_oneway, bool *ret_more,
                                 const char **ret_method, json_object **ret_params) {
        bool oneway, more, upgrade;
        const char *method, *key = NULL;
        json_object *v, *params = NULL;

        *ret_oneway = false;
        if (get_flag(o, "oneway", &oneway) < 0)
                return "oneway";
        *ret_oneway = oneway;
        if (get_flag(o, "more", &more) < 0)
                return "more";
        if (get_flag(o, "upgrade", &upgrade) < 0)
                return "upgrade";
        if (!json_object_object_get_ex(o, "method", &v) || !json_object_is_type(v, json_type_string))
                return "method";
        method = json_object_get_string(v);
        if ((size_t) json_object_get_string_len(v) != strlen(method) || !varlink_qualified_name_is_valid(method))
                return "method";
        if (json_object_object_get_ex(o, "parameters", &v) && v) {
                if (!json_object_is_type(v, json_type_object))
                        return "parameters";
                params = v;
        }
        /* No string may hide a NUL from the C code that reads it. */
        if (varlink_text_has_nul_escape(f->data, f->size)) {
                if (!varlink_json_find_embedded_nul(params, &key) || !key)
                        key = "parameters";
                return key;
        }
        /* Handing the connection over to another protocol: not here. */
        if (upgrade)
                return "upgrade";
        *ret_more = more && !oneway;
        *ret_method = method;
        *ret_params = params;
        return NULL;
}

static void connection_dispatch(VarlinkConnection *c, VarlinkFrame *f) {
        VarlinkServer *s = c->server;
        _cleanup_(json_unrefp) json_object *o = NULL;
        _cleanup_(varlink_call_unrefp) VarlinkCall *call = NULL;
        const char *method = NULL, *bad, *dot;
        json_object *params = NULL;
        bool oneway, more = false;
        VarlinkMethodEntry *entry;
        int r;

        c->asked = true;
        if (varlink_frame_parse(f, s->tok, &o) < 0) {
                server_log(s, "varlink connection %u: message is not a JSON object", c->id);
                connection_protocol_error(c, "method");
                return;
        }
        bad = call_validate(o, f, &oneway, &more, &method, &params);
        if (bad) {
                connection_send_error(c, oneway, VARLINK_ERROR_INVALID_PARAMETER, "parameter", bad);
                return;
        }
        entry = hashmap_get(s->methods, method);
        if (!entry) {
                char iface[VARLINK_NAME_MAX + 1];

                dot = strrchr(method, '.');
                memcpy(iface, method, (size_t) (dot - method));
                iface[dot - method] = 0;
                if (server_has_interface(s, iface, strlen(iface)))
                        connection_send_error(c, oneway, VARLINK_ERROR_METHOD_NOT_FOUND, "method", method);
                else
                        connection_send_error(c, oneway, VARLINK_ERROR_INTERFACE_NOT_FOUND, "interface", iface);
                return;
        }

        call = calloc(1, sizeof(*call));
        if (!call) {
                connection_fail(c);
                return;
        }
        *call = (VarlinkCall) {
                .n_ref = 1,
                .conn = c,
                .method = strdup(method),
                /* omitted, null and {} are all {} to the method */
                .parameters = params ? json_object_get(params) : json_object_new_object(),
                .oneway = oneway,
                .more = more,
                .in_fds = TAKE_PTR(f->fds),
                .n_in_fds = f->n_fds,
                .max_fds = s->limits.max_fds,
                .ucred = c->ucred,
        };
        f->n_fds = 0;
        if (!call->method || !call->parameters) {
                connection_fail(c);
                return;
        }

        /* The connection's reference; the local one keeps the call alive
         * through the method and whatever it leads to. */
        c->current = varlink_call_ref(call);
        r = entry->cb(call, call->parameters, entry->userdata);
        if (r < 0)
                server_log(s, "varlink connection %u: %s failed: %s", c->id, call->method, strerror(-r));

        if (call->oneway) {
                /* Nothing to answer; the call is over for the connection. */
                call->finished = true;
                call_end(call, false);
        } else if (!call->finished && call->conn == c) {
                if (r < 0) {
                        call_fail(call, -r);
                } else if (call->n_ref <= 2) {
                        /* neither replied nor kept it: a bug in the method */
                        server_log(s, "varlink connection %u: %s returned without a reply", c->id,
                                   call->method);
                        call_fail(call, EPROTO);
                }
        }
}

static void connection_read(VarlinkConnection *c) {
        VarlinkServer *s = c->server;
        int r;

        r = varlink_reader_read(&c->reader, s->scratch, READ_CHUNK);
        if (r == -EAGAIN)
                return;
        if (r == 0) {
                /* A message without its NUL before the EOF is dropped. */
                c->eof = true;
                return;
        }
        if (r == -EMSGSIZE) {
                server_log(s, "varlink connection %u: message larger than %zu bytes", c->id,
                           s->limits.max_message_size);
                connection_protocol_error(c, "method");
                return;
        }
        if (r < 0) {
                server_log(s, "varlink connection %u: receive failed: %s", c->id, strerror(-r));
                c->failed = true;
                return;
        }
        if (c->reader.n_frames > s->limits.max_pending_calls) {
                server_log(s, "varlink connection %u: more than %u calls queued", c->id,
                           s->limits.max_pending_calls);
                c->failed = true;
        }
}

/* Flush, dispatch what's queued, and close when it's time.  Only called
 * at the top of an event callback: it may free @c. */
static void connection_process(VarlinkConnection *c) {
        unsigned budget = DISPATCH_BUDGET;
        VarlinkFrame *f;
        int r;

        while (!c->failed) {
                r = varlink_writer_flush(&c->writer);
                if (r < 0 && r != -EAGAIN) {
                        server_log(c->server, "varlink connection %u: send failed: %s", c->id, strerror(-r));
                        c->failed = true;
                        break;
                }
                /* A full socket holds back the next call too. */
                if (r == -EAGAIN || c->current || c->closing || !c->reader.head)
                        break;
                if (budget-- == 0) {
                        connection_kick(c);
                        break;
                }
                f = varlink_reader_pop(&c->reader);
                connection_dispatch(c, f);
                varlink_frame_free(f);
        }
        if (c->failed ||
            (!c->current && varlink_writer_pending(&c->writer) == 0 &&
             (c->closing || (c->eof && !c->reader.head)))) {
                connection_free(c);
                return;
        }
        connection_update_events(c);
}

static int on_connection_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        VarlinkConnection *c = userdata;

        if (connection_wants_input(c) && (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                /* After a hangup, read on: calls sent before it still count
                 * (oneway ones), and the read ends in EOF or an error. */
                connection_read(c);
        else if (revents & (EPOLLHUP | EPOLLERR))
                c->failed = true;
        connection_process(c);
        return 0;
}

static int on_connection_defer(sd_event_source *source, void *userdata) {
        connection_process(userdata);
        return 0;
}

/* The fallback for kernels before 6.5: the pidfd of @pid, if that is
 * still the process we think (not reaped, so its pid is not reused). */
static int pidfd_open_checked(pid_t pid) {
        _cleanup_close_ int pidfd = -EBADF;
        char path[64], buf[1024];
        _cleanup_close_ int info = -EBADF;
        const char *p;
        ssize_t n;

        if (pid <= 0)
                return -ESRCH;
        pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0)
                return -errno;
        snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
        info = open(path, O_RDONLY | O_CLOEXEC);
        if (info >= 0) {
                n = read(info, buf, sizeof(buf) - 1);
                if (n < 0)
                        return -errno;
                buf[n] = 0;
                p = strstr(buf, "\nPid:\t");
                if (!p || atoi(p + 6) != pid)
                        return -ESRCH;
        } else if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0 && errno != EPERM) {
                return -errno;
        }
        return TAKE_FD(pidfd);
}

static int peer_pidfd(int fd, const struct ucred *uc) {
        int pidfd = -EBADF;
        socklen_t l = sizeof(pidfd);

        if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &l) >= 0 && pidfd >= 0)
                return pidfd;
        if (errno != ENOPROTOOPT && errno != EINVAL)
                return -errno;
        return pidfd_open_checked(uc->pid);
}

static size_t server_connections_of(VarlinkServer *s, uid_t uid) {
        size_t n = 0;

        for (VarlinkConnection *c = s->connections; c; c = c->next)
                if (c->ucred.uid == uid)
                        n++;
        return n;
}

int varlink_server_add_connection(VarlinkServer *s, int fd) {
        _cleanup_close_ int owned = fd;
        struct ucred uc;
        socklen_t l = sizeof(uc);
        VarlinkConnection *c;
        int r;

        if (fd < 0)
                return -EBADF;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &l) < 0)
                return -errno;
        if (s->n_connections >= s->limits.max_connections) {
                server_log(s, "varlink: %zu connections, refusing one from uid %u", s->n_connections,
                           (unsigned) uc.uid);
                return -EBUSY;
        }
        if (server_connections_of(s, uc.uid) >= s->limits.max_connections_per_uid) {
                server_log(s, "varlink: uid %u has %u connections, refusing another", (unsigned) uc.uid,
                           s->limits.max_connections_per_uid);
                return -EUSERS;
        }
        r = fd_set_nonblock(fd);
        if (r < 0)
                return r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->server = s;
        c->id = ++s->next_id;
        c->fd = TAKE_FD(owned);
        c->ucred = uc;
        c->pidfd = peer_pidfd(c->fd, &uc);
        c->io_events = EPOLLIN;
        varlink_reader_init(&c->reader, c->fd, s->limits.max_message_size, s->limits.max_fds);
        varlink_writer_init(&c->writer, c->fd, s->limits.max_output_size);
        /* linked first, so connection_free() can undo any of it */
        c->next = s->connections;
        if (s->connections)
                s->connections->prev = c;
        s->connections = c;
        s->n_connections++;

        r = sd_event_add_io(s->event, &c->io, c->fd, c->io_events, on_connection_io, c);
        if (r >= 0)
                r = sd_event_add_defer(s->event, &c->defer, on_connection_defer, c);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->defer, SD_EVENT_OFF);
        if (r < 0) {
                connection_free(c);
                return r;
        }
        server_log(s, "varlink connection %u: uid %u pid %d", c->id, (unsigned) uc.uid, (int) uc.pid);
        return 0;
}

size_t varlink_server_current_connections(VarlinkServer *s) {
        return s->n_connections;
}

/* ---- listening ---- */

static int on_accept_retry(sd_event_source *source, uint64_t usec, void *userdata) {
        VarlinkListener *l = userdata;

        l->retry = sd_event_source_unref(l->retry);
        (void) sd_event_source_set_enabled(l->io, SD_EVENT_ON);
        return 0;
}

static int on_listen_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        VarlinkListener *l = userdata;
        VarlinkServer *s = l->server;

        for (unsigned i = 0; i < ACCEPT_BUDGET; i++) {
                int cfd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

                if (cfd < 0) {
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                break;
                        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                                continue;
                        server_log(s, "varlink: accept failed: %s", strerror(errno));
                        if (!l->retry &&
                            sd_event_add_time_relative(s->event, &l->retry, CLOCK_MONOTONIC, ACCEPT_RETRY_USEC, 0,
                                                       on_accept_retry, l) >= 0) {
                                (void) sd_event_source_set_enabled(l->io, SD_EVENT_OFF);
                        }
                        break;
                }
                (void) varlink_server_add_connection(s, cfd);
        }
        return 0;
}

void varlink_server_stop_listening(VarlinkServer *s) {
        for (VarlinkListener *l = s->listeners; l; l = l->next) {
                /* The retry timer would turn it on again. */
                l->retry = sd_event_source_disable_unref(l->retry);
                (void) sd_event_source_set_enabled(l->io, SD_EVENT_OFF);
        }
}

size_t varlink_server_count_silent(VarlinkServer *s) {
        size_t n = 0;

        for (VarlinkConnection *c = s->connections; c; c = c->next)
                n += !c->asked && !c->eof && !c->failed && !c->closing;
        return n;
}

static VarlinkListener *listener_free(VarlinkListener *l) {
        if (!l)
                return NULL;
        sd_event_source_disable_unref(l->io);
        sd_event_source_disable_unref(l->retry);
        safe_close(l->fd);
        free(l);
        return NULL;
}

int varlink_server_listen_fd(VarlinkServer *s, int listen_fd) {
        VarlinkListener *l;
        int r;

        if (listen_fd < 0)
                return -EBADF;
        r = fd_set_nonblock(listen_fd);
        if (r < 0)
                return r;
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->server = s;
        l->fd = -EBADF;
        r = sd_event_add_io(s->event, &l->io, listen_fd, EPOLLIN, on_listen_io, l);
        if (r < 0) {
                listener_free(l);
                return r;
        }
        l->fd = listen_fd;
        l->next = s->listeners;
        s->listeners = l;
        return 0;
}

/* Make room at @path for a new socket, unless something serves it. */
static int remove_stale_socket(const char *path, const struct sockaddr_un *sa, socklen_t salen) {
        _cleanup_close_ int probe = -EBADF;
        struct stat st;

        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISSOCK(st.st_mode))
                return -EEXIST;
        probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (probe < 0)
                return -errno;
        if (connect(probe, (const struct sockaddr *) sa, salen) >= 0 || errno == EAGAIN)
                return -EADDRINUSE;
        if (errno != ECONNREFUSED)
                return -errno;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

int varlink_server_listen_address(VarlinkServer *s, const char *path, mode_t mode) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX }, tmp = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        socklen_t salen, tmplen;
        size_t n;
        int r;

        if (!path || path[0] != '/')
                return -EINVAL;
        n = strlen(path);
        if (n >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, n);
        salen = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + 1);
        /* Bound and listening under a temporary name, then renamed into
         * place: a client that sees the file can connect (between bind()
         * and listen() it would be refused).  A path too long for the
         * suffix is bound directly. */
        if (n + 4 < sizeof(tmp.sun_path))
                snprintf(tmp.sun_path, sizeof(tmp.sun_path), "%s.new", path);
        else
                tmp = sa;
        tmplen = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(tmp.sun_path) + 1);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        r = remove_stale_socket(path, &sa, salen);
        if (r < 0)
                return r;
        (void) unlink(tmp.sun_path);    /* one a crash left, never listened on */
        /* bind() creates the file with the socket inode's mode (minus the
         * umask): no moment with looser permissions than @mode. */
        if (fchmod(fd, mode) < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &tmp, tmplen) < 0)
                return -errno;
        if (chmod(tmp.sun_path, mode) < 0 || listen(fd, SOMAXCONN) < 0 ||
            (strcmp(tmp.sun_path, path) != 0 && rename(tmp.sun_path, path) < 0)) {
                r = -errno;
                (void) unlink(tmp.sun_path);
                return r;
        }
        r = varlink_server_listen_fd(s, fd);
        if (r < 0) {
                (void) unlink(path);
                return r;
        }
        TAKE_FD(fd);
        return 0;
}

/* ---- org.varlink.service ---- */

static int method_get_info(VarlinkCall *call, json_object *parameters, void *userdata) {
        VarlinkServer *s = userdata;
        _cleanup_(json_unrefp) json_object *o = json_object_new_object();
        json_object *a = json_object_new_array();
        int r = 0;

        if (!o || !a) {
                json_object_put(a);
                return -ENOMEM;
        }
        if (json_object_object_add(o, "interfaces", a) < 0) {
                json_object_put(a);
                return -ENOMEM;
        }
        for (size_t i = 0; i < s->n_interfaces && r >= 0; i++)
                r = json_object_array_add(a, json_object_new_string(s->interfaces[i].name));
        if (r >= 0)
                r = json_object_object_add(o, "vendor", json_object_new_string(s->vendor));
        if (r >= 0)
                r = json_object_object_add(o, "product", json_object_new_string(s->product));
        if (r >= 0)
                r = json_object_object_add(o, "version", json_object_new_string(s->version));
        if (r >= 0)
                r = json_object_object_add(o, "url", json_object_new_string(s->url));
        if (r < 0)
                return -ENOMEM;
        return varlink_call_reply(call, TAKE_PTR(o));
}

static int method_get_interface_description(VarlinkCall *call, json_object *parameters, void *userdata) {
        VarlinkServer *s = userdata;
        const char *name;
        json_object *o, *e;

        if (varlink_json_get_string(parameters, "interface", true, VARLINK_NAME_MAX, &name) < 0 ||
            !varlink_interface_name_is_valid(name))
                return varlink_call_reply_invalid_parameter(call, "interface");
        for (size_t i = 0; i < s->n_interfaces; i++)
                if (strcmp(s->interfaces[i].name, name) == 0) {
                        o = json_object_new_object();
                        if (!o || json_object_object_add(o, "description",
                                                         json_object_new_string(s->interfaces[i].description)) < 0) {
                                json_object_put(o);
                                return -ENOMEM;
                        }
                        return varlink_call_reply(call, o);
                }
        e = json_object_new_object();
        if (!e || json_object_object_add(e, "interface", json_object_new_string(name)) < 0) {
                json_object_put(e);
                return -ENOMEM;
        }
        return varlink_call_reply_error(call, VARLINK_ERROR_INTERFACE_NOT_FOUND, e);
}

/* ---- the server ---- */

static void limits_fill(VarlinkLimits *l) {
        if (l->max_message_size == 0)
                l->max_message_size = VARLINK_DEFAULT_MAX_MESSAGE_SIZE;
        if (l->max_output_size == 0)
                l->max_output_size = VARLINK_DEFAULT_MAX_OUTPUT_SIZE;
        if (l->max_depth == 0)
                l->max_depth = VARLINK_DEFAULT_MAX_DEPTH;
        if (l->max_fds == 0)
                l->max_fds = VARLINK_DEFAULT_MAX_FDS;
        if (l->max_fds > VARLINK_FDS_HARD_MAX)
                l->max_fds = VARLINK_FDS_HARD_MAX;
        if (l->max_pending_calls == 0)
                l->max_pending_calls = VARLINK_DEFAULT_MAX_PENDING_CALLS;
        if (l->max_connections_per_uid == 0)
                l->max_connections_per_uid = VARLINK_DEFAULT_MAX_CONNECTIONS_PER_UID;
        if (l->max_connections == 0)
                l->max_connections = VARLINK_DEFAULT_MAX_CONNECTIONS;
}

int varlink_server_new(sd_event *e, const VarlinkServerInfo *info, VarlinkServer **ret) {
        _cleanup_(varlink_server_freep) VarlinkServer *s = NULL;
        int r;

        if (!e || !info)
                return -EINVAL;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(e);
        s->vendor = strdup(info->vendor ? info->vendor : "");
        s->product = strdup(info->product ? info->product : "");
        s->version = strdup(info->version ? info->version : "");
        s->url = strdup(info->url ? info->url : "");
        s->internal_error = strdup(info->internal_error ? info->internal_error : VARLINK_ERROR_SYSTEM);
        s->methods = hashmap_new();
        s->scratch = malloc(READ_CHUNK);
        limits_fill(&s->limits);
        s->tok = json_tokener_new_ex((int) s->limits.max_depth);
        if (!s->vendor || !s->product || !s->version || !s->url || !s->internal_error || !s->methods ||
            !s->scratch || !s->tok)
                return -ENOMEM;
        if (!varlink_qualified_name_is_valid(s->internal_error))
                return -EINVAL;

        r = varlink_server_add_interface(s, VARLINK_SERVICE_INTERFACE, org_varlink_service_idl);
        if (r >= 0)
                r = varlink_server_add_method(s, VARLINK_SERVICE_INTERFACE ".GetInfo", method_get_info, s);
        if (r >= 0)
                r = varlink_server_add_method(s, VARLINK_SERVICE_INTERFACE ".GetInterfaceDescription",
                                              method_get_interface_description, s);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

VarlinkServer *varlink_server_free(VarlinkServer *s) {
        void *entry;
        size_t i = 0;

        if (!s)
                return NULL;
        while (s->connections)
                connection_free(s->connections);
        while (s->listeners) {
                VarlinkListener *l = s->listeners;
                s->listeners = l->next;
                listener_free(l);
        }
        if (s->methods) {
                while (hashmap_iterate(s->methods, &i, &entry, NULL)) {
                        free(((VarlinkMethodEntry *) entry)->name);
                        free(entry);
                }
                hashmap_free(s->methods);
        }
        for (size_t k = 0; k < s->n_interfaces; k++) {
                free(s->interfaces[k].name);
                free(s->interfaces[k].description);
        }
        free(s->interfaces);
        if (s->tok)
                json_tokener_free(s->tok);
        free(s->scratch);
        free(s->vendor);
        free(s->product);
        free(s->version);
        free(s->url);
        free(s->internal_error);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}

void varlink_server_freep(VarlinkServer **s) {
        varlink_server_free(*s);
}

void varlink_server_set_limits(VarlinkServer *s, const VarlinkLimits *l) {
        VarlinkLimits n = *l;
        json_tokener *tok;

        limits_fill(&n);
        if (n.max_depth != s->limits.max_depth) {
                tok = json_tokener_new_ex((int) n.max_depth);
                if (!tok)
                        n.max_depth = s->limits.max_depth;      /* keep the old one */
                else {
                        json_tokener_free(s->tok);
                        s->tok = tok;
                }
        }
        s->limits = n;
}

void varlink_server_get_limits(VarlinkServer *s, VarlinkLimits *ret) {
        *ret = s->limits;
}

void varlink_server_set_log(VarlinkServer *s, VarlinkLog fn, void *userdata) {
        s->log = fn;
        s->log_userdata = userdata;
}

int varlink_server_add_interface(VarlinkServer *s, const char *name, const char *idl_description) {
        VarlinkInterface *a;
        char *n, *d;

        if (!varlink_interface_name_is_valid(name) || !idl_description)
                return -EINVAL;
        if (server_has_interface(s, name, strlen(name)))
                return -EEXIST;
        a = realloc(s->interfaces, (s->n_interfaces + 1) * sizeof(*a));
        if (!a)
                return -ENOMEM;
        s->interfaces = a;
        n = strdup(name);
        d = strdup(idl_description);
        if (!n || !d) {
                free(n);
                free(d);
                return -ENOMEM;
        }
        s->interfaces[s->n_interfaces++] = (VarlinkInterface) { .name = n, .description = d };
        return 0;
}

int varlink_server_add_method(VarlinkServer *s, const char *fq_method, VarlinkMethod cb, void *userdata) {
        VarlinkMethodEntry *entry;
        const char *dot;
        int r;

        if (!cb || !varlink_qualified_name_is_valid(fq_method))
                return -EINVAL;
        dot = strrchr(fq_method, '.');
        if (!server_has_interface(s, fq_method, (size_t) (dot - fq_method)))
                return -ENOENT;
        if (hashmap_get(s->methods, fq_method))
                return -EEXIST;
        entry = calloc(1, sizeof(*entry));
        if (!entry)
                return -ENOMEM;
        entry->name = strdup(fq_method);
        entry->cb = cb;
        entry->userdata = userdata;
        if (!entry->name) {
                free(entry);
                return -ENOMEM;
        }
        r = hashmap_put(s->methods, entry->name, entry);
        if (r < 0) {
                free(entry->name);
                free(entry);
                return r;
        }
        return 0;
}
