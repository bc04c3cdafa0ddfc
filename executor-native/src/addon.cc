// Registers exports only; each operation lives in src/binding/<op>.cc.
#include <napi.h>

#include "binding/binding.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("spawn", Napi::Function::New(env, Spawn, "spawn"));
  exports.Set("spawnAsync", Napi::Function::New(env, SpawnAsync, "spawnAsync"));
  exports.Set("sendGo", Napi::Function::New(env, SendGo, "sendGo"));
  exports.Set("readSyncMessage", Napi::Function::New(env, ReadSyncMessage, "readSyncMessage"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen, "pidfdOpen"));
  exports.Set("waitPid", Napi::Function::New(env, WaitPid, "waitPid"));
  exports.Set("setChildSubreaper", Napi::Function::New(env, SetChildSubreaper, "setChildSubreaper"));
  exports.Set("kill", Napi::Function::New(env, Kill, "kill"));
  exports.Set("pipe", Napi::Function::New(env, Pipe, "pipe"));
  return exports;
}

NODE_API_MODULE(berth_native, Init)
