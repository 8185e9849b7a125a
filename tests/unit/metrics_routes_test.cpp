// Every route the dispatcher serves, and every provider's notification route, has its own metrics
// label: a route missing from metrics' table would be counted as "other" (pay/qr was, until this
// test), and its requests, latency and round trips could not be told apart.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "orderpay/core/metrics.hpp"
#include "orderpay/handlers/handlers.hpp"
#include "orderpay/providers/registry.hpp"

namespace orderpay {
namespace {

TEST(MetricsRoutes, EveryDispatchedRouteHasItsOwnLabel) {
    std::vector<std::string> names = handlers::RouteNames();
    for (const providers::ProviderRow& p : providers::ProviderRows())
        names.push_back("pay/re_" + std::string(p.id));
    ASSERT_GE(names.size(), 8u);
    std::set<std::string_view> labels;
    for (const std::string& n : names) {
        std::string path = "/api/demo/" + n;
        std::string_view label = metrics::RouteLabel(path);
        EXPECT_EQ(label, n) << path << " is counted as " << label;
        labels.insert(label);
    }
    EXPECT_EQ(labels.size(), names.size()) << "two routes share a label";
    EXPECT_EQ(metrics::RouteLabel("/api/demo/pay/qr"), "pay/qr");
}

}  // namespace
}  // namespace orderpay
