// The benchmark's floor: a libfcgi responder that does nothing but answer a fixed JSON body, with
// the same prefork shape as orderpayd (N workers accepting on one unix socket). nginx -> this is
// the most any FastCGI endpoint on this box can do; make bench prints orderpay's ratio to it.
//   usage: null_fcgi SOCKET WORKERS
#include <fcgiapp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

volatile sig_atomic_t g_stop = 0;

void OnTerm(int) {
    g_stop = 1;
}

int Serve(int fd) {
    FCGX_Request req;
    if (FCGX_InitRequest(&req, fd, 0) != 0) return 1;
    static const char kReply[] =
        "Status: 200 OK\r\nContent-Type: application/json\r\nContent-Length: 24\r\n\r\n"
        "{\"ok\":true,\"data\":{}}\n  ";
    while (!g_stop && FCGX_Accept_r(&req) >= 0) {
        FCGX_PutStr(kReply, sizeof kReply - 1, req.out);
        FCGX_Finish_r(&req);
    }
    FCGX_Free(&req, 1);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s SOCKET WORKERS\n", argv[0]);
        return 2;
    }
    // The same libfcgi setting as orderpayd's workers (src/fcgi/worker.cpp), so the floor is what
    // libfcgi does here and not a lingering close orderpayd does not pay.
    setenv("LIBFCGI_OS_CLOSE_POLL_TIMEOUT", "0", 0);
    if (FCGX_Init() != 0) return 1;
    unlink(argv[1]);
    int fd = FCGX_OpenSocket(argv[1], 1024);
    if (fd < 0) return 1;
    chmod(argv[1], 0666);
    signal(SIGTERM, OnTerm);
    std::vector<pid_t> kids;
    for (int i = 0; i < std::atoi(argv[2]); ++i) {
        pid_t pid = fork();
        if (pid == 0) _exit(Serve(fd));
        if (pid > 0) kids.push_back(pid);
    }
    while (!g_stop) pause();
    for (pid_t k : kids) kill(k, SIGKILL);  // a floor has no requests worth draining
    for (pid_t k : kids) waitpid(k, nullptr, 0);
    unlink(argv[1]);
    return 0;
}
