// The shared test vectors and keys (PROTOCOLS.md §5) for the unit tests: where they are, how to
// read one, and how to skip a test, saying why, when the shared tree is absent.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "orderpay/crypto/rsa.hpp"

namespace orderpay::test {

/// The shared directory: $ORDERPAY_SHARED, else ../shared (next to the checkout).
inline std::string SharedDir() {
    const char* env = std::getenv("ORDERPAY_SHARED");
    return env != nullptr && *env != '\0' ? env : "../shared";
}

inline std::string VectorPath(const std::string& name) {
    return SharedDir() + "/vectors/" + name;
}

/// vectors/<name> as text, or nullopt when the shared tree is absent.
inline std::optional<std::string> ReadVector(const std::string& name) {
    std::string error;
    return crypto::ReadSmallFile(VectorPath(name), error);
}

}  // namespace orderpay::test

/// `var`: the text of vectors/<name>; the test is skipped when it is absent.
#define VECTOR_OR_SKIP(var, name)                                                     \
    const std::optional<std::string> var = ::orderpay::test::ReadVector(name);        \
    if (!var)                                                                         \
    GTEST_SKIP() << "vector " << ::orderpay::test::SharedDir() << "/vectors/" << name \
                 << " not found; set ORDERPAY_SHARED to the shared directory to run this test"

/// `var`: the key `loader` (crypto::PublicKeyFromPem, PrivateKeyFromPem...) reads from the PEM
/// vectors/<name>; skipped when the file is absent, failed when it does not load.
#define VECTOR_KEY_OR_SKIP(var, name, loader)                             \
    VECTOR_OR_SKIP(var##_pem, name);                                      \
    std::string var##_error;                                              \
    const ::orderpay::crypto::PKey var = loader(*var##_pem, var##_error); \
    ASSERT_TRUE(var) << var##_error
