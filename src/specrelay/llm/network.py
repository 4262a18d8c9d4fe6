"""Where a request may go: the offline switch the test suite sets, and whether a URL stays on this machine.

With the switch on, only loopback servers are reached (the fake provider servers and the local model the
tests start); every other request is refused before it leaves. Standard library only.
"""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlparse


def offline() -> bool:
    """True when the offline switch is on: ``SPECRELAY_OFFLINE`` set to anything but empty or ``0``
    (the test suite sets it for the whole session, its subprocesses included)."""
    return os.environ.get("SPECRELAY_OFFLINE", "") not in ("", "0")


def is_loopback(url: str) -> bool:
    """True when the URL's host is this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
