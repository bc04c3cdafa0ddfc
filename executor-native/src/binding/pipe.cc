// pipe() -> [readFd, writeFd], both O_CLOEXEC: stdio for a child made by spawn
// (which dups them onto 0..2, clearing CLOEXEC there only).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "binding.h"

Napi::Value Pipe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) {
    ErrnoError(env, "pipe2", errno).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, fds[0]));
  out.Set(1u, Napi::Number::New(env, fds[1]));
  return out;
}
