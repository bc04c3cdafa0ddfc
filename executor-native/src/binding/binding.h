// One exported operation per file; addon.cc only registers them.
// JS (src/native.ts) validates arguments; C++ trusts them.
#pragma once
#include <napi.h>

Napi::Value Spawn(const Napi::CallbackInfo& info);
Napi::Value SpawnAsync(const Napi::CallbackInfo& info);
Napi::Value SendGo(const Napi::CallbackInfo& info);
Napi::Value ReadSyncMessage(const Napi::CallbackInfo& info);
Napi::Value CloseFd(const Napi::CallbackInfo& info);
Napi::Value PidfdOpen(const Napi::CallbackInfo& info);
Napi::Value WaitPid(const Napi::CallbackInfo& info);
Napi::Value SetChildSubreaper(const Napi::CallbackInfo& info);
Napi::Value Kill(const Napi::CallbackInfo& info);
Napi::Value Pipe(const Napi::CallbackInfo& info);

// errno -> JS Error with .code (e.g. "ENOENT"), .errno and .syscall
Napi::Error ErrnoError(Napi::Env env, const char* syscall, int err);
