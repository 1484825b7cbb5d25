// @mtcp/unix-dgram-native: unix datagram sockets for Node, as a small N-API addon (C, Linux).
//
// What Node's dgram lacks and @mtcp/ccp-ipc needs: a SOCK_DGRAM socket bound to a path, sendto() a path
// without blocking (a full receiver is -EAGAIN at once), and on every wake-up of the event loop every
// queued datagram read (not one per loop turn), each with its sender's path and, through SO_PASSCRED /
// SCM_CREDENTIALS, the sender's uid and pid. Context-aware: each socket polls the event loop of the
// Node environment (main thread or worker) that opened it.
//
// Functions (all synchronous, errors as negative errno values, never exceptions for I/O):
//   open(path, onMessage(buffer, fromPath|null, uid, pid)) -> handle | -errno
//   send(handle, buffer, toPath) -> 0 | -errno
//   close(handle) -> undefined (idempotent)
//   probe(path) -> 0 when a socket is bound there (connect succeeds), else -errno
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#define MAX_DATAGRAM 65536
#define MAX_READS_PER_WAKE 256

typedef struct {
  int fd;
  int closed;
  int poll_closed;  // libuv is done with `poll`
  int finalized;    // the JS handle is gone
  uv_poll_t poll;
  napi_env env;
  napi_ref on_message;
  char buffer[MAX_DATAGRAM];  // per socket: sockets of several worker threads read at the same time
} dgram_socket;

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, "ERR_UNIX_DGRAM_NATIVE", #call " failed"); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

static napi_value make_int(napi_env env, int value) {
  napi_value result;
  napi_create_int32(env, value, &result);
  return result;
}

/** A path argument into a sockaddr_un; -ENAMETOOLONG / -EINVAL when it does not fit or is not a string. */
static int path_arg(napi_env env, napi_value value, struct sockaddr_un* address, socklen_t* length) {
  size_t size = 0;
  memset(address, 0, sizeof(*address));
  address->sun_family = AF_UNIX;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &size) != napi_ok) return -EINVAL;
  if (size == 0) return -EINVAL;
  if (size >= sizeof(address->sun_path)) return -ENAMETOOLONG;
  napi_get_value_string_utf8(env, value, address->sun_path, sizeof(address->sun_path), &size);
  if (address->sun_path[0] == '\0') {
    // Linux's abstract namespace ("\0name"): no file, the length counts every byte.
    *length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + size);
    return 0;
  }
  if (strlen(address->sun_path) != size) return -EINVAL;  // an embedded NUL
  *length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + size + 1);
  return 0;
}

static dgram_socket* socket_of(napi_env env, napi_value value) {
  dgram_socket* socket = NULL;
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external) return NULL;
  if (napi_get_value_external(env, value, (void**)&socket) != napi_ok) return NULL;
  return socket;
}

static void on_poll_closed(uv_handle_t* handle) {
  dgram_socket* socket = (dgram_socket*)handle->data;
  socket->poll_closed = 1;
  if (socket->finalized) free(socket);
}

static void stop(dgram_socket* socket) {
  if (socket->closed) return;
  socket->closed = 1;
  uv_poll_stop(&socket->poll);
  close(socket->fd);
  socket->fd = -1;
  if (socket->on_message != NULL) {
    napi_delete_reference(socket->env, socket->on_message);
    socket->on_message = NULL;
  }
}

/** Read every queued datagram (up to MAX_READS_PER_WAKE) and hand each to the JS callback. */
static void on_readable(uv_poll_t* poll, int status, int events) {
  dgram_socket* socket = (dgram_socket*)poll->data;
  if (socket->closed || status < 0) return;
  napi_env env = socket->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, global;
  napi_get_global(env, &global);
  for (int i = 0; i < MAX_READS_PER_WAKE && !socket->closed; i++) {
    struct sockaddr_un from;
    struct iovec vector = {socket->buffer, sizeof(socket->buffer)};
    union {
      struct cmsghdr header;
      char bytes[CMSG_SPACE(sizeof(struct ucred))];
    } control;
    struct msghdr message;
    memset(&message, 0, sizeof(message));
    memset(&from, 0, sizeof(from));
    message.msg_name = &from;
    message.msg_namelen = sizeof(from);
    message.msg_iov = &vector;
    message.msg_iovlen = 1;
    message.msg_control = control.bytes;
    message.msg_controllen = sizeof(control.bytes);
    ssize_t size;
    do size = recvmsg(socket->fd, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    while (size < 0 && errno == EINTR);
    if (size < 0) break;  // EAGAIN: nothing more queued (or an error the next wake-up will see again)
    int uid = -1, pid = -1;
    for (struct cmsghdr* header = CMSG_FIRSTHDR(&message); header != NULL; header = CMSG_NXTHDR(&message, header)) {
      if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_CREDENTIALS && header->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
        struct ucred credentials;
        memcpy(&credentials, CMSG_DATA(header), sizeof(credentials));
        uid = (int)credentials.uid;
        pid = (int)credentials.pid;
      }
    }
    napi_value arguments[4];
    void* data = NULL;
    if (napi_create_buffer_copy(env, (size_t)size, socket->buffer, &data, &arguments[0]) != napi_ok) break;
    size_t path_length = message.msg_namelen > offsetof(struct sockaddr_un, sun_path) ? message.msg_namelen - offsetof(struct sockaddr_un, sun_path) : 0;
    if (path_length > 0 && from.sun_path[0] != '\0') {
      napi_create_string_utf8(env, from.sun_path, strnlen(from.sun_path, path_length), &arguments[1]);
    } else {
      napi_get_null(env, &arguments[1]);  // unbound or abstract sender
    }
    arguments[2] = make_int(env, uid);
    arguments[3] = make_int(env, pid);
    if (socket->on_message == NULL || napi_get_reference_value(env, socket->on_message, &callback) != napi_ok) break;
    napi_value ignored;
    napi_status called = napi_make_callback(env, NULL, global, callback, 4, arguments, &ignored);
    if (called == napi_pending_exception) {
      // The callback threw: report it as Node reports an uncaught exception, and stop reading this turn.
      napi_value exception;
      napi_get_and_clear_last_exception(env, &exception);
      napi_fatal_exception(env, exception);
      break;
    }
  }
  napi_close_handle_scope(env, scope);
}

