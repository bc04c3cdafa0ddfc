// sendGo(syncFd): the one-byte 'G' that lets the container's process execve.
#include <unistd.h>

#include <cerrno>

#include "binding.h"

Napi::Value SendGo(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  const char go = 'G';
  ssize_t n;
  do {
    n = write(fd, &go, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1) ErrnoError(info.Env(), "write sync fd", n < 0 ? errno : EIO).ThrowAsJavaScriptException();
  return info.Env().Undefined();
}
