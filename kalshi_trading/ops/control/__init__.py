"""The Telegram control channel: commands from the configured chat (`/status`, `/halt`, ...) read with long polling
(`poller.py`), parsed and confirmed (`commands.py`), and carried out through a small protocol the running bot or
pipeline implements (`targets.py`); the answers go back through the notifier's Telegram channel (kind REPLY)."""
