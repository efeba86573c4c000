"""Everything that is not a widget: datasets, the training engine, runs, inspection, the CLI.

No Qt here: all of it runs headless on a server.
"""
