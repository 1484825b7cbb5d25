// Node-API helpers shared by the addon's files (napi_util.h).
#include "napi_util.h"

#include <errno.h>
#include <net/if.h>
#include <string.h>

namespace mtcp {

const char* ErrnoName(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case ENXIO: return "ENXIO";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case EINVAL: return "EINVAL";
    case ENFILE: return "ENFILE";
    case EMFILE: return "EMFILE";
    case ENOTTY: return "ENOTTY";
    case ENOSPC: return "ENOSPC";
    case ERANGE: return "ERANGE";
    case ENOTSOCK: return "ENOTSOCK";
    case EMSGSIZE: return "EMSGSIZE";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EADDRINUSE: return "EADDRINUSE";
    case ENETDOWN: return "ENETDOWN";
    case ENETUNREACH: return "ENETUNREACH";
    case ENOBUFS: return "ENOBUFS";
    default: return "EUNKNOWN";
  }
}

napi_value ThrowNapi(napi_env env, napi_status status, const char* call) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return nullptr;
  std::string message = std::string("N-API call failed: ") + call + " (status " + std::to_string(static_cast<int>(status));
  const napi_extended_error_info* info = nullptr;
  if (napi_get_last_error_info(env, &info) == napi_ok && info != nullptr && info->error_message != nullptr) message += ", " + std::string(info->error_message);
  message += ")";
  // Best effort: if even this fails there is nothing left to report with.
  if (napi_throw_error(env, "ERR_NAPI", message.c_str()) != napi_ok) return nullptr;
  return nullptr;
}

namespace {

// Sets error[key] = value (a string); false on failure.
bool SetStringProperty(napi_env env, napi_value object, const char* key, const char* text, size_t length) {
  napi_value value;
  return napi_create_string_utf8(env, text, length, &value) == napi_ok && napi_set_named_property(env, object, key, value) == napi_ok;
}

}  // namespace

napi_value Throw(napi_env env, const char* code, int err, const char* syscall, const std::string& message) {
  bool pending = false;
  NAPI_CALL(env, napi_is_exception_pending(env, &pending));
  if (pending) return nullptr;
  napi_value msg, error;
  bool built = napi_create_string_utf8(env, message.c_str(), message.size(), &msg) == napi_ok && napi_create_error(env, nullptr, msg, &error) == napi_ok &&
               SetStringProperty(env, error, "code", code, NAPI_AUTO_LENGTH);
  if (built && err != 0) {
    napi_value errnoValue;
    built = napi_create_int32(env, -err, &errnoValue) == napi_ok && napi_set_named_property(env, error, "errno", errnoValue) == napi_ok;
  }
  if (built && syscall != nullptr) built = SetStringProperty(env, error, "syscall", syscall, NAPI_AUTO_LENGTH);
  if (!built) {
    // The error object could not be made: throw a plain one with the same code and message.
    NAPI_CALL(env, napi_throw_error(env, code, message.c_str()));
    return nullptr;
  }
  NAPI_CALL(env, napi_throw(env, error));
  return nullptr;
}

napi_value ThrowErrno(napi_env env, int err, const char* syscall, const std::string& message) {
  return Throw(env, ErrnoName(err), err, syscall, message + " (" + strerror(err) + ")");
}

napi_value ThrowArg(napi_env env, const std::string& message) {
  return Throw(env, "ERR_INVALID_ARG", 0, nullptr, message);
}

napi_value Undefined(napi_env env) {
  napi_value v;
  NAPI_CALL(env, napi_get_undefined(env, &v));
  return v;
}

napi_value Int(napi_env env, int64_t n) {
  napi_value v;
  NAPI_CALL(env, napi_create_int64(env, n, &v));
  return v;
}

