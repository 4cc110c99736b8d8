/*
 * Probes the kernel surface a container reaches: each line is a call and
 * "ok" or the errno it got (or "killed" for SIGSYS). Built static by
 * tests/security_test.ts and bound into busybox containers. Raw syscalls
 * throughout, so that libc's fallbacks (clone3 -> clone) hide nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(const char *name, long rc) {
  if (rc >= 0) printf("%s=ok\n", name);
  else printf("%s=%s\n", name, strerrorname_np(errno));
}

/* Runs a probe in a child, so that a killing action or a success that changes us stays there. */
static void probe(const char *name, long (*fn)(void)) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    errno = 0;
    say(name, fn());
    fflush(stdout);
    _exit(0);
  }
  int status;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) printf("%s=killed(%d)\n", name, WTERMSIG(status));
}

static long p_unshare_user(void) { return syscall(SYS_unshare, CLONE_NEWUSER); }
static long p_unshare_net(void) { return syscall(SYS_unshare, CLONE_NEWNET); }
static long p_clone_newuser(void) {
  long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
  if (pid == 0) _exit(0);
  if (pid > 0) waitpid(pid, 0, 0);
  return pid;
}
static long p_clone3(void) {
  unsigned long long args[11] = {0};
  args[4] = SIGCHLD; /* exit_signal */
  long pid = syscall(SYS_clone3, args, sizeof args);
  if (pid == 0) _exit(0);
  if (pid > 0) waitpid(pid, 0, 0);
  return pid;
}
static long p_fork(void) {
  long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (pid == 0) _exit(0);
  if (pid > 0) waitpid(pid, 0, 0);
  return pid;
}
static long p_exec(void) {
  pid_t pid = fork();
  if (pid == 0) {
    char *argv[] = {"/bin/true", 0};
    execv("/bin/true", argv);
    _exit(127);
  }
  int status;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
  errno = ENOEXEC;
  return -1;
}
static long p_mount(void) { return mount("none", "/tmp", "tmpfs", 0, ""); }
static long p_keyctl(void) { return syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0); }
static long p_add_key(void) { return syscall(SYS_add_key, "user", "skiff", "x", 1, -3); }
static long p_bpf(void) { return syscall(SYS_bpf, 0, 0, 0); }
static long p_kexec_load(void) { return syscall(SYS_kexec_load, 0, 0, 0, 0); }
static long p_open_by_handle_at(void) { return syscall(SYS_open_by_handle_at, AT_FDCWD, 0, 0); }
static long p_perf_event_open(void) { return syscall(SYS_perf_event_open, 0, 0, -1, -1, 0); }
static long p_userfaultfd(void) { return syscall(SYS_userfaultfd, 0); }
/* ptrace of a process of its own: allowed, as docker on kernels from 4.8 (it can't reach outside the pid namespace). */
static long p_ptrace_child(void) {
  pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  long rc = syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, child, 0, 0);
  int saved = errno;
  kill(child, SIGKILL);
  waitpid(child, 0, 0);
  errno = saved;
  return rc;
}
static long p_personality(void) { return syscall(SYS_personality, ADDR_NO_RANDOMIZE); }
static long p_personality_linux(void) { return syscall(SYS_personality, 0xffffffff); }
static long p_vsock(void) { return syscall(SYS_socket, 40 /* AF_VSOCK */, SOCK_STREAM, 0); }
static long p_socket(void) { return syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0); }
static long p_unix(void) { int sv[2]; return syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, sv); }
static long p_mkdir(void) { return syscall(SYS_mkdir, "/tmp/probe-dir", 0755); }
static long p_chown(void) {
  int fd = open("/tmp/probe-file", O_CREAT | O_WRONLY, 0644);
  if (fd < 0) return -1;
  close(fd);
  return syscall(SYS_chown, "/tmp/probe-file", 1000, 1000);
}
#ifdef __x86_64__
/* getpid through the i386 ABI (int 0x80, number 20) and the x32 ABI. */
static long p_i386(void) {
  long rc;
  __asm__ volatile("int $0x80" : "=a"(rc) : "a"(20L) : "memory");
  if (rc < 0 && rc > -4096) { errno = -rc; return -1; }
  return rc;
}
static long p_x32(void) { return syscall(0x40000000 | 39 /* getpid */); }
#endif

int main(void) {
  setvbuf(stdout, 0, _IOLBF, 0);
  probe("unshare_user", p_unshare_user);
  probe("unshare_net", p_unshare_net);
  probe("clone_newuser", p_clone_newuser);
  probe("clone3", p_clone3);
  probe("fork", p_fork);
  probe("exec", p_exec);
  probe("mount", p_mount);
  probe("keyctl", p_keyctl);
  probe("add_key", p_add_key);
  probe("bpf", p_bpf);
  probe("kexec_load", p_kexec_load);
  probe("open_by_handle_at", p_open_by_handle_at);
  probe("perf_event_open", p_perf_event_open);
  probe("userfaultfd", p_userfaultfd);
  probe("ptrace_child", p_ptrace_child);
  probe("personality_addr_no_randomize", p_personality);
  probe("personality_query", p_personality_linux);
  probe("socket_vsock", p_vsock);
  probe("socket_inet", p_socket);
  probe("socketpair_unix", p_unix);
  probe("mkdir", p_mkdir);
  probe("chown", p_chown);
#ifdef __x86_64__
  probe("i386_getpid", p_i386);
  probe("x32_getpid", p_x32);
#endif
  return 0;
}
