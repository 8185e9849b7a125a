// AES-GCM as WeChat Pay APIv3 uses it for notification resources and platform certificates
// (PROTOCOLS.md §1.8 step 6): the nonce is the IV as given, the tag the last 16 bytes.
#pragma once

#include <string>
#include <string_view>

namespace orderpay::crypto {

/// Decrypts `ct_and_tag` (ciphertext followed by the 16-byte tag) with AES-256-GCM, or
/// AES-128-GCM for a 16-byte key (only WeChat's own test vectors use one; merchants are held
/// to 32 bytes when they are added). False on a wrong key size, an empty nonce, a short input
/// or a tag that does not match; `plain` is then empty.
bool AesGcmDecrypt(std::string_view key, std::string_view nonce, std::string_view aad,
                   std::string_view ct_and_tag, std::string& plain);

/// The inverse (paysim and tests): ciphertext followed by the 16-byte tag. False on a bad key
/// size or empty nonce.
bool AesGcmEncrypt(std::string_view key, std::string_view nonce, std::string_view aad, std::string_view plain,
                   std::string& ct_and_tag);

}  // namespace orderpay::crypto
