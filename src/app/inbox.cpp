// Inbox rows and the shared settle-and-record step of the notification endpoints.
#include "orderpay/app/inbox.hpp"

#include "orderpay/core/log.hpp"
#include "orderpay/crypto/digest.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/store/settle.hpp"
#include "orderpay/store/statements.hpp"

namespace orderpay::app {

namespace {

std::string HeadersJson(const http::Request& req) {
    std::string out = "{\"CONTENT_TYPE\":" + http::JsonString(req.content_type);
    for (const auto& [k, v] : req.headers) out += "," + http::JsonString(k) + ":" + http::JsonString(v);
    return out + "}";
}

}  // namespace

Inbox::Inbox(db::Connection& c, const std::string& provider, const std::string& site,
             const http::Request& req)
    : Inbox(c, provider, site, req, req.body) {}

Inbox::Inbox(db::Connection& c, const std::string& provider, const std::string& site,
             const http::Request& req, const std::string& raw)
    : c_(c) {
    db::Result r = c_.Exec(store::kNotifyInsert,
                           {provider, site, req.remote_addr, HeadersJson(req), crypto::HexLower(raw)});
    id_ = r.Get(0, 0);
}

void Inbox::Verdict(const char* verdict, const std::string& reason, const NotifyEval& ev) {
    db::Param slip = ev.slip ? db::Param(ev.slip->id) : db::Param(std::nullopt);
    c_.Exec(store::kNotifyVerdict, {id_, verdict, reason, slip});
    if (std::string_view(verdict) == "rejected") log::Warn("notification ", id_, " rejected: ", reason);
}

bool SettleAndRecord(db::Connection& c, Inbox& inbox, const NotifyEval& ev) {
    std::string detail;
    store::SettleOutcome o = store::Settle(c, ev.event, detail);
    switch (o) {
        case store::SettleOutcome::kSettled:
        case store::SettleOutcome::kLateSettled:
        case store::SettleOutcome::kRefundFlagged:
            inbox.Verdict("settled", std::string(store::ToString(o)) + ": " + detail, ev);
            return true;
        case store::SettleOutcome::kDuplicate:
            inbox.Verdict("duplicate", detail, ev);
            return true;
        case store::SettleOutcome::kNoSlip:
        case store::SettleOutcome::kMismatch:
            break;
    }
    inbox.Verdict("rejected", detail, ev);
    return false;
}

}  // namespace orderpay::app
