// paysim's subcommands: migrate (schema paysim), merchant add (test keys from files, never in
// argv: WeChat's API key, Alipay's RSA key pair), serve.
#include "sim/core/cli.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>

#include "orderpay/core/config.hpp"
#include "orderpay/core/config_check.hpp"
#include "orderpay/core/log.hpp"
#include "orderpay/crypto/rsa.hpp"
#include "orderpay/db/migrations.hpp"
#include "orderpay/fcgi/pool.hpp"
#include "orderpay/http/reply.hpp"
#include "orderpay/providers/http_client.hpp"
#include "orderpay/providers/wxpay/sign.hpp"
#include "sim/alipay/store.hpp"
#include "sim/core/app.hpp"
#include "sim/core/store.hpp"
#include "sim/paypal/store.hpp"
#include "sim/wxpay/store.hpp"

namespace orderpay::sim {

namespace {

constexpr const char* kUsage =
    "usage: paysim [serve]\n"
    "       paysim migrate\n"
    "       paysim merchant add --provider wx --app-id APPID --mch-id MCHID\n"
    "                           [--sign-type MD5|HMAC-SHA256] --key-file FILE|-\n"
    "       paysim merchant add --provider wx --api v3 --app-id APPID --mch-id MCHID\n"
    "                           --merchant-public-key-file PEM --cert-serial HEX --apiv3-key-file FILE|-\n"
    "                           --platform-private-key-file PEM\n"
    "                           (--public-key-id PUB_KEY_ID_... | --platform-cert-file PEM | both)\n"
    "       (wx v3: the merchant's public key (or certificate) verifies requests; the platform key\n"
    "       signs answers and notifications under the public-key ID, else the certificate's serial,\n"
    "       and /v3/certificates serves the certificate; adding again rotates it)\n"
    "       paysim merchant add --provider zfb --app-id APPID --mch-id SELLER_ID\n"
    "                           --app-public-key-file FILE --alipay-private-key-file FILE\n"
    "       paysim merchant add --provider paypal --client-id C --secret-file FILE|- --webhook-id W\n"
    "       (zfb: the app's public key verifies requests; the simulated Alipay private key signs\n"
    "       answers and notifications; orderpay holds the app private key and Alipay public key)\n"
    "The config file is $ORDERPAY_CONFIG (default /etc/orderpay/orderpay.conf); keys: db,\n"
    "paysim.listen, paysim.workers, paysim.notify_connect_timeout_ms, paysim.notify_timeout_ms,\n"
    "paysim.paypal_cert_base, paysim.paypal_sign_key_file, paysim.paypal_web_base.\n";

int Usage(const std::string& why) {
    if (!why.empty()) std::fprintf(stderr, "paysim: %s\n", why.c_str());
    std::fputs(kUsage, stderr);
    return 2;
}

int Die(const std::string& why) {
    std::fprintf(stderr, "paysim: %s\n", why.c_str());
    return 1;
}

// As orderpay's CLI says it: libpq's reason on one plain line (a missing role or database, a
// server that is down), and `paysim migrate` only for a schema its statements cannot use.
bool Connect(db::Connection& conn) {
    conn.LeaveFailuresToCaller();
    if (conn.Ensure()) return true;
    if (conn.SchemaTooOld())
        Die("the database's schema is older than this build (" + conn.LastError() + "): run paysim migrate");
    else
        Die("cannot connect to the database: " + conn.LastError());
    return false;
}

std::optional<Config> LoadConfig() {
    std::string err;
    auto cfg = Config::Load(Config::DefaultPath(), err);
    if (!cfg) {
        std::fprintf(stderr, "paysim: %s\n", err.c_str());
        return cfg;
    }
    // The file is orderpay's too: every key is held to its rule here as well (paysim.workers of
    // 2^32+1 was read as 1).
    if (std::string bad = CheckConfig(*cfg, ConfigUser::kCli); !bad.empty()) {
        std::fprintf(stderr, "paysim: %s\n", bad.c_str());
        return std::nullopt;
    }
    return cfg;
}

SimOptions ReadSimOptions(const Config& cfg) {
    SimOptions o;
    o.conninfo = cfg.Get("db", kDefaultDb);
    o.notify_connect_ms = cfg.GetInt("paysim.notify_connect_timeout_ms", o.notify_connect_ms);
    o.notify_timeout_ms = cfg.GetInt("paysim.notify_timeout_ms", o.notify_timeout_ms);
    o.paypal_cert_base = cfg.Get("paysim.paypal_cert_base", "");
    o.paypal_web_base = cfg.Get("paysim.paypal_web_base", "");
    o.paypal_sign_key_file = cfg.Get("paysim.paypal_sign_key_file", "");
    return o;
}

// "--name value" / "--name=value" pairs; false (with `bad` set) on anything else.
bool ParseFlags(int argc, char** argv, int first, std::map<std::string, std::string>& out, std::string& bad) {
    for (int i = first; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg.rfind("--", 0) != 0) {
            bad = "unexpected argument " + arg;
            return false;
        }
        std::string name = arg.substr(2), value;
        if (auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name.resize(eq);
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            bad = "--" + name + " needs a value";
            return false;
        }
        out[name] = value;
    }
    return true;
}

bool ReadKey(const std::string& file, std::string& key, std::string& err) {
    std::string text;
    if (file == "-") {
        text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
        std::ifstream in(file, std::ios::binary);
        if (!in) {
            err = "cannot read key file " + file;
            return false;
        }
        text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    key = TrimKey(std::move(text));
    if (key.empty()) {
        err = "the key is empty";
        return false;
    }
    for (unsigned char c : key) {
        if (c < 0x20 || c == 0x7f) {
            err = "the key contains control characters";
            return false;
        }
    }
    return true;
}

int Migrate(const Config& cfg) {
    // No prepared statements yet: they name tables that the migrations create.
    db::Connection conn(cfg.Get("db", kDefaultDb), {});
    if (!Connect(conn)) return 1;
    // "relation ... already exists, skipping" notices are expected on every run after the first.
    PQsetNoticeProcessor(
        conn.raw(), [](void*, const char*) {}, nullptr);
    int n = db::Migrate(conn, db::PaysimMigrations(), "paysim_migrations",
                        [](const std::string& line) { std::printf("%s\n", line.c_str()); });
    std::printf("paysim schema up to date (%d applied)\n", n);
    return 0;
}

// Reads a PEM file and checks that it holds the kind of key it should; the text is stored as read.
bool ReadPem(const std::string& flag, const std::string& file, bool is_private, std::string& pem,
             std::string& err) {
    std::optional<std::string> text = crypto::ReadSmallFile(file, err);
    if (!text) return false;
    std::string why;
    const crypto::PKey key =
        is_private ? crypto::PrivateKeyFromPem(*text, why) : crypto::PublicKeyFromPem(*text, why);
    if (!key) {
        err = "--" + flag + ": " + why;
        return false;
    }
    pem = std::move(*text);
    return true;
}

// Checks a provider's merchant options: every one in `known` (or --provider), every one in
// `required` non-empty. Returns the usage message for the first that is not, else "".
std::string CheckMerchantFlags(std::map<std::string, std::string>& f,
                               std::initializer_list<std::string_view> known,
                               std::initializer_list<const char*> required, std::string_view unknown_suffix) {
    for (const auto& [name, value] : f) {
        bool ok = name == "provider";
        for (std::string_view k : known) ok = ok || name == k;
        if (!ok) return "unknown option --" + name + std::string(unknown_suffix);
    }
    for (const char* need : required)
        if (f[need].empty()) return std::string("--") + need + " is required";
    return {};
}

int ZfbMerchantAdd(const Config& cfg, std::map<std::string, std::string>& f) {
    if (std::string bad = CheckMerchantFlags(
            f, {"app-id", "mch-id", "app-public-key-file", "alipay-private-key-file"},
            {"app-id", "mch-id", "app-public-key-file", "alipay-private-key-file"}, " for --provider zfb");
        !bad.empty())
        return Usage(bad);
    zfb_store::Merchant m{f["mch-id"], f["app-id"], {}, {}};
    std::string err;
    if (!ReadPem("app-public-key-file", f["app-public-key-file"], false, m.app_public_key, err) ||
        !ReadPem("alipay-private-key-file", f["alipay-private-key-file"], true, m.alipay_private_key, err))
        return Die(err);
    db::Connection conn(cfg.Get("db", kDefaultDb), store::Statements());
    if (!Connect(conn)) return 1;
    try {
        zfb_store::UpsertMerchant(conn, m);
    } catch (const db::Error& e) {
        if (e.sqlstate == "23505")
            return Die("app_id " + m.app_id + " already belongs to another zfb seller");
        throw;
    }
    std::printf("merchant zfb/%s saved (app_id %s, RSA2)\n", m.seller_id.c_str(), m.app_id.c_str());
    return 0;
}

int Wx3MerchantAdd(const Config& cfg, std::map<std::string, std::string>& f) {
    if (std::string bad = CheckMerchantFlags(
            f,
            {"api", "app-id", "mch-id", "merchant-public-key-file", "cert-serial", "apiv3-key-file",
             "platform-private-key-file", "public-key-id", "platform-cert-file"},
            {"app-id", "mch-id", "merchant-public-key-file", "cert-serial", "apiv3-key-file",
             "platform-private-key-file"},
            " for --provider wx --api v3");
        !bad.empty())
        return Usage(bad);
    if (f["public-key-id"].empty() && f["platform-cert-file"].empty())
        return Usage("--public-key-id or --platform-cert-file (or both) is required");
    if (!f["public-key-id"].empty() && f["public-key-id"].rfind("PUB_KEY_ID_", 0) != 0)
        return Usage("--public-key-id is PUB_KEY_ID_...");
    std::string merchant_pub, platform_priv, platform_cert, err, key;
    if (!ReadPem("merchant-public-key-file", f["merchant-public-key-file"], false, merchant_pub, err) ||
        !ReadPem("platform-private-key-file", f["platform-private-key-file"], true, platform_priv, err) ||
        !ReadKey(f["apiv3-key-file"], key, err))
        return Die(err);
    if (key.size() != 32) return Die("the APIv3 key must be 32 bytes");
    std::string options = "{\"api\":\"v3\",\"merchant_public_key\":" + http::JsonString(merchant_pub) +
                          ",\"cert_serial\":" + http::JsonString(f["cert-serial"]) +
                          ",\"platform_private_key\":" + http::JsonString(platform_priv);
    if (!f["public-key-id"].empty()) options += ",\"public_key_id\":" + http::JsonString(f["public-key-id"]);
    if (!f["platform-cert-file"].empty()) {
        if (!ReadPem("platform-cert-file", f["platform-cert-file"], false, platform_cert, err))
            return Die(err);
        std::optional<std::string> serial = crypto::CertSerialHex(platform_cert);
        std::string why;
        if (!serial) return Die("--platform-cert-file holds no certificate");
        if (!crypto::KeysMatch(crypto::PrivateKeyFromPem(platform_priv, why),
                               crypto::PublicKeyFromPem(platform_cert, why)))
            return Die("--platform-private-key-file does not belong to --platform-cert-file");
        options += ",\"platform_cert\":" + http::JsonString(platform_cert) +
                   ",\"platform_serial\":" + http::JsonString(*serial);
    }
    options += "}";
    wx_store::Merchant m{"wx", f["mch-id"], f["app-id"], "RSA2", key, options};
    db::Connection conn(cfg.Get("db", kDefaultDb), store::Statements());
    if (!Connect(conn)) return 1;
    wx_store::UpsertMerchant(conn, m);
    std::printf("merchant wx/%s saved (app_id %s, API v3)\n", m.mch_id.c_str(), m.app_id.c_str());
    return 0;
}

int PaypalMerchantAdd(const Config& cfg, std::map<std::string, std::string>& f) {
    if (std::string bad =
            CheckMerchantFlags(f, {"client-id", "secret-file", "webhook-id"},
                               {"client-id", "secret-file", "webhook-id"}, " for --provider paypal");
        !bad.empty())
        return Usage(bad);
    pp_store::Merchant m{f["client-id"], {}, f["webhook-id"]};
    std::string err;
    if (!ReadKey(f["secret-file"], m.secret, err)) return Die(err);
    db::Connection conn(cfg.Get("db", kDefaultDb), store::Statements());
    if (!Connect(conn)) return 1;
    pp_store::UpsertMerchant(conn, m);
    std::printf("merchant paypal/%s saved (webhook %s)\n", m.client_id.c_str(), m.webhook_id.c_str());
    return 0;
}

int MerchantAdd(const Config& cfg, int argc, char** argv) {
    std::map<std::string, std::string> f;
    std::string bad;
    if (!ParseFlags(argc, argv, 3, f, bad)) return Usage(bad);
    if (f.count("key")) return Usage("--key is not accepted (argv is visible to every user); use --key-file");
    if (auto p = f.find("provider"); p != f.end() && p->second == "zfb") return ZfbMerchantAdd(cfg, f);
    if (auto a = f.find("api"); a != f.end() && a->second == "v3" && f["provider"] == "wx")
        return Wx3MerchantAdd(cfg, f);
    if (auto p = f.find("provider"); p != f.end() && p->second == "paypal") return PaypalMerchantAdd(cfg, f);
    if (std::string bad = CheckMerchantFlags(f, {"app-id", "mch-id", "sign-type", "key-file"},
                                             {"provider", "app-id", "mch-id", "key-file"}, "");
        !bad.empty())
        return Usage(bad);
    if (f["provider"] != "wx") return Usage("--provider must be wx, zfb or paypal");
    const std::string sign_type = f["sign-type"].empty() ? "MD5" : f["sign-type"];
    if (!wxpay::ParseSignType(sign_type)) return Usage("--sign-type must be MD5 or HMAC-SHA256");

    wx_store::Merchant m{f["provider"], f["mch-id"], f["app-id"], sign_type, {}};
    std::string err;
    if (!ReadKey(f["key-file"], m.api_key, err)) return Die(err);
    db::Connection conn(cfg.Get("db", kDefaultDb), store::Statements());
    if (!Connect(conn)) return 1;
    wx_store::UpsertMerchant(conn, m);
    std::printf("merchant %s/%s saved (app_id %s, %s)\n", m.provider.c_str(), m.mch_id.c_str(),
                m.app_id.c_str(), m.sign_type.c_str());
    return 0;
}

int Serve(const Config& cfg) {
    fcgi::PoolOptions opts;
    opts.name = "paysim";
    opts.socket_path = cfg.Get("paysim.listen");
    opts.workers = static_cast<int>(cfg.GetInt("paysim.workers", 4));
    opts.max_body = 64 * 1024;
    if (opts.workers < 1 || opts.workers > 256) return Die("paysim.workers must be 1..256");
    auto sim = std::make_shared<SimOptions>(ReadSimOptions(cfg));
    if (sim->conninfo.empty()) return Die("config key db is empty");
    providers::HttpGlobalInit();  // before fork: curl_global_init is not thread-safe
    // On SIGHUP the master re-reads the config; workers forked afterwards see the new options.
    auto reload = [sim](fcgi::PoolOptions& o) {
        auto fresh = LoadConfig();
        if (!fresh) return false;
        *sim = ReadSimOptions(*fresh);
        if (auto w = fresh->GetInt("paysim.workers", 4); w >= 1 && w <= 256) o.workers = static_cast<int>(w);
        return true;
    };
    return fcgi::RunPool(
        opts, [sim] { return MakeApp(*sim); }, reload);
}

}  // namespace

std::string TrimKey(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text;
}

int RunCli(int argc, char** argv) {
    const std::string cmd = argc > 1 ? argv[1] : "serve";
    if (cmd == "help" || cmd == "--help" || cmd == "-h") {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (cmd != "serve" && cmd != "migrate" && cmd != "merchant") return Usage("unknown command " + cmd);
    if (cmd == "merchant" && (argc < 3 || std::string(argv[2]) != "add"))
        return Usage("merchant: only 'add'");
    if (cmd != "merchant" && argc > 2) return Usage("unexpected argument " + std::string(argv[2]));
    auto cfg = LoadConfig();
    if (!cfg) return 1;
    try {
        if (cmd == "migrate") return Migrate(*cfg);
        if (cmd == "merchant") return MerchantAdd(*cfg, argc, argv);
        return Serve(*cfg);
    } catch (const std::exception& e) {
        return Die(e.what());
    }
}

}  // namespace orderpay::sim
