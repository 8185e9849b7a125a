// The benchmark's memory floor: a forked child that does what an orderpayd worker must do with the
// libraries a worker must use (libpq, libcurl over OpenSSL TLS, OpenSSL's RSA/AES-GCM/MD5/HMAC)
// and none of orderpay's own code, then prints its resident set. make bench prints it beside the
// worker's RSS, so the part of the 8 MiB target the libraries alone take is measured, not guessed.
//   usage: rss_floor N CONNINFO URL CA_FILE KEY_PEM PUB_PEM SMAPS_OUT
//   prints "RSS_KB PSS_KB PRIVATE_DIRTY_KB" (the child's, after N rounds) and copies the child's
//   /proc/self/smaps to SMAPS_OUT (run.sh splits it by file as it does the worker's).
#include <curl/curl.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

// RAII handles only (header-only templates); nothing of libcore is linked.
#include "orderpay/core/c_handles.hpp"

namespace {

using orderpay::CDeleter;
using BioPtr = std::unique_ptr<BIO, CDeleter<BIO_free>>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CDeleter<EVP_CIPHER_CTX_free>>;
using MacPtr = std::unique_ptr<EVP_MAC, CDeleter<EVP_MAC_free>>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, CDeleter<EVP_MAC_CTX_free>>;
using FilePtr = std::unique_ptr<std::FILE, CDeleter<std::fclose>>;

struct Args {
    long rounds;
    const char* conninfo;
    const char* url;
    const char* ca_file;
    const char* key_pem;
    const char* pub_pem;
    const char* smaps_out;
};

// Every step is checked: a floor that silently skipped its TLS call would measure too little.
[[noreturn]] void Fail(const char* what) {
    std::fprintf(stderr, "rss_floor: %s\n", what);
    ERR_print_errors_fp(stderr);
    std::_Exit(1);
}

const unsigned char* U(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

std::string Hex(std::string_view bytes) {
    static const char kDigits[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : bytes) {
        out += kDigits[c >> 4];
        out += kDigits[c & 15];
    }
    return out;
}

// The master's library init before it forks (src/bin/orderpayd.cpp): curl_global_init, then one
// use or fetch of each algorithm the request paths use (crypto::WarmUp), cached in OpenSSL's default
// context and so shared copy-on-write by every child.
void MasterInit() {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) Fail("curl_global_init");
    for (const char* name : {"RSA", "EC"}) {
        EVP_KEYMGMT_free(EVP_KEYMGMT_fetch(nullptr, name, nullptr));
        EVP_SIGNATURE_free(
            EVP_SIGNATURE_fetch(nullptr, name == std::string_view("EC") ? "ECDSA" : name, nullptr));
    }
    for (const char* name : {"AES-256-GCM", "AES-256-ECB"})
        EVP_CIPHER_free(EVP_CIPHER_fetch(nullptr, name, nullptr));
    for (const char* name : {"MD5", "SHA256", "SHA1", "SHA384", "SHA512"})
        EVP_MD_free(EVP_MD_fetch(nullptr, name, nullptr));
    EVP_MAC_free(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    unsigned char seed[8];  // WarmUp's RandomId: the random generator is set up before fork too
    if (RAND_bytes(seed, sizeof seed) != 1) Fail("RAND_bytes");
}

std::string ReadFile(const char* path) {
    const FilePtr f(std::fopen(path, "rb"));
    if (!f) Fail("cannot open a key file");
    std::string out;
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) out.append(buf, n);
    return out;
}

// As src/crypto/rsa.cpp loads keys: PEM text from a memory BIO, never a passphrase prompt.
int NoPassphrase(char*, int, int, void*) {
    return -1;
}

orderpay::EvpPkeyPtr LoadKey(const char* path, bool is_private) {
    const std::string pem = ReadFile(path);
    const BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) Fail("BIO_new_mem_buf");
    EVP_PKEY* raw = is_private ? PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr)
                               : PEM_read_bio_PUBKEY(bio.get(), nullptr, NoPassphrase, nullptr);
    if (raw == nullptr || EVP_PKEY_is_a(raw, "RSA") != 1) Fail("cannot load an RSA key");
    return orderpay::EvpPkeyPtr(raw);
}

std::string Md5(std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), out, &len, EVP_md5(), nullptr) != 1) Fail("EVP_Digest");
    return std::string(reinterpret_cast<const char*>(out), len);
}

