// spawn(path, argv, env, fds) -> {pid, syncFd}
//
// Node is multithreaded: between fork and execve only async-signal-safe calls
// are allowed (runc's nsexec lesson), so every string and fd is prepared
// before fork and the child only dups, resets signals and execs.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "binding.h"

namespace {

constexpr int kSyncFd = 3;

// async-signal-safe: no allocation, no stdio
void ChildFail(int sock, int err) {
  static const char prefix[] =
      "{\"type\":\"error\",\"stage\":\"exec\",\"syscall\":\"execve\",\"object\":\"berth-init\",\"errno\":";
  char digits[16];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + err % 10);
    err /= 10;
  } while (err && n < 15);
  char buf[sizeof prefix + 64];
  size_t off = 0;
  for (size_t i = 0; i + 1 < sizeof prefix; i++) buf[off++] = prefix[i];
  while (n) buf[off++] = digits[--n];
  static const char suffix[] = ",\"message\":\"cannot execute the init helper\"}\n";
  for (size_t i = 0; i + 1 < sizeof suffix; i++) buf[off++] = suffix[i];
  ssize_t w = write(sock, buf, off);
  (void)w;
  _exit(127);
}

}  // namespace

Napi::Value Spawn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>();
  Napi::Array jargv = info[1].As<Napi::Array>();
  Napi::Array jenv = info[2].As<Napi::Array>();
  Napi::Array jfds = info[3].As<Napi::Array>();

  std::vector<std::string> argv_s, env_s;
  for (uint32_t i = 0; i < jargv.Length(); i++) argv_s.push_back(jargv.Get(i).As<Napi::String>());
  for (uint32_t i = 0; i < jenv.Length(); i++) env_s.push_back(jenv.Get(i).As<Napi::String>());
  std::vector<char*> argv, envp;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : env_s) envp.push_back(s.data());
  envp.push_back(nullptr);

  std::vector<int> fds;
  for (uint32_t i = 0; i < jfds.Length() && i < kSyncFd; i++) fds.push_back(jfds.Get(i).As<Napi::Number>().Int32Value());
  while (fds.size() < kSyncFd) fds.push_back(-1);

  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) {
    ErrnoError(env, "open /dev/null", errno).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
    int e = errno;
    close(devnull);
    ErrnoError(env, "socketpair", e).ThrowAsJavaScriptException();
    return env.Undefined();
  }

  pid_t pid = fork();
  if (pid == 0) {
    // Move every source above the targets first so dup2 cannot clobber one.
    int src[kSyncFd + 1];
    for (int i = 0; i < kSyncFd; i++) {
      int from = fds[i] < 0 ? devnull : fds[i];
      src[i] = fcntl(from, F_DUPFD_CLOEXEC, 10);
      if (src[i] < 0) ChildFail(sv[1], errno);
    }
    src[kSyncFd] = fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
    if (src[kSyncFd] < 0) ChildFail(sv[1], errno);
    for (int i = 0; i <= kSyncFd; i++)
      if (dup2(src[i], i) < 0) ChildFail(sv[1], errno);  // dup2 clears CLOEXEC on the target
    // Node ignores SIGPIPE and may block signals: neither must leak into the container.
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++) sigaction(s, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(path.c_str(), argv.data(), envp.data());
    ChildFail(kSyncFd, errno);
  }
  int e = errno;
  close(sv[1]);
  close(devnull);
  if (pid < 0) {
    close(sv[0]);
    ErrnoError(env, "fork", e).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, pid));
  out.Set("syncFd", Napi::Number::New(env, sv[0]));
  return out;
}
