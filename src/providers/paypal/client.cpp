// PayPal Orders v2 calls (PROTOCOLS.md §3.1-§3.2): a Bearer token from client credentials,
// shared by every worker through the SharedCache until 60 s before it expires and refreshed
// once on a 401; create with PayPal-Request-Id = slip id; query; capture (idempotent by its own
// request id). A timeout is never a failure: the slip stays WAIT and is queried.
#include "orderpay/providers/paypal/client.hpp"

#include <cctype>
#include <ctime>

#include "orderpay/crypto/digest.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/http/utf8.hpp"
#include "orderpay/providers/http_client.hpp"
#include "orderpay/providers/paypal/webhook.hpp"

namespace orderpay::paypal {

using providers::CreateResult;
using providers::Outcome;
using providers::QueryResult;

namespace {

const rapidjson::Value* Member(const rapidjson::Value& v, const char* name) {
    return http::Member(&v, name);
}

constexpr auto Str = &http::MemberString;

const rapidjson::Value* First(const rapidjson::Value* v, const char* name) {
    const rapidjson::Value* a = v ? Member(*v, name) : nullptr;
    return a && a->IsArray() && !a->Empty() ? &(*a)[0] : nullptr;
}

// PayPal's error answer, shortened for the slip note: name and message, never our request.
std::string ErrorText(const std::string& body, long status) {
    rapidjson::Document doc;
    std::string text = "http " + std::to_string(status);
    if (http::ParseJson(body, doc).empty() && doc.IsObject()) {
        std::string name = Str(&doc, "name"), issue = Str(First(&doc, "details"), "issue");
        if (!name.empty()) text += " " + name;
        if (!issue.empty()) text += " " + issue;
        if (std::string e = Str(&doc, "error"); !e.empty()) text += " " + e;
    }
    return text;
}

std::string TokenKey(const providers::Merchant& m, const std::string& gateway) {
    // A new secret or gateway must not reuse the old token; the key never shows the secret.
    std::string h = crypto::HexLower(crypto::Sha256(m.app_id + "\n" + m.api_key + "\n" + gateway));
    return "paypal.token." + m.id + "." + h.substr(0, 16);
}

// RFC 6750 section 2.1's b64token: the token goes into an Authorization header line of every call
// and into the shared cache, so a CR LF (a header of the answer's choosing) or bytes that are not
// text never get there.
bool BearerToken(const std::string& t) {
    if (t.empty() || t.size() > 4096) return false;
    std::size_t i = 0;
    auto tchar = [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
    };
    while (i < t.size() && tchar(static_cast<unsigned char>(t[i]))) ++i;
    if (i == 0) return false;
    while (i < t.size() && t[i] == '=') ++i;
    return i == t.size();
}

}  // namespace

std::string PaypalClient::Token(const providers::Merchant& m, const std::string& refused,
                                std::string& error) const {
    const std::string key = TokenKey(m, opts_.gateway);
    const long long now = static_cast<long long>(std::time(nullptr));
    if (!refused.empty()) {
        // PayPal refused `refused`: another worker may have replaced it already; use that one
        // rather than every worker fetching its own.
        tokens_.erase(key);
        if (cache_) {
            std::optional<std::string> shared = cache_->Get(key);
            if (shared && *shared != refused) {
                tokens_[key] = {*shared, now + 60};
                return *shared;
            }
            if (shared) cache_->Drop(key);
        }
    } else {
        if (auto it = tokens_.find(key); it != tokens_.end() && it->second.second > now)
            return it->second.first;
        if (cache_) {
            if (std::optional<std::string> t = cache_->Get(key)) {
                tokens_[key] = {*t, now + 60};  // re-read from the shared cache at most once a minute
                return *t;
            }
        }
    }
    providers::HttpOptions ho;
    ho.connect_timeout_ms = opts_.timeouts.connect_ms;
    ho.timeout_ms = opts_.timeouts.total_ms;
    ho.max_response = 64 * 1024;
    ho.headers = {{"Authorization", "Basic " + crypto::Base64Encode(m.app_id + ":" + m.api_key)},
                  {"Accept", "application/json"}};
    providers::HttpResult r =
        providers::HttpRequest("POST", opts_.gateway + "/v1/oauth2/token", "grant_type=client_credentials",
                               "application/x-www-form-urlencoded", ho);
    if (r.fail != providers::HttpFail::kNone || r.status != 200) {
        error = "token: " + (r.fail != providers::HttpFail::kNone ? r.error : ErrorText(r.body, r.status));
        return {};
    }
    rapidjson::Document doc;
    const rapidjson::Value* exp = nullptr;
    if (http::ParseJson(r.body, doc).empty()) exp = Member(doc, "expires_in");
    std::string token = doc.IsObject() ? Str(&doc, "access_token") : std::string();
    if (!BearerToken(token) || !exp || !exp->IsInt64() || exp->GetInt64() <= 0) {
        error = "token: malformed answer";
        return {};
    }
    // Cached until expires_in - 60 s, so no call starts with a token about to lapse.
    const long long ttl = exp->GetInt64() - 60;
    if (ttl > 0) {
        tokens_[key] = {token, now + std::min<long long>(ttl, 60)};
        if (cache_) cache_->Put(key, token, ttl);
    }
    return token;
}

PaypalClient::Call PaypalClient::Api(const providers::Merchant& m, const std::string& method,
                                     const std::string& path, const std::string& body,
                                     const std::string& request_id, bool representation) const {
    Call call;
    std::string refused;
    for (int attempt = 0; attempt < 2; ++attempt) {
        std::string error;
        std::string token = Token(m, refused, error);
        if (token.empty()) {
            call.error = error;
            call.connect_failed = true;  // nothing about the payment was sent
            return call;
        }
        providers::HttpOptions ho;
        ho.connect_timeout_ms = opts_.timeouts.connect_ms;
        ho.timeout_ms = opts_.timeouts.total_ms;
        ho.headers = {{"Authorization", "Bearer " + token}, {"Accept", "application/json"}};
        if (!request_id.empty()) ho.headers.emplace_back("PayPal-Request-Id", request_id);
        if (representation) ho.headers.emplace_back("Prefer", "return=representation");
        providers::HttpResult r = providers::HttpRequest(method, opts_.gateway + path, body,
                                                         method == "POST" ? "application/json" : "", ho);
        if (r.fail != providers::HttpFail::kNone) {
            call.connect_failed = r.fail == providers::HttpFail::kConnect;
            call.error = "http: " + r.error;
            return call;
        }
        call.answered = true;
        call.status = r.status;
        call.body = std::move(r.body);
        if (r.status != 401) break;  // one refresh on an expired or revoked token
        refused = token;
    }
    return call;
}

std::optional<providers::ChargeRefusal> PaypalClient::CheckCharge(std::int64_t amount,
                                                                  std::string_view currency) const {
    using K = providers::ChargeRefusal::Kind;
    if (!PaypalDecimals(currency))
        return providers::ChargeRefusal{K::kCurrency, "PayPal does not take " + std::string(currency)};
    if (amount < 1) return providers::ChargeRefusal{K::kAmount, "PayPal charges more than 0"};
    std::optional<std::string> v = FormatAmount(amount, currency);
    if (!v)
        return providers::ChargeRefusal{
            K::kAmount, "amount has decimals PayPal does not take in " + std::string(currency)};
    // PayPal's amount value: at most 10 integer digits (its schema's pattern).
    if (v->find('.') != std::string::npos ? v->find('.') > 10 : v->size() > 10)
        return providers::ChargeRefusal{K::kAmount, "PayPal charges at most 9999999999 per order"};
    return std::nullopt;
}

CreateResult PaypalClient::Create(const providers::Merchant& m, const providers::CreateParams& p) {
    CreateResult res;
    std::optional<std::string> value = FormatAmount(p.amount, p.currency);
    if (!value) {
        res.outcome = Outcome::kFailed;
        res.message = "PayPal cannot charge this amount in " + p.currency;
        return res;
    }
    // PayPal's description is at most 127 characters of UTF-8 JSON: a byte cut could split a
    // character and make the whole request malformed (a 128-byte title of the buyer's did).
    std::string title = http::FitUtf8(p.description, 127);
    if (title.empty()) title = "order";
    const std::string slip = http::JsonString(p.slip_id);
    std::string body =
        "{\"intent\":\"CAPTURE\",\"purchase_units\":[{\"reference_id\":" + slip + ",\"custom_id\":" + slip +
        ",\"invoice_id\":" + slip + ",\"description\":" + http::JsonString(title) +
        ",\"amount\":{\"currency_code\":" + http::JsonString(p.currency) +
        ",\"value\":" + http::JsonString(*value) +
        "}}],\"payment_source\":{\"paypal\":{\"experience_context\":{\"return_url\":" +
        http::JsonString(p.notify_url) + ",\"cancel_url\":" + http::JsonString(p.notify_url + "?cancel=1") +
        ",\"user_action\":\"PAY_NOW\",\"shipping_preference\":\"NO_SHIPPING\"}}}}";
    Call c = Api(m, "POST", "/v2/checkout/orders", body, p.slip_id);
    if (!c.answered) {
        // Not connected: certainly not created (a retry with the same request id is safe anyway).
        res.outcome = c.connect_failed ? Outcome::kFailed : Outcome::kUnknown;
        res.timeout = !c.connect_failed;
        res.message = c.error;
        return res;
    }
    if (c.status != 200 && c.status != 201) {
        res.outcome = c.status >= 500 ? Outcome::kUnknown : Outcome::kFailed;
        res.timeout = c.status >= 500;
        res.message = ErrorText(c.body, c.status);
        return res;
    }
    rapidjson::Document doc;
    if (!http::ParseJson(c.body, doc).empty() || !doc.IsObject()) {
        res.outcome = Outcome::kUnknown;
        res.message = "create: answer is not JSON";
        return res;
    }
    std::string id = Str(&doc, "id"), link;
    if (const rapidjson::Value* links = Member(doc, "links"); links && links->IsArray()) {
        for (const auto& l : links->GetArray()) {
            std::string rel = Str(&l, "rel");
            if (rel == "payer-action" || rel == "approve") link = Str(&l, "href");
        }
    }
    bool id_ok = !id.empty() && id.size() <= 64;
    for (char ch : id) id_ok = id_ok && ch > ' ' && ch < 0x7f;
    if (!id_ok || (link.substr(0, 8) != "https://" && link.substr(0, 7) != "http://")) {
        res.outcome = Outcome::kUnknown;
        res.message = "create: no order id or approval link";
        return res;
    }
    res.outcome = Outcome::kPending;
    res.re_tp = "LINK";
    res.re_obj = link;
    res.provider_ref = id;
    return res;
}

// The refunds an order lists of its capture (purchase_units[0].payments.refunds), into a
// PARTIALLY_REFUNDED capture's result: those that took money (COMPLETED, PENDING) with their
// amounts, believed only in the capture's currency.
static void ReadRefunds(const rapidjson::Value* payments, QueryResult& q) {
    constexpr rapidjson::SizeType kMaxListed = 50;
    q.refunded = true;
    const rapidjson::Value* list = payments ? Member(*payments, "refunds") : nullptr;
    if (!list || !list->IsArray() || list->Size() > kMaxListed) return;
    std::vector<QueryResult::RefundSeen> seen;
    for (const auto& r : list->GetArray()) {
        if (!r.IsObject()) return;
        const std::string st = Str(&r, "status");
        if (st != "COMPLETED" && st != "PENDING") continue;
        QueryResult::RefundSeen one;
        one.id = Str(&r, "id");
        one.no = Str(&r, "invoice_id");
        const rapidjson::Value* amount = Member(r, "amount");
        if (Str(amount, "currency_code") == q.currency)
            one.amount = ParseAmount(Str(amount, "value"), q.currency).value_or(-1);
        seen.push_back(std::move(one));
    }
    q.refunds = std::move(seen);
    q.refunds_listed = true;
}

// An order (query or capture answer) in provider-neutral terms. Only a COMPLETED capture is
// money; an order COMPLETED with a declined capture is not (PROTOCOLS.md §4.4).
QueryResult PaypalClient::OrderState(const std::string& body, long status) {
    QueryResult q;
    using S = QueryResult::State;
    if (status == 404) {
        q.state = S::kNotFound;
        q.message = "no such PayPal order";
        return q;
    }
    rapidjson::Document doc;
    if (status < 200 || status > 299 || !http::ParseJson(body, doc).empty() || !doc.IsObject()) {
        q.message = ErrorText(body, status);
        return q;
    }
    const std::string st = Str(&doc, "status");
    const rapidjson::Value* unit = First(&doc, "purchase_units");
    const rapidjson::Value* payments = unit ? Member(*unit, "payments") : nullptr;
    const rapidjson::Value* capture = First(payments, "captures");
    q.message = "order " + st;
    if (capture) {
        const std::string cst = Str(capture, "status");
        const rapidjson::Value* amount = Member(*capture, "amount");
        q.message += ", capture " + cst;
        // A capture refunded since in part was paid all the same: it settles, and the refunds the
        // order lists beside it are recorded for the operator (app/query_refunded.cpp). One
        // refunded whole is asked about only for a slip not yet paid (a paid slip is never
        // queried): the money went back at PayPal (its console) before orderpay recorded it, so
        // there is nothing to settle on, and the order must not ship (review s21-diff F6).
        if (cst == "REFUNDED") {
            q.state = S::kFailed;
            q.message += " (refunded whole at PayPal before orderpay recorded the payment)";
        } else if (cst == "COMPLETED" || cst == "PARTIALLY_REFUNDED") {
            q.currency = Str(amount, "currency_code");
            std::optional<std::int64_t> minor = ParseAmount(Str(amount, "value"), q.currency);
            q.txn_id = Str(capture, "id");
            if (!minor || q.txn_id.empty()) {
                q.message += " (amount or id unreadable)";
                return q;
            }
            q.amount = *minor;
            q.state = S::kPaid;
            if (cst == "PARTIALLY_REFUNDED") ReadRefunds(payments, q);
        } else if (cst == "PENDING") {
            q.state = S::kPaying;
        } else if (cst == "DECLINED" || cst == "FAILED") {
            q.state = S::kFailed;
        } else if (cst == "REVERSED") {
            // Taken back from the merchant (a chargeback the buyer won): no money to settle on. As
            // unknown it was answered 500 for PayPal to resend for days (review s21-diff F5).
            q.state = S::kFailed;
            q.message += " (reversed: the money went back to the buyer)";
            // Which capture: a paid slip's chargeback is confirmed only for its own (notify_reversal).
            q.reversed = true;
            q.txn_id = Str(capture, "id");
        }
        return q;
    }
    if (st == "APPROVED")
        q.state = S::kApproved;
    else if (st == "CREATED" || st == "SAVED" || st == "PAYER_ACTION_REQUIRED")
        q.state = S::kNotPaid;
    else if (st == "VOIDED")
        q.state = S::kClosed;
    return q;
}

QueryResult PaypalClient::Query(const providers::Merchant& m, const std::string& slip_id) {
    return QueryByRef(m, slip_id, "");
}

QueryResult PaypalClient::QueryByRef(const providers::Merchant& m, const std::string& slip_id,
                                     const std::string& provider_ref) {
    return ConfirmPaid(m, slip_id, provider_ref);
}

// The order as PayPal's API holds it: what a webhook claims is settled on this alone.
QueryResult PaypalClient::ConfirmPaid(const providers::Merchant& m, const std::string& slip_id,
                                      const std::string& provider_ref) const {
    (void)slip_id;
    if (provider_ref.empty()) {
        QueryResult q;
        q.message = "no PayPal order id recorded for the slip";
        return q;
    }
    Call c = Api(m, "GET", "/v2/checkout/orders/" + provider_ref, "", "");
    if (!c.answered) {
        QueryResult q;
        q.message = c.error;
        return q;
    }
    return OrderState(c.body, c.status);
}

QueryResult PaypalClient::Complete(const providers::Merchant& m, const std::string& slip_id,
                                   const std::string& provider_ref) const {
    QueryResult q;
    if (provider_ref.empty()) {
        q.message = "no PayPal order id recorded for the slip";
        return q;
    }
    // Its own request id, so a retried capture (return, webhook and pay/check racing) is one.
    Call c = Api(m, "POST", "/v2/checkout/orders/" + provider_ref + "/capture", "{}", "capture-" + slip_id);
    if (!c.answered) {
        q.message = "capture: " + c.error;
        return q;
    }
    if (c.status == 422) {
        // ORDER_ALREADY_CAPTURED (captured by an earlier request id) is answered by the order.
        std::string text = ErrorText(c.body, c.status);
        if (text.find("ORDER_ALREADY_CAPTURED") != std::string::npos) {
            Call g = Api(m, "GET", "/v2/checkout/orders/" + provider_ref, "", "");
            if (g.answered) return OrderState(g.body, g.status);
        }
        q.state = text.find("ORDER_NOT_APPROVED") != std::string::npos ? QueryResult::State::kNotPaid
                                                                       : QueryResult::State::kUnknown;
        q.message = "capture: " + text;
        return q;
    }
    return OrderState(c.body, c.status);
}

providers::CloseResult PaypalClient::Close(const providers::Merchant& m, const std::string& slip_id) {
    (void)m, (void)slip_id;
    // A CAPTURE-intent order cannot be voided, and it takes no money until captured; orderpay
    // captures only the live slip of a payable order, so a closed slip is closed by us.
    providers::CloseResult r;
    r.closed = true;
    r.message = "PayPal order left uncaptured";
    return r;
}

}  // namespace orderpay::paypal
