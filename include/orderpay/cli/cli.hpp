// The operator CLI `orderpay`: argument parsing shared by every command group.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "orderpay/core/config.hpp"
#include "orderpay/db/connection.hpp"

namespace orderpay::cli {

/// Parsed command line: positionals and --flags (a flag followed by a value, or alone).
struct Args {
    std::vector<std::string> pos;
    std::map<std::string, std::string> flags;
    std::set<std::string> bare;  // flags given with no value (end of line, or before another --flag)
    bool json = false;

    /// The flag's value; throws UsageError if it was given without one.
    std::optional<std::string> Flag(const std::string& name) const;
    /// The flag's value, or throws UsageError naming it.
    std::string Need(const std::string& name) const;
    /// A switch (--list): given or not; throws UsageError if it was given a value.
    bool Has(const std::string& name) const;
    /// --limit N, 1..100000, or `fallback`; anything else (5abc, 1e3, 2^32+1) is a UsageError.
    int Limit(int fallback) const;
    /// Flags given that nothing has asked for: the command does not know them.
    std::vector<std::string> Unread() const;

  private:
    mutable std::set<std::string> read_;
};

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// "60s", "5m", "2h", "7d" (and "0") -> seconds, at most ten years; anything else (a bare "7", a
/// negative, an unknown unit) is a UsageError naming --`flag`. The ages of every prune.
std::int64_t DurationSeconds(const std::string& text, const std::string& flag);

/// The command was right, the data says no (no such store, an id the schema refuses): one line,
/// exit 1, without the usage a UsageError prints after it.
struct Refusal : std::runtime_error {
    using std::runtime_error::runtime_error;
};

Args Parse(int argc, char** argv, int start);

/// Refuses, before the command does anything, a flag the command does not take, a value flag
/// given without its value and a switch given one (src/cli/flags.cpp holds each command's
/// flags). `merchant add` takes its provider's flags: its command calls RefuseUnread after the
/// provider has read them and before anything is stored.
void CheckFlags(const std::string& group, const Args& a);
void RefuseUnread(const Args& a, const std::string& command);

/// The most ReadInput reads: a notification body is at most nginx's 64 KiB, a key a few.
inline constexpr std::size_t kMaxInputBytes = std::size_t{16} << 20;

/// The whole content of a file, or of stdin for "-", as bytes, exactly (no newline stripped).
/// Throws Refusal ("cannot read FILE: why") when it cannot be read or is over kMaxInputBytes.
std::string ReadInput(const std::string& file);

/// Reads a secret from a file, or from stdin for "-"; strips trailing newlines. Secrets never
/// come from argv, where every local user can read them in /proc. Throws Refusal when it cannot
/// be read or is empty.
std::string ReadSecret(const std::string& file);

/// Rows as a JSON array of objects keyed by `cols` (one name per column, in order): numbers and
/// booleans by their column's type, NULL as null, the rest as strings.
std::string RowsJson(const db::Result& r, const std::vector<std::string>& cols);

/// Rows as tab-separated lines under a header of `cols`, or as RowsJson when `json`.
void PrintRows(const db::Result& r, const std::vector<std::string>& cols, bool json);
/// Epoch milliseconds as UTC, 2026-12-07T01:02:03.456Z.
std::string Utc(std::int64_t ms);

/// Throws Refusal naming the schema's rule unless `id` is 1 to 64 of A-Z a-z 0-9 _ . - (and @
/// when `at`): `what` is "store", "site", ...
void CheckId(const std::string& what, const std::string& id, bool at = false);

struct Env {
    const Config& cfg;
    db::Connection& db;
};

// Command groups; each returns the process exit code.
int Migrate(Env& env, const Args& a);
int Catalog(Env& env, const std::string& group,
            const Args& a);             // store, site, account, product, merchant, seller, ticket
int Products(Env& env, const Args& a);  // product add, set, list, disable, enable
int Orders(Env& env, const std::string& group, const Args& a);   // order, expire
int Reconcile(Env& env, const Args& a);                          // reconcile
int Refunds(Env& env, const std::string& group, const Args& a);  // refund, apikey
int RefundFinish(Env& env, const Args& a);                       // refund finish
int Notify(Env& env, const Args& a);                             // notify verify
int Inbox(Env& env, const Args& a);                              // inbox list, show, replay, prune
int InboxShow(Env& env, const Args& a);                          // inbox show

/// How old a notification must be to be dropped: `notify.keep_rejected_days` (default 7) for one
/// never verified, `notify.keep_days` (default 0) for any decided one; nullopt (0 days) keeps them.
struct InboxAges {
    std::optional<std::int64_t> unverified_s, decided_s;
    static InboxAges From(const Config& cfg);
};
struct InboxPruned {
    std::int64_t unverified = 0, decided = 0;
};
/// Drops what `ages` says is old enough, at most `most` rows of each kind (store::PruneNotifications).
InboxPruned PruneInbox(Env& env, const InboxAges& ages, std::int64_t most);
/// How long a ticket's row is kept after it ended (expired or revoked): `ticket.keep_ended_days`
/// (default 7) in seconds; nullopt (0 days) keeps every one.
std::optional<std::int64_t> KeepEndedTicketsS(const Config& cfg);
int TicketPrune(Env& env, const Args& a);  // ticket prune
int Audit(Env& env, const Args& a);        // audit
int Sql(const Args& a);                    // sql [NAME]

}  // namespace orderpay::cli
