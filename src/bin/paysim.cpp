// paysim: stands in for the WeChat Pay API v2 and Alipay gateways in tests and on laptops
// (DESIGN.md §1).
#include "sim/core/cli.hpp"

int main(int argc, char** argv) {
    return orderpay::sim::RunCli(argc, argv);
}
