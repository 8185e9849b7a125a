// Every key of the config file with its rule, checked once before a program starts (and before
// orderpayd takes a reloaded file): a value a key cannot mean is refused, naming the key, instead
// of being read as the default, truncated or taken negative.
#pragma once

#include <string>
#include <vector>

#include "orderpay/core/config.hpp"

namespace orderpay {

enum class ConfigUser { kDaemon, kCli };

/// The first problem, e.g. "http.timeout_ms must be a whole number from 1 to 600000, not '100ms'";
/// empty when every key holds a value it can mean. orderpayd also needs notify_base_url.
std::string CheckConfig(const Config& cfg, ConfigUser user);

/// Names the file's keys no program reads (a typo, "Workers"), those it sets more than once
/// (Config::Repeats), and the process environment's ORDERPAY_* variables that override no key
/// (UnknownEnvWarning), for a warning (never fatal); empty when there are none. Names are shown
/// printable and cut short; values never.
std::string UnknownKeysWarning(const Config& cfg);

/// The ORDERPAY_* names in `env` (a NULL-terminated environ-style list, may be null) that
/// override no key and mean nothing else to orderpay's programs and scripts (ORDERPAY_CONFIG,
/// ORDERPAY_VAR, ORDERPAY_BIN, ...): a typo there (ORDERPAY_WROKERS) passed silently while the
/// same typo in the file was named. Empty when there are none.
std::string UnknownEnvWarning(const char* const* env);

/// Every key a program reads, as the check knows them (the example config documents each).
std::vector<std::string> KnownConfigKeys();

}  // namespace orderpay
