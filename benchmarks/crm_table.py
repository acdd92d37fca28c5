"""Synthetic CRM-like table for profiling and PII benchmarks.

The generator is pure DuckDB SQL (``COPY (SELECT ... FROM range(N)) TO ...``) so 10M rows take
seconds, not the minutes a Python row loop would. Every pseudo-random choice is a function of
``hash(row, seed, k)``, so the same ``(rows, seed)`` always produces the same file, which keeps
benchmark figures comparable between runs and machines.

The 20 columns mix the shapes the profiler and PII scanner must cope with: integer and decimal
measures, doubles, VARCHAR ids, e-mails, phones, low-cardinality categories, TIMESTAMP,
TIMESTAMPTZ and DATE columns, a BOOLEAN, and free-text notes that sometimes embed an e-mail or
phone number. About 0.1% of rows are exact copies of the previous row (so ``duplicate_rows`` is
non-zero) and ``account_id`` repeats (so key checks find duplicate keys); several columns carry
NULLs and empty or whitespace-only strings.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import duckdb

FIRST_NAMES = (
    "Anna", "Ben", "Chloé", "David", "Emma", "Felix", "Grace", "Hugo", "Inès", "Jack",
    "Karin", "Liam", "Maria", "Noah", "Olivia", "Paul", "Quentin", "Rosa", "Sam", "Tara",
    "Ugo", "Vera", "Will", "Xenia", "Yusuf", "Zoé", "Aiko", "Björn", "Carmen", "Dmitri",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Müller", "Martin", "Rossi", "García", "Dubois", "Jensen", "Nowak", "Silva",
    "Kowalski", "Novak", "Bernard", "Schmidt", "Brown", "Lopez", "Moreau", "Weber", "Costa",
    "O'Brien", "Van Dijk", "Fischer", "Lefebvre", "Horvat", "Nagy", "Popescu",
)  # fmt: skip
CITIES = (
    "Paris", "Lyon", "Berlin", "Munich", "London", "Leeds", "Madrid", "Rome", "Milan",
    "Amsterdam", "Brussels", "Vienna", "Zurich", "Lisbon", "Dublin", "Warsaw", "Prague",
    "New York", "Chicago", "Toronto",
)  # fmt: skip
COUNTRIES = ("FR", "DE", "GB", "ES", "IT", "NL", "BE", "AT", "CH", "PT", "IE", "PL", "US", "CA")
INDUSTRIES = (
    "Software", "Retail", "Banking", "Insurance", "Manufacturing", "Healthcare", "Energy",
    "Logistics", "Telecom", "Education", "Public sector", "Media",
)  # fmt: skip
STATUSES = ("active", "active", "active", "prospect", "prospect", "lead", "churned", "on hold")
DOMAINS = ("example.com", "mail.example.org", "corp.example.net", "example.fr", "example.de")
NOTE_PHRASES = (
    "called about renewal", "asked for a discount", "prefers e-mail contact",
    "meeting scheduled next week", "sent the updated proposal", "no answer, try again",
    "interested in the premium plan", "complained about invoice", "budget approved",
)  # fmt: skip

COLUMNS = (
    "id", "account_id", "first_name", "last_name", "email", "phone", "country", "city",
    "industry", "status", "annual_revenue", "employees", "lead_score", "is_customer",
    "created_at", "last_activity_at", "birth_date", "notes", "postal_code",
    "last_order_amount",
)  # fmt: skip


def _list(values: tuple[str, ...]) -> str:
    """A DuckDB list literal of string constants (quotes doubled)."""
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _pick(values: tuple[str, ...], k: int) -> str:
    """SQL picking one element of ``values`` per row from hash stream ``k``."""
    return f"{_list(values)}[1 + (h({k}) % {len(values)})::INTEGER]"


def crm_select_sql(rows: int, seed: int) -> str:
    """The SELECT that produces the synthetic table (exposed so callers can CREATE TABLE AS)."""
    rows = int(rows)
    seed = int(seed)
    # r is the "source row": every 1000th row copies the previous one exactly.
    # h(k) is a 64-bit hash stream; u(k) a uniform double in [0, 1).
    sql = f"""
