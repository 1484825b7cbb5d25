// Readiness through libuv (watch, unwatch): a uv_poll_t per watched descriptor calls back into
// JavaScript when it is readable; and close(fd), which refuses a watched descriptor.
#include <errno.h>
#include <unistd.h>
#include <uv.h>

#include <string>

#include "exports.h"
#include "fd_table.h"
#include "napi_util.h"

namespace mtcp {
namespace {

// watch(fd, callback) -> handle; unwatch(handle)

struct Watch {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context async;
  napi_async_cleanup_hook_handle cleanup;
  int fd;
  bool active;     // poll handle started and not yet closed
  bool tearingDown;
};

void OnPollClosed(uv_handle_t* h) {
  Watch* w = static_cast<Watch*>(h->data);
  // No JavaScript to report to from a libuv close callback: a failure leaves only the hook's small record.
  if (w->tearingDown && napi_remove_async_cleanup_hook(w->cleanup) != napi_ok) w->cleanup = nullptr;
  delete w;
}

// Stop and close the poll handle; idempotent. Releases JS references unless the env is going away.
void StopWatch(Watch* w) {
  if (!w->active) return;
  w->active = false;
  ForgetWatcher(w->fd);
  uv_poll_stop(&w->poll);
  if (!w->tearingDown) {
    // Each release is tried even if another failed; a failure is thrown when JavaScript called (unwatch).
    napi_status hook = napi_remove_async_cleanup_hook(w->cleanup);
    napi_status reference = napi_delete_reference(w->env, w->callback);
    napi_status async = napi_async_destroy(w->env, w->async);
    if (hook != napi_ok) ThrowNapi(w->env, hook, "napi_remove_async_cleanup_hook(w->cleanup)");
    else if (reference != napi_ok) ThrowNapi(w->env, reference, "napi_delete_reference(w->env, w->callback)");
    else if (async != napi_ok) ThrowNapi(w->env, async, "napi_async_destroy(w->env, w->async)");
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnPollClosed);
}

void OnEnvTeardown(napi_async_cleanup_hook_handle /*handle*/, void* arg) {
  Watch* w = static_cast<Watch*>(arg);
  w->tearingDown = true;
  StopWatch(w);
}

// Outside any JavaScript call a failed N-API call cannot be thrown: it becomes an uncaught exception
// (process 'uncaughtException', as a throwing callback would), naming the call.
void RaiseUncaught(napi_env env, napi_status status, const char* call) {
  ThrowNapi(env, status, call);
  bool pending = false;
  napi_value ex;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending && napi_get_and_clear_last_exception(env, &ex) == napi_ok) {
    if (napi_fatal_exception(env, ex) != napi_ok) napi_fatal_error("dpdk-io-native", NAPI_AUTO_LENGTH, "cannot report an exception from a watch callback", NAPI_AUTO_LENGTH);
  }
}

#define POLL_CALL(call)                       \
  do {                                        \
    napi_status poll_status_ = (call);        \
    if (poll_status_ != napi_ok) {            \
      RaiseUncaught(env, poll_status_, #call); \
      return false;                           \
    }                                         \
  } while (0)

// The callback of one readiness event, in a handle scope. False when an N-API call failed (raised).
bool CallBack(napi_env env, Watch* w, int status) {
  napi_value cb, recv, result;
  POLL_CALL(napi_get_reference_value(env, w->callback, &cb));
  POLL_CALL(napi_get_global(env, &recv));  // napi_make_callback needs an object receiver
  napi_value argv[1];
  size_t argc = 0;
  if (status < 0) {
    // The fd is broken (closed behind our back, ...): report it once and stop watching.
    napi_value msg, code, err;
    std::string m = "watching fd " + std::to_string(w->fd) + " failed: " + uv_strerror(status) + "; call unwatch() and reopen the device";
    POLL_CALL(napi_create_string_utf8(env, m.c_str(), m.size(), &msg));
    POLL_CALL(napi_create_string_utf8(env, ErrnoName(-status), NAPI_AUTO_LENGTH, &code));
    POLL_CALL(napi_create_error(env, nullptr, msg, &err));
    POLL_CALL(napi_set_named_property(env, err, "code", code));
    argv[0] = err;
    argc = 1;
    uv_poll_stop(&w->poll);
  }
  if (cb == nullptr) return true;  // the callback was collected (weak reference): nothing to call
  napi_status st = napi_make_callback(env, w->async, recv, cb, argc, argv, &result);
  if (st != napi_ok) {
    bool pending = false;
    POLL_CALL(napi_is_exception_pending(env, &pending));
    if (pending) {
      napi_value ex;
      POLL_CALL(napi_get_and_clear_last_exception(env, &ex));
      POLL_CALL(napi_fatal_exception(env, ex));  // -> process 'uncaughtException', like any other callback
    } else {
      RaiseUncaught(env, st, "napi_make_callback(env, w->async, recv, cb, argc, argv, &result)");
      return false;
    }
  }
  return true;
}

void OnPoll(uv_poll_t* handle, int status, int /*events*/) {
  Watch* w = static_cast<Watch*>(handle->data);
  if (!w->active) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_status opened = napi_open_handle_scope(env, &scope);
  if (opened != napi_ok) {
    RaiseUncaught(env, opened, "napi_open_handle_scope(env, &scope)");
    return;
  }
  CallBack(env, w, status);
  napi_status closed = napi_close_handle_scope(env, scope);
  if (closed != napi_ok) RaiseUncaught(env, closed, "napi_close_handle_scope(env, scope)");
}

// What JS holds: freed by GC; unwatch() clears `watch`. A dropped handle leaves its watch running.
constexpr uint32_t kTokenMagic = 0x6d746370;
struct WatchToken {
  uint32_t magic;
  Watch* watch;
};

void FinalizeToken(napi_env /*env*/, void* data, void* /*hint*/) {
  WatchToken* token = static_cast<WatchToken*>(data);
  token->magic = 0;
  delete token;
}

}  // namespace

napi_value WatchFd(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!GetArgs(env, info, 2, argv)) return nullptr;
  int fd;
  if (!GetFd(env, argv[0], &fd)) return nullptr;
  napi_valuetype t;
  if (!TypeOf(env, argv[1], &t)) return nullptr;
  if (t != napi_function) return ThrowArg(env, "callback must be a function");
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) return Throw(env, "ERR_NO_LOOP", 0, nullptr, "no libuv event loop for this environment");

  Watch* w = new Watch();
  w->env = env;
  w->fd = fd;
  int r = uv_poll_init(loop, &w->poll, fd);
  if (r != 0) {
    delete w;
    return Throw(env, ErrnoName(-r), -r, "uv_poll_init", "cannot watch fd " + std::to_string(fd) + ": " + uv_strerror(r) + "; pass a descriptor from tapOpen() or packetOpen()");
  }
  w->poll.data = w;
  r = uv_poll_start(&w->poll, UV_READABLE, OnPoll);
  if (r != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), [](uv_handle_t* h) { delete static_cast<Watch*>(h->data); });
    return Throw(env, ErrnoName(-r), -r, "uv_poll_start", "cannot watch fd " + std::to_string(fd) + ": " + uv_strerror(r));
  }
  // From here on a failure undoes what was set up: the poll handle closes (and frees `w`) once stopped.
  auto fail = [&](napi_status status, const char* call, int made) -> napi_value {
    if (made >= 2) (void)napi_async_destroy(env, w->async);        // best effort while already failing
    if (made >= 1) (void)napi_delete_reference(env, w->callback);  // best effort while already failing
    uv_poll_stop(&w->poll);
    uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), [](uv_handle_t* h) { delete static_cast<Watch*>(h->data); });
    return ThrowNapi(env, status, call);
  };
  napi_status st = napi_create_reference(env, argv[1], 1, &w->callback);
  if (st != napi_ok) return fail(st, "napi_create_reference(env, argv[1], 1, &w->callback)", 0);
  napi_value resource, name;
  if ((st = napi_create_object(env, &resource)) != napi_ok) return fail(st, "napi_create_object(env, &resource)", 1);
  if ((st = napi_create_string_utf8(env, "mtcp:dpdk-io-native:watch", NAPI_AUTO_LENGTH, &name)) != napi_ok) return fail(st, "napi_create_string_utf8(env, \"mtcp:dpdk-io-native:watch\", ...)", 1);
  if ((st = napi_async_init(env, resource, name, &w->async)) != napi_ok) return fail(st, "napi_async_init(env, resource, name, &w->async)", 1);
  if ((st = napi_add_async_cleanup_hook(env, OnEnvTeardown, w, &w->cleanup)) != napi_ok) return fail(st, "napi_add_async_cleanup_hook(env, OnEnvTeardown, w, &w->cleanup)", 2);
  napi_value handle;
  WatchToken* token = new WatchToken{kTokenMagic, w};
  if ((st = napi_create_external(env, token, FinalizeToken, nullptr, &handle)) != napi_ok) {
    delete token;
    (void)napi_remove_async_cleanup_hook(w->cleanup);  // best effort while already failing
    return fail(st, "napi_create_external(env, token, FinalizeToken, nullptr, &handle)", 2);
  }
  w->active = true;
  AddWatcher(fd);
  return handle;
}

