"""Running it unattended: notifiers and alert rules (`notify/`, `alerts`), the Telegram control channel, Prometheus
metrics, the web dashboard (`web/`) and deployment files.

`ops` sits beside `auto` and `signals` (it reads their state and reports through the storage port and the client);
neither of them imports it: the CLI wires ops around a running bot or pipeline.  Heavy libraries (prometheus-client,
starlette, uvicorn) are optional extras, imported only by the modules that need them.
"""
