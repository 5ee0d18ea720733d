/* Implementation of CWardenOS.h: the parts of process control that need C. */
#define _GNU_SOURCE
#include "CWardenOS.h"
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdint.h>
#include <grp.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void child_fail(int fd) {
    int e = errno;
    ssize_t r = write(fd, &e, sizeof e);
    (void)r;
    _exit(127);
}

/* clone3's arguments (linux/sched.h's struct clone_args, spelled out to keep that header out). */
struct warden_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};
#define WARDEN_CLONE_INTO_CGROUP 0x200000000ULL

/* A fork whose child starts inside the cgroup `cgroup_fd` (clone3 with CLONE_INTO_CGROUP, Linux 5.7+): no
   migration afterwards, which costs an RCU grace period (10-20 ms) per spawn. *placed says whether it worked;
   on an older kernel it is a plain fork and the child joins by writing cgroup.procs. */
static pid_t fork_into(int cgroup_fd, int *placed) {
    *placed = 0;
    if (cgroup_fd >= 0) {
        struct warden_clone_args args;
        memset(&args, 0, sizeof args);
        args.flags = WARDEN_CLONE_INTO_CGROUP;
        args.exit_signal = SIGCHLD;
        args.cgroup = (uint64_t)cgroup_fd;
        long r = syscall(SYS_clone3, &args, sizeof args);
        if (r >= 0) { *placed = 1; return (pid_t)r; }
    }
    return fork();
}

