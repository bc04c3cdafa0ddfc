// readSyncMessage(syncFd) -> Promise<string|null>: one '\n'-terminated JSON
// line from berth-init, or null at EOF. The blocking read runs on a worker
// with plain C++ state only; napi values are made back on the main thread.
#include <unistd.h>

#include <cerrno>
#include <string>

#include "binding.h"

namespace {

class ReadWorker : public Napi::AsyncWorker {
 public:
  ReadWorker(Napi::Env env, int fd) : Napi::AsyncWorker(env), fd_(fd), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    char c;
    for (;;) {
      ssize_t n = read(fd_, &c, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        err_ = errno;
        return;
      }
      if (n == 0) {
        eof_ = line_.empty();
        return;
      }
      if (c == '\n') return;
      line_.push_back(c);
      if (line_.size() > 65536) {
        err_ = EMSGSIZE;
        return;
      }
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (err_) {
      deferred_.Reject(ErrnoError(env, "read sync fd", err_).Value());
    } else if (eof_) {
      deferred_.Resolve(env.Null());
    } else {
      deferred_.Resolve(Napi::String::New(env, line_));
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  int fd_;
  int err_ = 0;
  bool eof_ = false;
  std::string line_;
  Napi::Promise::Deferred deferred_;
};

}  // namespace

Napi::Value ReadSyncMessage(const Napi::CallbackInfo& info) {
  auto* w = new ReadWorker(info.Env(), info[0].As<Napi::Number>().Int32Value());
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}
