// The operator CLI `orderpay`: argument parsing shared by every command group.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "orderpay/core/config.hpp"
#include "orderpay/db/connection.hpp"

namespace orderpay::cli {

/// Parsed command line: positionals and --flags (a flag followed by a value, or alone).
struct Args {
    std::vector<std::string> pos;
    std::map<std::string, std::string> flags;
    bool json = false;

    std::optional<std::string> Flag(const std::string& name) const;
    /// The flag's value, or throws UsageError naming it.
    std::string Need(const std::string& name) const;
};

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

Args Parse(int argc, char** argv, int start);

/// The whole content of a file, or of stdin for "-", as bytes.
std::string ReadInput(const std::string& file);

/// Reads a secret from a file, or from stdin for "-"; strips one trailing newline. Secrets
/// never come from argv, where every local user can read them in /proc.
std::string ReadSecret(const std::string& file);

struct Env {
    const Config& cfg;
    db::Connection& db;
};

// Command groups; each returns the process exit code.
int Migrate(Env& env, const Args& a);
int Catalog(Env& env, const std::string& group,
            const Args& a);  // store, site, account, product, merchant, seller, ticket
int Orders(Env& env, const std::string& group, const Args& a);   // order, expire, reconcile
int Refunds(Env& env, const std::string& group, const Args& a);  // refund, apikey
int Notify(Env& env, const Args& a);                             // notify verify
int Inbox(Env& env, const Args& a);                              // inbox list, inbox replay
int Audit(Env& env, const Args& a);                              // audit
int Sql(const Args& a);                                          // sql [NAME]

}  // namespace orderpay::cli
