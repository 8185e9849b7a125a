// `orderpay audit`: checks every invariant and names each violation; exit 1 when any is found.
// The reconcile timer runs it (the journal keeps the lines); the integration tests run it too.
#include "orderpay/store/audit.hpp"

#include <cstdlib>
#include <iostream>

#include "orderpay/cli/cli.hpp"
#include "orderpay/http/reply.hpp"

namespace orderpay::cli {

namespace {

std::int64_t Secs(const Args& a, const char* flag, std::int64_t fallback) {
    std::optional<std::string> v = a.Flag(flag);
    if (!v) return fallback;
    char* end = nullptr;
    long long n = std::strtoll(v->c_str(), &end, 10);
    if (v->empty() || *end || n < 0 || n > 366LL * 86400)
        throw UsageError(std::string("--") + flag + " SECONDS");
    return n;
}

}  // namespace

int Audit(Env& env, const Args& a) {
    if (a.Has("list")) {
        // The invariant's name is the one a violation's "invariant" gives, so a script can join them.
        if (a.json) {
            std::cout << '[';
            bool first = true;
            for (const auto& inv : store::Invariants()) {
                std::cout << (first ? "" : ",") << "{\"invariant\":" << http::JsonString(inv.name)
                          << ",\"meaning\":" << http::JsonString(inv.meaning) << '}';
                first = false;
            }
            std::cout << "]\n";
            return 0;
        }
        for (const auto& inv : store::Invariants()) std::cout << inv.name << "\t" << inv.meaning << '\n';
        return 0;
    }
    store::AuditLimits limits;
    limits.replay_interval_s = Secs(a, "replay-interval", limits.replay_interval_s);
    limits.expire_grace_s = Secs(a, "expire-grace", limits.expire_grace_s);
    std::vector<store::Violation> found = store::Audit(env.db, limits);
    if (a.json) {
        std::cout << "{\"ok\":" << (found.empty() ? "true" : "false") << ",\"violations\":[";
        for (std::size_t i = 0; i < found.size(); ++i) {
            std::cout << (i ? "," : "") << "{\"invariant\":" << http::JsonString(found[i].invariant)
                      << ",\"subject\":" << http::JsonString(found[i].subject)
                      << ",\"detail\":" << http::JsonString(found[i].detail) << '}';
        }
        std::cout << "]}\n";
    } else {
        for (const auto& v : found)
            std::cout << "VIOLATION " << v.invariant << ' ' << v.subject << ": " << v.detail << '\n';
        std::cout << "audit: " << store::Invariants().size() << " invariants checked, " << found.size()
                  << " violations\n";
    }
    return found.empty() ? 0 : 1;
}

}  // namespace orderpay::cli
