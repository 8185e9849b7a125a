// The provider registry: which providers this build has, and which pay types each one serves.
// Adding a provider is one row in each table of src/providers/registry.cpp plus its folder.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "orderpay/core/config.hpp"
#include "orderpay/providers/breaker.hpp"
#include "orderpay/providers/provider.hpp"

namespace orderpay::providers {

struct ProviderRow {
    std::string_view id;  // "wx": pay-type prefix, route pay/re_<id>, merchants.provider
    std::unique_ptr<Provider> (*make)(const Config& cfg);  // reads its own config keys
};

struct PayTypeRow {
    std::string_view name;      // "wx.qrcode": what clients send as pay_tp
    std::string_view provider;  // a ProviderRow id
    PayKind kind;
    // How long the provider honours the code it issues for this pay type, from its issue,
    // whatever expiry we send with it; zero when the code lives as long as its order (the
    // provider takes the order's expiry) or there is no code to show (a scan).
    std::chrono::minutes code_life{0};
};

/// A code is counted dead this long before its lifetime ends: a buyer shown it must still have
/// time to open the app, scan and confirm (the lifetime is counted from when we made the slip,
/// before the provider call that issued the code, so never short of the code's true age).
inline constexpr std::chrono::minutes kCodeLifeMargin{5};

/// Whether a code of pay type `pay_tp` issued at most `age_ms` ago (by the database's clock) is past,
/// or within kCodeLifeMargin of, the lifetime its provider gives it. False for a pay type whose
/// code has no lifetime of its own, and for a name no pay type has.
bool CodeOutlived(std::string_view pay_tp, std::int64_t age_ms);

std::span<const ProviderRow> ProviderRows();
std::span<const PayTypeRow> PayTypeRows();

/// The pay type named `name`, or nullptr.
const PayTypeRow* FindPayType(std::string_view name);

/// One instance of every registered provider, for one process (a worker or the CLI).
class Providers {
  public:
    explicit Providers(const Config& cfg);
    /// nullptr when no provider has that id.
    Provider* Find(std::string_view id) const;
    const std::vector<std::unique_ptr<Provider>>& all() const { return all_; }

  private:
    std::vector<std::unique_ptr<Provider>> all_;
};

/// The HTTP timeouts every provider client shares (http.connect_timeout_ms, http.timeout_ms).
Timeouts TimeoutsFrom(const Config& cfg);

/// http.breaker_timeouts (default 3; 0 turns the breaker off) and http.breaker_open_ms (default
/// 10000), in the ranges CheckConfig holds them to.
breaker::Policy BreakerPolicyFrom(const Config& cfg);

}  // namespace orderpay::providers
