// pidfdOpen(pid) -> fd: a handle that cannot be confused with a recycled pid.
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "binding.h"

Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  long fd = syscall(SYS_pidfd_open, info[0].As<Napi::Number>().Int32Value(), 0);
  if (fd < 0) {
    ErrnoError(info.Env(), "pidfd_open", errno).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  return Napi::Number::New(info.Env(), static_cast<double>(fd));
}
