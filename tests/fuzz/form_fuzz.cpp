// Fuzz target: Alipay notification forms as bytes (http::ParseForm keeps GBK/UTF-8 values as
// received; http::EncodeForm with '+' for spaces, the way Alipay writes them) and the charset
// step (alipay::GbkToUtf8 on each value and on the raw body).
#include <iconv.h>

#include <cstdint>
#include <limits>

#include "fuzz_check.hpp"
#include "orderpay/http/form.hpp"
#include "orderpay/providers/alipay/sign.hpp"

namespace {

using namespace orderpay;

bool IsAscii(std::string_view s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) >= 0x80) return false;
    return true;
}

// UTF-8 -> GB18030 with iconv directly: the reverse of what GbkToUtf8 does.
std::optional<std::string> Utf8ToGb18030(const std::string& utf8) {
    static const iconv_t cd = iconv_open("GB18030", "UTF-8");
    FUZZ_CHECK(cd != reinterpret_cast<iconv_t>(-1));
    iconv(cd, nullptr, nullptr, nullptr, nullptr);
    std::string out(utf8.size() * 4 + 16, '\0');
    char* in = const_cast<char*>(utf8.data());
    std::size_t in_left = utf8.size();
    char* dst = out.data();
    std::size_t dst_left = out.size();
    if (iconv(cd, &in, &in_left, &dst, &dst_left) == static_cast<std::size_t>(-1)) return std::nullopt;
    out.resize(out.size() - dst_left);
    return out;
}

// GB18030 covers all of Unicode: text that converts must be valid UTF-8, ASCII must come out
// unchanged, and converting the result back must give the same UTF-8 again.
void CheckCharset(std::string_view bytes) {
    const std::optional<std::string> utf8 = alipay::GbkToUtf8(bytes);
    if (IsAscii(bytes)) FUZZ_CHECK(utf8 == bytes);
    if (!utf8) return;
    FUZZ_CHECK(fuzz::IsUtf8(*utf8));
    FUZZ_CHECK(utf8->size() <= bytes.size() * 2);
    const std::optional<std::string> back = Utf8ToGb18030(*utf8);
    FUZZ_CHECK(back);
    FUZZ_CHECK(alipay::GbkToUtf8(*back) == utf8);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view body = fuzz::AsText(data, size);
    CheckCharset(body);

    const std::optional<http::FormPairs> pairs = http::ParseForm(body);  // as pay/re_zfb does
    if (!pairs) return 0;
    // Bytes survive our encoding with '+' for spaces (Alipay's way) and with %20.
    FUZZ_CHECK(http::ParseForm(http::EncodeForm(*pairs, true)) == pairs);
    FUZZ_CHECK(http::ParseForm(http::EncodeForm(*pairs, false)) == pairs);

    // Values are transcoded only after verification, and only with a GBK charset; here every
    // decoded name and value that is not plain ASCII goes through the converter, so GBK-looking
    // bytes from %XX escapes are reached whatever the charset says.
    for (const auto& [name, value] : *pairs) {
        if (!IsAscii(name)) CheckCharset(name);
        if (!IsAscii(value)) CheckCharset(value);
    }
    return 0;
}
