"""The `syncer` command line with every HTTP request answered from a vcrpy cassette, so that a
workflow file written for a live server runs as it is against a recording of one:

    python -m tests.support.replay CASSETTE run examples/sources/mlflow.yaml --state s.duckdb

Requests are matched on method, path and query, not on host and port: a recording is made on
whatever port its server got, and sanitized to a fixed host. A request the cassette lacks fails
(it never goes out). Each process starts the cassette afresh; a request asked again in the same
process is answered again.
"""

from __future__ import annotations

import sys

import vcr

from syncer.cli import main


def replay(cassette: str, args: list[str]) -> None:
    recorder = vcr.VCR(
        record_mode="none",
        match_on=["method", "path", "query"],
        decode_compressed_response=True,
    )
    sys.argv = ["syncer", *args]
    with recorder.use_cassette(cassette, allow_playback_repeats=True):
        main()


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: python -m tests.support.replay CASSETTE SYNCER-ARGS...")
    replay(sys.argv[1], sys.argv[2:])