int warden_spawn(const char *path, char *const argv[], char *const envp[], const char *cwd,
                 int out_fd, int err_fd, const char *cgroup_procs, const warden_identity *identity,
                 const int *pass_fds, int npass, int listen_pid_slot, pid_t *pid_out) {
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) return -1;
    pid_t parent = getpid();
    int cgroup_fd = -1;
    if (cgroup_procs) {
        /* The directory of cgroup.procs, for CLONE_INTO_CGROUP. */
        char dir[4096];
        size_t n = strlen(cgroup_procs);
        const char *suffix = "/cgroup.procs";
        size_t sl = strlen(suffix);
        if (n > sl && n - sl < sizeof dir && strcmp(cgroup_procs + n - sl, suffix) == 0) {
            memcpy(dir, cgroup_procs, n - sl);
            dir[n - sl] = 0;
            cgroup_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        }
    }
    int placed = 0;
    pid_t pid = fork_into(cgroup_fd, &placed);
    if (pid < 0) { int e = errno; close(pipefd[0]); close(pipefd[1]); if (cgroup_fd >= 0) close(cgroup_fd); errno = e; return -1; }
    if (pid == 0) {
        /* Child: only async-signal-safe calls from here to exec. */
        sigset_t none; sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        struct sigaction dfl; memset(&dfl, 0, sizeof dfl); dfl.sa_handler = SIG_DFL;
        for (int s = 1; s < NSIG; s++) { if (s != SIGKILL && s != SIGSTOP) sigaction(s, &dfl, NULL); }
        /* Into the program's cgroup before anything else runs: every descendant is born inside it. */
        if (cgroup_procs && !placed) {
            int cg = open(cgroup_procs, O_WRONLY | O_CLOEXEC);
            if (cg < 0) child_fail(pipefd[1]);
            if (write(cg, "0", 1) != 1) child_fail(pipefd[1]);
            close(cg);
        }
        if (setsid() < 0) child_fail(pipefd[1]);
        if (identity) {
            struct rlimit rl;
            if (identity->limit_nofile >= 0) { rl.rlim_cur = rl.rlim_max = (rlim_t)identity->limit_nofile; if (setrlimit(RLIMIT_NOFILE, &rl) != 0) child_fail(pipefd[1]); }
            if (identity->limit_core >= 0) { rl.rlim_cur = rl.rlim_max = (rlim_t)identity->limit_core; if (setrlimit(RLIMIT_CORE, &rl) != 0) child_fail(pipefd[1]); }
            if (identity->umask >= 0) umask((mode_t)identity->umask);
            /* Groups first, then the gid, then the uid: after setuid nothing else may be changed. Raw system calls:
               glibc's wrappers would try to change every thread of the parent, which the child does not have. */
            if (identity->uid >= 0 || identity->gid >= 0) {
                if (syscall(SYS_setgroups, (size_t)(identity->ngroups > 0 ? identity->ngroups : 0), (const gid_t *)identity->groups) != 0) child_fail(pipefd[1]);
            }
            if (identity->gid >= 0 && syscall(SYS_setresgid, (gid_t)identity->gid, (gid_t)identity->gid, (gid_t)identity->gid) != 0) child_fail(pipefd[1]);
            if (identity->uid >= 0 && syscall(SYS_setresuid, (uid_t)identity->uid, (uid_t)identity->uid, (uid_t)identity->uid) != 0) child_fail(pipefd[1]);
        }
        /* After any uid change: the kernel clears the death signal on one. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(pipefd[1]);
        if (getppid() != parent) _exit(126); /* supervisor died before we got here */
        int devnull = open("/dev/null", O_RDWR);
        if (devnull < 0) child_fail(pipefd[1]);
        if (dup2(devnull, 0) < 0) child_fail(pipefd[1]);
        if (dup2(out_fd >= 0 ? out_fd : devnull, 1) < 0) child_fail(pipefd[1]);
        if (dup2(err_fd >= 0 ? err_fd : devnull, 2) < 0) child_fail(pipefd[1]);
        int ep = pipefd[1];
        int top = 3;
        if (npass > 0) {
            /* Passed fds (socket activation, the fd store) become 3, 4, … in order. Everything involved is first
               moved above that range, so no dup2 overwrites an fd still to be moved. */
            top = 3 + npass;
            int nep = fcntl(ep, F_DUPFD_CLOEXEC, top);
            if (nep < 0) child_fail(ep);
            ep = nep;
            int moved[WARDEN_MAX_PASSED_FDS];
            if (npass > WARDEN_MAX_PASSED_FDS) child_fail(ep);
            for (int i = 0; i < npass; i++) { moved[i] = fcntl(pass_fds[i], F_DUPFD_CLOEXEC, top); if (moved[i] < 0) child_fail(ep); }
            for (int i = 0; i < npass; i++) { if (dup2(moved[i], 3 + i) < 0) child_fail(ep); }  /* dup2 clears CLOEXEC */
            /* LISTEN_PID names this process: written into the slot the parent reserved (copy-on-write memory). */
            if (listen_pid_slot >= 0 && envp[listen_pid_slot]) {
                char digits[24]; int nd = 0; unsigned long v = (unsigned long)getpid();
                do { digits[nd++] = (char)('0' + v % 10); v /= 10; } while (v && nd < 23);
                char *w = envp[listen_pid_slot] + strlen("LISTEN_PID=");
                while (nd) *w++ = digits[--nd];
                *w = 0;
            }
        }
        /* Close every other inherited fd except the error pipe (which is close-on-exec). */
        if (ep > top && syscall(SYS_close_range, top, ep - 1, 0) != 0) { for (int fd = top; fd < ep; fd++) close(fd); }
        if (syscall(SYS_close_range, ep + 1, ~0U, 0) != 0) { for (int fd = ep + 1; fd < 4096; fd++) close(fd); }
        if (cwd && chdir(cwd) != 0) child_fail(ep);
        execve(path, argv, envp);
        child_fail(ep);
    }
    close(pipefd[1]);
    if (cgroup_fd >= 0) close(cgroup_fd);
    int child_errno = 0;
    ssize_t n;
    do { n = read(pipefd[0], &child_errno, sizeof child_errno); } while (n < 0 && errno == EINTR);
    close(pipefd[0]);
    if (n == (ssize_t)sizeof child_errno) {
        /* exec failed: reap the child here so it never shows as a crash. */
        int st; while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
        errno = child_errno;
        return -1;
    }
    *pid_out = pid;
    return 0;
}

pid_t warden_wait_any(int *kind, int *value, int *core) {
    int st = 0;
    pid_t p;
    do { p = waitpid(-1, &st, 0); } while (p < 0 && errno == EINTR);
    if (p <= 0) return -1;
    if (WIFEXITED(st)) { *kind = 0; *value = WEXITSTATUS(st); *core = 0; }
    else if (WIFSIGNALED(st)) { *kind = 1; *value = WTERMSIG(st); *core = WCOREDUMP(st) ? 1 : 0; }
    else { *kind = 2; *value = 0; *core = 0; }
    return p;
}

