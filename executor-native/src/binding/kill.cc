#include <signal.h>

#include <cerrno>

#include "binding.h"

Napi::Value Kill(const Napi::CallbackInfo& info) {
  if (kill(info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Int32Value()) < 0)
    ErrnoError(info.Env(), "kill", errno).ThrowAsJavaScriptException();
  return info.Env().Undefined();
}
