// Command-line parsing and secret reading for the operator CLI.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "orderpay/cli/cli.hpp"
#include "orderpay/core/c_handles.hpp"
#include "orderpay/http/utf8.hpp"

namespace orderpay::cli {

std::optional<std::string> Args::Flag(const std::string& name) const {
    read_.insert(name);
    auto it = flags.find(name);
    if (it == flags.end()) return std::nullopt;
    // A forgotten value used to read as "true": `refund ORDER --reason` refunded the whole order
    // with the reason "true".
    if (bare.count(name)) throw UsageError("--" + name + " needs a value");
    return it->second;
}

bool Args::Has(const std::string& name) const {
    read_.insert(name);
    if (!flags.count(name)) return false;
    if (!bare.count(name)) throw UsageError("--" + name + " takes no value");
    return true;
}

int Args::Limit(int fallback) const {
    std::optional<std::string> v = Flag("limit");
    if (!v) return fallback;
    char* end = nullptr;
    errno = 0;
    long n = std::strtol(v->c_str(), &end, 10);
    if (v->empty() || *end || errno == ERANGE || n < 1 || n > 100000) throw UsageError("--limit 1..100000");
    return static_cast<int>(n);
}

// A bare number is refused: the config's ages are days (notify.keep_rejected_days = 7), and
// "--rejected-older-than 7" taken as seconds dropped every unverified row but the last few
// seconds' (review s27-newuser #6).
std::int64_t DurationSeconds(const std::string& text, const std::string& flag) {
    char* end = nullptr;
    errno = 0;
    long long n = std::strtoll(text.c_str(), &end, 10);
    std::string unit(end ? end : "");
    std::int64_t mul = unit == "s" || (unit.empty() && n == 0) ? 1
                       : unit == "m"                           ? 60
                       : unit == "h"                           ? 3600
                       : unit == "d"                           ? 86400
                                                               : -1;
    if (text.empty() || end == text.c_str() || errno == ERANGE || n < 0 || mul < 0 ||
        n > 10LL * 366 * 86400 / mul)
        throw UsageError("--" + flag + ": a duration like 60s, 5m, 2h or 7d (at most ten years)" +
                         (unit.empty() && end != text.c_str() && n > 0 ? ": give its unit" : ""));
    return n * mul;
}

std::vector<std::string> Args::Unread() const {
    std::vector<std::string> out;
    for (const auto& [name, value] : flags)
        if (!read_.count(name)) out.push_back(name);
    return out;
}

std::string Args::Need(const std::string& name) const {
    auto v = Flag(name);
    if (!v || v->empty()) throw UsageError("missing --" + name);
    return *v;
}

namespace {

// A flag's value that is not UTF-8 reached PostgreSQL as a site, account or title and came back
// as its "invalid byte sequence" error on three lines (review s32-110): a value of the wrong
// form. A file name may be any bytes; a positional id that is not text names nothing (no such ...).
void CheckText(const std::string& text, const std::string& what) {
    if (!http::IsUtf8(text)) throw UsageError(what + ": not UTF-8 text");
}

bool NamesAFile(const std::string& flag) {
    return flag == "body" || flag == "headers" || flag.ends_with("file");
}

}  // namespace

Args Parse(int argc, char** argv, int start) {
    Args a;
    for (int i = start; i < argc; ++i) {
        std::string s = argv[i];
        if (s == "--json") {
            a.json = true;
        } else if (s.rfind("--", 0) == 0 && s.size() > 2) {
            std::string name = s.substr(2), value;
            auto eq = name.find('=');
            bool bare = false;
            if (eq != std::string::npos) {
                value = name.substr(eq + 1);
                name.resize(eq);
            } else if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
                value = argv[++i];
            } else {
                bare = true;
            }
            if (!NamesAFile(name)) CheckText(value, "--" + name);
            // Which of two --amount values did the operator mean? Neither is guessed.
            if (a.flags.count(name)) throw UsageError("--" + name + " given twice");
            a.flags[name] = value;
            if (bare) a.bare.insert(name);
        } else {
            a.pos.push_back(s);
        }
    }
    return a;
}

// A file the operator names (a captured notification, a key) is read whole, as bytes: nothing
// stripped, as `inbox show --body-only` writes a body exactly and a signature binds every byte.
// One that cannot be read is the data saying no (exit 1, one line), not a mistyped command.
std::string ReadInput(const std::string& file) {
    std::FILE* f = file == "-" ? stdin : std::fopen(file.c_str(), "rb");
    const std::string name = file == "-" ? "stdin" : file;
    if (!f) throw Refusal("cannot read " + name + ": " + std::strerror(errno));
    const std::unique_ptr<std::FILE, CDeleter<std::fclose>> own(file == "-" ? nullptr : f);  // never stdin
    std::string out;
    char buf[65536];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
        out.append(buf, n);
        if (out.size() > kMaxInputBytes)
            throw Refusal("cannot read " + name + ": larger than " + std::to_string(kMaxInputBytes >> 20) +
                          " MiB");
    }
    if (std::ferror(f)) throw Refusal("cannot read " + name + ": " + std::strerror(errno));
    return out;
}

std::string ReadSecret(const std::string& file) {
    std::string s = ReadInput(file);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    if (s.empty()) throw Refusal((file == "-" ? "stdin" : file) + " is empty");
    return s;
}

}  // namespace orderpay::cli
