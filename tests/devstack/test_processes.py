"""Ports for the stack's servers are picked where outgoing connections never land."""

from __future__ import annotations

from billing_devstack import free_port
from billing_devstack.processes import ephemeral_ports, port_is_free


def test_free_ports_are_below_the_ephemeral_range_and_never_handed_out_twice() -> None:
    low, _ = ephemeral_ports()
    ports = [free_port() for _ in range(50)]
    assert all(port < low for port in ports)
    assert len(set(ports)) == len(ports)
    assert all(port_is_free(port) for port in ports)
