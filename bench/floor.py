"""The floor: what any tool pays to read the same catalog, measured beside each syncer run.

Each floor is a `python -c` child (so interpreter start is included, as in `syncer run`) that
imports the driver syncer uses and runs the catalog statements syncer's reflector runs, taken
from the reflector modules themselves (connectors/sql/reflect/), fetching every row and building
nothing from them:

- SQLite (`sqlite3`): the schema list, then per schema `sqlite_master` and the
  `pragma_table_info`, `pragma_foreign_key_list` and `pragma_index_list` joins;
- PostgreSQL (`psycopg`): the session set-up, the schema list, the schemas' oids, their
  relations, then the three whole-database statements (comments and view definitions,
  columns, constraints) through server-side cursors `page_size` rows at a time, and the type
  statement once per distinct column type;
- the synthetic source: the source's own generation of every record, without the engine.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.harness import FloorSpec

# argv[1]: {"path": ..., "statements": [[sql, params], ...]}
_SQLITE = """
import json, sqlite3, sys
spec = json.loads(sys.argv[1])
con = sqlite3.connect(spec["path"])
for sql, params in spec["statements"]:
    con.execute(sql, params).fetchall()
con.close()
"""

# argv[1]: {"dsn", "setup", "schemas", "schema", "relations", "streams", "types", "page_size"}
_POSTGRES = """
import json, sys
import psycopg
spec = json.loads(sys.argv[1])
kinds = {"r": 0, "p": 0, "v": 1, "m": 1, "f": 1}
with psycopg.connect(spec["dsn"]) as con:
    con.execute(spec["setup"])
    con.commit()
    names = [r[0] for r in con.execute(spec["schemas"]).fetchall()]
    found = con.execute(spec["schema"], {"names": names}).fetchall()
    index = {r[1]: names.index(r[0]) for r in found if r[2]}
    rels = con.execute(spec["relations"], {"schemas": list(index)}).fetchall() if index else []
    kept = sorted((index[s], kinds[k], n, o) for s, o, n, k in rels)
    where = {"oids": "{" + ",".join(str(r[3]) for r in kept) + "}"}
    types = set()
    for name, sql in spec["streams"]:
        with con.cursor(name=name) as cur:
            cur.execute(sql, where)
            while rows := cur.fetchmany(spec["page_size"]):
                if name == "syncer_columns":
                    types.update(r[-1] for r in rows)
    for oid in types:
        con.execute(spec["types"], {"type": oid}).fetchall()
    con.rollback()
"""

_SYNTHETIC = """
import json, sys
from bench.synthetic import SyntheticConfig, SyntheticSource
source = SyntheticSource(SyntheticConfig(**json.loads(sys.argv[1])))
for stream in source.streams():
    for _ in stream.read(None):
        pass
"""


def sqlite_floor_spec(path: Path) -> FloorSpec:
    from syncer.connectors.sql.reflect import sqlite as reflect

    schema = '"main"'
    objects = f"SELECT m.name, m.type, m.sql {reflect._OBJECTS}".format(schema=schema)
    statements: list[tuple[str, dict[str, str]]] = [
        ("SELECT name FROM pragma_database_list WHERE name <> 'temp' ORDER BY seq", {}),
        (objects, {}),
        *(
            (sql.format(schema=schema), {"schema": "main"})
            for sql in (reflect._COLUMNS, reflect._FOREIGN_KEYS, reflect._UNIQUES)
        ),
    ]
    return FloorSpec(_SQLITE, json.dumps({"path": str(path), "statements": statements}))


def postgres_floor_spec(dsn: str, page_size: int = 5000) -> FloorSpec:
    """The reflector's whole-database read: its statements are pyformat, sent as they are."""
    from syncer.connectors.sql.reflect import postgres as reflect

    spec = {
        "dsn": dsn,
        "setup": "SELECT set_config('statement_timeout', '60000', false),"
        " set_config('search_path', 'pg_catalog', false),"
        " set_config('default_transaction_read_only', 'on', false),"
        " set_config('jit', 'off', false),"
        " set_config('cursor_tuple_fraction', '1', false)",
        "schemas": reflect._SCHEMAS_SQL,
        "schema": reflect._SCHEMA_SQL,
        "relations": reflect._RELATIONS_SQL,
        "streams": [
            ["syncer_tables", reflect._TABLES_SQL],
            ["syncer_columns", reflect._COLUMNS_SQL],
            ["syncer_constraints", reflect._CONSTRAINTS_SQL],
        ],
        "types": reflect._TYPES_SQL,
        "page_size": page_size,
    }
    return FloorSpec(_POSTGRES, json.dumps(spec))


def synthetic_floor_spec(config: dict[str, object]) -> FloorSpec:
    return FloorSpec(_SYNTHETIC, json.dumps(config))
