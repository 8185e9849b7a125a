// QR encoding (libqrencode) and SVG drawing for pay/qr.
#include "orderpay/http/qr_svg.hpp"

#include "orderpay/core/c_handles.hpp"

namespace orderpay::http {

std::optional<QrMatrix> EncodeQr(std::string_view text) {
    if (text.empty() || text.size() > kMaxQrText || text.find('\0') != std::string_view::npos)
        return std::nullopt;
    // QRcode_encodeString needs a C string; QR_MODE_8 with case sensitivity lets it pick numeric,
    // alphanumeric and 8-bit segments itself, which keeps provider URLs in small versions.
    std::string z(text);
    QrCodePtr code(QRcode_encodeString(z.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1));
    if (!code || code->width <= 0) return std::nullopt;
    QrMatrix m;
    m.width = code->width;
    const std::size_t n = static_cast<std::size_t>(code->width) * static_cast<std::size_t>(code->width);
    m.dark.resize(n);
    for (std::size_t i = 0; i < n; ++i) m.dark[i] = (code->data[i] & 1) != 0;  // bit 0: dark module
    return m;
}

std::string RenderQrSvg(const QrMatrix& m, int margin) {
    const int size = m.width + 2 * margin;
    const std::string s = std::to_string(size);
    std::string out;
    out.reserve(256 + static_cast<std::size_t>(m.width) * static_cast<std::size_t>(m.width) * 4);
    out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    out += "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + s + " " + s + "\" width=\"" +
           std::to_string(size * 8) + "\" height=\"" + std::to_string(size * 8) +
           "\" shape-rendering=\"crispEdges\">";
    out += "<rect width=\"" + s + "\" height=\"" + s + "\" fill=\"#fff\"/>";
    out += "<path fill=\"#000\" d=\"";
    for (int y = 0; y < m.width; ++y) {
        int x = 0;
        while (x < m.width) {
            if (!m.At(x, y)) {
                ++x;
                continue;
            }
            int run = 1;
            while (x + run < m.width && m.At(x + run, y)) ++run;
            out += "M" + std::to_string(x + margin) + "," + std::to_string(y + margin) + "h" +
                   std::to_string(run) + "v1h-" + std::to_string(run) + "z";
            x += run;
        }
    }
    out += "\"/></svg>\n";
    return out;
}

}  // namespace orderpay::http
