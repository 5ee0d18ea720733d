/* Small POSIX/Linux helpers Swift cannot call directly: fork/exec with a death signal,
 * SCM_CREDENTIALS datagrams, SO_PEERCRED, wait-status decoding and prctl. */
#ifndef CWARDENOS_H
#define CWARDENOS_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Layout-compatible with Linux `struct ucred`, for SO_PEERCRED and SCM_CREDENTIALS. */
typedef struct warden_cred { int32_t pid; uint32_t uid; uint32_t gid; } warden_cred;

/* Fork and exec `path` in a new session (its own process group) with PR_SET_PDEATHSIG=SIGKILL,
 * default signal dispositions, an empty signal mask, stdin on /dev/null and stdout/stderr on the
 * given fds (-1: /dev/null). Returns 0 and the pid, or -1 with errno (the exec's errno when exec
 * failed in the child). Call from a thread that lives as long as the process: the death signal
 * follows the forking thread. */
/* What a program runs as; -1 (or NULL / 0 groups) leaves a field as warden's own. */
typedef struct {
    long uid;
    long gid;
    const unsigned int *groups;
    int ngroups;
    long umask;
    long limit_nofile;
    long limit_core;
} warden_identity;

/* pass_fds (npass of them) become fds 3, 4, … of the child (socket activation, the fd store); when
 * listen_pid_slot >= 0, envp[listen_pid_slot] is a writable "LISTEN_PID=" string with room for 20 digits that
 * the child fills with its own pid before exec. */
int warden_spawn(const char *path, char *const argv[], char *const envp[], const char *cwd,
                 int out_fd, int err_fd, const char *cgroup_procs, const warden_identity *identity,
                 const int *pass_fds, int npass, int listen_pid_slot, pid_t *pid_out);
/* Test helper (warden-testchild): a grandchild in its own session, orphaned at once, that writes its pid to
   `pidfile` and sleeps until killed. Returns 0, or -1 with errno. */
int warden_test_orphan(const char *pidfile);

/* Test helper (warden-testchild): a worker child in the caller's process group that writes `worker <pid>` to
   `report`, then `signal <n>` on the first TERM/INT/QUIT/HUP/USR1/USR2 it gets, and exits. */
int warden_test_worker(const char *report);

/* Blocking wait for any child. Returns the pid (>0), or -1 with errno (ECHILD: none).
 * kind: 0 exited (value = code), 1 killed by signal (value = signal, core set). */
pid_t warden_wait_any(int *kind, int *value, int *core);

/* A datagram socket bound at path with SO_PASSCRED, mode 0600 (existing file replaced). */
int warden_dgram_bind(const char *path);
/* Send one datagram to path (tests and a fallback notify client). */
int warden_dgram_send(const char *path, const char *msg, size_t len);
/* Receive one datagram with its sender's credentials. Returns bytes, or -1 with errno.
 * *truncated is set when the message was larger than cap; *has_cred when credentials came. */
#define WARDEN_MAX_PASSED_FDS 64
/* fds passed with the datagram (SCM_RIGHTS, close-on-exec) go to fds (up to fds_cap, *nfds of them); any
 * more, or all when fds is NULL, are closed. */
ssize_t warden_dgram_recv(int fd, char *buf, size_t cap, warden_cred *cred, int *has_cred,
                          int *truncated, int timeout_ms, int *fds, int fds_cap, int *nfds);
/* A listening TCP socket on a numeric host (IPv4 or IPv6) and port, SO_REUSEADDR, close-on-exec; -1 with errno. */
int warden_listen_inet(const char *host, int port, int backlog);
/* A listening Unix stream socket at path (an existing file replaced) with the given mode; -1 with errno. */
int warden_listen_unix(const char *path, int backlog, int mode);
/* One datagram with fds attached (SCM_RIGHTS): the test child's FDSTORE=1. 0, or -1 with errno. */
int warden_send_fds(const char *path, const char *msg, size_t len, const int *fds, int nfds);

/* SO_PEERCRED of a connected Unix socket. */
int warden_peer_cred(int fd, warden_cred *out);

int warden_set_subreaper(void);
int warden_set_pdeathsig(int sig);
/* Monotonic and boot-time clocks in nanoseconds (boottime also counts suspend). */
uint64_t warden_monotonic_ns(void);
uint64_t warden_boottime_ns(void);
/* Lock a file with flock(LOCK_EX|LOCK_NB). Returns fd, or -1 (errno EWOULDBLOCK when held). */
int warden_lock_file(const char *path);
/* pipe2(O_CLOEXEC). */
int warden_pipe_cloexec(int fds[2]);
#endif
