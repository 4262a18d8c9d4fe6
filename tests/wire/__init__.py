"""Every provider's wire over a real socket: a fake server per provider on 127.0.0.1, answering in
that provider's own format, and tests that drive specrelay's public path (the Client, the CLI) to it."""
