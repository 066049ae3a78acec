"""Read a sweep directory's Parquet tables with pyarrow and duckdb (outside polars) and check the
documented schema (docs/SCHEMA.md): every table has cell_key, every cell_key joins to runs.

Usage:  python3 tests/scripts/check_tables.py SWEEP_DIR [--expect-nan COLUMN]
Needs:  pip install pyarrow duckdb

With --expect-nan COLUMN, the `runs` column COLUMN must hold at least one IEEE NaN (not null) in
both readers: non-finite values are stored faithfully (docs/SCHEMA.md).
"""
import glob, os, sys
import duckdb
import pyarrow.compute as pc
import pyarrow.dataset as ds

TABLES = ["runs", "epochs", "layers", "pruning", "spectra", "trajectories", "weights"]


def main(sweep):
    con = duckdb.connect()
    found = {}
    for t in TABLES:
        files = sorted(glob.glob(os.path.join(sweep, t, "part-*.parquet")))
        if not files:
            continue
        table = ds.dataset(files, format="parquet").to_table()  # pyarrow: unify schemas per file
        n_duck = con.execute(
            f"SELECT COUNT(*) FROM read_parquet('{os.path.join(sweep, t, 'part-*.parquet')}', union_by_name=true)"
        ).fetchone()[0]
        assert "cell_key" in table.column_names, f"{t}: no cell_key"
        assert n_duck == table.num_rows, f"{t}: duckdb {n_duck} rows vs pyarrow {table.num_rows}"
        found[t] = table.num_rows
        print(f"{t}: {table.num_rows} rows, columns: {', '.join(table.column_names[:12])}{' ...' if len(table.column_names) > 12 else ''}")
    assert "runs" in found, "no runs table"
    for t in found:
        if t == "runs":
            continue
        orphans = con.execute(
            f"SELECT COUNT(*) FROM read_parquet('{sweep}/{t}/part-*.parquet', union_by_name=true) x "
            f"ANTI JOIN read_parquet('{sweep}/runs/part-*.parquet', union_by_name=true) r USING (cell_key)"
        ).fetchone()[0]
        assert orphans == 0, f"{t}: {orphans} rows without a run"
    if "trajectories" in found:
        row = con.execute(
            f"SELECT steps, units, len(states) FROM read_parquet('{sweep}/trajectories/part-*.parquet') LIMIT 1"
        ).fetchone()
        assert row[0] * row[1] == row[2], f"trajectory states length {row}"
    print("ok")


def check_nan(sweep, column):
    """`column` of `runs` holds NaN (not null) as pyarrow and DuckDB read it."""
    runs = ds.dataset(sorted(glob.glob(os.path.join(sweep, "runs", "part-*.parquet"))), format="parquet").to_table()
    col = runs.column(column)
    n_nan = pc.sum(pc.is_nan(col)).as_py() or 0
    assert n_nan > 0, f"pyarrow: no NaN in runs.{column} ({col.null_count} nulls)"
    n_duck = duckdb.connect().execute(
        f"SELECT COUNT(*) FROM read_parquet('{sweep}/runs/part-*.parquet', union_by_name=true) "
        f'WHERE isnan("{column}")'
    ).fetchone()[0]
    assert n_duck == n_nan, f"duckdb sees {n_duck} NaN in runs.{column}, pyarrow {n_nan}"
    print(f"runs.{column}: {n_nan} NaN (pyarrow and duckdb agree)")


if __name__ == "__main__":
    main(sys.argv[1])
    if len(sys.argv) == 4 and sys.argv[2] == "--expect-nan":
        check_nan(sys.argv[1], sys.argv[3])
