// `orderpay notify verify`: runs a captured notification through the endpoint's exact
// evaluation, and a payment through the settlement in a transaction rolled back, and explains
// each step and what the endpoint would record. It changes nothing.
#include "orderpay/app/notify.hpp"

#include <iostream>
#include <optional>

#include "orderpay/app/context.hpp"
#include "orderpay/cli/cli.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/store/admin.hpp"
#include "orderpay/store/settle.hpp"

namespace orderpay::cli {

namespace {

constexpr const char* kUsage =
    "notify verify [--site SITE] [--provider ID] --body FILE|- [--headers FILE] [--json]\n"
    "              [--webhook-id W] [--cert-file PEM]   (PayPal: the webhook id the signature binds\n"
    "              to, and the signing certificate taken as given instead of downloaded)\n"
    "  (without --site: the site of the slip the notification names; no slip: the signature alone)";

// "Name: value" lines (as curl -D writes them) to the CGI names the endpoint sees.
void ReadHeaders(const std::string& text, providers::RawNotification& raw) {
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        std::string line = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
        pos = end == std::string::npos ? text.size() : end + 1;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        std::size_t colon = line.find(':');
        if (colon == std::string::npos || colon == 0) continue;  // the status line, blank lines
        std::string name = line.substr(0, colon), value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        std::string cgi;
        for (char ch : name)
            cgi += ch == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        if (cgi == "CONTENT_TYPE") {
            raw.content_type = value;
        } else if (cgi != "CONTENT_LENGTH") {
            raw.headers["HTTP_" + cgi] = value;
        }
    }
}

// Without --provider: XML is WeChat v2's, JSON WeChat v3's, a form Alipay's. Said on stderr,
// never guessed silently.
std::string DetectProvider(const std::string& body) {
    std::size_t first = body.find_first_not_of(" \t\r\n");
    const char c = first != std::string::npos ? body[first] : ' ';
    std::string guess = c == '<' || c == '{' ? "wx" : "zfb";
    std::cerr << "notify verify: no --provider given; the body looks like "
              << (c == '<'   ? "XML"
                  : c == '{' ? "JSON"
                             : "a form")
              << ", assuming --provider " << guess << '\n';
    return guess;
}

// What the endpoint would record for a payment the settlement judged, in its words.
std::string SettleVerdict(const store::SettleResult& r) {
    switch (r.outcome) {
        case store::SettleOutcome::kSettled:
        case store::SettleOutcome::kLateSettled:
            return "would settle (" + r.detail + ")";
        case store::SettleOutcome::kDuplicate:
            return "would record a duplicate (" + r.detail + "): changes nothing";
        case store::SettleOutcome::kRefundFlagged:
            return "would keep the payment and flag the slip for refund (" + r.detail +
                   "): reconcile lists it REFUND";
        default:
            return "would reject it (" + r.reason + ")";
    }
}

}  // namespace

