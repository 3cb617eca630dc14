"""The `kalshi` command line: Typer app, interactive menu, rendering."""
