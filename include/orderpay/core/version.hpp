// The release version the three binaries report with --version (from the VERSION file).
#pragma once

namespace orderpay {

/// "0.1.0": VERSION at build time (the Makefile compiles it into src/core/version.cpp only).
const char* Version();

}  // namespace orderpay
