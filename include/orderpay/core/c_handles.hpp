// RAII owners for every C handle the service uses, in one place (STYLE.md lesson 5).
#pragma once

#include <curl/curl.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <qrencode.h>

#include <memory>

namespace orderpay {

template <auto Fn>
struct CDeleter {
    template <typename T>
    void operator()(T* p) const noexcept {
        if (p) Fn(p);
    }
};

using PgConnPtr = std::unique_ptr<PGconn, CDeleter<PQfinish>>;
using PgResultPtr = std::unique_ptr<PGresult, CDeleter<PQclear>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, CDeleter<EVP_MD_CTX_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, CDeleter<EVP_PKEY_free>>;
using CurlPtr = std::unique_ptr<CURL, CDeleter<curl_easy_cleanup>>;
using CurlSlistPtr = std::unique_ptr<curl_slist, CDeleter<curl_slist_free_all>>;
using CurlSharePtr = std::unique_ptr<CURLSH, CDeleter<curl_share_cleanup>>;
using QrCodePtr = std::unique_ptr<QRcode, CDeleter<QRcode_free>>;

}  // namespace orderpay
