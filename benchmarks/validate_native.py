"""Time native DuckDB validation (auditor.validate.run_suite) on a synthetic table.

    python benchmarks/validate_native.py                 # 1M rows x 10 columns, 30 expectations
    python benchmarks/validate_native.py --rows 200000 --gx   # also time GX's pandas engine

Why: the native path exists because GX's pandas engine needs ~50 s and 1.5 GB for this workload;
this script shows what the native path costs instead and that every expectation stayed native.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections import Counter

import duckdb

from auditor.validate import run_suite, run_suite_with_gx, suite_from_expectations

EXPECTATIONS = [
    ("expect_table_row_count_to_be_between", {"min_value": 1}),
    ("expect_table_columns_to_match_set", {"column_set": ["id"], "exact_match": False}),
    ("expect_column_values_to_not_be_null", {"column": "id"}),
    ("expect_column_values_to_not_be_null", {"column": "email", "mostly": 0.95}),
    ("expect_column_values_to_not_be_null", {"column": "amount", "mostly": 0.9}),
    ("expect_column_values_to_be_unique", {"column": "id"}),
    ("expect_column_values_to_be_unique", {"column": "email", "mostly": 0.5}),
    ("expect_compound_columns_to_be_unique", {"column_list": ["country", "category", "id"]}),
    ("expect_column_values_to_be_in_set", {"column": "country", "value_set": ["DE", "FR", "NL"]}),
    ("expect_column_values_to_not_be_in_set", {"column": "category", "value_set": ["", "n/a"]}),
    ("expect_column_values_to_be_between", {"column": "amount", "min_value": 0}),
    ("expect_column_values_to_be_between", {"column": "score", "min_value": 0, "max_value": 1}),
    ("expect_column_values_to_be_between", {"column": "created", "min_value": "2020-01-01"}),
    ("expect_column_values_to_be_between",
     {"column": "updated", "max_value": "2026-01-01T00:00:00"}),
    ("expect_column_values_to_match_regex",
     {"column": "email", "regex": r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$"}),
    ("expect_column_values_to_not_match_regex", {"column": "name", "regex": r"\d"}),
    ("expect_column_values_to_match_regex_list",
     {"column": "category", "regex_list": ["^[a-z]", "^[A-Z]"]}),
    ("expect_column_value_lengths_to_be_between", {"column": "name", "min_value": 2,
                                                   "max_value": 40}),
    ("expect_column_min_to_be_between", {"column": "amount", "min_value": -1000}),
    ("expect_column_max_to_be_between", {"column": "created", "max_value": "2030-01-01"}),
    ("expect_column_mean_to_be_between", {"column": "amount", "min_value": 0}),
    ("expect_column_median_to_be_between", {"column": "score", "min_value": 0.2}),
    ("expect_column_sum_to_be_between", {"column": "amount", "min_value": 0}),
    ("expect_column_stdev_to_be_between", {"column": "score", "max_value": 1}),
    ("expect_column_unique_value_count_to_be_between", {"column": "country", "max_value": 10}),
    ("expect_column_proportion_of_unique_values_to_be_between",
     {"column": "email", "min_value": 0.5}),
    ("expect_column_distinct_values_to_be_in_set",
     {"column": "country", "value_set": ["DE", "FR", "NL", "BE"]}),
    ("expect_column_distinct_values_to_contain_set", {"column": "country", "value_set": ["DE"]}),
    ("expect_column_pair_values_a_to_be_greater_than_b",
     {"column_A": "amount", "column_B": "score", "or_equal": True}),
    ("expect_column_pair_values_to_be_equal", {"column_A": "country", "column_B": "category"}),
]


def build(con: duckdb.DuckDBPyConnection, rows: int) -> None:
    con.execute(
        f"""
        CREATE OR REPLACE TABLE bench AS
        SELECT
            i AS id,
            CASE WHEN i % 50 = 0 THEN NULL ELSE 'user' || (i % 900000) || '@example.com' END
                AS email,
            CASE WHEN i % 7 = 0 THEN NULL ELSE (hash(i) % 100000) / 100.0 - 50 END AS amount,
            (hash(i * 3) % 1000) / 1000.0 AS score,
            ['DE', 'FR', 'NL', 'BE', 'de'][1 + i % 5] AS country,
            ['a', 'B', '', 'n/a', 'c'][1 + (i // 7) % 5] AS category,
            'Name ' || (i % 1000) AS name,
            DATE '2019-06-01' + CAST(i % 2500 AS INTEGER) AS created,
            TIMESTAMP '2021-01-01' + to_seconds(i * 97) AS updated,
            CASE WHEN i % 3 = 0 THEN 'x' END AS note
        FROM range({rows}) t(i)
        """
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--gx", action="store_true", help="also time GX's pandas engine")
    args = parser.parse_args()

    con = duckdb.connect()
    build(con, args.rows)
    suite = suite_from_expectations("bench", EXPECTATIONS)
    run_suite(con, "bench", suite, dataset="bench")  # warm-up: imports, regex classes
    timings = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        outcomes = run_suite(con, "bench", suite, dataset="bench")
        timings.append(time.perf_counter() - start)
    engines = Counter(o.engine for o in outcomes)
    failed = sum(1 for o in outcomes if o.success is False)
    print(
        f"native: {args.rows:,} rows x 10 columns, {len(EXPECTATIONS)} expectations: "
        f"best {min(timings):.2f} s, median {sorted(timings)[len(timings) // 2]:.2f} s "
        f"(engines {dict(engines)}, {failed} failing)"
    )
    if args.gx:
        start = time.perf_counter()
        run_suite_with_gx(con, "bench", suite, dataset="bench", result_format="SUMMARY")
        print(f"gx-pandas: {time.perf_counter() - start:.1f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
