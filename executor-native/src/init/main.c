/* berth-init: the single-threaded program the executor (or shim) forks and
 * execs. Modes: run, exec, seccomp-compile, cgroup. See PROTOCOL.md. */
#define _GNU_SOURCE
#include "../runtime/cgroup.h"
#include "../runtime/config.h"
#include "../runtime/container.h"
#include "../runtime/error.h"
#include "../runtime/netlink.h"
#include "../runtime/runtime.h"
#include "../runtime/sys_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXIT_SETUP 125

/* BERTH_INIT_TIMING=<file>: one line per setup step (microseconds since berth-init started), appended. */
#include <time.h>
static FILE *timing;
static struct timespec t_start;
static void mark(const char *what)
{
	if (!timing)
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long us = (now.tv_sec - t_start.tv_sec) * 1000000L + (now.tv_nsec - t_start.tv_nsec) / 1000;
	fprintf(timing, "%d %s %ld\n", (int)getpid(), what, us);
	fflush(timing);
}

static int sync_fd = 3;

static void stage_name(const char *name)
{
	/* visible in ps: "berth-init:mount" etc. (15 chars max) */
	prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}

static void die_sync(void)
{
	sync_send_error(sync_fd);
	_exit(EXIT_SETUP);
}

static void setup_terminal(const struct process_config *p)
{
	if (!p->terminal)
		return;
	setsid();
	if (ioctl(0, TIOCSCTTY, 0) < 0) {
		fail("terminal", "ioctl(TIOCSCTTY)", "stdin", errno);
		die_sync();
	}
}

/* After go: PATH lookup in the container and execve. On success the sync fd
 * (O_CLOEXEC) closes with nothing written; on failure Docker's wording goes up. */
static void exec_process(const struct process_config *p, const char *const *env)
{
	char path[PATH_MAX];
	if (lookup_path(p->args[0], env, path, sizeof path) == 0) {
		umask(022);
		execve(path, (char *const *)p->args, (char *const *)env);
		int e = errno;
		if (e == ENOENT)
			failf("exec", "execve", p->args[0], e, "exec: \"%s\": no such file or directory", p->args[0]);
		else if (e == EACCES)
			failf("exec", "execve", p->args[0], e, "exec: \"%s\": permission denied", p->args[0]);
		else
			failf("exec", "execve", p->args[0], e, "exec: \"%s\": %s", p->args[0], strerror(e));
	}
	sync_send_error(sync_fd);
	_exit(g_err.err == EACCES ? 126 : 127);
}

/* --init: PID 1 stays as a reaper that forwards signals and exits with the child's status. */
static void run_with_reaper(const struct process_config *p, const char *const *env)
{
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid_t child = fork();
	if (child < 0) {
		fail("exec", "fork", "init child", errno);
		sync_send_error(sync_fd);
		_exit(EXIT_SETUP);
	}
	if (child == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		setpgid(0, 0);
		exec_process(p, env);
	}
	close(sync_fd);
	stage_name("berth-init:reap");
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si);
		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			kill(child, sig);
			continue;
		}
		int status;
		pid_t w;
		while ((w = waitpid(-1, &status, WNOHANG)) > 0) {
			if (w != child)
				continue;
			if (WIFEXITED(status))
				_exit(WEXITSTATUS(status));
			_exit(128 + WTERMSIG(status));
		}
	}
}

static int mode_run(const char *bundle)
{
	static struct container_config c;
	if (chdir(bundle) < 0) {
		fail("config", "chdir", bundle, errno);
		die_sync();
	}
	if (config_load("config.json", &c) < 0)
		die_sync();
	mark("config");
	umask(0);
	stage_name("berth-init:ns");
	/* The cgroup join (cgroup v1: an RCU grace period, 7-10 ms) runs here in P while C mounts. */
	if (container_parent_setup_deferred(&c) < 0)
		die_sync();
	mark("parent-setup");
	int joined[2] = {-1, -1};
	if (c.cgroups_path && pipe2(joined, O_CLOEXEC) < 0) {
		fail("cgroup", "pipe2", "joined pipe", errno);
		die_sync();
	}
	pid_t pid = fork();
	if (pid < 0) {
		fail("fork", "fork", "container init", errno);
		die_sync();
	}
	if (pid > 0) {
		if (joined[0] >= 0)
			close(joined[0]);
		sync_send_pid(sync_fd, pid);
		if (container_join_child(&c, pid, joined[1]) < 0) {
			kill(pid, SIGKILL);
			die_sync();
		}
		mark("joined");
		_exit(0);
	}
	if (joined[1] >= 0)
		close(joined[1]);
	container_joined_fd = joined[0];
	/* PID 1 of the new pid namespace */
	stage_name("berth-init:mnt");
	setup_terminal(&c.process);
	struct resolved_user u;
	mark("child");
	if (container_child_setup(&c, &u) < 0)
		die_sync();
	mark("child-setup");
	const char *const *env = container_env(&c.process, &u);
	if (sync_send(sync_fd, "{\"type\":\"ready\"}") < 0)
		_exit(EXIT_SETUP);
	stage_name("berth-init:wait");
	if (sync_wait_go(sync_fd) < 0)
		_exit(EXIT_SETUP);
	if (c.init)
		run_with_reaper(&c.process, env);
	exec_process(&c.process, env);
	return EXIT_SETUP;
}