// As src/crypto/digest.cpp: EVP_MAC "HMAC" with digest SHA256 (WeChat v2's HMAC-SHA256 sign).
std::string HmacSha256(std::string_view key, std::string_view data) {
    const MacPtr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    const MacCtxPtr ctx(mac ? EVP_MAC_CTX_new(mac.get()) : nullptr);
    if (!ctx) Fail("EVP_MAC_CTX_new");
    char digest_name[] = "SHA256";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
        OSSL_PARAM_construct_end(),
    };
    unsigned char out[EVP_MAX_MD_SIZE];
    std::size_t len = 0;
    if (EVP_MAC_init(ctx.get(), U(key), key.size(), params) != 1 ||
        EVP_MAC_update(ctx.get(), U(data), data.size()) != 1 ||
        EVP_MAC_final(ctx.get(), out, &len, sizeof out) != 1)
        Fail("HMAC-SHA256");
    return std::string(reinterpret_cast<const char*>(out), len);
}

// As src/crypto/rsa.cpp: SHA256withRSA, PKCS#1 v1.5 (WeChat v3 and Alipay requests).
std::string RsaSign(EVP_PKEY* key, std::string_view data) {
    const orderpay::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
    std::size_t len = 0;
    if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, U(data), data.size()) != 1)
        Fail("EVP_DigestSignInit");
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, U(data), data.size()) !=
        1)
        Fail("EVP_DigestSign");
    sig.resize(len);
    return sig;
}

// As src/crypto/rsa.cpp: the provider's signature over its answer or notification.
bool RsaVerify(EVP_PKEY* key, std::string_view data, std::string_view sig) {
    const orderpay::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
    const bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key) == 1 &&
                    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 &&
                    EVP_DigestVerify(ctx.get(), U(sig), sig.size(), U(data), data.size()) == 1;
    ERR_clear_error();
    return ok;
}

// As src/crypto/aead.cpp: AES-256-GCM (WeChat v3's notification resource), 16-byte tag last.
bool AesGcm(bool encrypt, std::string_view key, std::string_view nonce, std::string_view aad,
            std::string_view in, std::string& out) {
    const CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
    const std::string_view body = encrypt ? in : in.substr(0, in.size() - 16);
    std::string buf(body.size() + 16, '\0');
    auto* b = reinterpret_cast<unsigned char*>(buf.data());
    std::string tag(encrypt ? std::string(16, '\0') : std::string(in.substr(body.size())));
    int n = 0, fin = 0, a = 0;
    const bool ok =
        ctx && EVP_CipherInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr, encrypt) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce.size()), nullptr) ==
            1 &&
        EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, U(key), U(nonce), encrypt) == 1 &&
        EVP_CipherUpdate(ctx.get(), nullptr, &a, U(aad), static_cast<int>(aad.size())) == 1 &&
        EVP_CipherUpdate(ctx.get(), b, &n, U(body), static_cast<int>(body.size())) == 1 &&
        (encrypt || EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16, tag.data()) == 1) &&
        EVP_CipherFinal_ex(ctx.get(), b + n, &fin) == 1 &&
        (!encrypt || EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, b + n + fin) == 1);
    ERR_clear_error();
    if (!ok) return false;
    buf.resize(static_cast<std::size_t>(n + fin) + (encrypt ? 16 : 0));
    out = std::move(buf);
    return true;
}

std::size_t OnData(char* ptr, std::size_t size, std::size_t n, void* user) {
    auto* out = static_cast<std::string*>(user);
    if (out->size() + size * n > 64 * 1024) return 0;
    out->append(ptr, size * n);
    return size * n;
}

// One provider call with src/providers/http_client.cpp's options: a new easy handle on the
// process's share (connections, TLS sessions, DNS kept between calls), peer and host verified
// against the stack's CA.
long Post(CURLSH* share, const Args& args, const std::string& body, std::string& reply) {
    const orderpay::CurlPtr curl(curl_easy_init());
    if (!curl) Fail("curl_easy_init");
    CURL* c = curl.get();
    orderpay::CurlSlistPtr headers;
    for (const char* line : {"Content-Type: text/xml", "Expect:"}) {
        curl_slist* next = curl_slist_append(headers.get(), line);
        if (next == nullptr) Fail("curl_slist_append");
        (void)headers.release();
        headers.reset(next);
    }
    reply.clear();
    curl_easy_setopt(c, CURLOPT_URL, args.url);
    curl_easy_setopt(c, CURLOPT_SHARE, share);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnData);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_USERAGENT, "orderpay/1");
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_CAINFO, args.ca_file);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    const CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        std::fprintf(stderr, "rss_floor: %s: %s\n", args.url, curl_easy_strerror(rc));
        std::_Exit(1);
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

// A /proc file's text into a fixed buffer: read() without stdio, so the reading itself adds
// nothing to the resident set it reports.
std::string_view ReadProc(const char* path, char* buf, std::size_t cap) {
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) Fail("cannot open /proc/self/smaps_rollup");
    std::size_t len = 0;
    ssize_t n = 0;
    while (len < cap && (n = read(fd, buf + len, cap - len)) > 0) len += static_cast<std::size_t>(n);
    close(fd);
    return std::string_view(buf, len);
}

