// Order and payment-slip state machines (DESIGN.md §3): the only place transitions are decided.
#include "orderpay/domain/states.hpp"

#include <array>
#include <utility>

namespace orderpay::domain {

namespace {

constexpr std::array<std::pair<OrderState, std::string_view>, 7> kOrderNames = {{
    {OrderState::kNW, "NW"},
    {OrderState::kWT, "WT"},
    {OrderState::kOK, "OK"},
    {OrderState::kFA, "FA"},
    {OrderState::kSP, "SP"},
    {OrderState::kDN, "DN"},
    {OrderState::kRF, "RF"},
}};

constexpr std::array<std::pair<SlipState, std::string_view>, 4> kSlipNames = {{
    {SlipState::kNew, "NEW"},
    {SlipState::kWait, "WAIT"},
    {SlipState::kOk, "OK"},
    {SlipState::kFail, "FAIL"},
}};

constexpr std::array<std::pair<RefundState, std::string_view>, 4> kRefundNames = {{
    {RefundState::kNew, "NEW"},
    {RefundState::kProcessing, "PROCESSING"},
    {RefundState::kOk, "OK"},
    {RefundState::kFail, "FAIL"},
}};

constexpr std::array<std::pair<OrderType, std::string_view>, 2> kTypeNames = {{
    {OrderType::kGoods, "A"},
    {OrderType::kVirtual, "Q"},
}};

template <typename E, std::size_t N>
std::string_view NameOf(const std::array<std::pair<E, std::string_view>, N>& table, E value) {
    for (const auto& [e, name] : table)
        if (e == value) return name;
    return "?";  // unreachable for valid enumerators; avoids UB on a corrupted value
}

template <typename E, std::size_t N>
std::optional<E> ValueOf(const std::array<std::pair<E, std::string_view>, N>& table, std::string_view s) {
    for (const auto& [e, name] : table)
        if (name == s) return e;
    return std::nullopt;
}

}  // namespace

std::string_view ToString(OrderState s) {
    return NameOf(kOrderNames, s);
}
std::string_view ToString(SlipState s) {
    return NameOf(kSlipNames, s);
}
std::string_view ToString(OrderType t) {
    return NameOf(kTypeNames, t);
}

std::string_view ToString(RefundState s) {
    return NameOf(kRefundNames, s);
}

std::optional<OrderState> ParseOrderState(std::string_view s) {
    return ValueOf(kOrderNames, s);
}
std::optional<SlipState> ParseSlipState(std::string_view s) {
    return ValueOf(kSlipNames, s);
}
std::optional<OrderType> ParseOrderType(std::string_view s) {
    return ValueOf(kTypeNames, s);
}
std::optional<RefundState> ParseRefundState(std::string_view s) {
    return ValueOf(kRefundNames, s);
}

bool CanTransition(OrderType type, OrderState from, OrderState to) {
    using S = OrderState;
    switch (from) {
        case S::kNW:
            return to == S::kWT || to == S::kOK || to == S::kFA;
        case S::kWT:
            return to == S::kOK || to == S::kFA;
        case S::kOK:
            // Goods are shipped before they are done; virtual goods are delivered on payment.
            // A paid order can be refunded in full at any point after payment.
            return (type == OrderType::kGoods && to == S::kSP) ||
                   (type == OrderType::kVirtual && to == S::kDN) || to == S::kRF;
        case S::kSP:
            return to == S::kDN || to == S::kRF;
        case S::kFA:
            // A verified payment that arrives after expiry still settles the order.
            return to == S::kOK;
        case S::kDN:
            return to == S::kRF;
        case S::kRF:
            return false;
    }
    return false;
}

bool CanTransition(SlipState from, SlipState to) {
    using S = SlipState;
    switch (from) {
        case S::kNew:
            return to == S::kWait || to == S::kOk || to == S::kFail;
        case S::kWait:
            return to == S::kOk || to == S::kFail;
        case S::kFail:
            // A verified late payment is never thrown away.
            return to == S::kOk;
        case S::kOk:
            return false;
    }
    return false;
}

bool CanTransition(RefundState from, RefundState to) {
    using S = RefundState;
    switch (from) {
        case S::kNew:
            // A notification may report the result before the worker that asked records PROCESSING.
            return to == S::kProcessing || to == S::kOk || to == S::kFail;
        case S::kProcessing:
            return to == S::kOk || to == S::kFail;
        case S::kOk:
        case S::kFail:
            return false;
    }
    return false;
}

bool IsPayable(OrderState s) {
    return s == OrderState::kNW || s == OrderState::kWT;
}

bool IsPaid(OrderState s) {
    return s == OrderState::kOK || s == OrderState::kSP || s == OrderState::kDN;
}

}  // namespace orderpay::domain
