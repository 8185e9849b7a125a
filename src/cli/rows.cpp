// A listing's rows as JSON, each value by its column's type: libpq gives every value as text,
// and a script reading `site list --json` must get 30, true and null, not "30", "t" and "".
#include <cstdio>
#include <ctime>
#include <string_view>

#include "orderpay/cli/cli.hpp"
#include "orderpay/http/reply.hpp"

namespace orderpay::cli {

namespace {

// JSON's number grammar: PostgreSQL's float and numeric also print NaN and Infinity, which
// JSON has no number for; those are written as strings rather than as invalid JSON.
bool IsJsonNumber(std::string_view s) {
    std::size_t i = 0;
    auto digits = [&] {
        const std::size_t from = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
        return i > from;
    };
    if (i < s.size() && s[i] == '-') ++i;
    if (i < s.size() && s[i] == '0') {
        ++i;
    } else if (!digits()) {
        return false;
    }
    if (i < s.size() && s[i] == '.' && (++i, !digits())) return false;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
        if (!digits()) return false;
    }
    return i == s.size();
}

}  // namespace

std::string RowsJson(const db::Result& r, const std::vector<std::string>& cols) {
    std::vector<db::Result::Kind> kinds;
    for (std::size_t c = 0; c < cols.size(); ++c) kinds.push_back(r.ColumnKind(static_cast<int>(c)));
    std::string out = "[";
    for (int i = 0; i < r.Rows(); ++i) {
        out += i ? ",{" : "{";
        for (std::size_t c = 0; c < cols.size(); ++c) {
            out += (c ? "," : "") + http::JsonString(cols[c]) + ':';
            const std::optional<std::string> v = r.GetOpt(i, static_cast<int>(c));
            if (!v) {
                out += "null";
            } else if (kinds[c] == db::Result::Kind::kBool) {
                out += *v == "t" ? "true" : "false";
            } else if (kinds[c] == db::Result::Kind::kNumber && IsJsonNumber(*v)) {
                out += *v;
            } else {
                out += http::JsonString(*v);
            }
        }
        out += '}';
    }
    return out + "]";
}

std::string Utc(std::int64_t ms) {
    const std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms % 1000));
    return std::string(buf, n) + frac;
}

}  // namespace orderpay::cli
