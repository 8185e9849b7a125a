// Unit tests for crypto/digest: known-answer vectors, strict base64, constant-time compare, ids.
#include "orderpay/crypto/digest.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

namespace orderpay::crypto {
namespace {

TEST(DigestTest, Md5KnownAnswers) {
    EXPECT_EQ(HexLower(Md5("")), "d41d8cd98f00b204e9800998ecf8427e");
    EXPECT_EQ(HexLower(Md5("abc")), "900150983cd24fb0d6963f7d28e17f72");
    EXPECT_EQ(Md5("abc").size(), 16u);
}

TEST(DigestTest, Sha256KnownAnswers) {
    EXPECT_EQ(HexLower(Sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(HexLower(Sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(DigestTest, DigestsCoverEmbeddedNul) {
    const std::string with_nul("a\0b", 3);
    EXPECT_NE(Sha256(with_nul), Sha256("a"));
    EXPECT_NE(Md5(with_nul), Md5("ab"));
}

// RFC 4231 test cases 1, 2 and 6 (key longer than the block size).
TEST(DigestTest, HmacSha256Rfc4231) {
    EXPECT_EQ(HexLower(HmacSha256(std::string(20, '\x0b'), "Hi There")),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    EXPECT_EQ(HexLower(HmacSha256("Jefe", "what do ya want for nothing?")),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    EXPECT_EQ(HexLower(HmacSha256(std::string(131, '\xaa'),
                                  "Test Using Larger Than Block-Size Key - Hash Key First")),
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(DigestTest, HmacSha256EmptyKeyAndData) {
    EXPECT_EQ(HexLower(HmacSha256("", "")),
              "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(DigestTest, Hex) {
    EXPECT_EQ(HexLower(std::string("\x00\x0f\xa5\xff", 4)), "000fa5ff");
    EXPECT_EQ(HexUpper(std::string("\x00\x0f\xa5\xff", 4)), "000FA5FF");
    EXPECT_EQ(HexLower(""), "");
}

TEST(DigestTest, EqualsIgnoreCaseConstTime) {
    EXPECT_TRUE(EqualsIgnoreCaseConstTime("9A0A8659F005", "9a0a8659f005"));
    EXPECT_TRUE(EqualsIgnoreCaseConstTime("abc", "abc"));
    EXPECT_FALSE(EqualsIgnoreCaseConstTime("abc", "abd"));
    EXPECT_FALSE(EqualsIgnoreCaseConstTime("abc", "abcd"));
    EXPECT_FALSE(EqualsIgnoreCaseConstTime("abc", "ab"));
    EXPECT_FALSE(EqualsIgnoreCaseConstTime("", ""));
    EXPECT_FALSE(EqualsIgnoreCaseConstTime("", "a"));
    // Folding is ASCII letters only: '@' (0x40) and '`' (0x60) differ by the case bit but are
    // not letters, and neither are '[' and '{'.
    EXPECT_FALSE(EqualsIgnoreCaseConstTime("@", "`"));
    EXPECT_FALSE(EqualsIgnoreCaseConstTime("[", "{"));
    EXPECT_FALSE(EqualsIgnoreCaseConstTime("\xc3", "\xe3"));
}

TEST(DigestTest, Base64Rfc4648Vectors) {
    const std::map<std::string, std::string> vectors = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (const auto& [plain, encoded] : vectors) {
        EXPECT_EQ(Base64Encode(plain), encoded);
        std::string out = "junk";
        ASSERT_TRUE(Base64Decode(encoded, out)) << encoded;
        EXPECT_EQ(out, plain);
    }
}

TEST(DigestTest, Base64PaddingLengthWithZeroBytes) {
    // Zero bytes at the end are where EVP_DecodeBlock's padded length would hide a bug.
    std::string out;
    ASSERT_TRUE(Base64Decode("AA==", out));
    EXPECT_EQ(out, std::string(1, '\0'));
    ASSERT_TRUE(Base64Decode("AAA=", out));
    EXPECT_EQ(out, std::string(2, '\0'));
    ASSERT_TRUE(Base64Decode("AAAA", out));
    EXPECT_EQ(out, std::string(3, '\0'));
}

TEST(DigestTest, Base64RejectsMalformed) {
    for (const char* bad : {"Zg=", "Zg", "Z", "Z===", "====", "Zm=v", "Zg=a", "Zg==Zg==", "Zm9v\n", " Zm9v",
                            "Zm9v ", "Zm 9", "Zm9v!", "Zm9-", "Zm9_", "Zm9v\r\n", "=Zm9"}) {
        std::string out = "unchanged";
        EXPECT_FALSE(Base64Decode(bad, out)) << bad;
        EXPECT_EQ(out, "unchanged") << bad;
    }
    std::string out;
    EXPECT_FALSE(Base64Decode(std::string("Zm\0v", 4), out));
}

TEST(DigestTest, Base64RoundTripAllBytesAndLargeInputs) {
    std::string all;
    for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
    std::string out;
    ASSERT_TRUE(Base64Decode(Base64Encode(all), out));
    EXPECT_EQ(out, all);

    // Larger than one internal chunk, in every length class mod 3.
    for (std::size_t n : {std::size_t{200000}, std::size_t{200001}, std::size_t{200002}}) {
        std::string big(n, '\0');
        for (std::size_t i = 0; i < n; ++i) big[i] = static_cast<char>((i * 131 + 7) & 0xff);
        const std::string enc = Base64Encode(big);
        EXPECT_EQ(enc.size(), (n + 2) / 3 * 4);
        ASSERT_TRUE(Base64Decode(enc, out));
        EXPECT_EQ(out, big);
    }
}

TEST(DigestTest, RandomIdShapeAndUniqueness) {
    EXPECT_EQ(RandomId(0), "");
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        const std::string id = RandomId(20);
        ASSERT_EQ(id.size(), 20u);
        for (char c : id) ASSERT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')) << id;
        seen.insert(id);
    }
    EXPECT_EQ(seen.size(), 1000u);
}

TEST(DigestTest, RandomIdUsesWholeAlphabetRoughlyUniformly) {
    std::map<char, int> counts;
    for (char c : RandomId(36 * 2000)) ++counts[c];
    ASSERT_EQ(counts.size(), 36u);
    // Expected 2000 each; a bias like plain `byte % 36` would push '0'..'3' to ~2250.
    for (const auto& [c, n] : counts) {
        EXPECT_GT(n, 1700) << c;
        EXPECT_LT(n, 2300) << c;
    }
}

TEST(DigestTest, RandomTokenIsBase64UrlWithoutPadding) {
    const std::string t = RandomToken(32);
    EXPECT_EQ(t.size(), 43u);
    for (char c : t)
        EXPECT_TRUE((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_')
            << t;
    EXPECT_NE(RandomToken(32), RandomToken(32));
    EXPECT_EQ(RandomToken(0), "");
    EXPECT_EQ(RandomToken(1).size(), 2u);
    EXPECT_EQ(RandomToken(2).size(), 3u);
    EXPECT_EQ(RandomToken(3).size(), 4u);
}

}  // namespace
}  // namespace orderpay::crypto
