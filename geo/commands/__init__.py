"""Subcommands of ``python -m geo``; each module is one subcommand (see `geo.cli`)."""
