"""Test helpers for code built on syncer, shipped with it like `structlog.testing`.

`syncer.testing.http` has `FakeTransport`, an in-process HTTP server stand-in for
`syncer.http.HttpClient(transport=...)`. Nothing is imported here, so that importing one helper
never pulls in the others.
"""