int Notify(Env& env, const Args& a) {
    if (a.pos.size() < 2 || a.pos[1] != "verify") throw UsageError(kUsage);
    app::Context ctx(app::Settings::From(env.cfg), env.db);
    providers::RawNotification raw;
    raw.method = "POST";
    // The bytes exactly: WeChat v3 and PayPal sign the whole body, a last newline too, and
    // `inbox show --body-only` writes a stored one as it came. Dropping trailing newlines failed a
    // genuine notification whose body ends in one.
    raw.body = ReadInput(a.Need("body"));
    std::string id = a.Flag("provider").value_or("");
    if (id.empty()) id = DetectProvider(raw.body);
    providers::Provider* p = ctx.ProviderFor(id);
    if (!p) throw UsageError("unknown provider " + id + "\n" + kUsage);
    // What the live path fetches or looks up, given on the command line instead.
    if (auto f = a.Flag("cert-file"); f && !p->SetOfflineInput("cert-file", ReadInput(*f)))
        throw UsageError("--provider " + id + " takes no --cert-file");
    if (auto w = a.Flag("webhook-id"); w && !p->SetOfflineInput("webhook-id", *w))
        throw UsageError("--provider " + id + " takes no --webhook-id");
    if (auto headers = a.Flag("headers")) ReadHeaders(ReadInput(*headers), raw);
    // A browser return: the URL (or its query string) as captured; it is evaluated as the GET.
    std::size_t first = raw.body.find_first_not_of(" \t");
    if (first != std::string::npos && raw.body[first] != '<' && raw.body[first] != '{' &&
        raw.body.find('?') != std::string::npos && p->AcceptsMethod("GET")) {
        raw.method = "GET";
        raw.query = raw.body.substr(raw.body.find('?') + 1);
        // A URL holds no line break: one after it is the file's (an editor's, echo's) end.
        while (!raw.query.empty() && (raw.query.back() == '\n' || raw.query.back() == '\r'))
            raw.query.pop_back();
        raw.body.clear();
    }
    std::string site = a.Flag("site").value_or("");
    // As every command given a site: a mistyped one is named, not judged as a site with no merchant.
    if (!site.empty() && !store::SiteCurrency(env.db, site)) throw Refusal("no such site " + site);
    app::NotifyEval ev = app::EvaluateNotification(env.db, *p, site, raw);
    // Without --site, judge it as the site of the slip it names would (a second, identical pass).
    if (site.empty() && ev.slip) ev = app::EvaluateNotification(env.db, *p, ev.slip->site_id, raw);
    const bool acceptable = ev.signature_ok && ev.business_ok && ev.event.paid && ev.notice.may_settle;
    // A provider whose signature does not bind the whole message (PayPal) settles only on its own
    // record, which the live path asks for and this offline check does not (review s21-diff F4).
    const bool needs_query = acceptable && p->SettlesOnOwnQuery();
    // The rest goes to the settlement, which judges it against the slip as it is now: a slip
    // already paid makes a duplicate, not a second settling (review s27-newuser #13). Asked in a
    // transaction rolled back, so its word is the endpoint's and nothing stays.
    std::optional<store::SettleResult> settle;
    if (acceptable && !needs_query) settle = store::PreviewSettle(env.db, id, ev.event);
    const bool would_settle = settle && (settle->outcome == store::SettleOutcome::kSettled ||
                                         settle->outcome == store::SettleOutcome::kLateSettled);
    if (a.json) {
        std::cout << "{\"provider\":" << http::JsonString(id)
                  << ",\"signature_ok\":" << (ev.signature_ok ? "true" : "false")
                  << ",\"business_ok\":" << (ev.business_ok ? "true" : "false")
                  << ",\"would_settle\":" << (would_settle ? "true" : "false")
                  << ",\"settles_only_on_provider_query\":" << (needs_query ? "true" : "false")
                  << ",\"would_record\":" << (settle ? http::JsonString(settle->verdict) : "null")
                  << ",\"settlement\":" << (settle ? http::JsonString(settle->reason) : "null")
                  << ",\"reason\":" << http::JsonString(ev.reason) << ",\"checks\":[";
        for (std::size_t i = 0; i < ev.checks.size(); ++i) {
            std::cout << (i ? "," : "") << "{\"check\":" << http::JsonString(ev.checks[i].name)
                      << ",\"ok\":" << (ev.checks[i].ok ? "true" : "false")
                      << ",\"detail\":" << http::JsonString(ev.checks[i].detail) << '}';
        }
        std::cout << "]}\n";
    } else {
        for (const app::CheckLine& c : ev.checks)
            std::cout << (c.ok ? "PASS " : "FAIL ") << c.name << (c.detail.empty() ? "" : ": " + c.detail)
                      << '\n';
        std::cout << "verdict: "
                  << (settle        ? SettleVerdict(*settle)
                      : needs_query ? "would ask " + id +
                                          " for its own record of the payment and settle only on that answer "
                                          "(the message alone settles nothing)"
                                    : ev.reason)
                  << '\n';
    }
    // A text editor adds a last newline to a body pasted into a file, which the message as sent
    // did not have: the verdict stays the one for the bytes given, and stderr says when the body
    // without it would pass (judged again, as read-only as the first time).
    if (!ev.signature_ok && !raw.body.empty() && raw.body.back() == '\n') {
        providers::RawNotification trimmed = raw;
        while (!trimmed.body.empty() && (trimmed.body.back() == '\n' || trimmed.body.back() == '\r'))
            trimmed.body.pop_back();
        if (app::EvaluateNotification(env.db, *p, site.empty() && ev.slip ? ev.slip->site_id : site, trimmed)
                .signature_ok)
            std::cerr << "notify verify: the body ends in a newline, which is verified as part of it (as the "
                         "endpoint would); without it the signature is valid: if the message as sent had "
                         "none, remove it (an editor adds one; printf '%s' writes none)\n";
    }
    return ev.signature_ok ? 0 : 1;
}

}  // namespace orderpay::cli
