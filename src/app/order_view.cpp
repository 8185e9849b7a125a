// Order JSON in the seed's field names. Money leaves as a JSON number with the currency's
// decimals, written from integer minor units (never through a double).
#include "orderpay/app/order_view.hpp"

#include "orderpay/domain/money.hpp"
#include "orderpay/http/json.hpp"
#include "orderpay/store/rows.hpp"
#include "orderpay/store/statements.hpp"

namespace orderpay::app {

namespace {

void WriteTime(http::JsonWriter& w, const db::Result& r, const char* col) {
    w.Key(col);
    if (r.IsNull(0, r.Col(col))) {
        w.Null();
    } else {
        w.Int64(r.GetInt(0, col));
    }
}

void WriteStr(http::JsonWriter& w, const char* key, const std::string& v) {
    w.Key(key);
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

void WritePayRe(http::JsonWriter& w, const std::optional<store::SlipRow>& slip) {
    w.Key("pay_re");
    if (!slip) {
        w.Null();
        return;
    }
    w.StartObject();
    WriteStr(w, "st", slip->st);
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

}  // namespace

std::optional<OrderRow> LoadOrder(db::Connection& c, const std::string& site, const std::string& id,
                                  std::string* json) {
    db::Result r = c.Exec(store::kOrderGet, {site, id});
    if (r.Rows() == 0) return std::nullopt;
    OrderRow o;
    o.id = r.Get(0, "id");
    o.site_id = r.Get(0, "site_id");
    o.tp = r.Get(0, "tp");
    o.title = r.Get(0, "title");
    o.buyer_store = r.Get(0, "buyer_store");
    o.buyer_id = r.Get(0, "buyer_id");
    o.or_st = r.Get(0, "or_st");
    o.currency = r.Get(0, "currency");
    o.pay_tp = r.Get(0, "pay_tp");
    o.pay_id = r.GetOpt(0, "pay_id");
    o.fee = r.GetInt(0, "fee");
    o.expi_ms = r.GetInt(0, "expi");
    o.expired = r.Get(0, "expired") == "t";
    if (!json) return o;

    const int exp = domain::CurrencyExponent(o.currency).value_or(2);
    rapidjson::StringBuffer buf;
    http::JsonWriter w(buf);
    w.StartObject();
    WriteStr(w, "id", o.id);
    WriteStr(w, "tp", o.tp);
    WriteStr(w, "title", o.title);
    WriteStr(w, "note", r.Get(0, "note"));
    w.Key("products");
    w.StartArray();
    db::Result items = c.Exec(store::kItemsGet, {o.id});
    for (int i = 0; i < items.Rows(); ++i) {
        w.StartObject();
        WriteStr(w, "id", items.Get(i, "product_id"));
        WriteStr(w, "title", items.Get(i, "title"));
        w.Key("amount");
        w.Int64(items.GetInt(i, "amount"));
        w.Key("price");
        http::WriteMoney(w, items.GetInt(i, "price"), exp);
        w.Key("subtotal");
        http::WriteMoney(w, items.GetInt(i, "subtotal"), exp);
        w.EndObject();
    }
    w.EndArray();
    w.Key("pro_c");
    w.Int64(r.GetInt(0, "pro_c"));
    for (const char* money : {"total", "freight", "discount", "price", "fee"}) {
        w.Key(money);
        http::WriteMoney(w, r.GetInt(0, money), exp);
    }
    WriteStr(w, "currency", o.currency);
    WriteStr(w, "pay_tp", o.pay_tp);
    http::WriteOptString(w, "pay_id", o.pay_id);
    std::optional<store::SlipRow> slip = o.pay_id ? store::FindSlip(c, *o.pay_id) : store::LiveSlip(c, o.id);
    WritePayRe(w, slip);
    http::WriteOptString(w, "seller", r.GetOpt(0, "seller"));
    WriteStr(w, "buyer_id", o.buyer_id);
    WriteStr(w, "or_st", o.or_st);
    for (const char* t : {"ct", "lm", "wt_at", "ok_at", "fa_at", "sp_at", "dn_at", "expi"})
        WriteTime(w, r, t);
    // Contact and address fields given at buy, stored as one JSON object, surface at top level.
    rapidjson::Document contact;
    if (http::ParseJson(r.Get(0, "contact"), contact).empty() && contact.IsObject()) {
        for (auto& m : contact.GetObject()) {
            if (!m.value.IsString()) continue;
            w.Key(m.name.GetString(), m.name.GetStringLength());
            w.String(m.value.GetString(), m.value.GetStringLength());
        }
    }
    w.EndObject();
    *json = buf.GetString();
    return o;
}

}  // namespace orderpay::app
