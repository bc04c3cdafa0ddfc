#include <unistd.h>

#include <cerrno>

#include "binding.h"

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  if (close(info[0].As<Napi::Number>().Int32Value()) < 0 && errno != EINTR)
    ErrnoError(info.Env(), "close", errno).ThrowAsJavaScriptException();
  return info.Env().Undefined();
}
