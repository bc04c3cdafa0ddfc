// spawn(path, argv, env, fds) -> {pid, syncFd}; spawnAsync(...) -> Promise of the same (the clone on a worker)
//
// Node is multithreaded: between fork and execve only async-signal-safe calls
// are allowed (runc's nsexec lesson), so every string and fd is prepared
// before and the child only dups, resets signals and execs.
//
// The child is made with clone(CLONE_VM | CLONE_VFORK) on its own small stack,
// as glibc's posix_spawn does: a fork() of the executor copied the page tables
// of the whole Node heap (~10 ms on the event loop per spawn); this shares the
// memory and suspends only the calling thread until execve or _exit. Because
// the memory is shared, the child writes nothing but its own stack, and every
// signal is blocked across clone so no Node handler can run in the child
// before its dispositions are reset.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
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

// Everything the child reads; prepared by the parent, read-only in the child.
struct ChildArgs {
  const char* path;
  char* const* argv;
  char* const* envp;
  int fds[kSyncFd];
  int sync;
};

int ChildMain(void* arg) {
  const ChildArgs* a = static_cast<const ChildArgs*>(arg);
  // Reset dispositions first: the blocked signals must not reach Node's handlers once unblocked.
  // SIG_IGN is inherited by execve and must not leak either (Node ignores SIGPIPE).
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; s++) sigaction(s, &dfl, nullptr);
  // Move every source above the targets first so dup2 cannot clobber one.
  int src[kSyncFd + 1];
  for (int i = 0; i < kSyncFd; i++) {
    src[i] = fcntl(a->fds[i], F_DUPFD_CLOEXEC, 10);
    if (src[i] < 0) ChildFail(a->sync, errno);
  }
  src[kSyncFd] = fcntl(a->sync, F_DUPFD_CLOEXEC, 10);
  if (src[kSyncFd] < 0) ChildFail(a->sync, errno);
  for (int i = 0; i <= kSyncFd; i++)
    if (dup2(src[i], i) < 0) ChildFail(a->sync, errno);  // dup2 clears CLOEXEC on the target
  // Node may block signals: that must not leak into the container either.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execve(a->path, a->argv, a->envp);
  ChildFail(kSyncFd, errno);
  return 127;
}

constexpr size_t kChildStack = 64 * 1024;

// What a spawn needs, owned: built on the main thread from the JS arguments, used on any thread.
struct SpawnPlan {
  std::string path;
  std::vector<std::string> argv_s, env_s;
  std::vector<int> fds;
};

SpawnPlan PlanOf(const Napi::CallbackInfo& info) {
  SpawnPlan plan;
  plan.path = info[0].As<Napi::String>();
  Napi::Array jargv = info[1].As<Napi::Array>();
  Napi::Array jenv = info[2].As<Napi::Array>();
  Napi::Array jfds = info[3].As<Napi::Array>();
  for (uint32_t i = 0; i < jargv.Length(); i++) plan.argv_s.push_back(jargv.Get(i).As<Napi::String>());
  for (uint32_t i = 0; i < jenv.Length(); i++) plan.env_s.push_back(jenv.Get(i).As<Napi::String>());
  for (uint32_t i = 0; i < jfds.Length() && i < kSyncFd; i++) plan.fds.push_back(jfds.Get(i).As<Napi::Number>().Int32Value());
  while (plan.fds.size() < kSyncFd) plan.fds.push_back(-1);
  return plan;
}

struct SpawnResult {
  pid_t pid = -1;
  int syncFd = -1;
  const char* syscall = nullptr;  // set on failure, with err
  int err = 0;
};

// Touches no napi state: runs on the main thread (spawn) or a worker (spawnAsync).
SpawnResult DoSpawn(SpawnPlan& plan) {
  SpawnResult r;
  std::vector<char*> argv, envp;
  for (auto& s : plan.argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : plan.env_s) envp.push_back(s.data());
  envp.push_back(nullptr);

  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) {
    r.syscall = "open /dev/null";
    r.err = errno;
    return r;
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
    r.syscall = "socketpair";
    r.err = errno;
    close(devnull);
    return r;
  }
  void* stack = mmap(nullptr, kChildStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) {
    r.syscall = "mmap";
    r.err = errno;
    close(sv[0]);
    close(sv[1]);
    close(devnull);
    return r;
  }
  ChildArgs args = {};
  args.path = plan.path.c_str();
  args.argv = argv.data();
  args.envp = envp.data();
  for (int i = 0; i < kSyncFd; i++) args.fds[i] = plan.fds[i] < 0 ? devnull : plan.fds[i];
  args.sync = sv[1];

  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  // The stack grows down on every architecture Node runs on here (x86_64, aarch64).
  pid_t pid = clone(ChildMain, static_cast<char*>(stack) + kChildStack, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
  int e = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  munmap(stack, kChildStack);
  close(sv[1]);
  close(devnull);
  if (pid < 0) {
    close(sv[0]);
    r.syscall = "clone";
    r.err = e;
    return r;
  }
  r.pid = pid;
  r.syncFd = sv[0];
  return r;
}

Napi::Object ResultObject(Napi::Env env, const SpawnResult& r) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, r.pid));
  out.Set("syncFd", Napi::Number::New(env, r.syncFd));
  return out;
}

// The calling thread is suspended until the child's execve (CLONE_VFORK): on a busy machine the child
// may wait for a CPU first, so the event loop hands that wait to a worker.
class SpawnWorker : public Napi::AsyncWorker {
 public:
  SpawnWorker(Napi::Env env, SpawnPlan plan)
      : Napi::AsyncWorker(env), plan_(std::move(plan)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { result_ = DoSpawn(plan_); }
  void OnOK() override {
    Napi::Env env = Env();
    if (result_.syscall) deferred_.Reject(ErrnoError(env, result_.syscall, result_.err).Value());
    else deferred_.Resolve(ResultObject(env, result_));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  SpawnPlan plan_;
  SpawnResult result_;
  Napi::Promise::Deferred deferred_;
};

}  // namespace

Napi::Value Spawn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SpawnPlan plan = PlanOf(info);
  SpawnResult r = DoSpawn(plan);
  if (r.syscall) {
    ErrnoError(env, r.syscall, r.err).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return ResultObject(env, r);
}

Napi::Value SpawnAsync(const Napi::CallbackInfo& info) {
  auto* w = new SpawnWorker(info.Env(), PlanOf(info));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}