static int fill_addr(struct sockaddr_un *a, const char *path) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    size_t len = strlen(path);
    if (len >= sizeof a->sun_path) { errno = ENAMETOOLONG; return -1; }
    memcpy(a->sun_path, path, len);
    if (path[0] == '@') a->sun_path[0] = '\0'; /* abstract namespace */
    return (int)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '@' ? 0 : 1));
}

int warden_dgram_bind(const char *path) {
    struct sockaddr_un a; int alen = fill_addr(&a, path);
    if (alen < 0) return -1;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0) { int e = errno; close(fd); errno = e; return -1; }
    int rcv = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv); /* best effort: kernel may cap it */
    if (path[0] != '@') unlink(path);
    mode_t old = umask(0177);
    int r = bind(fd, (struct sockaddr *)&a, (socklen_t)alen);
    umask(old);
    if (r != 0) { int e = errno; close(fd); errno = e; return -1; }
    return fd;
}

int warden_dgram_send(const char *path, const char *msg, size_t len) {
    struct sockaddr_un a; int alen = fill_addr(&a, path);
    if (alen < 0) return -1;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    ssize_t n = sendto(fd, msg, len, MSG_NOSIGNAL, (struct sockaddr *)&a, (socklen_t)alen);
    int e = errno; close(fd); errno = e;
    return n < 0 ? -1 : 0;
}

ssize_t warden_dgram_recv(int fd, char *buf, size_t cap, warden_cred *cred, int *has_cred,
                          int *truncated, int timeout_ms, int *fds, int fds_cap, int *nfds) {
    if (nfds) *nfds = 0;
    if (timeout_ms >= 0) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r;
        do { r = poll(&p, 1, timeout_ms); } while (r < 0 && errno == EINTR);
        if (r < 0) return -1;
        if (r == 0) { errno = EAGAIN; return -1; }
    }
    struct iovec iov = { .iov_base = buf, .iov_len = cap };
    union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * WARDEN_MAX_PASSED_FDS)]; } ctl;
    struct msghdr m; memset(&m, 0, sizeof m);
    m.msg_iov = &iov; m.msg_iovlen = 1; m.msg_control = ctl.b; m.msg_controllen = sizeof ctl.b;
    ssize_t n;
    do { n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT); } while (n < 0 && errno == EINTR);
    if (n < 0) return -1;
    *truncated = (m.msg_flags & MSG_TRUNC) ? 1 : 0;
    *has_cred = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
            c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
            struct ucred u; memcpy(&u, CMSG_DATA(c), sizeof u);
            cred->pid = u.pid; cred->uid = u.uid; cred->gid = u.gid; *has_cred = 1;
        } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            /* FDSTORE=1: handed to the caller, which keeps or closes them (never leaked). Past its room: closed. */
            int nfd = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            int got[WARDEN_MAX_PASSED_FDS]; if (nfd > WARDEN_MAX_PASSED_FDS) nfd = WARDEN_MAX_PASSED_FDS;
            memcpy(got, CMSG_DATA(c), sizeof(int) * (size_t)nfd);
            for (int i = 0; i < nfd; i++) {
                if (fds && nfds && *nfds < fds_cap) fds[(*nfds)++] = got[i]; else close(got[i]);
            }
        }
    }
    return n;
}

int warden_peer_cred(int fd, warden_cred *out) {
    struct ucred u; socklen_t l = sizeof u;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &u, &l) != 0) return -1;
    out->pid = u.pid; out->uid = u.uid; out->gid = u.gid;
    return 0;
}

int warden_set_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1); }
int warden_set_pdeathsig(int sig) { return prctl(PR_SET_PDEATHSIG, sig); }

static uint64_t clock_ns(clockid_t id) {
    struct timespec t; clock_gettime(id, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}
uint64_t warden_monotonic_ns(void) { return clock_ns(CLOCK_MONOTONIC); }
uint64_t warden_boottime_ns(void) { return clock_ns(CLOCK_BOOTTIME); }

int warden_lock_file(const char *path) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) { int e = errno; close(fd); errno = e; return -1; }
    return fd;
}

int warden_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

