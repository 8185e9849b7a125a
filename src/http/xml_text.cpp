// XML 1.0's characters (Char, section 2.2): what the flat XML parser accepts and the writer emits.
#include <cstdint>
#include <cstring>

#include "orderpay/http/xml.hpp"

namespace orderpay::http {

bool IsXmlChar(char32_t cp) {
    return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
           (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

bool IsXmlText(std::string_view v, bool allow_cr) {
    constexpr std::uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
    std::size_t i = 0;
    while (i < v.size()) {
        // Plain printable ASCII eight bytes at a time (the byte loop was 2-5 % of pay/buy's and
        // re_wx's instructions): no byte with its high bit set, and then none below 0x20, which
        // w - 0x20 in each byte shows as a borrow into that byte's high bit. Anything else takes
        // the byte loop below.
        if (i + 8 <= v.size()) {
            std::uint64_t w;
            std::memcpy(&w, v.data() + i, 8);
            if ((w & kHigh) == 0 && ((w - 0x20 * kOnes) & kHigh) == 0) {
                i += 8;
                continue;
            }
        }
        const auto b = static_cast<unsigned char>(v[i]);
        if ((b >= 0x20 && b < 0x80) || b == '\t' || b == '\n') {  // the common case: plain ASCII
            ++i;
            continue;
        }
        const std::size_t len = b < 0x80             ? 1
                                : (b & 0xE0) == 0xC0 ? 2
                                : (b & 0xF0) == 0xE0 ? 3
                                : (b & 0xF8) == 0xF0 ? 4
                                                     : 0;
        if (len == 0) return false;
        char32_t cp = len == 1 ? b : b & (0x7F >> len);  // payload bits of the lead byte
        if (i + len > v.size()) return false;
        for (std::size_t k = 1; k < len; ++k) {
            const auto c = static_cast<unsigned char>(v[i + k]);
            if ((c & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (c & 0x3F);
        }
        static constexpr char32_t kMinForLen[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < kMinForLen[len]) return false;  // overlong
        if (!IsXmlChar(cp) || (cp == 0xD && !allow_cr)) return false;
        i += len;
    }
    return true;
}

}  // namespace orderpay::http