static int mode_exec(const char *pidstr, const char *spec)
{
	static struct container_config c;
	pid_t target = (pid_t)atoi(pidstr);
	if (target <= 0) {
		failf("config", "parse", pidstr, EINVAL, "invalid container pid %s", pidstr);
		die_sync();
	}
	if (exec_config_load(spec, &c) < 0)
		die_sync();
	if (c.seccomp && seccomp_prepare(c.seccomp) < 0)
		die_sync();
	stage_name("berth-init:join");
	/* The group files are opened on the host's /sys before setns(mnt); the join itself (cgroup v1: an
	 * RCU grace period) runs in P after the fork while C sets up, and C waits for it before ready. */
	int cgfds[32];
	int ncg = cgroup_open_pid_cgroups(target, cgfds, 32);
	if (ncg < 0 || namespaces_join(target) < 0)
		die_sync();
	int joined[2];
	if (pipe2(joined, O_CLOEXEC) < 0) {
		fail("cgroup", "pipe2", "joined pipe", errno);
		die_sync();
	}
	pid_t pid = fork(); /* the pid namespace applies to children only */
	if (pid < 0) {
		fail("fork", "fork", "exec process", errno);
		die_sync();
	}
	if (pid > 0) {
		close(joined[0]);
		sync_send_pid(sync_fd, pid);
		if (cgroup_write_pid_fds(cgfds, ncg, pid) < 0 || write(joined[1], "j", 1) != 1) {
			kill(pid, SIGKILL);
			die_sync();
		}
		_exit(0);
	}
	close(joined[1]);
	cgroup_close_fds(cgfds, ncg);
	setup_terminal(&c.process);
	struct resolved_user u;
	if (exec_child_setup(&c, &u) < 0)
		die_sync();
	char b;
	ssize_t got;
	do
		got = read(joined[0], &b, 1);
	while (got < 0 && errno == EINTR);
	if (got != 1)
		_exit(EXIT_SETUP); /* P failed and reported it */
	close(joined[0]);
	const char *const *env = container_env(&c.process, &u);
	if (sync_send(sync_fd, "{\"type\":\"ready\"}") < 0)
		_exit(EXIT_SETUP);
	if (sync_wait_go(sync_fd) < 0)
		_exit(EXIT_SETUP);
	exec_process(&c.process, env);
	return EXIT_SETUP;
}

static int cli_fail(void)
{
	fprintf(stderr, "%s\n", berr_json());
	return 1;
}

static void print_result(const struct cg_warnings *w)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "version", json_object_new_int(cgroup_version()));
	struct json_object *a = json_object_new_array();
	for (int i = 0; w && i < w->n; i++)
		json_object_array_add(a, json_object_new_string(w->text[i]));
	json_object_object_add(o, "warnings", a);
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

static int mode_cgroup(int argc, char **argv)
{
	if (argc < 1)
		return failf("cgroup", "usage", "", EINVAL, "usage: berth-init cgroup <subcommand> ..."), cli_fail();
	const char *sub = argv[0];
	if (strcmp(sub, "version") == 0) {
		printf("{\"version\":%d}\n", cgroup_version());
		return 0;
	}
	if (argc < 2)
		return failf("cgroup", "usage", sub, EINVAL, "usage: berth-init cgroup %s <path> ...", sub), cli_fail();
	const char *path = argv[1];
	struct cg_warnings w = {0};
	struct resources r;
	memset(&r, 0, sizeof r);
	if (strcmp(sub, "create") == 0 || strcmp(sub, "update") == 0) {
		if (argc >= 3 && resources_load(argv[2], &r) < 0)
			return cli_fail();
		if (strcmp(sub, "create") == 0) {
			r.set_devices = 1;
			if (cgroup_create(path, &r, &w) < 0)
				return cli_fail();
		} else if (cgroup_update(path, &r, &w) < 0) {
			return cli_fail();
		}
		print_result(&w);
		return 0;
	}
	int rc;
	if (strcmp(sub, "attach") == 0 && argc >= 3)
		rc = cgroup_attach(path, (pid_t)atoi(argv[2]));
	else if (strcmp(sub, "freeze") == 0)
		rc = cgroup_freeze(path, 1);
	else if (strcmp(sub, "thaw") == 0)
		rc = cgroup_freeze(path, 0);
	else if (strcmp(sub, "kill") == 0)
		rc = cgroup_kill(path, argc >= 3 ? atoi(argv[2]) : SIGKILL);
	else if (strcmp(sub, "remove") == 0)
		rc = cgroup_remove(path);
	else if (strcmp(sub, "stats") == 0) {
		struct json_object *o = cgroup_stats(path, argc >= 3 ? (pid_t)atoi(argv[2]) : 0);
		if (!o)
			return cli_fail();
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
		return 0;
	} else
		return failf("cgroup", "usage", sub, EINVAL, "unknown cgroup subcommand %s", sub), cli_fail();
	if (rc < 0)
		return cli_fail();
	printf("{\"ok\":true}\n");
	return 0;
}

