// QR codes as SVG for pay/qr: the slip's QR text encoded with libqrencode, drawn as one path, so
// a shop's front end can show it with an <img> and needs no QR library of its own.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace orderpay::http {

/// A square QR symbol: width x width modules, row by row, true = dark.
struct QrMatrix {
    int width = 0;
    std::vector<bool> dark;

    bool At(int x, int y) const { return dark[static_cast<std::size_t>(y) * width + x]; }
};

/// Longest QR text pay/qr encodes. Version 40 at level M holds 2331 bytes; providers' QR texts
/// are URLs of well under 200 bytes, so anything near this is not a QR text.
inline constexpr std::size_t kMaxQrText = 2048;

/// Encodes `text` (UTF-8 bytes, no NUL) at error correction level M, the smallest version that
/// holds it. nullopt for empty text, a NUL byte, text over kMaxQrText, or a libqrencode failure.
std::optional<QrMatrix> EncodeQr(std::string_view text);

/// The SVG document for `m` with a quiet zone of `margin` modules: a white background rect and
/// one black path of horizontal runs ("M x,y h n v1 h -n z"), in module units (viewBox), so it
/// scales without blurring. Pure: the same matrix always gives the same bytes.
std::string RenderQrSvg(const QrMatrix& m, int margin = 4);

}  // namespace orderpay::http
