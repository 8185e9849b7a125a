// Each operator command's flags, checked before the command runs: a mistyped flag (--amout) or
// a forgotten value (--reason at the end) must stop `orderpay refund` before it gives money back,
// not fall back to a default such as "the whole order".
#include <algorithm>
#include <string_view>
#include <vector>

#include "orderpay/cli/cli.hpp"

namespace orderpay::cli {

namespace {

struct Spec {
    std::string_view group;
    std::string_view verb;  // "" matches any first word after the group (refund ORDER, expire)
    std::vector<std::string_view> values;
    std::vector<std::string_view> switches = {};
    bool provider_flags = false;  // merchant add: the provider's own flags, see RefuseUnread
};

// The flags each command reads (src/cli/*.cpp). A flag read but missing here is refused as
// unknown, so a command that gains a flag fails its tests until it is listed.
const std::vector<Spec>& Specs() {
    static const std::vector<Spec> specs = {
        {"migrate", "", {}},
        {"sql", "", {}},
        {"store", "add", {"name"}},
        {"store", "list", {}},
        {"site", "add", {"store", "name", "currency", "expire-minutes", "return-url"}},
        {"site", "set", {"store", "name", "currency", "expire-minutes", "return-url"}},
        {"site", "list", {}},
        {"account", "add", {"store", "name", "openid"}},
        {"account", "list", {}},
        {"ticket", "issue", {"account", "store", "ttl-hours"}},
        {"ticket", "revoke", {"account", "store"}},
        {"ticket", "prune", {"ended-older-than", "limit"}},
        {"product", "add", {"site", "title", "price", "stock", "currency"}},
        {"product", "set", {"site", "stock", "price", "title"}},
        {"product", "list", {"site"}},
        {"product", "disable", {"site"}},
        {"product", "enable", {"site"}},
        {"merchant", "add", {"provider"}, {}, true},
        {"merchant", "list", {}},
        {"seller", "set", {"site", "prefix", "merchant"}},
        {"seller", "list", {}},
        {"order", "show", {}},
        {"order", "list", {"site", "state", "limit"}, {"refund-needed"}},
        {"order", "ship", {"site"}},
        {"order", "done", {"site"}, {"charged-back"}},
        {"expire", "", {"limit"}},
        {"reconcile", "", {"limit", "min-age"}},
        {"refund", "list", {"site", "limit"}},
        {"refund", "finish", {"note"}, {"despite-no-answer"}},
        {"refund", "", {"amount", "reason", "key", "slip"}, {"despite-conflict"}},
        {"apikey", "issue", {"site"}},
        {"apikey", "revoke", {}},
        {"apikey", "list", {"site"}},
        {"notify", "verify", {"site", "provider", "body", "headers", "webhook-id", "cert-file"}},
        {"inbox", "list", {"verdict", "limit"}},
        {"inbox", "show", {}, {"body-only", "headers-only"}},
        {"inbox", "replay", {"older-than", "verdict", "limit"}},
        {"inbox", "prune", {"older-than", "rejected-older-than", "limit"}},
        {"audit", "", {"replay-interval", "expire-grace"}, {"list"}},
    };
    return specs;
}

// The commands that answer --json with JSON. Any other refuses it: a script that asked for JSON
// must not be handed text it would misread.
const std::vector<std::string_view> kJsonCommands = {
    "store list",  "site list",     "account list",  "product list", "merchant list",
    "seller list", "order show",    "order list",    "expire",       "reconcile",
    "refund list", "refund",        "refund finish", "apikey issue", "apikey revoke",
    "apikey list", "notify verify", "inbox list",    "inbox show",   "audit",
};

bool In(const std::vector<std::string_view>& list, std::string_view name) {
    return std::find(list.begin(), list.end(), name) != list.end();
}

const Spec* Find(const std::string& group, const Args& a) {
    const std::string verb = a.pos.size() > 1 ? a.pos[1] : "";
    const Spec* any = nullptr;
    for (const Spec& s : Specs()) {
        if (s.group != group) continue;
        if (s.verb == verb) return &s;
        if (s.verb.empty()) any = &s;
    }
    return any;
}

}  // namespace

void CheckFlags(const std::string& group, const Args& a) {
    const Spec* spec = Find(group, a);
    const std::string command =
        group + (a.pos.size() > 1 && spec && !spec->verb.empty() ? " " + a.pos[1] : "");
    if (spec && a.json && !In(kJsonCommands, command))
        throw UsageError("`" + command + "` has no --json output");
    for (const auto& [name, value] : a.flags) {
        if (spec && In(spec->values, name)) {
            if (a.bare.count(name)) throw UsageError("--" + name + " needs a value");
        } else if (spec && In(spec->switches, name)) {
            if (!a.bare.count(name)) throw UsageError("--" + name + " takes no value");
        } else if (!spec || !spec->provider_flags) {
            throw UsageError("`" + command + "` takes no --" + name);
        }
    }
}

void RefuseUnread(const Args& a, const std::string& command) {
    std::vector<std::string> unread = a.Unread();
    if (!unread.empty()) throw UsageError("`" + command + "` takes no --" + unread.front());
}

}  // namespace orderpay::cli
