"""The agent's HTTP API and its client: bearer token, status JSON both ways, the ML node subset."""

from __future__ import annotations

import json

import httpx
import pytest

from gonka_tui.miner.agent_client import AgentAddress, AgentClient, AgentError, find_local_agent
from gonka_tui.miner.api import create_api
from gonka_tui.miner.status import AgentStatus, DeviceStatus, LogLine, StatusError, Throughput

TOKEN = "t" * 43


def sample_status(**changes) -> AgentStatus:
    base = dict(
        state="mining", account="gonka1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq", epoch=7, phase="PoCGenerate",
        block_height=1234, phase_ends_in_seconds=12.5, next_poc_start=1300, weight=321, earned_ngonka="1500000000",
        estimate_per_day_ngonka="720000000000", batches_accepted=4, batches_rejected=1, batches_queued=2,
        nonces_submitted=321, uptime_seconds=99.5, restarts=1,
        devices=(DeviceStatus("cpu", 4242, "generating", 1, 405.5, "killed by signal 9", utilization_percent=97.0,
                              power_w=None, unavailable={"power_w": "unreadable: permission denied"}),
                 DeviceStatus("cuda:0", 4343, "ready", 0, 0.0, memory_used_bytes=3 << 30,
                              memory_total_bytes=80 << 30, temperature_c=55.0, utilization_percent=3.0)),
        throughput=Throughput(405.5, 400.0, 390.0, 410.0), series_short=(1.0, 2.0), series_long=(3.0,),
        log=(LogLine(1.5, "info", "round 10 started"),), version="0.1.0")
    base.update(changes)
    return AgentStatus(**base)


class FakeAgent:
    def __init__(self) -> None:
        self.current = sample_status()
        self.calls: list[str] = []

    def status(self) -> AgentStatus:
        return self.current

    def pause(self) -> None:
        self.calls.append("pause")

    def resume(self) -> None:
        self.calls.append("resume")

    def request_stop(self) -> None:
        self.calls.append("stop")


@pytest.fixture
def agent():
    return FakeAgent()


@pytest.fixture
def http(agent):
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_api(agent, TOKEN)), base_url="http://agent")


def test_status_survives_json_both_ways():
    s = sample_status()
    assert AgentStatus.from_json(json.loads(json.dumps(s.to_json()))) == s


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(state="dancing"), "unknown value"),
    (lambda d: d.update(epoch="7"), "expected int"),
    (lambda d: d.update(weight=True), "expected int"),
    (lambda d: d.update(earned_ngonka="1.5"), "whole number"),
    (lambda d: d["devices"][0].update(nonces_per_second="fast"), "expected a number"),
    (lambda d: d.pop("devices"), "missing"),
])
def test_a_status_this_version_cannot_read_is_one_clear_error(change, message):
    data = sample_status().to_json()
    change(data)
    with pytest.raises(StatusError, match=message):
        AgentStatus.from_json(data)


async def test_control_needs_the_bearer_token(http, agent):
    for path, method in (("/v1/miner/status", "GET"), ("/v1/miner/pause", "POST"), ("/v1/miner/stop", "POST")):
        assert (await http.request(method, path)).status_code == 401
        assert (await http.request(method, path, headers={"Authorization": "Bearer wrong"})).status_code == 401
        assert (await http.request(method, path, headers={"Authorization": TOKEN})).status_code == 401
    assert agent.calls == []
    ok = await http.post("/v1/miner/pause", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and agent.calls == ["pause"]
    unknown = await http.post("/v1/miner/explode", headers={"Authorization": f"Bearer {TOKEN}"})
    assert unknown.status_code == 404 and agent.calls == ["pause"]


async def test_ml_node_subset_is_open_and_in_the_ml_node_shapes(http, agent):
    state = (await http.get("/api/v1/state")).json()
    assert state["state"] == "POW" and state["version"]
    pow_status = (await http.get("/api/v1/pow/status")).json()
    assert pow_status == {"status": "GENERATING", "is_model_initialized": True}
    gpus = (await http.get("/api/v1/gpu/devices")).json()
    assert gpus["count"] == 1
    (gpu,) = gpus["devices"]
    assert gpu["index"] == 0 and gpu["total_memory_mb"] == 80 * 1024 and gpu["used_memory_mb"] == 3 * 1024
    assert gpu["free_memory_mb"] == 77 * 1024 and gpu["is_available"] is True
    health = await http.get("/health")
    assert health.status_code == 200 and health.json()["managers"]["pow"] == {"running": True, "healthy": True}
    agent.current = sample_status(state="error", error="the node refused")
    assert (await http.get("/health")).status_code == 503
    assert (await http.get("/api/v1/state")).json()["state"] == "STOPPED"


async def test_client_reads_status_and_controls(agent):
    transport = httpx.ASGITransport(app=create_api(agent, TOKEN))
    async with AgentClient(AgentAddress("http://agent", TOKEN), transport=transport) as client:
        assert await client.status() == agent.current
        await client.control("resume")
    assert agent.calls == ["resume"]
    async with AgentClient(AgentAddress("http://agent", "wrong"), transport=transport) as client:
        with pytest.raises(AgentError, match="refused the token"):
            await client.status()


def test_find_local_agent_needs_a_live_process(tmp_path):
    import os

    folder = tmp_path / "miner"
    folder.mkdir()
    assert find_local_agent(tmp_path) is None
    (folder / "token").write_text(TOKEN)
    (folder / "agent.json").write_text(json.dumps({"url": "http://127.0.0.1:1", "pid": os.getpid()}))
    assert find_local_agent(tmp_path) == AgentAddress("http://127.0.0.1:1", TOKEN, os.getpid())
    (folder / "agent.json").write_text(json.dumps({"url": "http://127.0.0.1:1", "pid": 2**22 + 12345}))
    assert find_local_agent(tmp_path) is None  # an agent that died without cleaning up