static void close_socket(dgram_socket* socket) {
  if (socket->closed) return;
  stop(socket);
  uv_close((uv_handle_t*)&socket->poll, on_poll_closed);
}

/** The JS handle was collected: close if still open; free once libuv has let go of the poll handle. */
static void finalize(napi_env env, void* data, void* hint) {
  dgram_socket* socket = (dgram_socket*)data;
  socket->finalized = 1;
  close_socket(socket);
  if (socket->poll_closed) free(socket);
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct sockaddr_un address;
  socklen_t length = 0;
  int problem = path_arg(env, argv[0], &address, &length);
  if (problem != 0) return make_int(env, problem);
  napi_valuetype type;
  if (argc < 2 || napi_typeof(env, argv[1], &type) != napi_ok || type != napi_function) return make_int(env, -EINVAL);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_int(env, -errno);
  int on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) < 0 || bind(fd, (struct sockaddr*)&address, length) < 0) {
    int error = errno;
    close(fd);
    return make_int(env, -error);
  }
  uv_loop_t* loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == NULL) {
    close(fd);
    return make_int(env, -EINVAL);
  }
  dgram_socket* socket = calloc(1, sizeof(dgram_socket));
  if (socket == NULL) {
    close(fd);
    return make_int(env, -ENOMEM);
  }
  socket->fd = fd;
  socket->env = env;
  int started = uv_poll_init(loop, &socket->poll, fd);
  if (started == 0) {
    socket->poll.data = socket;
    started = uv_poll_start(&socket->poll, UV_READABLE, on_readable);
  }
  if (started != 0) {
    close(fd);
    free(socket);
    return make_int(env, started);  // libuv errors are negative errno values on Linux
  }
  napi_create_reference(env, argv[1], 1, &socket->on_message);
  napi_value handle;
  CHECK(napi_create_external(env, socket, finalize, NULL, &handle));
  return handle;
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return make_int(env, -EINVAL);
  dgram_socket* socket = socket_of(env, argv[0]);
  if (socket == NULL) return make_int(env, -EINVAL);
  if (socket->closed) return make_int(env, -EBADF);
  bool typed = false;
  if (napi_is_typedarray(env, argv[1], &typed) != napi_ok || !typed) return make_int(env, -EINVAL);
  napi_typedarray_type array_type;
  size_t length;
  void* data;
  napi_value array_buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, argv[1], &array_type, &length, &data, &array_buffer, &offset) != napi_ok || array_type != napi_uint8_array) return make_int(env, -EINVAL);
  struct sockaddr_un address;
  socklen_t address_length = 0;
  int problem = path_arg(env, argv[2], &address, &address_length);
  if (problem != 0) return make_int(env, problem);
  ssize_t sent;
  do sent = sendto(socket->fd, data, length, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr*)&address, address_length);
  while (sent < 0 && errno == EINTR);
  return make_int(env, sent < 0 ? -errno : 0);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  dgram_socket* socket = argc < 1 ? NULL : socket_of(env, argv[0]);
  if (socket != NULL) close_socket(socket);
  return NULL;
}

static napi_value js_probe(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct sockaddr_un address;
  socklen_t length = 0;
  int problem = argc < 1 ? -EINVAL : path_arg(env, argv[0], &address, &length);
  if (problem != 0) return make_int(env, problem);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_int(env, -errno);
  int result = connect(fd, (struct sockaddr*)&address, length) < 0 ? -errno : 0;
  close(fd);
  return make_int(env, result);
}

NAPI_MODULE_INIT() {
  napi_property_descriptor properties[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"probe", NULL, js_probe, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof(properties) / sizeof(properties[0]), properties);
  return exports;
}
