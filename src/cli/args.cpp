// Command-line parsing and secret reading for the operator CLI.
#include <fstream>
#include <iostream>
#include <iterator>

#include "orderpay/cli/cli.hpp"

namespace orderpay::cli {

std::optional<std::string> Args::Flag(const std::string& name) const {
    auto it = flags.find(name);
    if (it == flags.end()) return std::nullopt;
    return it->second;
}

std::string Args::Need(const std::string& name) const {
    auto v = Flag(name);
    if (!v || v->empty()) throw UsageError("missing --" + name);
    return *v;
}

Args Parse(int argc, char** argv, int start) {
    Args a;
    for (int i = start; i < argc; ++i) {
        std::string s = argv[i];
        if (s == "--json") {
            a.json = true;
        } else if (s.rfind("--", 0) == 0 && s.size() > 2) {
            std::string name = s.substr(2);
            auto eq = name.find('=');
            if (eq != std::string::npos) {
                a.flags[name.substr(0, eq)] = name.substr(eq + 1);
            } else if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
                a.flags[name] = argv[++i];
            } else {
                a.flags[name] = "true";
            }
        } else {
            a.pos.push_back(s);
        }
    }
    return a;
}

std::string ReadInput(const std::string& file) {
    if (file == "-")
        return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    std::ifstream in(file, std::ios::binary);
    if (!in) throw UsageError("cannot read " + file);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string ReadSecret(const std::string& file) {
    std::string s = ReadInput(file);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    if (s.empty()) throw UsageError("the key is empty");
    return s;
}

}  // namespace orderpay::cli
