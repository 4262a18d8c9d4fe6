from specrelay.cli import entry

entry()
