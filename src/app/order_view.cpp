// Order JSON in the seed's field names. Money leaves as a JSON number with the currency's
// decimals, written from integer minor units (never through a double).
#include "orderpay/app/order_view.hpp"

#include "orderpay/domain/money.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/providers/registry.hpp"
#include "orderpay/store/check_view.hpp"
#include "orderpay/store/rows.hpp"

namespace orderpay::app {

namespace {

void WriteTime(http::JsonWriter& w, const char* key, const std::optional<std::int64_t>& ms) {
    w.Key(key);
    if (ms) {
        w.Int64(*ms);
    } else {
        w.Null();
    }
}

void WriteStr(http::JsonWriter& w, const char* key, std::string_view v) {
    w.Key(key);
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

// A failed slip's code can no longer be paid (closed at the provider, superseded, expired), nor
// can the code of an unpaid order past its expiry (the provider's time_expire is the order's, and
// pay/qr and pay/pay answer the order closed) before the timer fails it, nor a waiting slip's
// code older than its provider honours it (WeChat's 2 hours, PayPal's 3, on a site whose orders
// live longer): the buyer's views show nothing to pay with (re_tp NONE), and pay/pay issues a
// new code for a failed or outlived slip. Operators still see what the slip was given.
void WritePayRe(http::JsonWriter& w, const std::optional<store::SlipRow>& slip, Audience who,
                bool past_expiry) {
    w.Key("pay_re");
    if (!slip) {
        w.Null();
        return;
    }
    w.StartObject();
    WriteStr(w, "st", domain::ToString(slip->st));
    if (!CodePayable(*slip, past_expiry) && who != Audience::kOperator) {
        WriteStr(w, "re_tp", "NONE");
        w.Key("re_obj");
        w.Null();
        w.EndObject();
        return;
    }
    WriteStr(w, "re_tp", slip->re_tp);
    w.Key("re_obj");
    if (slip->re_tp == "JSON" && !slip->re_obj.empty()) {
        w.RawValue(slip->re_obj.data(), slip->re_obj.size(), rapidjson::kObjectType);
    } else if (slip->re_obj.empty()) {
        w.Null();
    } else {
        w.String(slip->re_obj.data(), static_cast<rapidjson::SizeType>(slip->re_obj.size()));
    }
    w.EndObject();
}

// Refunds as the order shows them: {id, amount, st, reason, ct, ok_at}, oldest first.
void WriteRefunds(http::JsonWriter& w, const std::vector<store::RefundLine>& refunds, int exp) {
    w.Key("refunds");
    w.StartArray();
    for (const store::RefundLine& r : refunds) {
        w.StartObject();
        WriteStr(w, "id", r.id);
        w.Key("amount");
        http::WriteMoney(w, r.amount, exp);
        WriteStr(w, "st", r.st);
        WriteStr(w, "reason", r.reason);
        WriteTime(w, "ct", r.ct);
        WriteTime(w, "ok_at", r.ok_at);
        w.EndObject();
    }
    w.EndArray();
}

}  // namespace

bool CodeOutlived(const store::SlipRow& slip) {
    return slip.st == domain::SlipState::kWait && slip.code_age_ms &&
           providers::CodeOutlived(slip.pay_tp, *slip.code_age_ms);
}

bool CodePayable(const store::SlipRow& slip, bool past_expiry) {
    return slip.st != domain::SlipState::kFail && !past_expiry && !CodeOutlived(slip);
}

std::optional<store::SlipRow> CurrentSlip(db::Connection& c, const store::OrderRecord& o) {
    return o.pay_id ? store::FindSlip(c, *o.pay_id) : store::LiveSlip(c, o.id);
}

std::optional<store::OrderRecord> LoadOrder(db::Connection& c, const std::string& site, const std::string& id,
                                            std::string* json, Audience who) {
    if (!json) return store::FindOrder(c, site, id);
    // One statement for the order, its lines and its slip (store/check_view).
    std::optional<store::OrderView> v = store::LoadOrderView(c, site, id);
    if (!v) return std::nullopt;
    *json = RenderOrder(v->order, v->items, v->slip, who);
    return std::move(v->order);
}

std::string RenderOrder(const store::OrderRecord& o, const std::vector<store::OrderItem>& items,
                        const std::optional<store::SlipRow>& slip, Audience who) {
    const bool with_buyer = who != Audience::kReturn;
    const int exp = domain::CurrencyExponent(o.currency).value_or(2);
    rapidjson::StringBuffer buf;
    http::JsonWriter w(buf);
    w.StartObject();
    WriteStr(w, "id", o.id);
    WriteStr(w, "tp", o.tp);
    WriteStr(w, "title", o.title);
    if (with_buyer) WriteStr(w, "note", o.note);  // the buyer's own words
    w.Key("products");
    w.StartArray();
    for (const store::OrderItem& item : items) {
        w.StartObject();
        WriteStr(w, "id", item.product_id);
        WriteStr(w, "title", item.title);
        w.Key("amount");
        w.Int64(item.amount);
        w.Key("price");
        http::WriteMoney(w, item.price, exp);
        w.Key("subtotal");
        http::WriteMoney(w, item.subtotal, exp);
        w.EndObject();
    }
    w.EndArray();
    w.Key("pro_c");
    w.Int64(o.pro_c);
    for (auto [key, value] :
         {std::pair{"total", o.total}, std::pair{"freight", o.freight}, std::pair{"discount", o.discount},
          std::pair{"price", o.price}, std::pair{"fee", o.fee}}) {
        w.Key(key);
        http::WriteMoney(w, value, exp);
    }
    WriteStr(w, "currency", o.currency);
    WriteStr(w, "pay_tp", o.pay_tp);
    http::WriteOptString(w, "pay_id", o.pay_id);
    const bool unpaid = o.or_st == domain::OrderState::kNW || o.or_st == domain::OrderState::kWT;
    WritePayRe(w, slip, who, unpaid && o.expired);
    http::WriteOptString(w, "seller", o.seller);
    if (with_buyer) WriteStr(w, "buyer_id", o.buyer_id);
    WriteStr(w, "or_st", domain::ToString(o.or_st));
    WriteTime(w, "ct", o.ct);
    WriteTime(w, "lm", o.lm);
    WriteTime(w, "wt_at", o.wt_at);
    WriteTime(w, "ok_at", o.ok_at);
    WriteTime(w, "fa_at", o.fa_at);
    WriteTime(w, "sp_at", o.sp_at);
    WriteTime(w, "dn_at", o.dn_at);
    WriteTime(w, "expi", o.expi);
    WriteTime(w, "rf_at", o.rf_at);
    // What went back (OK refunds), and every refund with its state, in the order's money.
    w.Key("refunded");
    http::WriteMoney(w, o.refunded, exp);
    WriteRefunds(w, o.refunds, exp);
    if (who == Audience::kOperator) {
        // Why a paid order is never shipped or refunded here: its payment was taken back (for good).
        WriteTime(w, "chargeback_at", o.chargeback_at);
        // Money held that is not the order's payment (a late or double payment): the back office
        // sees it here and gives it back with admin/refund's "slip" (its refunds are also among
        // the order's `refunds`, which list every refund of the order).
        w.Key("refund_needed");
        w.StartArray();
        for (const store::HeldSlip& h : o.refund_needed) {
            w.StartObject();
            WriteStr(w, "slip", h.id);
            WriteStr(w, "pay_tp", h.pay_tp);
            WriteStr(w, "provider", h.provider);
            w.Key("amount");
            http::WriteMoney(w, h.amount, exp);
            WriteTime(w, "paid_at", h.paid_at);
            WriteStr(w, "note", h.note);
            w.Key("refunded");
            http::WriteMoney(w, h.refunded, exp);
            WriteRefunds(w, h.refunds, exp);
            w.EndObject();
        }
        w.EndArray();
    }
    // Contact and address fields given at buy, stored as one JSON object, surface at top level.
    rapidjson::Document contact;
    if (with_buyer && http::ParseJson(o.contact_json, contact).empty() && contact.IsObject()) {
        for (auto& m : contact.GetObject()) {
            if (!m.value.IsString()) continue;
            w.Key(m.name.GetString(), m.name.GetStringLength());
            w.String(m.value.GetString(), m.value.GetStringLength());
        }
    }
    w.EndObject();
    return buf.GetString();
}

}  // namespace orderpay::app