bool GetArgs(napi_env env, napi_callback_info info, size_t want, napi_value* argv) {
  size_t argc = want;
  NAPI_CALL_BOOL(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  for (size_t i = argc; i < want; i++) NAPI_CALL_BOOL(env, napi_get_undefined(env, &argv[i]));
  return true;
}

bool TypeOf(napi_env env, napi_value v, napi_valuetype* type) {
  NAPI_CALL_BOOL(env, napi_typeof(env, v, type));
  return true;
}

bool GetFd(napi_env env, napi_value v, int* fd) {
  napi_valuetype t;
  if (!TypeOf(env, v, &t)) return false;
  int32_t n = -1;
  if (t == napi_number) NAPI_CALL_BOOL(env, napi_get_value_int32(env, v, &n));
  if (t != napi_number || n < 0) {
    ThrowArg(env, "fd must be a non-negative integer file descriptor from tapOpen() or packetOpen()");
    return false;
  }
  *fd = n;
  return true;
}

bool GetInt(napi_env env, napi_value v, const char* what, int64_t min, int64_t max, int64_t* out) {
  napi_valuetype t;
  if (!TypeOf(env, v, &t)) return false;
  double d = 0;
  if (t == napi_number) NAPI_CALL_BOOL(env, napi_get_value_double(env, v, &d));
  if (t != napi_number || d != static_cast<double>(static_cast<int64_t>(d)) || d < static_cast<double>(min) || d > static_cast<double>(max)) {
    ThrowArg(env, std::string(what) + " must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
    return false;
  }
  *out = static_cast<int64_t>(d);
  return true;
}

bool GetString(napi_env env, napi_value v, const char* what, std::string* out) {
  napi_valuetype t;
  if (!TypeOf(env, v, &t)) return false;
  if (t != napi_string) {
    ThrowArg(env, std::string(what) + " must be a string");
    return false;
  }
  size_t len = 0;
  NAPI_CALL_BOOL(env, napi_get_value_string_utf8(env, v, nullptr, 0, &len));
  out->resize(len + 1);
  NAPI_CALL_BOOL(env, napi_get_value_string_utf8(env, v, &(*out)[0], len + 1, &len));
  out->resize(len);
  return true;
}

bool GetBool(napi_env env, napi_value v, const char* what, bool* out) {
  napi_valuetype t;
  if (!TypeOf(env, v, &t)) return false;
  if (t != napi_boolean) {
    ThrowArg(env, std::string(what) + " must be a boolean");
    return false;
  }
  NAPI_CALL_BOOL(env, napi_get_value_bool(env, v, out));
  return true;
}

bool GetOpt(napi_env env, napi_value opts, const char* name, napi_value* out) {
  napi_valuetype t;
  if (!TypeOf(env, opts, &t)) return false;
  if (t == napi_undefined || t == napi_null) {
    NAPI_CALL_BOOL(env, napi_get_undefined(env, out));
    return true;
  }
  if (t != napi_object) {
    ThrowArg(env, "options must be an object");
    return false;
  }
  NAPI_CALL_BOOL(env, napi_get_named_property(env, opts, name, out));
  return true;
}

bool GetBoolOpt(napi_env env, napi_value opts, const char* name, bool def, bool* out) {
  *out = def;
  napi_value v;
  if (!GetOpt(env, opts, name, &v)) return false;
  napi_valuetype t;
  if (!TypeOf(env, v, &t)) return false;
  if (t == napi_undefined) return true;
  if (t != napi_boolean) {
    ThrowArg(env, std::string("options.") + name + " must be a boolean");
    return false;
  }
  NAPI_CALL_BOOL(env, napi_get_value_bool(env, v, out));
  return true;
}

bool GetTyped(napi_env env, napi_value v, napi_typedarray_type want, const char* what, void** data, size_t* elements) {
  bool is = false;
  NAPI_CALL_BOOL(env, napi_is_typedarray(env, v, &is));
  napi_typedarray_type type = napi_int8_array;
  if (is) {
    napi_value ab;
    size_t off;
    NAPI_CALL_BOOL(env, napi_get_typedarray_info(env, v, &type, elements, data, &ab, &off));
  }
  if (!is || type != want) {
    ThrowArg(env, std::string(what) + (want == napi_int32_array ? " must be an Int32Array" : " must be a Uint8Array"));
    return false;
  }
  if (*elements == 0) *data = nullptr;
  return true;
}

bool ValidIfName(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ || name == "." || name == "..") return false;
  for (unsigned char c : name) {
    if (c == '/' || c == ':' || c <= ' ' || c == 0x7f) return false;
  }
  return true;
}

std::string BadNameMessage(const std::string& name) {
  return "invalid interface name '" + name + "': use 1-" + std::to_string(IFNAMSIZ - 1) + " characters without '/', ':' or whitespace";
}

}  // namespace mtcp
