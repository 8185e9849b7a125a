// paysim's command line: migrate, merchant add, serve.
#pragma once

#include <string>

namespace orderpay::sim {

/// Runs `paysim ARGS...` (argv without the program name); returns the exit code.
int RunCli(int argc, char** argv);

/// A key file's content without its trailing line break(s) ("\n", "\r\n"); nothing else is
/// trimmed, so a key with inner or leading blanks is kept byte for byte.
std::string TrimKey(std::string text);

}  // namespace orderpay::sim
