"""The DuckDB peer of `sessionstats analyze` in benches/e2e.sh (issue 9).

    python3 benches/duckdb_peer.py CORPUS AS_OF THREADS [--check REPORT_DIR]

One SQL script over `read_json` of every NDJSON file under CORPUS (plain or .gz) computes what
an analyst would write by hand for the core figures: per (session, participant) the length of
the union of its clipped connections (`attended_ms`) and its number of segments, and per
session the peak concurrency (a participant counts once). It follows the same rules as
docs/reference.md §2-§5 for the generated corpora: the duplicate rule (the copy with an end,
the latest end, the most entries), open entries closed at the session's end, invalid entries
dropped, clipping to the session bounds, touching spans joined, times truncated to the
millisecond. It prints one line of totals. With `--check`, it also compares its rows with the
`participants.csv` and `sessions.csv` that `analyze` wrote in REPORT_DIR (outside the timing)
and exits 1 on any difference.

Needs DuckDB's Python package (`pip install duckdb`).
"""

import sys

import duckdb

SCRIPT = """
-- RFC 3339 to epoch milliseconds, the fraction truncated to milliseconds (a cast would round
-- digits beyond the microsecond).
CREATE MACRO ms(x) AS epoch_ms(try_cast(regexp_replace(x, '(\\.[0-9]{{3}})[0-9]+', '\\1') AS TIMESTAMPTZ));

CREATE TEMP TABLE doc AS
SELECT * FROM read_json(
    [{files}], format = 'newline_delimited', filename = true, ignore_errors = true,
    columns = {{id: 'VARCHAR', start: 'VARCHAR', "end": 'VARCHAR',
               participants: 'STRUCT(participantId VARCHAR, timelog STRUCT(start VARCHAR, "end" VARCHAR)[])[]'}});

-- The duplicate rule: the copy with an end, then the latest end, then the most entries.
CREATE TEMP TABLE kept AS
SELECT id,
       ms(start) AS s_start,
       coalesce(ms("end"), {as_of}) AS s_end,
       participants
FROM doc
WHERE id IS NOT NULL AND id <> ''
QUALIFY row_number() OVER (
    PARTITION BY id
    ORDER BY (ms("end") IS NULL), ms("end") DESC,
             list_sum([coalesce(len(p.timelog), 0) FOR p IN participants]) DESC NULLS LAST,
             filename) = 1;

-- Clipped valid entries with some length.
CREATE TEMP TABLE entry AS
WITH p AS (
    SELECT id, s_start, greatest(s_end, s_start) AS s_end, unnest(participants) AS p FROM kept
), t AS (
    SELECT id, s_start, s_end, p.participantId AS pid, unnest(p.timelog) AS t
    FROM p WHERE p.participantId IS NOT NULL
), ms AS (
    SELECT id, pid, s_start, s_end,
           ms(t.start) AS e_start,
           CASE WHEN t."end" IS NULL THEN s_end ELSE ms(t."end") END AS e_end
    FROM t
)
SELECT id, pid, greatest(e_start, s_start) AS a, least(e_end, s_end) AS b
FROM ms
WHERE e_start IS NOT NULL AND e_end IS NOT NULL AND e_end >= e_start
  AND least(e_end, s_end) > greatest(e_start, s_start);

-- Gaps and islands: a segment starts where no earlier entry reaches.
CREATE TEMP TABLE segment AS
WITH o AS (
    SELECT id, pid, a, b,
           max(b) OVER (PARTITION BY id, pid ORDER BY a, b ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
    FROM entry
), g AS (
    SELECT id, pid, a, b,
           sum(CASE WHEN reach IS NULL OR a > reach THEN 1 ELSE 0 END)
               OVER (PARTITION BY id, pid ORDER BY a, b ROWS UNBOUNDED PRECEDING) AS seg
    FROM o
)
SELECT id, pid, min(a) AS a, max(b) AS b FROM g GROUP BY id, pid, seg;

CREATE TEMP TABLE attendance AS
SELECT id, pid, sum(b - a) AS attended_ms, count(*) AS segments FROM segment GROUP BY id, pid;

-- Peak concurrency: +1 at each segment start, -1 at its end, ends first at one instant.
CREATE TEMP TABLE peak AS
WITH ev AS (
    SELECT id, a AS ts, 1 AS d FROM segment UNION ALL SELECT id, b AS ts, -1 AS d FROM segment
), run AS (
    SELECT id, sum(d) OVER (PARTITION BY id ORDER BY ts, d ROWS UNBOUNDED PRECEDING) AS level FROM ev
)
SELECT k.id, coalesce(max(level), 0) AS peak_concurrency
FROM kept k LEFT JOIN run r ON r.id = k.id GROUP BY k.id;
"""

CHECK = """
SELECT
  (SELECT count(*) FROM (
     SELECT session_id, participant_id, attended_ms, segments FROM read_csv('{out}/participants.csv', all_varchar = true)
     WHERE CAST(segments AS BIGINT) > 0
     EXCEPT SELECT id, pid, CAST(attended_ms AS VARCHAR), CAST(segments AS VARCHAR) FROM attendance)),
  (SELECT count(*) FROM (
     SELECT id, pid, CAST(attended_ms AS VARCHAR), CAST(segments AS VARCHAR) FROM attendance
     EXCEPT SELECT session_id, participant_id, attended_ms, segments FROM read_csv('{out}/participants.csv', all_varchar = true))),
  (SELECT count(*) FROM (
     SELECT session_id, peak_concurrency FROM read_csv('{out}/sessions.csv', all_varchar = true)
     EXCEPT SELECT id, CAST(peak_concurrency AS VARCHAR) FROM peak)),
  (SELECT count(*) FROM (
     SELECT id, CAST(peak_concurrency AS VARCHAR) FROM peak
     EXCEPT SELECT session_id, peak_concurrency FROM read_csv('{out}/sessions.csv', all_varchar = true)))
"""


def main() -> int:
    corpus, as_of, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    check = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--check" else None
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    as_of_ms = con.execute(f"SELECT epoch_ms(TIMESTAMPTZ '{as_of}')").fetchone()[0]
    globs = [f"{corpus}/**/*.{ext}" for ext in ("ndjson", "jsonl", "ndjson.gz", "jsonl.gz")]
    files = [g for g in globs if con.execute(f"SELECT count(*) FROM glob('{g}')").fetchone()[0] > 0]
    if not files:
        files = [corpus]
    con.execute(SCRIPT.format(files=", ".join(f"'{f}'" for f in files), as_of=as_of_ms))
    sessions, participants, attended, segments, peaks = con.execute(
        "SELECT (SELECT count(*) FROM kept), count(*), sum(attended_ms), sum(segments),"
        " (SELECT sum(peak_concurrency) FROM peak) FROM attendance"
    ).fetchone()
    print(
        f"duckdb: {sessions} sessions, {participants} attending participants,"
        f" attended_ms {attended}, segments {segments}, sum of peaks {peaks}"
    )
    if check:
        diffs = con.execute(CHECK.format(out=check)).fetchone()
        print(f"check against {check}: rows only in ours / only in duckdb:"
              f" participants {diffs[0]}/{diffs[1]}, sessions {diffs[2]}/{diffs[3]}")
        return 1 if any(diffs) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
