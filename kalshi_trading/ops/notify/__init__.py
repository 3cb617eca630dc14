"""Notifications: what is said (`message.Message`), where it goes (channels: Telegram, a generic webhook) and how it
gets there without ever blocking trading (a bounded queue drained by a sender thread; every message sent, failed,
dropped or suppressed is recorded in the store's alert events)."""
