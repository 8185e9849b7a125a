// Certificate chain verification with OpenSSL's X509_STORE: trusted roots from a file or the
// system store, intermediates from the downloaded PEM, dates checked against the clock.
#include "orderpay/crypto/x509_chain.hpp"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <map>
#include <memory>

namespace orderpay::crypto {

namespace {

using BioPtr = std::unique_ptr<BIO, CDeleter<BIO_free>>;
using X509Ptr = std::unique_ptr<X509, CDeleter<X509_free>>;
using StorePtr = std::unique_ptr<X509_STORE, CDeleter<X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, CDeleter<X509_STORE_CTX_free>>;

void FreeCertStack(STACK_OF(X509) * s) {
    sk_X509_pop_free(s, X509_free);
}
using CertStackPtr = std::unique_ptr<STACK_OF(X509), CDeleter<FreeCertStack>>;

std::string SubjectCn(X509* cert) {
    X509_NAME* name = X509_get_subject_name(cert);
    int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (idx < 0) return {};
    // Two CNs are ambiguous: refuse rather than pick one.
    if (X509_NAME_get_index_by_NID(name, NID_commonName, idx) >= 0) return {};
    ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, data);
    if (len < 0) return {};
    std::string cn(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(len));
    OPENSSL_free(utf8);
    if (cn.find('\0') != std::string::npos) return {};
    return cn;
}

// The trusted roots of `ca_file` (empty: the system store), loaded once per process. Loading the
// system bundle (about 140 roots) takes 25-40 ms of CPU, which every webhook, forged ones
// included, paid before its signature was looked at (review s25-attack #2). A changed bundle is
// read by the next worker (a reload restarts them). A file that fails to load is not kept, so
// one put right is picked up at the next webhook.
X509_STORE* TrustStore(const std::string& ca_file) {
    static std::map<std::string, StorePtr> stores;
    if (auto it = stores.find(ca_file); it != stores.end()) return it->second.get();
    StorePtr store(X509_STORE_new());
    if (!store) return nullptr;
    const int loaded = ca_file.empty() ? X509_STORE_set_default_paths(store.get())
                                       : X509_STORE_load_file(store.get(), ca_file.c_str());
    if (loaded != 1) return nullptr;
    return stores.emplace(ca_file, std::move(store)).first->second.get();
}

}  // namespace

LeafCert CheckLeafCert(std::string_view pem, const std::string& ca_file, bool verify_chain) {
    LeafCert out;
    if (pem.size() > 64 * 1024) {
        out.error = "certificate too large";
        return out;
    }
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) {
        out.error = "out of memory";
        return out;
    }
    X509Ptr leaf(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!leaf) {
        out.error = "no PEM certificate";
        return out;
    }
    CertStackPtr chain(sk_X509_new_null());
    while (X509* extra = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
        if (!chain || sk_X509_push(chain.get(), extra) == 0) {
            X509_free(extra);
            out.error = "out of memory";
            return out;
        }
    }
    if (verify_chain) {
        X509_STORE* store = TrustStore(ca_file);
        if (!store) {
            out.error = "cannot load the CA bundle " + (ca_file.empty() ? std::string("(system)") : ca_file);
            return out;
        }
        StoreCtxPtr ctx(X509_STORE_CTX_new());
        if (!ctx || X509_STORE_CTX_init(ctx.get(), store, leaf.get(), chain.get()) != 1) {
            out.error = "out of memory";
            return out;
        }
        if (X509_verify_cert(ctx.get()) != 1) {
            out.error = std::string("certificate chain: ") +
                        X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
            return out;
        }
    }
    out.cn = SubjectCn(leaf.get());
    EVP_PKEY* key = X509_get_pubkey(leaf.get());
    if (!key) {
        out.error = "certificate has no usable public key";
        return out;
    }
    out.key = PKey(key, EVP_PKEY_free);
    out.ok = true;
    return out;
}

}  // namespace orderpay::crypto
