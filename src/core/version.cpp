// The version string, compiled from the VERSION file (the Makefile passes -DORDERPAY_VERSION).
#include "orderpay/core/version.hpp"

#ifndef ORDERPAY_VERSION
#error "ORDERPAY_VERSION must be defined (the Makefile passes it from the VERSION file)"
#endif

namespace orderpay {

const char* Version() {
    return ORDERPAY_VERSION;
}

}  // namespace orderpay
