"""Which host names a server may bind without a password or key: the loopback rule, one for the
studio's app (studio/ui/serve.py) and the model server (trainer/serve.py). Standard library only,
so importing it costs nothing at start-up."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