long Field(std::string_view text, std::string_view name) {
    const std::size_t at = text.find(name);
    if (at == std::string_view::npos) return -1;
    return std::strtol(text.data() + at + name.size(), nullptr, 10);
}

// The worker's side: N rounds of one prepared statement, one HTTPS provider call and the
// signing and decrypting a payment needs, then the resident set.
int Child(const Args& args) {
    const orderpay::PgConnPtr db(PQconnectdb(args.conninfo));
    if (!db || PQstatus(db.get()) != CONNECTION_OK) Fail(db ? PQerrorMessage(db.get()) : "PQconnectdb");
    if (const orderpay::PgResultPtr r(PQprepare(db.get(), "floor", "SELECT $1::text", 1, nullptr));
        !r || PQresultStatus(r.get()) != PGRES_COMMAND_OK)
        Fail("PQprepare");
    const orderpay::CurlSharePtr share(curl_share_init());
    if (!share) Fail("curl_share_init");
    for (curl_lock_data d : {CURL_LOCK_DATA_CONNECT, CURL_LOCK_DATA_SSL_SESSION, CURL_LOCK_DATA_DNS})
        curl_share_setopt(share.get(), CURLSHOPT_SHARE, d);
    const orderpay::EvpPkeyPtr key = LoadKey(args.key_pem, true);
    const orderpay::EvpPkeyPtr pub = LoadKey(args.pub_pem, false);
    const std::string aes_key(32, 'k'), nonce(12, 'n'), aad = "transaction";
    std::string resource, plain, reply;
    if (!AesGcm(true, aes_key, nonce, aad, R"({"trade_state":"SUCCESS","amount":{"total":100}})", resource))
        Fail("AES-256-GCM encrypt");

    for (long i = 0; i < args.rounds; ++i) {
        unsigned char raw[16];
        if (RAND_bytes(raw, sizeof raw) != 1) Fail("RAND_bytes");
        const std::string nonce_str = Hex(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
        const std::string id = std::to_string(i);
        const char* values[] = {id.c_str()};
        const orderpay::PgResultPtr r(PQexecPrepared(db.get(), "floor", 1, values, nullptr, nullptr, 0));
        if (!r || PQresultStatus(r.get()) != PGRES_TUPLES_OK || id != PQgetvalue(r.get(), 0, 0))
            Fail("PQexecPrepared");

        // WeChat v2: the form's MD5 sign, then the XML POSTed to the gateway (an unknown merchant:
        // the gateway answers a FAIL XML, which costs the call the same TLS and parsing work).
        const std::string form = "appid=wxfloor&mch_id=1&nonce_str=" + nonce_str + "&out_trade_no=F" + id +
                                 "&total_fee=1&trade_type=NATIVE";
        const std::string sign = Hex(Md5(form + "&key=floorkey"));
        const std::string body =
            "<xml><appid>wxfloor</appid><mch_id>1</mch_id><nonce_str>" + nonce_str +
            "</nonce_str><out_trade_no>F" + id +
            "</out_trade_no><total_fee>1</total_fee><trade_type>NATIVE</trade_type><sign>" + sign +
            "</sign></xml>";
        if (Post(share.get(), args, body, reply) != 200 || reply.find("return_code") == std::string::npos)
            Fail("the gateway's answer is not a WeChat XML reply");

        (void)HmacSha256("floorkey", form);
        if (!RsaVerify(pub.get(), form, RsaSign(key.get(), form))) Fail("RSA signature does not verify");
        if (!AesGcm(false, aes_key, nonce, aad, resource, plain) ||
            plain.find("SUCCESS") == std::string::npos)
            Fail("AES-256-GCM decrypt");
    }

    char buf[4096];
    const std::string_view rollup = ReadProc("/proc/self/smaps_rollup", buf, sizeof buf);
    std::printf("%ld %ld %ld\n", Field(rollup, "\nRss:"), Field(rollup, "\nPss:"),
                Field(rollup, "\nPrivate_Dirty:"));
    std::fflush(stdout);
    // The whole map for run.sh's split by file, copied after the reading above.
    const int in = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
    const int out = open(args.smaps_out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (in < 0 || out < 0) Fail("cannot copy /proc/self/smaps");
    ssize_t n = 0;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, static_cast<std::size_t>(n)) != n) Fail("cannot write the smaps copy");
    close(in);
    close(out);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 8) {
        std::fprintf(stderr, "usage: %s N CONNINFO URL CA_FILE KEY_PEM PUB_PEM SMAPS_OUT\n", argv[0]);
        return 2;
    }
    const Args args{std::atol(argv[1]), argv[2], argv[3], argv[4], argv[5], argv[6], argv[7]};
    if (args.rounds <= 0) return 2;
    MasterInit();
    std::fflush(stdout);
    const pid_t pid = fork();
    if (pid < 0) Fail("fork");
    if (pid == 0) std::_Exit(Child(args));
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) Fail("waitpid");
    curl_global_cleanup();
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
