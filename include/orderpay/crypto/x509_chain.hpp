// X.509 certificate chains for providers that sign with a downloaded certificate (PayPal's
// webhooks): the chain verified to a trusted root with validity dates, and the leaf's subject CN
// and public key. OpenSSL only here.
#pragma once

#include <string>
#include <string_view>

#include "orderpay/crypto/rsa.hpp"

namespace orderpay::crypto {

struct LeafCert {
    bool ok = false;
    std::string error;  // why not ok
    std::string cn;     // the leaf's subject commonName
    PKey key;           // the leaf's public key
};

/// The first certificate of `pem` is the leaf, the rest untrusted intermediates. With
/// `verify_chain`, the chain must reach a root in `ca_file` (empty: the system store) and every
/// certificate be within its validity dates now; without, the leaf is taken as given.
LeafCert CheckLeafCert(std::string_view pem, const std::string& ca_file, bool verify_chain);

}  // namespace orderpay::crypto
