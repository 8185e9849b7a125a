// paysim: stands in for the WeChat Pay API v2 and Alipay gateways in tests and on laptops
// (DESIGN.md §1).
#include <cstring>
#include <iostream>

#include "orderpay/core/version.hpp"
#include "sim/core/cli.hpp"

int main(int argc, char** argv) {
    if (argc == 2 && !std::strcmp(argv[1], "--version")) {
        std::cout << "paysim " << orderpay::Version() << '\n';
        return 0;
    }
    return orderpay::sim::RunCli(argc, argv);
}
