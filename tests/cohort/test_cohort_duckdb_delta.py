"""DuckDB's own `delta` extension (delta_scan, Delta kernel) reads the cohort's tables as we wrote them.

The extension ships for duckdb 1.5.5 only (labstream's venv has 2.0.1), so it runs in the small venv
scripts/setup-duckdb-delta.sh builds (make setup): a subprocess gets the table URIs and prints JSON.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from labstream.cohort import CohortStore, allele_sql, allele_stats
from labstream.instruments.cohort_sim import sample_calls, simulate_cohort
from labstream.lake import open_lake

VENV = Path(__file__).resolve().parents[2] / ".venv-duckdb-delta"

READER = """
import json, pathlib, sys
import duckdb, duckdb_extension_delta
ext = next(pathlib.Path(duckdb_extension_delta.__file__).parent.rglob("delta.duckdb_extension"))
con = duckdb.connect()
con.sql(f"LOAD '{ext}'")
args = json.loads(sys.argv[1])
for name, uri in args["tables"].items():
    con.sql(f"CREATE VIEW {name} AS SELECT * FROM delta_scan('{uri}')")
out = {
    "duckdb": duckdb.__version__,
    "rows": con.sql("SELECT count(*) FROM cohort_calls").fetchone()[0],
    "samples": [r[0] for r in con.sql("SELECT DISTINCT sample FROM cohort_calls ORDER BY 1").fetchall()],
    "projects": dict(con.sql("SELECT sample, any_value(project) FROM cohort_calls GROUP BY 1").fetchall()),
    "withdrawn": con.sql("SELECT sample, reason FROM cohort_withdrawals").fetchall(),
    "through": [r[0] for r in con.sql("SELECT DISTINCT through FROM cohort_summary").fetchall()],
    "counts": con.sql(args["sql"]).fetchall(),
}
print(json.dumps(out))
"""


def test_duckdb_delta_extension_reads_the_cohort_tables(tmp_path: Path) -> None:
    python = VENV / "bin" / "python"
    assert python.exists(), f"{VENV} is missing: run scripts/setup-duckdb-delta.sh (make setup does)"
    store = CohortStore(open_lake(tmp_path / "lake"), max_block=200)
    c = simulate_cohort(6, 40_000, seed=23, gap_len=5000, nocall_rate=0.05)
    for j in range(6):
        store.add(sample_calls(c, j, 200), project="alpha" if j % 2 else "beta")
    store.withdraw(c.names[2], "consent withdrawn", by="dr-x")  # a Delta delete + a summary rebuild
    tables = {t: store.lake.table_uri(t) for t in ("cohort_calls", "cohort_summary", "cohort_withdrawals")}
    done = subprocess.run(
        [str(python), "-c", READER, json.dumps({"tables": tables, "sql": allele_sql(store.max_block)})],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])  # after any progress output
    assert got["duckdb"] == "1.5.5"
    assert got["rows"] == store._files().count_rows()
    assert got["samples"] == sorted(set(c.names) - {c.names[2]})
    assert got["projects"] == {n: ("alpha" if j % 2 else "beta") for j, n in enumerate(c.names) if j != 2}
    assert got["withdrawn"] == [[c.names[2], "consent withdrawn"]]
    assert got["through"] == [store.lake.version("cohort_calls")]
    mine = {
        (r["contig"], r["start"], r["ref"], r["alt"]): (r["ac"], r["an"])
        for r in allele_stats(store).to_pylist()
    }
    theirs = {(ctg, s, ref, alt): (ac, an) for ctg, s, ref, alt, ac, an, _ in got["counts"]}
    assert theirs and theirs == mine
