"""make bench: one of orderpay's prepared statements (`orderpay sql NAME`, on stdin) with its
parameters $1..$N written in, for a pgbench script. An argument NULL is SQL NULL, :name is a
pgbench variable (a parameter again under -M prepared), anything else a quoted literal.
  usage: orderpay sql NAME | python3 subst.py P1 P2 ..."""
import re
import sys

params = sys.argv[1:]
sql = sys.stdin.read().strip()


def value(match):
    n = int(match.group(1))
    if n > len(params):
        sys.exit("subst.py: the statement uses $%d, only %d parameters given" % (n, len(params)))
    p = params[n - 1]
    if p == "NULL":
        return "NULL"
    if re.fullmatch(r":[a-z_]+", p):
        return p
    return "'" + p.replace("'", "''") + "'"


# A statement is one line for pgbench; $10 is never read as $1 followed by 0.
print(re.sub(r"\$(\d+)", value, " ".join(sql.split())) + ";")
