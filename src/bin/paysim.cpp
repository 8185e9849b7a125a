// paysim: stands in for WeChat Pay's API v2 gateway in tests and on laptops (DESIGN.md §1).
#include "sim/core/cli.hpp"

int main(int argc, char** argv) {
    return orderpay::sim::RunCli(argc, argv);
}
