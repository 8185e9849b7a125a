// Fuzz target: every registered provider's ParseNotification (the first code a provider's
// notification meets, before any signature), fed the same bytes as a POST body and as a GET query.
// Properties: it never crashes, a notice that did not parse names no slip, a parsed one names at
// most what the message holds, and the browser return (GET) never may settle.
#include <cstdint>

#include "fuzz_check.hpp"
#include "orderpay/providers/registry.hpp"

namespace {

using namespace orderpay;

const providers::Providers& All() {
    static const Config cfg;
    static const providers::Providers all(cfg);
    return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string bytes(fuzz::AsText(data, size));
    for (const auto& p : All().all()) {
        for (const char* method : {"POST", "GET"}) {
            if (!p->AcceptsMethod(method)) continue;
            providers::RawNotification raw;
            raw.method = method;
            (std::string_view(method) == "POST" ? raw.body : raw.query) = bytes;
            providers::Notice n = p->ParseNotification(raw);
            if (!n.parsed) {
                FUZZ_CHECK(n.slip_id.empty());
                FUZZ_CHECK(!n.error.empty());
                continue;
            }
            FUZZ_CHECK(n.slip_id.size() <= bytes.size());
            if (std::string_view(method) == "GET") FUZZ_CHECK(!n.may_settle);
            // The reply for every answer is well-formed for the provider: never empty, except
            // WeChat v3's "received", which is a 204 with no body.
            for (auto a : {providers::NotifyAnswer::kAccepted, providers::NotifyAnswer::kRefused}) {
                FUZZ_CHECK(!p->NotificationReply(a).body.empty());
                const providers::ProviderReply r = p->NotificationReplyFor(a, raw);
                FUZZ_CHECK(!r.body.empty() || (r.status == 204 && a == providers::NotifyAnswer::kAccepted));
            }
        }
    }
    return 0;
}