static int mode_seccomp_compile(int argc, char **argv)
{
	if (argc < 1)
		return failf("seccomp", "usage", "", EINVAL,
			     "usage: berth-init seccomp-compile <out.bpf> [--caps A,B] [--profile file]"), cli_fail();
	const char *out = argv[0], *profile = NULL;
	uint64_t caps = 0;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--profile") == 0)
			profile = argv[i + 1];
		else if (strcmp(argv[i], "--caps") == 0 || strcmp(argv[i], "--privileged") == 0) {
			char list[4096];
			snprintf(list, sizeof list, "%s", argv[i + 1]);
			char *save = NULL;
			for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				int cap = cap_from_name(t);
				if (cap < 0)
					return failf("seccomp", "parse", t, EINVAL, "unknown capability %s", t), cli_fail();
				caps |= 1ULL << cap;
			}
		}
	}
	char def[PATH_MAX + 64];
	if (!profile) {
		/* build/berth-init -> ../profiles/seccomp-default.json */
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
		if (n < 0)
			return fail("seccomp", "readlink", "/proc/self/exe", errno), cli_fail();
		self[n] = 0;
		char *slash = strrchr(self, '/');
		if (slash)
			*slash = 0;
		snprintf(def, sizeof def, "%s/../profiles/seccomp-default.json", self);
		profile = def;
	}
	if (seccomp_compile(profile, caps, out) < 0)
		return cli_fail();
	return 0;
}

int main(int argc, char **argv)
{
	clock_gettime(CLOCK_MONOTONIC, &t_start);
	const char *tpath = getenv("BERTH_INIT_TIMING");
	if (tpath && *tpath)
		timing = fopen(tpath, "ae");
	const char *fdenv = getenv("BERTH_SYNC_FD");
	if (fdenv)
		sync_fd = atoi(fdenv);
	if (argc < 2) {
		fprintf(stderr, "usage: berth-init run <bundle> | exec <pid> <exec.json> | seccomp-compile <out> | cgroup ...\n");
		return 2;
	}
	if (strcmp(argv[1], "run") == 0 || strcmp(argv[1], "exec") == 0) {
		if (fcntl(sync_fd, F_SETFD, FD_CLOEXEC) < 0) {
			fprintf(stderr, "berth-init: sync fd %d: %s\n", sync_fd, strerror(errno));
			return EXIT_SETUP;
		}
		if (strcmp(argv[1], "run") == 0 && argc == 3)
			return mode_run(argv[2]);
		if (strcmp(argv[1], "exec") == 0 && argc == 4)
			return mode_exec(argv[2], argv[3]);
		failf("config", "usage", argv[1], EINVAL, "usage: berth-init run <bundle> | exec <pid> <exec.json>");
		die_sync();
	}
	if (strcmp(argv[1], "cgroup") == 0)
		return mode_cgroup(argc - 2, argv + 2);
	if (strcmp(argv[1], "seccomp-compile") == 0)
		return mode_seccomp_compile(argc - 2, argv + 2);
	if (strcmp(argv[1], "net-attach") == 0) {
		/* net-attach <pid> <host-veth> <bridge> <ifname> <mac> <ip> <prefix> <gateway> */
		if (argc != 10)
			return failf("net", "usage", "net-attach", EINVAL,
				     "usage: berth-init net-attach <pid> <host-veth> <bridge> <ifname> <mac> <ip> <prefix> <gateway>"),
			       cli_fail();
		struct net_attach_spec spec = {
			.pid = (pid_t)atoi(argv[2]), .host_veth = argv[3], .bridge = argv[4], .ifname = argv[5],
			.mac = argv[6], .ip = argv[7], .prefix = atoi(argv[8]), .gateway = argv[9],
		};
		if (spec.pid <= 0)
			return failf("net", "parse", argv[2], EINVAL, "invalid pid %s", argv[2]), cli_fail();
		if (net_attach(&spec) < 0)
			return cli_fail();
		printf("{\"ok\":true}\n");
		return 0;
	}
	fprintf(stderr, "berth-init: unknown mode %s\n", argv[1]);
	return 2;
}