/* Writes `prefix`, our pid and a newline to fd, with async-signal-safe calls only (used after fork). */
static void write_pid_line(int fd, const char *prefix) {
    char buf[48]; int n = 0; char tmp[24]; int t = 0;
    while (*prefix && n < 16) buf[n++] = *prefix++;
    unsigned v = (unsigned)getpid();
    do { tmp[t++] = (char)('0' + v % 10); v /= 10; } while (v && t < 20);
    while (t) buf[n++] = tmp[--t];
    buf[n++] = '\n';
    ssize_t w = write(fd, buf, (size_t)n);
    (void)w;
}

int warden_test_orphan(const char *pidfile) {
    int fd = open(pidfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    pid_t p = fork();
    if (p < 0) { int e = errno; close(fd); errno = e; return -1; }
    if (p == 0) {
        setsid();
        pid_t q = fork();
        if (q != 0) _exit(q < 0 ? 1 : 0);
        /* The grandchild: orphaned as soon as its parent exits; only async-signal-safe calls. */
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) { dup2(devnull, 0); dup2(devnull, 1); dup2(devnull, 2); }
        write_pid_line(fd, "");
        close(fd);
        for (;;) pause();
    }
    close(fd);
    int st;
    while (waitpid(p, &st, 0) < 0 && errno == EINTR) {}
    return 0;
}

static int worker_report_fd = -1;
static void worker_on_signal(int sig) {
    char buf[16] = "signal ";
    int n = 7;
    if (sig >= 10) buf[n++] = (char)('0' + sig / 10);
    buf[n++] = (char)('0' + sig % 10);
    buf[n++] = '\n';
    ssize_t w = write(worker_report_fd, buf, (size_t)n);
    (void)w;
    _exit(0);
}

int warden_test_worker(const char *report) {
    int fd = open(report, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    pid_t p = fork();
    if (p < 0) { int e = errno; close(fd); errno = e; return -1; }
    if (p == 0) {
        /* The worker: same process group and session as its parent; notes the first stop-like signal. */
        worker_report_fd = fd;
        int sigs[] = { SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2 };
        for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
            struct sigaction sa; memset(&sa, 0, sizeof sa); sa.sa_handler = worker_on_signal;
            sigaction(sigs[i], &sa, NULL);
        }
        write_pid_line(fd, "worker ");
        for (;;) pause();
    }
    close(fd);
    return 0;
}

int warden_listen_inet(const char *host, int port, int backlog) {
    struct addrinfo hints; memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC; hints.ai_socktype = SOCK_STREAM; hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
    char service[16]; snprintf(service, sizeof service, "%d", port);
    struct addrinfo *res = NULL;
    int g = getaddrinfo(host, service, &hints, &res);
    if (g != 0) { errno = EINVAL; return -1; }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) { int e = errno; freeaddrinfo(res); errno = e; return -1; }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, backlog) != 0) {
        int e = errno; close(fd); freeaddrinfo(res); errno = e; return -1;
    }
    freeaddrinfo(res);
    return fd;
}

int warden_listen_unix(const char *path, int backlog, int mode) {
    struct sockaddr_un a; memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof a.sun_path) { errno = ENAMETOOLONG; return -1; }
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    unlink(path);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || chmod(path, (mode_t)mode) != 0 || listen(fd, backlog) != 0) {
        int e = errno; close(fd); errno = e; return -1;
    }
    return fd;
}

int warden_send_fds(const char *path, const char *msg, size_t len, const int *fds, int nfds) {
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    struct sockaddr_un a; memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof a.sun_path) { close(s); errno = ENAMETOOLONG; return -1; }
    strcpy(a.sun_path, path);
    struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
    union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int) * WARDEN_MAX_PASSED_FDS)]; } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct msghdr m; memset(&m, 0, sizeof m);
    m.msg_name = &a; m.msg_namelen = sizeof a; m.msg_iov = &iov; m.msg_iovlen = 1;
    if (nfds > 0) {
        if (nfds > WARDEN_MAX_PASSED_FDS) { close(s); errno = EINVAL; return -1; }
        m.msg_control = ctl.b; m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_RIGHTS; c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    ssize_t n = sendmsg(s, &m, 0);
    int e = errno; close(s); errno = e;
    return n == (ssize_t)len ? 0 : -1;
}