WITH base AS (
    SELECT i, CASE WHEN i % 1000 = 999 THEN i - 1 ELSE i END AS r FROM range({rows}) t(i)
)
SELECT
    r + 1 AS id,
    'ACC-' || lpad(CAST(h(1) % {max(rows // 5, 1)} AS VARCHAR), 7, '0') AS account_id,
    CASE WHEN u(2) < 0.01 THEN NULL ELSE {_pick(FIRST_NAMES, 3)} END AS first_name,
    {_pick(LAST_NAMES, 4)} AS last_name,
    CASE
        WHEN u(5) < 0.03 THEN NULL
        WHEN u(5) < 0.04 THEN ''
        WHEN u(5) < 0.045 THEN 'n/a'
        ELSE lower(strip_accents(replace(replace({_pick(FIRST_NAMES, 3)}, ' ', ''), '''', '')))
            || '.' || lower(strip_accents(replace(replace({_pick(LAST_NAMES, 4)}, ' ', ''),
            '''', ''))) || CAST(h(6) % 1000 AS VARCHAR) || '@' || {_pick(DOMAINS, 7)}
    END AS email,
    CASE
        WHEN u(8) < 0.05 THEN NULL
        WHEN u(8) < 0.06 THEN '   '
        WHEN u(8) < 0.50 THEN '+33 6 ' || lpad(CAST(h(9) % 100 AS VARCHAR), 2, '0') || ' '
            || lpad(CAST(h(10) % 100 AS VARCHAR), 2, '0') || ' '
            || lpad(CAST(h(11) % 100 AS VARCHAR), 2, '0') || ' '
            || lpad(CAST(h(12) % 100 AS VARCHAR), 2, '0')
        ELSE '(' || CAST(200 + h(9) % 800 AS VARCHAR) || ') '
            || CAST(200 + h(10) % 800 AS VARCHAR) || '-'
            || lpad(CAST(h(11) % 10000 AS VARCHAR), 4, '0')
    END AS phone,
    {_pick(COUNTRIES[:4] * 3 + COUNTRIES, 13)} AS country,
    {_pick(CITIES, 14)} AS city,
    CASE WHEN u(15) < 0.08 THEN NULL ELSE {_pick(INDUSTRIES, 16)} END AS industry,
    {_pick(STATUSES, 17)} AS status,
    CASE WHEN u(18) < 0.02 THEN NULL
        ELSE round(exp(11 + 2.5 * (u(19) + u(20) + u(21) - 1.5)), 2) END AS annual_revenue,
    CAST(1 + floor(pow(u(22), 4) * 50000) AS INTEGER) AS employees,
    round(100 * u(23), 3) AS lead_score,
    u(24) < 0.35 AS is_customer,
    TIMESTAMP '2019-01-01' + to_microseconds(CAST(u(25) * 1.5768e14 AS BIGINT)) AS created_at,
    CASE WHEN u(26) < 0.1 THEN NULL
        ELSE CAST(TIMESTAMPTZ '2024-01-01 00:00:00+00'
            + to_microseconds(CAST(u(26) * 5.0e13 AS BIGINT)) AS TIMESTAMPTZ)
    END AS last_activity_at,
    CASE WHEN u(27) < 0.1 THEN NULL
        ELSE DATE '1950-01-01' + CAST(u(28) * 20000 AS INTEGER) END AS birth_date,
    CASE
        WHEN u(29) < 0.30 THEN NULL
        WHEN u(29) < 0.32 THEN ''
        WHEN u(29) < 0.34 THEN 'Client asked to write to ' || lower({_pick(FIRST_NAMES, 30)})
            || '@' || {_pick(DOMAINS, 7)} || ' instead'
        WHEN u(29) < 0.35 THEN 'Call back on +44 20 7946 ' || lpad(CAST(h(31) % 10000 AS VARCHAR),
            4, '0') || ' after lunch'
        ELSE {_pick(NOTE_PHRASES, 32)} || ', ' || {_pick(NOTE_PHRASES, 33)}
    END AS notes,
    lpad(CAST(h(34) % 100000 AS VARCHAR), 5, '0') AS postal_code,
    CASE WHEN u(35) < 0.15 THEN NULL
        ELSE CAST(round(u(36) * u(36) * 25000, 2) AS DECIMAL(12, 2)) END AS last_order_amount
FROM base
"""
    sql = re.sub(r"\bh\(", f"hash(r, {seed}, ", sql)
    return re.sub(r"\bu\(", f"(1.0 / 18446744073709551616.0) * hash(r, {seed}, ", sql)


def make_crm_parquet(path: str | Path, rows: int, seed: int = 42) -> Path:
    """Write a CRM-like Parquet file of ``rows`` rows x 20 columns and return its path.

    Uses an in-memory DuckDB connection; the work is one ``COPY ... TO`` statement.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        target = str(out).replace("'", "''")
        con.execute(
            f"COPY ({crm_select_sql(rows, seed)}) TO '{target}' "
            "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)"
        )
    finally:
        con.close()
    return out


def main() -> None:
    """CLI: ``python benchmarks/crm_table.py out.parquet --rows 10000000 --seed 42``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    print(make_crm_parquet(args.path, args.rows, args.seed))


if __name__ == "__main__":
    main()
