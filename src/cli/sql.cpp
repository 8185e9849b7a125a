// `orderpay sql [NAME]`: the text of the named statements orderpay runs (all names, or one
// statement). make bench feeds them to pgbench, so its floor is exactly what the service runs.
#include <iostream>

#include "orderpay/cli/cli.hpp"
#include "orderpay/store/statements.hpp"

namespace orderpay::cli {

int Sql(const Args& a) {
    if (a.pos.size() < 2) {
        for (auto list : {store::AllStatements(), store::CliStatements()})
            for (const db::Statement& s : list) std::cout << s.name << '\n';
        return 0;
    }
    for (auto list : {store::AllStatements(), store::CliStatements()}) {
        for (const db::Statement& s : list) {
            if (a.pos[1] == s.name) {
                std::cout << s.sql << '\n';
                return 0;
            }
        }
    }
    std::cerr << "orderpay: no statement " << a.pos[1] << " (orderpay sql lists them)\n";
    return 1;
}

}  // namespace orderpay::cli
