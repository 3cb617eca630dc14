"""The web dashboard (`kalshi dashboard`): one page per concern, live, read-only but for the kill switch.

- `sections.py`: what a page shows, as data: blocks (tables, label/value fields, a chart, notes) whose numbers are
  text already formatted by the CLI's own renderers (the CLI builds the sections: `cli/dashboard_*.py`), and the
  snapshot of a section (its last good read, when it was fresh, and what has failed since when).
- `board.py`: one worker thread that owns the services (the store's connections may belong to the thread that
  opened them: SQLite's do), reads the sections being watched every `refresh` seconds, keeps the last good read of
  each, and runs the kill switch between reads.
- `auth.py`: the token (constant-time checks), loopback detection, the Host header check.
- `app.py`: the Starlette application: the pages, `/api/...` JSON (polled by the page), `POST /api/kill`, and
  Prometheus' `/metrics` over the default registry.
- `assets/`: the page's HTML, script and style (served from the package: no CDN, the network may be closed).

Starlette, uvicorn and prometheus-client are the optional extra `web`; only this package imports them.
"""
