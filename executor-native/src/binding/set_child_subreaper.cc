#include <sys/prctl.h>

#include <cerrno>

#include "binding.h"

Napi::Value SetChildSubreaper(const Napi::CallbackInfo& info) {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
    ErrnoError(info.Env(), "prctl(PR_SET_CHILD_SUBREAPER)", errno).ThrowAsJavaScriptException();
  return info.Env().Undefined();
}
