"""Networks an operator names in a setting (``WEBHOOK_ALLOWED_NETWORKS``, R31): parsed
once here, so the settings check and the outbound-call guard read them alike."""

from __future__ import annotations

import ipaddress

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: str) -> tuple[IPNetwork, ...]:
    """``"10.1.0.0/16, fd00::/8"`` to networks; ValueError naming the bad entry."""
    networks = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(
                f"WEBHOOK_ALLOWED_NETWORKS must be CIDR networks separated by commas "
                f"(10.1.0.0/16, fd00::/8), not {part!r}"
            ) from None
    return tuple(networks)
