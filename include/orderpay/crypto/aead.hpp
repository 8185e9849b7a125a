// AES-GCM as WeChat Pay APIv3 uses it for notification resources and platform certificates
// (PROTOCOLS.md §1.8 step 6): the nonce is the IV as given, the tag the last 16 bytes. And
// AES-256-ECB, which WeChat Pay v2 uses for its refund notifications.
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

/// AES-256-ECB with PKCS#7 padding, the cipher of WeChat Pay v2's refund notification
/// (req_info; PROTOCOLS.md §1.5). Not an AEAD: the caller authenticates what it decrypts by its
/// content (WeChat: the right merchant's key yields valid padding and well-formed XML). False
/// on a key that is not 32 bytes, an input that is not whole blocks, or bad padding; `plain` is
/// then empty.
bool Aes256EcbDecrypt(std::string_view key, std::string_view ct, std::string& plain);

/// The inverse (paysim and tests). False on a key that is not 32 bytes.
bool Aes256EcbEncrypt(std::string_view key, std::string_view plain, std::string& ct);

}  // namespace orderpay::crypto
