// RSA keys and SHA256withRSA (PKCS#1 v1.5) signatures, and X.509 helpers for Alipay's
// certificate mode. OpenSSL 3 only; every EVP/X509/BIO handle is owned by RAII.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orderpay/core/c_handles.hpp"

namespace orderpay::crypto {

/// Shared so a worker can cache a parsed key; EVP_PKEY is reference-counted and read-only here.
using PKey = std::shared_ptr<EVP_PKEY>;

/// A private key from PEM text ("BEGIN PRIVATE KEY" PKCS#8 or "BEGIN RSA PRIVATE KEY" PKCS#1),
/// or the bare base64 DER of either that Alipay's key tool prints. Encrypted keys and non-RSA
/// keys are refused. nullptr on any error; `error` says why (never contains key material).
PKey PrivateKeyFromPem(std::string_view pem, std::string& error);

/// A public key from PEM text: "BEGIN PUBLIC KEY" (SubjectPublicKeyInfo), or the first
/// "BEGIN CERTIFICATE" (its subject key; validity dates are NOT checked: the caller pins the
/// certificate by configuration, it is not a chain to validate). Also accepts the bare base64
/// SubjectPublicKeyInfo that Alipay's console shows (no PEM armour).
PKey PublicKeyFromPem(std::string_view pem, std::string& error);

/// Reads a whole file (keys and certificates are small; capped at 1 MiB). nullopt on error.
std::optional<std::string> ReadSmallFile(const std::string& path, std::string& error);

/// base64(SHA256withRSA(key, data)), PKCS#1 v1.5. Empty string on failure.
std::string RsaSha256SignBase64(const PKey& key, std::string_view data);

/// True when sig_base64 decodes and is a valid SHA256withRSA signature of data.
bool RsaSha256VerifyBase64(const PKey& key, std::string_view data, std::string_view sig_base64);

/// Alipay certificate serial number of the FIRST certificate in `pem`:
/// md5_hex(issuer string + serial in decimal), issuer RDNs in reverse DER order joined as
/// "CN=...,OU=...,O=...,C=..." (PROTOCOLS.md §2.1, V-ALI-3). nullopt on parse errors.
std::optional<std::string> AlipayCertSn(std::string_view pem);

/// alipay_root_cert_sn: the AlipayCertSn of every certificate in the bundle whose signature
/// algorithm is sha1WithRSAEncryption or sha256WithRSAEncryption, joined with "_". nullopt when
/// any certificate fails to parse or none is an RSA root.
std::optional<std::string> AlipayRootCertSn(std::string_view pem_bundle);

/// The serial number of the FIRST certificate in `pem` as upper-case hex without leading
/// zeros, the way WeChat Pay names certificates (`serial_no`, `Wechatpay-Serial`). nullopt when
/// no certificate parses.
std::optional<std::string> CertSerialHex(std::string_view pem);

/// True when `priv` and `pub` are the two halves of one key pair.
bool KeysMatch(const PKey& priv, const PKey& pub);

}  // namespace orderpay::crypto
