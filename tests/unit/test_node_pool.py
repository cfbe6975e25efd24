"""The node pool on its own, serving something that is not a chain (as the broker, the miner
agent's API and host stacks will): its probe is injected, so identity and messages are its own."""

import httpx
import pytest

from gonka_tui.core.errors import NodeUnreachable
from gonka_tui.core.node_pool import HealthProbe, NodePool

A, B = "http://broker-a.test", "http://broker-b.test"
PROBE = HealthProbe(path="/v1/health", identity=lambda data: data["cluster"], label="/v1/health",
                    missing="a cluster name", kind="cluster")


def serve(clusters: dict[str, str], seen: list[str]):
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.url.host} {request.url.path}")
        if request.url.path == "/v1/health":
            cluster = clusters[request.url.host]
            return httpx.Response(200, json={"cluster": cluster} if cluster else {})
        return httpx.Response(200, json={"served_by": request.url.host})
    return httpx.MockTransport(handle)


async def test_nodes_prove_their_identity_with_the_injected_probe_before_serving():
    seen = []
    async with NodePool([A, B], PROBE, "prod", transport=serve({"broker-a.test": "staging",
                                                                 "broker-b.test": "prod"}, seen)) as pool:
        assert await pool.request("GET", "/v1/models") == (200, {"served_by": "broker-b.test"})
        assert pool.identity == "prod"
        assert "broker-a.test /v1/models" not in seen  # the wrong cluster is never asked
        report = dict(await pool.check_health())
    assert report == {B: "ok", A: "on cluster 'staging', not the profile's 'prod'"}


async def test_the_probe_names_what_a_node_failed_to_show():
    async with NodePool([A, B], PROBE, "prod", deadline=5,
                        transport=serve({"broker-a.test": "", "broker-b.test": "other"}, [])) as pool:
        with pytest.raises(NodeUnreachable) as exc:
            await pool.request("GET", "/v1/models")
    assert f"{A}: /v1/health answered 200 without a cluster name" in str(exc.value)
    assert f"{B}: on cluster 'other', not the profile's 'prod'" in str(exc.value)


async def test_without_a_probe_every_node_serves_at_once():
    seen = []
    async with NodePool([A, B], transport=serve({}, seen)) as pool:
        assert await pool.request("GET", "/v1/models") == (200, {"served_by": "broker-a.test"})
        assert await pool.check_health() == [(A, "ok"), (B, "ok")]
    assert seen == ["broker-a.test /v1/models"]
