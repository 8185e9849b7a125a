/* Test shim (LD_PRELOAD): fork() fails with EAGAIN while the file named by $FAIL_FORK_FILE exists,
 * so a test can show what orderpayd's master does when the system is out of processes; and with
 * $FORK_CHILD_DELAY_MS the new child sleeps that long right after fork() (its signals still
 * blocked as the master left them), widening the window in which a signal reaches a child that
 * is not yet a worker. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

pid_t fork(void) {
    const char* f = getenv("FAIL_FORK_FILE");
    if (f && access(f, F_OK) == 0) {
        errno = EAGAIN;
        return -1;
    }
    pid_t (*real)(void) = (pid_t(*)(void))dlsym(RTLD_NEXT, "fork");
    pid_t pid = real();
    const char* delay = getenv("FORK_CHILD_DELAY_MS");
    if (pid == 0 && delay) usleep((useconds_t)atoi(delay) * 1000);
    return pid;
}
