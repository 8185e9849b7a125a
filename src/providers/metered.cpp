// Times each provider call and classifies its result into the metrics' bounded outcome set; an
// exception is counted as `error` and passed on unchanged.
#include "orderpay/providers/metered.hpp"

#include <chrono>

#include "orderpay/core/metrics.hpp"

namespace orderpay::providers {

namespace {

template <typename Call, typename Classify>
auto Metered(Provider& p, metrics::Op op, Call&& call, Classify&& classify) {
    const auto start = std::chrono::steady_clock::now();
    auto seconds = [&] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    try {
        auto r = call();
        metrics::ProviderCall(p.Id(), op, classify(r), seconds());
        return r;
    } catch (...) {
        metrics::ProviderCall(p.Id(), op, metrics::Outcome::kError, seconds());
        throw;
    }
}

}  // namespace

CreateResult MeteredCreate(Provider& p, const Merchant& m, const CreateParams& params) {
    return Metered(
        p, metrics::Op::kCreate, [&] { return p.Create(m, params); },
        [](const CreateResult& r) {
            switch (r.outcome) {
                case Outcome::kPending:
                case Outcome::kPaid:
                    return metrics::Outcome::kOk;
                case Outcome::kFailed:
                    return metrics::Outcome::kFailed;
                case Outcome::kUnknown:
                    break;
            }
            return r.timeout ? metrics::Outcome::kTimeout : metrics::Outcome::kUnknown;
        });
}

QueryResult MeteredQuery(Provider& p, const Merchant& m, const std::string& slip_id,
                         const std::string& provider_ref) {
    return Metered(
        p, metrics::Op::kQuery, [&] { return p.QueryByRef(m, slip_id, provider_ref); },
        [](const QueryResult& r) {
            return r.state == QueryResult::State::kUnknown ? metrics::Outcome::kUnknown
                                                           : metrics::Outcome::kOk;
        });
}

CloseResult MeteredClose(Provider& p, const Merchant& m, const std::string& slip_id) {
    return Metered(
        p, metrics::Op::kClose, [&] { return p.Close(m, slip_id); },
        [](const CloseResult& r) {
            return r.closed || r.already_paid ? metrics::Outcome::kOk : metrics::Outcome::kFailed;
        });
}

namespace {

metrics::Outcome RefundOutcome(const RefundResult& r) {
    switch (r.state) {
        case RefundResult::State::kOk:
        case RefundResult::State::kProcessing:
            return metrics::Outcome::kOk;
        case RefundResult::State::kFailed:
            return metrics::Outcome::kFailed;
        case RefundResult::State::kUnknown:
            break;
    }
    return r.timeout ? metrics::Outcome::kTimeout : metrics::Outcome::kUnknown;
}

}  // namespace

RefundResult MeteredRefund(Provider& p, const Merchant& m, const RefundParams& params) {
    return Metered(
        p, metrics::Op::kRefund, [&] { return p.Refund(m, params); }, RefundOutcome);
}

RefundResult MeteredQueryRefund(Provider& p, const Merchant& m, const RefundParams& params) {
    return Metered(
        p, metrics::Op::kRefundQuery, [&] { return p.QueryRefund(m, params); }, RefundOutcome);
}

}  // namespace orderpay::providers
