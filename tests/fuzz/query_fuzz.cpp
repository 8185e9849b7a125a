// Fuzz target: query-string decoding (http::PercentDecode both ways, http::ParseForm as the worker
// applies it to QUERY_STRING), checking escapes, the pair limit and the encode/decode round trip.
#include <cstdint>
#include <limits>

#include "fuzz_check.hpp"
#include "orderpay/http/form.hpp"

namespace {

using namespace orderpay;

bool IsHex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Escapes in `text`, or -1 when a '%' is not followed by two hex digits.
long CountEscapes(std::string_view text) {
    long n = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') continue;
        if (i + 2 >= text.size() || !IsHex(text[i + 1]) || !IsHex(text[i + 2])) return -1;
        ++n;
        i += 2;
    }
    return n;
}

void CheckDecode(std::string_view text, bool plus_is_space) {
    const std::optional<std::string> decoded = http::PercentDecode(text, plus_is_space);
    const long escapes = CountEscapes(text);
    FUZZ_CHECK(decoded.has_value() == (escapes >= 0));
    if (!decoded) return;
    // Each escape shrinks three bytes to one; nothing else changes length.
    FUZZ_CHECK(decoded->size() == text.size() - 2 * static_cast<std::size_t>(escapes));
    if (escapes == 0 && (!plus_is_space || text.find('+') == std::string_view::npos))
        FUZZ_CHECK(*decoded == text);
    // What we encode (either way of writing a space) decodes back to the same bytes.
    const std::string encoded = http::PercentEncode(*decoded);
    const std::string encoded_plus = http::PercentEncode(*decoded, true);
    FUZZ_CHECK(http::PercentDecode(encoded, false) == decoded);
    FUZZ_CHECK(http::PercentDecode(encoded, true) == decoded);
    FUZZ_CHECK(http::PercentDecode(encoded_plus, true) == decoded);
    for (char c : encoded_plus) FUZZ_CHECK(c != '&' && c != '=' && c != ' ');
}

void CheckForm(std::string_view text) {
    constexpr std::size_t kNoLimit = std::numeric_limits<std::size_t>::max();
    const std::optional<http::FormPairs> all = http::ParseForm(text, kNoLimit);
    const std::optional<http::FormPairs> worker = http::ParseForm(text);  // the default limit, 256

    std::size_t segments = 0;
    bool escapes_ok = true;
    for (std::size_t start = 0; start <= text.size();) {
        std::size_t end = text.find('&', start);
        if (end == std::string_view::npos) end = text.size();
        if (end > start) {
            ++segments;
            if (CountEscapes(text.substr(start, end - start)) < 0) escapes_ok = false;
        }
        start = end + 1;
    }
    FUZZ_CHECK(all.has_value() == escapes_ok);
    if (!all) {
        FUZZ_CHECK(!worker);
        return;
    }
    FUZZ_CHECK(all->size() == segments);
    FUZZ_CHECK(worker.has_value() == (segments <= 256));
    if (worker) FUZZ_CHECK(*worker == *all);
    if (segments > 0) {
        FUZZ_CHECK(http::ParseForm(text, segments));
        FUZZ_CHECK(!http::ParseForm(text, segments - 1));
    }
    // A decoded form re-encoded by us parses back to the same pairs, in order.
    FUZZ_CHECK(http::ParseForm(http::EncodeForm(*all), kNoLimit) == all);
    FUZZ_CHECK(http::ParseForm(http::EncodeForm(*all, true), kNoLimit) == all);
    // FormValue answers the first pair with the name.
    for (std::size_t i = 0; i < all->size() && i < 32; ++i) {
        const std::string& name = (*all)[i].first;
        std::size_t first = 0;
        while ((*all)[first].first != name) ++first;
        FUZZ_CHECK(http::FormValue(*all, name) == (*all)[first].second);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = fuzz::AsText(data, size);
    CheckDecode(text, false);
    CheckDecode(text, true);
    CheckForm(text);
    return 0;
}
