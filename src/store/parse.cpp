// Column-to-struct conversion for slips and orders; states become the domain's enums here.
#include "store/parse.hpp"

#include <stdexcept>

#include "orderpay/http/json.hpp"

namespace orderpay::store {

SlipRow SlipFrom(const db::Result& r, int row, const std::string& prefix) {
    std::string full;  // prefix + name, its buffer reused for every column
    auto col = [&](const char* name) { return r.Col(full.assign(prefix).append(name).c_str()); };
    SlipRow s;
    s.id = r.Get(row, col("id"));
    s.order_id = r.Get(row, col("order_id"));
    s.site_id = r.Get(row, col("site_id"));
    s.pay_tp = r.Get(row, col("pay_tp"));
    s.provider = r.Get(row, col("provider"));
    s.merchant_id = r.Get(row, col("merchant_id"));
    s.amount = r.GetInt(row, col("amount"));
    s.currency = r.Get(row, col("currency"));
    s.st = domain::ParseSlipState(r.Get(row, col("st"))).value_or(domain::SlipState::kFail);
    s.re_tp = r.Get(row, col("re_tp"));
    s.re_obj = r.Get(row, col("re_obj"));
    s.provider_txn_id = r.GetOpt(row, col("provider_txn_id"));
    s.superseded = r.Get(row, col("superseded")) == "t";
    s.refund_needed = r.Get(row, col("refund_needed")) == "t";
    s.note = r.Get(row, col("note"));
    s.provider_ref = r.GetOpt(row, col("provider_ref")).value_or("");
    // The statements reading SLIP_COLS or PREFIXED_SLIP_COLS carry its code's age, others not.
    if (r.HasCol(full.assign(prefix).append("code_age_ms").c_str())) {
        const int age = r.Col(full.c_str());
        if (!r.IsNull(row, age)) s.code_age_ms = r.GetInt(row, age);
    }
    return s;
}

namespace {

std::optional<std::int64_t> OptMs(const db::Result& r, int row, const char* col) {
    int i = r.Col(col);
    if (r.IsNull(row, i)) return std::nullopt;
    return r.GetInt(row, i);
}

// The refunds_json column (REFUND_COLS_OF): our own SQL's output, so a shape it cannot have is a
// bug, not input to forgive.
std::vector<RefundLine> RefundLines(const rapidjson::Value& doc) {
    if (!doc.IsArray()) throw std::runtime_error("refunds_json is not a JSON array");
    std::vector<RefundLine> out;
    for (const rapidjson::Value& v : doc.GetArray()) {
        RefundLine l;
        l.id = http::GetString(v, "id").value_or("");
        l.amount = http::GetInt(v, "amount").value_or(0);
        l.st = http::GetString(v, "st").value_or("");
        l.reason = http::GetString(v, "reason").value_or("");
        l.ct = http::GetInt(v, "ct").value_or(0);
        l.ok_at = http::GetInt(v, "ok_at");
        out.push_back(std::move(l));
    }
    return out;
}

std::vector<RefundLine> RefundLines(const std::string& text) {
    rapidjson::Document doc;
    if (!http::ParseJson(text, doc, {1 << 24, 4}).empty())
        throw std::runtime_error("refunds_json is not a JSON array");
    return RefundLines(doc);
}

// The refund_needed_json column (HELD_SLIPS_OF): our own SQL's output, as refunds_json is.
std::vector<HeldSlip> HeldSlips(const std::string& text) {
    rapidjson::Document doc;
    if (!http::ParseJson(text, doc, {1 << 24, 6}).empty() || !doc.IsArray())
        throw std::runtime_error("refund_needed_json is not a JSON array");
    std::vector<HeldSlip> out;
    for (const rapidjson::Value& v : doc.GetArray()) {
        HeldSlip h;
        h.id = http::GetString(v, "slip").value_or("");
        h.pay_tp = http::GetString(v, "pay_tp").value_or("");
        h.provider = http::GetString(v, "provider").value_or("");
        h.note = http::GetString(v, "note").value_or("");
        h.amount = http::GetInt(v, "amount").value_or(0);
        h.paid_at = http::GetInt(v, "paid_at");
        auto it = v.FindMember("refunds");
        if (it == v.MemberEnd()) throw std::runtime_error("refund_needed_json has a slip without refunds");
        h.refunds = RefundLines(it->value);
        for (const RefundLine& r : h.refunds)
            if (r.st == "OK") h.refunded += r.amount;
        out.push_back(std::move(h));
    }
    return out;
}

}  // namespace

OrderRecord OrderFrom(const db::Result& r, int row) {
    OrderRecord o;
    o.id = r.Get(row, "id");
    o.site_id = r.Get(row, "site_id");
    o.tp = r.Get(row, "tp");
    o.title = r.Get(row, "title");
    o.note = r.Get(row, "note");
    o.buyer_store = r.Get(row, "buyer_store");
    o.buyer_id = r.Get(row, "buyer_id");
    o.pro_c = r.GetInt(row, "pro_c");
    o.total = r.GetInt(row, "total");
    o.freight = r.GetInt(row, "freight");
    o.discount = r.GetInt(row, "discount");
    o.price = r.GetInt(row, "price");
    o.fee = r.GetInt(row, "fee");
    o.currency = r.Get(row, "currency");
    o.pay_tp = r.Get(row, "pay_tp");
    o.pay_id = r.GetOpt(row, "pay_id");
    o.seller = r.GetOpt(row, "seller");
    o.or_st = domain::ParseOrderState(r.Get(row, "or_st")).value_or(domain::OrderState::kFA);
    o.contact_json = r.Get(row, "contact");
    o.ct = r.GetInt(row, "ct");
    o.lm = r.GetInt(row, "lm");
    o.wt_at = OptMs(r, row, "wt_at");
    o.ok_at = OptMs(r, row, "ok_at");
    o.fa_at = OptMs(r, row, "fa_at");
    o.sp_at = OptMs(r, row, "sp_at");
    o.dn_at = OptMs(r, row, "dn_at");
    o.expi = r.GetInt(row, "expi");
    o.expired = r.Get(row, "expired") == "t";
    o.rf_at = OptMs(r, row, "rf_at");
    o.refunded = r.GetInt(row, "refunded");
    o.refunds = RefundLines(r.Get(row, "refunds_json"));
    // Read by the operators' views only (OPERATOR_ORDER_COLS).
    if (r.HasCol("chargeback_at")) o.chargeback_at = OptMs(r, row, "chargeback_at");
    if (r.HasCol("refund_needed_json")) o.refund_needed = HeldSlips(r.Get(row, "refund_needed_json"));
    return o;
}

std::string TextArray(const std::vector<std::string>& items) {
    std::string out = "{";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i) out += ',';
        out += '"';
        for (char ch : items[i]) {
            if (ch == '"' || ch == '\\') out += '\\';
            out += ch;
        }
        out += '"';
    }
    return out + "}";
}

std::string IntArray(const std::vector<std::int64_t>& items) {
    std::string out = "{";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i) out += ',';
        out += std::to_string(items[i]);
    }
    return out + "}";
}

void OrderParts(const db::Result& r, int begin, int end, OrderRecord& order, std::vector<OrderItem>& items,
                std::optional<SlipRow>& slip) {
    order = OrderFrom(r, begin);
    const int id = r.Col("i_product_id"), title = r.Col("i_title"), amount = r.Col("i_amount"),
              price = r.Col("i_price"), subtotal = r.Col("i_subtotal");
    for (int i = begin; i < end; ++i) {
        if (r.IsNull(i, id)) continue;
        items.push_back(
            {r.Get(i, id), r.Get(i, title), r.GetInt(i, amount), r.GetInt(i, price), r.GetInt(i, subtotal)});
    }
    if (!r.IsNull(begin, r.Col("s_id"))) slip = SlipFrom(r, begin, "s_");
}

}  // namespace orderpay::store
