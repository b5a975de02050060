"""The service's network: none, unless a remote engine is configured, then only its server.

The unit (systemd/stt-keyboard.service) has ``PrivateNetwork=yes`` and ``IPAddressDeny=any``:
with the local engine the daemon cannot reach any network at all. ``stt-keyboard config
network`` writes (or removes) a drop-in that lets it reach the configured server's addresses
and nothing else: the network namespace is shared again, IPv4/IPv6 sockets are allowed, and
``IPAddressAllow`` lists the server (and, for a name, the resolvers that look it up). The
device still never listens: nothing here opens a port. The installer runs it; run it again
after changing ``remote.url`` (the addresses are resolved when it runs).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from appliance.config import Config

DROP_IN = Path("/etc/systemd/system/stt-keyboard.service.d/remote-engine.conf")
RESOLV_CONF = Path("/etc/resolv.conf")

Resolver = Callable[[str], list[str]]


def resolve(host: str) -> list[str]:
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def nameservers(resolv_conf: Path) -> list[str]:
    """The DNS servers the C library asks (a name in remote.url is looked up through them)."""
    try:
        lines = resolv_conf.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            found.append(parts[1])
    return found


def allowed_addresses(
    cfg: Config, *, resolver: Resolver = resolve, resolv_conf: Path = RESOLV_CONF
) -> list[str]:
    """What the service may reach for ``cfg``'s engine; empty for the local engine."""
    if cfg.asr.engine == "local":
        return []
    host = urlsplit(cfg.remote.url).hostname or ""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass  # a name: its addresses now, and the resolvers that find it again later
    addresses = resolver(host) + nameservers(resolv_conf)
    return sorted(set(addresses), key=addresses.index)


def drop_in(cfg: Config, **kwargs: Any) -> str | None:
    """The drop-in's text for ``cfg``; None for the local engine (no drop-in: no network)."""
    addresses = allowed_addresses(cfg, **kwargs)
    if not addresses:
        return None
    return (
        "# Written by `stt-keyboard config network` (asr.engine "
        f"{cfg.asr.engine}, remote.url {cfg.remote.url}).\n"
        "# The service may reach only this server; it still listens on no port.\n"
        "[Service]\n"
        "PrivateNetwork=no\n"
        "RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6\n"
        "IPAddressDeny=any\n"
        f"IPAddressAllow={' '.join(addresses)}\n"
    )


def apply(cfg: Config, root: Path = Path("/"), **kwargs: Any) -> str:
    """Write or remove the drop-in under ``root``; says what it did."""
    path = root / DROP_IN.relative_to("/")
    text = drop_in(cfg, **kwargs)
    if text is None:
        if path.exists():
            path.unlink()
            return f"removed {DROP_IN}: the service has no network (asr.engine local)"
        return "asr.engine local: the service keeps no network (no drop-in)"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    allowed = text.rsplit("IPAddressAllow=", 1)[1].strip()
    return f"wrote {DROP_IN}: the service may reach {allowed} only"


def run(cfg: Config, root: Path) -> int:
    """`stt-keyboard config network`."""
    try:
        print(apply(cfg, root))
    except OSError as exc:
        print(f"config network: {exc}")
        return 1
    print("then: systemctl daemon-reload && systemctl restart stt-keyboard")
    return 0
