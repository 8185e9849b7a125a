/* Test shim (LD_PRELOAD): time() answers the real time plus $SKEW_TIME_S seconds, so a test can
 * run an orderpayd whose host clock is off from the database's (a worker host whose NTP failed).
 * Only time(): the monotonic clocks, timeouts and TLS keep the real time. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

time_t time(time_t* out) {
    static time_t (*real)(time_t*);
    if (!real) real = (time_t(*)(time_t*))dlsym(RTLD_NEXT, "time");
    time_t t = real(NULL);
    const char* skew = getenv("SKEW_TIME_S");
    if (skew) t += (time_t)atol(skew);
    if (out) *out = t;
    return t;
}
