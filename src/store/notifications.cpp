// Inbox rows. Headers are kept as form-encoded text and query and body as bytea, so a header
// byte that is not UTF-8 can never keep a payment notification from being stored.
#include "orderpay/store/notifications.hpp"

#include <algorithm>

#include "orderpay/crypto/digest.hpp"
#include "orderpay/domain/ids.hpp"
#include "orderpay/http/form.hpp"
#include "orderpay/http/utf8.hpp"
#include "orderpay/store/statements.hpp"
#include "store/batches.hpp"
#include "store/parse.hpp"

namespace orderpay::store {

namespace {

std::string HeaderForm(const providers::RawNotification& raw) {
    http::FormPairs pairs;
    if (!raw.content_type.empty()) pairs.emplace_back("CONTENT_TYPE", raw.content_type);
    for (const auto& [k, v] : raw.headers) pairs.emplace_back(k, v);
    return http::EncodeForm(pairs);
}

std::string FromHex(const std::string& hex) {
    std::string out;
    out.reserve(hex.size() / 2);
    auto nib = [](char ch) { return ch <= '9' ? ch - '0' : ch - 'a' + 10; };
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        out.push_back(static_cast<char>(nib(hex[i]) * 16 + nib(hex[i + 1])));
    return out;
}

std::vector<StoredNotification> Rows(const db::Result& r) {
    std::vector<StoredNotification> out;
    for (int i = 0; i < r.Rows(); ++i) {
        StoredNotification n;
        n.id = r.Get(i, "id");
        n.provider = r.Get(i, "provider");
        n.site_id = r.Get(i, "site_id");
        n.slip_id = r.Get(i, "slip_id");
        n.remote_addr = r.Get(i, "remote_addr");
        n.raw.method = r.Get(i, "method");
        n.raw.query = FromHex(r.Get(i, "query"));
        n.raw.body = FromHex(r.Get(i, "body"));
        if (auto pairs = http::ParseForm(r.Get(i, "header_form"), 4096)) {
            for (auto& [k, v] : *pairs) {
                if (k == "CONTENT_TYPE") {
                    n.raw.content_type = v;
                } else {
                    n.raw.headers[k] = v;
                }
            }
        }
        n.verdict = r.Get(i, "verdict");
        n.reason = r.Get(i, "reason");
        n.ct_ms = r.GetInt(i, "ct");
        // A replay judges freshness windows (WeChat v3's five minutes) at the time it arrived.
        n.raw.received_at = n.ct_ms / 1000;
        n.request_id = r.Get(i, "request_id");
        out.push_back(std::move(n));
    }
    return out;
}

// remote_addr is text: keep it only when it is plain ASCII (nginx always sends an address).
std::string PlainAddr(const std::string& remote_addr) {
    std::string addr;
    for (char ch : remote_addr)
        if (ch >= 0x20 && ch < 0x7f) addr += ch;
    return addr.substr(0, 64);
}

}  // namespace

std::optional<NotificationIntake> IntakeNotification(db::Connection& c, const std::string& provider,
                                                     const std::string& site, const std::string& remote_addr,
                                                     const providers::RawNotification& raw,
                                                     const std::string& slip_id,
                                                     const std::string& request_id) {
    // A slip id that cannot exist (any bytes a provider message may hold) matches nothing and
    // never reaches the text parameter.
    const std::string slip = domain::IsOrderId(slip_id) ? slip_id : std::string();
    db::Result r =
        c.Exec(kNotifyIntake, {provider, site, PlainAddr(remote_addr), raw.method, HeaderForm(raw),
                               crypto::HexLower(raw.query), crypto::HexLower(raw.body), slip, request_id});
    if (r.Rows() == 0 || r.IsNull(0, r.Col("row_id"))) return std::nullopt;
    NotificationIntake in;
    in.row_id = r.Get(0, "row_id");
    if (!r.IsNull(0, r.Col("s_id"))) in.slip = SlipFrom(r, 0, "s_");
    if (!r.IsNull(0, r.Col("m_id")))
        in.merchant = providers::Merchant{
            r.Get(0, "m_id"),        r.Get(0, "m_provider"), r.Get(0, "m_app_id"), r.Get(0, "m_mch_id"),
            r.Get(0, "m_sign_type"), r.Get(0, "m_api_key"),  r.Get(0, "m_options")};
    return in;
}

// The reason quotes fields of the message, which may hold any bytes (an Alipay form is decoded
// to raw bytes, possibly GBK), and the verdict must always be recorded.
bool NotificationVerdict(db::Connection& c, const std::string& id, const std::string& verdict,
                         const std::string& reason, const std::optional<std::string>& slip_id) {
    return c.Exec(kNotifyVerdict, {id, verdict, http::TextOrEscaped(reason, 2000), slip_id}).Affected() == 1;
}

std::vector<StoredNotification> UndecidedNotifications(db::Connection& c, const std::string& verdict,
                                                       std::int64_t older_than_s, int limit) {
    return Rows(c.Exec(kNotifyReceived, {older_than_s, limit, verdict}));
}

std::optional<StoredNotification> FindNotification(db::Connection& c, const std::string& id) {
    if (id.empty() || id.size() > 18 || id.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
    std::vector<StoredNotification> rows = Rows(c.Exec(kNotifyGet, {id}));
    if (rows.empty()) return std::nullopt;
    return std::move(rows.front());
}

std::vector<StoredNotification> ListNotifications(db::Connection& c,
                                                  const std::optional<std::string>& verdict, int limit) {
    return Rows(c.Exec(kNotifyList, {verdict, limit}));
}

bool RetentionIndexed(db::Connection& c) {
    return c.Query(kNotifyRetentionIndexed.sql, {}).Rows() == 1;
}

std::int64_t PruneDecidedNotifications(db::Connection& c, std::int64_t older_than_s, std::int64_t most) {
    std::int64_t gone = 0;
    // One verdict a statement, each read in its index's order (kNotifyPrune).
    for (const char* verdict : {"rejected", "settled", "duplicate", "ignored"})
        gone += InBatches(most - gone, [&](std::int64_t batch) {
            return c.Query(kNotifyPrune.sql, {std::string(verdict), older_than_s, batch}).Affected();
        });
    return gone;
}

std::int64_t PruneUnverifiedNotifications(db::Connection& c, std::int64_t older_than_s, std::int64_t most) {
    std::int64_t gone = 0;
    // One verdict a statement, so each reads its own stretch of the index in ct order.
    for (const char* verdict : {"rejected", "ignored", "duplicate"})
        gone += InBatches(most - gone, [&](std::int64_t batch) {
            return c.Query(kNotifyPruneUnverified.sql, {older_than_s, batch, std::string(verdict)})
                .Affected();
        });
    gone += InBatches(most - gone, [&](std::int64_t batch) {
        return c.Query(kNotifyPruneUnchecked.sql, {older_than_s, batch}).Affected();
    });
    return gone;
}

bool ChargebackRecorded(db::Connection& c, const std::string& slip_id) {
    return c.Exec(kNotifyChargeback, {slip_id}).Rows() > 0;
}

std::optional<std::string> RefundReported(db::Connection& c, const std::string& slip_id,
                                          const std::string& name) {
    if (name.empty()) return std::nullopt;
    db::Result r = c.Exec(kNotifyRefundReported, {slip_id, http::TextOrEscaped(name, 256)});
    if (r.Rows() == 0) return std::nullopt;
    return r.Get(0, 0);
}

bool OutsideReported(db::Connection& c, const std::string& slip_id) {
    return c.Exec(kNotifyOutsideReported, {slip_id}).Rows() > 0;
}

bool EventSeenBefore(db::Connection& c, const std::string& provider, const std::string& id,
                     const std::string& event_id) {
    c.Exec(kNotifySetEvent, {id, http::TextOrEscaped(event_id, std::string::npos)});
    return c.Exec(kNotifyEventSeen, {provider, http::TextOrEscaped(event_id, std::string::npos), id}).Rows() >
           0;
}

}  // namespace orderpay::store
