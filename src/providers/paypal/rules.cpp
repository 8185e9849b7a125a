// PayPal's pure rules: currency precision (developer.paypal.com "Currency codes": JPY, HUF and
// TWD take no decimals), CRC32 and the webhook's signed string, the certificate URL allowlist
// and the leaf CN rule of PROTOCOLS.md §3.3 (PayPal-Java-SDK SSLUtil).
#include <array>

#include "orderpay/domain/money.hpp"
#include "orderpay/providers/paypal/webhook.hpp"

namespace orderpay::paypal {

namespace {

struct CurrencyRow {
    std::string_view code;
    int decimals;
};

// The currencies PayPal's REST API takes.
constexpr std::array<CurrencyRow, 24> kCurrencies = {{
    {"AUD", 2}, {"BRL", 2}, {"CAD", 2}, {"CNY", 2}, {"CZK", 2}, {"DKK", 2}, {"EUR", 2}, {"HKD", 2},
    {"HUF", 0}, {"ILS", 2}, {"JPY", 0}, {"MYR", 2}, {"MXN", 2}, {"TWD", 0}, {"NZD", 2}, {"NOK", 2},
    {"PHP", 2}, {"PLN", 2}, {"GBP", 2}, {"SGD", 2}, {"SEK", 2}, {"CHF", 2}, {"THB", 2}, {"USD", 2},
}};

std::int64_t Pow10(int n) {
    std::int64_t v = 1;
    while (n-- > 0) v *= 10;
    return v;
}

}  // namespace

std::optional<int> PaypalDecimals(std::string_view currency) {
    for (const CurrencyRow& c : kCurrencies)
        if (c.code == currency) return c.decimals;
    return std::nullopt;
}

std::optional<std::string> FormatAmount(std::int64_t minor, std::string_view currency) {
    std::optional<int> pp = PaypalDecimals(currency);
    std::optional<int> ours = domain::CurrencyExponent(currency);
    if (!pp || !ours || minor < 0) return std::nullopt;
    if (*ours >= *pp) {
        const std::int64_t unit = Pow10(*ours - *pp);
        if (minor % unit != 0) return std::nullopt;  // a fraction PayPal cannot charge
        return domain::FormatDecimal(minor / unit, *pp);
    }
    std::optional<std::int64_t> scaled = domain::CheckedMul(minor, Pow10(*pp - *ours));
    if (!scaled) return std::nullopt;
    return domain::FormatDecimal(*scaled, *pp);
}

std::optional<std::int64_t> ParseAmount(std::string_view value, std::string_view currency) {
    std::optional<int> pp = PaypalDecimals(currency);
    std::optional<int> ours = domain::CurrencyExponent(currency);
    if (!pp || !ours) return std::nullopt;
    // Fewer decimals than it allows ("100" for 100.00) or more zeros ("9.000") are the same
    // value: read exactly at our exponent, as every provider's amount is (README "Amounts
    // providers send").
    return domain::ParseProviderAmount(value, *ours);
}

std::uint32_t Crc32(std::string_view data) {
    static const std::array<std::uint32_t, 256> table = [] {
        std::array<std::uint32_t, 256> t{};
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    std::uint32_t crc = 0xFFFFFFFFu;
    for (unsigned char b : data) crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

std::string SignedString(std::string_view transmission_id, std::string_view transmission_time,
                         std::string_view webhook_id, std::string_view body) {
    std::string out;
    out.append(transmission_id).append("|").append(transmission_time).append("|").append(webhook_id);
    out.append("|").append(std::to_string(Crc32(body)));
    return out;
}

bool CertUrlAllowed(std::string_view url, const std::vector<std::string>& hosts, std::string& why) {
    constexpr std::string_view kScheme = "https://";
    if (url.size() > 2048) {
        why = "certificate URL too long";
        return false;
    }
    if (url.substr(0, kScheme.size()) != kScheme) {
        why = "certificate URL is not https";
        return false;
    }
    std::string_view rest = url.substr(kScheme.size());
    std::size_t end = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, end);
    if (end == std::string_view::npos || rest[end] != '/') {
        why = "certificate URL has no path";
        return false;
    }
    for (char c : url) {
        if (static_cast<unsigned char>(c) <= ' ' || c == '\\' || c == 0x7f) {
            why = "certificate URL has a control, space or backslash";
            return false;
        }
    }
    // One spelling per certificate: a query, a fragment (which libcurl drops), an escape or a
    // dot segment would make other URLs of the same certificate, each cached on its own, and
    // enough of them would push the ones in use out of the cache (review s25-diff #1).
    const std::string_view path = rest.substr(end);
    if (path.find_first_of("?#%") != std::string_view::npos || path.find("//") != std::string_view::npos ||
        path.find("/./") != std::string_view::npos || path.find("/../") != std::string_view::npos ||
        path.ends_with("/.") || path.ends_with("/..")) {
        why = "certificate URL has a query, fragment, escape or dot segment";
        return false;
    }
    // user@host is how allowlists get bypassed; the real URLs have none. A port must be part
    // of the allowed entry itself (paysim's "127.0.0.1:PORT"); PayPal's hosts have none.
    if (authority.find('@') != std::string_view::npos) {
        why = "certificate URL names user info";
        return false;
    }
    for (const std::string& h : hosts)
        if (authority == h) return true;
    why = "certificate host " + std::string(authority) + " is not allowed";
    return false;
}

bool CnAllowed(std::string_view cn, std::string_view prefix, std::string_view suffix) {
    return cn.size() >= prefix.size() + suffix.size() && cn.substr(0, prefix.size()) == prefix &&
           cn.substr(cn.size() - suffix.size()) == suffix;
}

}  // namespace orderpay::paypal
