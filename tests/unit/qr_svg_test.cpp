// Unit tests for http/qr_svg: libqrencode's symbol for a provider-like URL (size, finder
// patterns, limits) and the SVG drawing, read back module by module from the path it writes.
#include "orderpay/http/qr_svg.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace orderpay::http {
namespace {

// Reads RenderQrSvg's path back into a matrix (the runs "Mx,yhNv1h-Nz"), undoing the margin.
// (No std::regex: GCC 12's regex headers warn under the sanitizer build's -O1, and -Werror.)
QrMatrix ParseSvg(const std::string& svg, int width, int margin) {
    QrMatrix m;
    m.width = width;
    m.dark.assign(static_cast<std::size_t>(width) * width, false);
    const std::size_t d = svg.find(" d=\"");
    EXPECT_NE(d, std::string::npos);
    const char* p = svg.c_str() + d + 4;
    int x = 0, y = 0, n = 0, n2 = 0, used = 0;
    while (std::sscanf(p, "M%d,%dh%dv1h-%dz%n", &x, &y, &n, &n2, &used) == 4) {
        p += used;
        EXPECT_EQ(n, n2);
        x -= margin;
        y -= margin;
        for (int i = 0; i < n; ++i) {
            EXPECT_TRUE(x + i >= 0 && x + i < width && y >= 0 && y < width) << x + i << "," << y;
            std::size_t at = static_cast<std::size_t>(y) * width + x + i;
            EXPECT_FALSE(m.dark[at]) << "module drawn twice";
            m.dark[at] = true;
        }
    }
    EXPECT_EQ(*p, '"') << "the path has something other than runs: " << std::string(p).substr(0, 40);
    return m;
}

// The 7x7 finder pattern with its top-left corner at (x, y): dark ring, light ring, dark 3x3.
void ExpectFinder(const QrMatrix& m, int x0, int y0) {
    for (int y = 0; y < 7; ++y)
        for (int x = 0; x < 7; ++x) {
            bool ring = x == 0 || y == 0 || x == 6 || y == 6;
            bool core = x >= 2 && x <= 4 && y >= 2 && y <= 4;
            EXPECT_EQ(m.At(x0 + x, y0 + y), ring || core) << x0 + x << "," << y0 + y;
        }
}

TEST(QrSvg, EncodesAWeChatUrl) {
    std::optional<QrMatrix> m = EncodeQr("weixin://wxpay/bizpayurl?pr=AbCdEfG12");
    ASSERT_TRUE(m);
    // 37 bytes at level M need version 3: 29 modules.
    EXPECT_EQ(m->width, 29);
    ASSERT_EQ(m->dark.size(), 29u * 29u);
    ExpectFinder(*m, 0, 0);
    ExpectFinder(*m, m->width - 7, 0);
    ExpectFinder(*m, 0, m->width - 7);
    // Timing pattern between the top finders: alternating, starting dark.
    for (int x = 8; x < m->width - 8; ++x) EXPECT_EQ(m->At(x, 6), x % 2 == 0) << x;
}

TEST(QrSvg, SmallestVersionGrowsWithText) {
    EXPECT_EQ(EncodeQr("A")->width, 21);
    EXPECT_EQ(EncodeQr(std::string(200, 'x'))->width, 4 * 10 + 17);  // 200 bytes at M: version 10 (213)
    std::optional<QrMatrix> big = EncodeQr(std::string(kMaxQrText, 'x'));
    ASSERT_TRUE(big);
    EXPECT_EQ(big->width, 4 * 38 + 17);  // 2048 bytes at M: version 38 (2113)
}

TEST(QrSvg, RefusesWhatIsNoQrText) {
    EXPECT_FALSE(EncodeQr(""));
    EXPECT_FALSE(EncodeQr(std::string(kMaxQrText + 1, 'x')));
    EXPECT_FALSE(EncodeQr(std::string("ab\0cd", 5)));
}

TEST(QrSvg, EncodesUtf8AsBytes) {
    std::optional<QrMatrix> a = EncodeQr("https://example.com/p?q=\xE7\xBB\xBF\xE8\x8C\xB6");
    std::optional<QrMatrix> b = EncodeQr("https://example.com/p?q=\xE7\xBB\xBF\xE8\x8C\xB7");
    ASSERT_TRUE(a && b);
    EXPECT_NE(a->dark, b->dark);
}

TEST(QrSvg, SvgHoldsExactlyTheMatrix) {
    std::optional<QrMatrix> m = EncodeQr("https://qr.alipay.com/bax08431xyz");
    ASSERT_TRUE(m);
    std::string svg = RenderQrSvg(*m);
    QrMatrix back = ParseSvg(svg, m->width, 4);
    EXPECT_EQ(back.dark, m->dark);
    const std::string size = std::to_string(m->width + 8);
    EXPECT_NE(svg.find("viewBox=\"0 0 " + size + " " + size + "\""), std::string::npos) << svg.substr(0, 200);
    EXPECT_NE(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
    EXPECT_EQ(svg, RenderQrSvg(*m));  // deterministic: the ETag's premise
}

TEST(QrSvg, RunsAndMarginOnATinyMatrix) {
    QrMatrix m;
    m.width = 3;
    m.dark = {true,  true,  false,  //
              false, false, false,  //
              true,  false, true};
    std::string svg = RenderQrSvg(m, 1);
    EXPECT_NE(svg.find("d=\"M1,1h2v1h-2zM1,3h1v1h-1zM3,3h1v1h-1z\""), std::string::npos) << svg;
    EXPECT_NE(svg.find("viewBox=\"0 0 5 5\""), std::string::npos);
    QrMatrix empty;
    empty.width = 2;
    empty.dark.assign(4, false);
    EXPECT_NE(RenderQrSvg(empty, 0).find("d=\"\""), std::string::npos);
}

}  // namespace
}  // namespace orderpay::http
