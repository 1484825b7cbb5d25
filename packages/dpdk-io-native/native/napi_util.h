// Node-API helpers shared by the addon's files: errors thrown into JavaScript with a code, argument
// readers, and the macros that check every N-API call's status.
//
// Written against plain Node-API (node_api.h), so the addon needs no npm dependency to build. No C++
// exceptions are used (-fno-exceptions); every failure is thrown into JS as an Error whose `code` is the
// errno name ('EPERM', 'ENODEV', ...), ERR_INVALID_ARG for a bad argument, or ERR_NAPI for a failed
// N-API call (its message names the call), and whose message names the cause and the fix.
#ifndef MTCP_DPDK_IO_NATIVE_NAPI_UTIL_H_
#define MTCP_DPDK_IO_NATIVE_NAPI_UTIL_H_

#include <node_api.h>

#include <cstdint>
#include <string>

namespace mtcp {

// Throws ERR_NAPI naming `call` (the call's source text) unless an exception is already pending (then
// that one is what JavaScript sees). Returns nullptr for `return ThrowNapi(...)`.
napi_value ThrowNapi(napi_env env, napi_status status, const char* call);

// Check an N-API call: on failure throw (ThrowNapi) and `return fail`.
#define NAPI_CHECK(env, call, fail)                \
  do {                                             \
    napi_status napi_status_ = (call);             \
    if (napi_status_ != napi_ok) {                 \
      ::mtcp::ThrowNapi((env), napi_status_, #call); \
      return fail;                                 \
    }                                              \
  } while (0)

// In a function returning napi_value: throw and return nullptr.
#define NAPI_CALL(env, call) NAPI_CHECK(env, call, nullptr)
// In a function returning bool ("false after throwing").
#define NAPI_CALL_BOOL(env, call) NAPI_CHECK(env, call, false)

// The errno's name ("EPERM"), or "EUNKNOWN".
const char* ErrnoName(int e);

// Throws a JS Error { code, errno, syscall, message }. Returns nullptr for `return Throw(...)`.
napi_value Throw(napi_env env, const char* code, int err, const char* syscall, const std::string& message);
napi_value ThrowErrno(napi_env env, int err, const char* syscall, const std::string& message);
napi_value ThrowArg(napi_env env, const std::string& message);

// `undefined` and a number; nullptr after throwing.
napi_value Undefined(napi_env env);
napi_value Int(napi_env env, int64_t n);

// Argument helpers. Each returns false after throwing.
bool GetArgs(napi_env env, napi_callback_info info, size_t want, napi_value* argv);  // missing ones are undefined
bool TypeOf(napi_env env, napi_value v, napi_valuetype* type);
bool GetFd(napi_env env, napi_value v, int* fd);
bool GetInt(napi_env env, napi_value v, const char* what, int64_t min, int64_t max, int64_t* out);
bool GetString(napi_env env, napi_value v, const char* what, std::string* out);
bool GetBool(napi_env env, napi_value v, const char* what, bool* out);
// opts[name] as a boolean; undefined/missing (or no options object) is `def`.
bool GetBoolOpt(napi_env env, napi_value opts, const char* name, bool def, bool* out);
// opts[name], or undefined when `opts` is undefined or null; throws unless `opts` is an object.
bool GetOpt(napi_env env, napi_value opts, const char* name, napi_value* out);
// A typed array of the wanted type; `elements` is its length in elements.
bool GetTyped(napi_env env, napi_value v, napi_typedarray_type want, const char* what, void** data, size_t* elements);

// Interface names: what the kernel takes (dev_valid_name), and the message for one it does not.
bool ValidIfName(const std::string& name);
std::string BadNameMessage(const std::string& name);

}  // namespace mtcp

#endif  // MTCP_DPDK_IO_NATIVE_NAPI_UTIL_H_
