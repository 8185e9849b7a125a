#!/usr/bin/env bash
# Lint: orderpay's SQL lives in src/store/ (use-case functions) and sql/ (migrations) only.
# src/db/ runs transaction control and the migration ledger; paysim (src/sim/) is a separate
# program with its own store files. Anything else that holds SQL text fails, naming the line.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
pattern='"[^"]*\b(SELECT|INSERT INTO|UPDATE [a-z_]+ SET|DELETE FROM|CREATE (TABLE|INDEX|FUNCTION)|ALTER TABLE)\b'
hits=$(grep -rnE "$pattern" src include \
    --include='*.cpp' --include='*.hpp' |
    grep -vE '^(src/store/|include/orderpay/store/|src/db/|src/sim/)' || true)
# Statements run by name from outside the store are SQL issued around it too.
named=$(grep -rnE 'store::k[A-Z][A-Za-z]+' src --include='*.cpp' | grep -vE '^(src/store/|src/sim/)' |
    grep -v 'store::AllStatements' || true)
if [[ -n $hits || -n $named ]]; then
    echo "lint: SQL outside src/store/:" >&2
    printf '%s\n' "$hits" "$named" | sed '/^$/d' >&2
    exit 1
fi
echo "lint: no SQL outside src/store/ (and sql/)"

# Every statement defined (src/store/*statements.cpp) must be prepared on connect (listed in
# AllStatements), or its first use fails with "prepared statement does not exist". The CLI's own
# (listed in CliStatements: a column they name may be missing while orderpayd serves) run
# unprepared, by their text, and never through Exec.
cli_list=$(sed -n '/^std::span<const db::Statement> CliStatements() {/,/^}/p' src/store/statements.cpp)
missing="" prepared_cli=""
for name in $(sed -n 's/^const db::Statement \(k[A-Za-z]*\){.*/\1/p' src/store/*statements.cpp); do
    if grep -qw "$name" <<<"$cli_list"; then
        ! grep -rqE "Exec\($name\b" src || prepared_cli+=" $name"
    elif ! grep -q "&$name\b" src/store/statements.cpp; then
        missing+=" $name"
    fi
done
if [[ -n $missing ]]; then
    echo "lint: statements not in AllStatements() or CliStatements():$missing" >&2
    exit 1
fi
if [[ -n $prepared_cli ]]; then
    echo "lint: CliStatements run through Exec (never prepared):$prepared_cli" >&2
    exit 1
fi
echo "lint: every statement is prepared on connect, or is the CLI's and runs unprepared"
