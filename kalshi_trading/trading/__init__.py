"""Services: order executor, portfolio and P&L, durable journal with CSV exports."""
