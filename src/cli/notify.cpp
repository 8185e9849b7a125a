// `orderpay notify verify`: runs a captured notification through the endpoint's exact
// evaluation and explains each verdict. It changes nothing.
#include <iostream>

#include "orderpay/app/notify_eval.hpp"
#include "orderpay/cli/cli.hpp"
#include "orderpay/http/reply.hpp"

namespace orderpay::cli {

int Notify(Env& env, const Args& a) {
    if (a.pos.size() < 2 || a.pos[1] != "verify")
        throw UsageError("notify verify --site SITE [--provider wx|zfb] --body FILE|- [--json]");
    std::string provider = a.Flag("provider").value_or("wx");
    if (provider != "wx" && provider != "zfb") throw UsageError("--provider wx or zfb");
    std::string body = ReadInput(a.Need("body"));
    // Alipay: the form body as received, or a return URL's query string (a whole URL is cut).
    if (provider == "zfb" && body.find('?') != std::string::npos) body = body.substr(body.find('?') + 1);
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
    app::NotifyEval ev = provider == "wx" ? app::EvaluateWxNotification(env.db, a.Need("site"), body)
                                          : app::EvaluateZfbNotification(env.db, a.Need("site"), body);
    if (a.json) {
        std::cout << "{\"signature_ok\":" << (ev.signature_ok ? "true" : "false")
                  << ",\"business_ok\":" << (ev.business_ok ? "true" : "false")
                  << ",\"reason\":" << http::JsonString(ev.reason) << ",\"checks\":[";
        for (std::size_t i = 0; i < ev.checks.size(); ++i) {
            std::cout << (i ? "," : "") << "{\"check\":" << http::JsonString(ev.checks[i].name)
                      << ",\"ok\":" << (ev.checks[i].ok ? "true" : "false")
                      << ",\"detail\":" << http::JsonString(ev.checks[i].detail) << '}';
        }
        std::cout << "]}\n";
    } else {
        for (const app::CheckLine& c : ev.checks)
            std::cout << (c.ok ? "PASS " : "FAIL ") << c.name << ": " << c.detail << '\n';
        std::cout << "verdict: "
                  << (ev.signature_ok && ev.business_ok && ev.event.paid ? "would settle" : ev.reason)
                  << '\n';
    }
    return ev.signature_ok ? 0 : 1;
}

}  // namespace orderpay::cli