napi_value UnwatchFd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  napi_valuetype t;
  if (!TypeOf(env, argv[0], &t)) return nullptr;
  if (t != napi_external) return ThrowArg(env, "handle must be the value returned by watch()");
  void* p = nullptr;
  NAPI_CALL(env, napi_get_value_external(env, argv[0], &p));
  WatchToken* token = static_cast<WatchToken*>(p);
  if (token == nullptr || token->magic != kTokenMagic) return ThrowArg(env, "handle must be the value returned by watch()");
  Watch* w = token->watch;
  if (w == nullptr) return Undefined(env);  // already unwatched: idempotent
  token->watch = nullptr;
  StopWatch(w);  // throws if releasing the callback failed
  bool pending = false;
  NAPI_CALL(env, napi_is_exception_pending(env, &pending));
  return pending ? nullptr : Undefined(env);
}

// close(fd)
napi_value CloseFd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  int fd;
  if (!GetFd(env, argv[0], &fd)) return nullptr;
  if (!Forget(fd)) return Throw(env, "EBUSY", EBUSY, "close", "fd " + std::to_string(fd) + " is still watched: call unwatch(handle) before close(fd)");
  if (close(fd) != 0 && errno != EINTR) return ThrowErrno(env, errno, "close", "closing fd " + std::to_string(fd) + " failed");
  return Undefined(env);
}

}  // namespace mtcp
