"""What the gateway publishes of the backends it keeps out (issue 18.1): ejected and held off,
set at scrape time, gone once their time has passed."""

from __future__ import annotations

from airoute.gateway.failover.ejection import Ejector, Until
from airoute.gateway.metrics import GatewayMetrics


def test_the_ejections_are_published_at_scrape_time() -> None:
    """Issue 18.1: airoute_gateway_backend_out{state="ejected"} from the ejector, ended ones gone."""
    now = [0.0]
    ejector, metrics = Ejector(lambda: now[0]), GatewayMetrics()
    metrics.registry.collectors.append(lambda: metrics.publish_out("ejected", ejector.ejected()))
    assert ejector.failure("team/chat", "a", 1, 30.0, ["a", "b"])
    assert 'airoute_gateway_backend_out{namespace="team",route="chat",backend="a",state="ejected"} 1' in (
        metrics.render().decode())
    now[0] = 31.0
    assert "airoute_gateway_backend_out{" not in metrics.render().decode()


def test_held_off_backends_are_published_as_their_own_state() -> None:
    """A 429 hold-off is not an ejection: state="held_off", which the controller does not judge."""
    now = [0.0]
    held, metrics = Until(lambda: now[0]), GatewayMetrics()
    held.set_aside("team/chat", "b", 2.0)
    metrics.publish_out("ejected", {"team/chat": ["a"]})
    metrics.publish_out("held_off", held.all())
    assert metrics.backend_out.values == {("team", "chat", "a", "ejected"): 1.0, ("team", "chat", "b", "held_off"): 1.0}
    now[0] = 3.0
    metrics.publish_out("held_off", held.all())
    assert metrics.backend_out.values == {("team", "chat", "a", "ejected"): 1.0}
