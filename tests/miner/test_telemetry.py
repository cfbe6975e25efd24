"""Telemetry: CPU % and package power from a fake powercap tree, GPUs from a fake pynvml, nonces per joule."""

from __future__ import annotations

import json
import os
import sys
from collections import namedtuple
from pathlib import Path
from types import SimpleNamespace

import pytest

from gonka_tui.miner import telemetry as tm
from gonka_tui.miner.telemetry import Telemetry, nonces_per_joule, read_gpus, read_host

CpuTimes = namedtuple("CpuTimes", "user nice system idle iowait irq softirq steal guest guest_nice")
RANGE = 262_143_328_850  # a real max_energy_range_uj


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class FakePsutil:
    def __init__(self) -> None:
        self.times = CpuTimes(100.0, 0.0, 50.0, 800.0, 50.0, 0.0, 0.0, 0.0, 0.0, 0.0)

    def cpu_times(self):
        return self.times

    def cpu_count(self):
        return 8

    def virtual_memory(self):
        return SimpleNamespace(total=16 * 2**30, available=12 * 2**30, percent=25.0)

    def sensors_temperatures(self):
        return {"nvme": [SimpleNamespace(label="Composite", current=38.0)],
                "coretemp": [SimpleNamespace(label="Core 0", current=60.0),
                             SimpleNamespace(label="Package id 0", current=67.0)]}


def zone(root: Path, dirname: str, name: str, energy: int, max_range: int | None = RANGE) -> Path:
    d = root / "sys/class/powercap" / dirname
    d.mkdir(parents=True, exist_ok=True)
    (d / "name").write_text(name + "\n")
    (d / "energy_uj").write_text(f"{energy}\n")
    if max_range is not None:
        (d / "max_energy_range_uj").write_text(f"{max_range}\n")
    return d


def set_energy(d: Path, energy: int) -> None:
    (d / "energy_uj").write_text(f"{energy}\n")


def two_reads(root: Path, update, dt: float = 2.0, psutil=None):
    clock = Clock()
    first = read_host(None, root=root, psutil=psutil, clock=clock, wall=clock)
    update()
    clock.t += dt
    return first, read_host(first, root=root, psutil=psutil, clock=clock, wall=clock)


# ----- powercap -----


def test_package_power_is_energy_delta_over_time_counting_each_package_once(tmp_path):
    p0 = zone(tmp_path, "intel-rapl:0", "package-0", 1_000_000)
    p1 = zone(tmp_path, "intel-rapl:1", "package-1", 5_000_000)
    core = zone(tmp_path, "intel-rapl:0:0", "core", 0)  # inside package-0: not counted again
    mmio = zone(tmp_path, "intel-rapl-mmio:0", "package-0", 0)  # the same package through MMIO
    psys = zone(tmp_path, "intel-rapl:2", "psys", 0)  # the whole platform, not the CPU

    def update():
        set_energy(p0, 1_000_000 + 30_000_000)  # 30 J
        set_energy(p1, 5_000_000 + 10_000_000)  # 10 J
        for other in (core, mmio, psys):
            set_energy(other, 999_000_000)

    first, second = two_reads(tmp_path, update, dt=2.0)
    assert first.cpu_power_w is None
    assert first.unavailable["cpu_power_w"] == "needs a second reading"
    assert first.cpu_energy_uj == 6_000_000
    assert second.cpu_power_w == pytest.approx(20.0)  # 40 J in 2 s
    assert second.cpu_energy_uj == 46_000_000
    assert "cpu_power_w" not in second.unavailable


def test_mmio_zone_is_used_when_it_is_the_only_one(tmp_path):
    d = zone(tmp_path, "intel-rapl-mmio:0", "package-0", 0)
    _, second = two_reads(tmp_path, lambda: set_energy(d, 7_000_000), dt=1.0)
    assert second.cpu_power_w == pytest.approx(7.0)


def test_counter_wrap_around_uses_the_zone_range(tmp_path):
    d = zone(tmp_path, "intel-rapl:0", "package-0", 999_000_000, max_range=1_000_000_000)
    _, second = two_reads(tmp_path, lambda: set_energy(d, 4_000_000), dt=1.0)
    # 1 J up to the range, then 4 J after the restart from 0.
    assert second.cpu_power_w == pytest.approx(5.0)


def test_wrap_around_without_a_readable_range_is_unavailable_not_negative(tmp_path):
    d = zone(tmp_path, "intel-rapl:0", "package-0", 999_000_000, max_range=None)
    _, second = two_reads(tmp_path, lambda: set_energy(d, 4_000_000), dt=1.0)
    assert second.cpu_power_w is None
    assert "wrapped" in second.unavailable["cpu_power_w"]


def test_root_only_energy_counter_is_unavailable_with_the_reason(tmp_path, monkeypatch):
    d = zone(tmp_path, "intel-rapl:0", "package-0", 1_000_000)
    os.chmod(d / "energy_uj", 0o000)  # as the kernel ships it since CVE-2020-8694
    if os.geteuid() == 0:  # root reads it anyway: make the read fail as it does for a user
        real = tm._read_sysfs

        def denied(path):
            if path.name == "energy_uj":
                raise PermissionError(13, "Permission denied", str(path))
            return real(path)

        monkeypatch.setattr(tm, "_read_sysfs", denied)
    ps = FakePsutil()

    def update():
        ps.times = ps.times._replace(user=ps.times.user + 5, idle=ps.times.idle + 5)

    _, second = two_reads(tmp_path, update, psutil=ps)
    assert second.cpu_energy_uj is None and second.cpu_power_w is None
    assert second.unavailable["cpu_power_w"].startswith("unreadable: permission denied")
    assert second.unavailable["cpu_energy_uj"].startswith("unreadable: permission denied")
    # The rest of the host reading does not suffer.
    assert second.cpu_percent == pytest.approx(50.0) and second.memory_total_bytes == 16 * 2**30


def test_missing_powercap_says_so(tmp_path):
    reading = read_host(None, root=tmp_path, psutil=None)
    assert reading.cpu_power_w is None
    assert "powercap" in reading.unavailable["cpu_power_w"]


def test_powercap_without_a_cpu_package_says_so(tmp_path):
    zone(tmp_path, "intel-rapl:0", "psys", 0)
    reading = read_host(None, root=tmp_path, psutil=None)
    assert reading.unavailable["cpu_energy_uj"] == "not available: no CPU package zone under /sys/class/powercap"


# ----- psutil -----


def test_cpu_percent_is_the_busy_share_of_cpu_time_between_two_readings(tmp_path):
    ps = FakePsutil()

    def update():
        t = ps.times  # +30 user, +10 system, +50 idle, +10 iowait: 40 busy of 100
        ps.times = t._replace(user=t.user + 30, system=t.system + 10, idle=t.idle + 50, iowait=t.iowait + 10,
                              guest=t.guest + 20)  # guest is inside user already: not counted twice

    first, second = two_reads(tmp_path, update, psutil=ps)
    assert first.cpu_percent is None and first.unavailable["cpu_percent"] == "needs a second reading"
    assert second.cpu_percent == pytest.approx(40.0)
    assert second.cpu_count == 8
    assert second.cpu_temperature_c == 67.0  # the package sensor, not a core's nor the disk's
    assert second.memory_used_bytes == 4 * 2**30 and second.memory_percent == 25.0


def test_without_psutil_cpu_and_memory_say_what_is_missing(tmp_path):
    reading = read_host(None, root=tmp_path, psutil=None)
    assert reading.cpu_percent is None and reading.memory_total_bytes is None
    assert "psutil is not installed" in reading.unavailable["cpu_percent"]
    assert "psutil is not installed" in reading.unavailable["memory_total_bytes"]
    assert reading.cpu_count == os.cpu_count()
    json.dumps(reading.to_json(), allow_nan=False)


# ----- NVML -----


class FakeNvml:
    NVML_ERROR_NOT_SUPPORTED = 3
    NVML_ERROR_NO_PERMISSION = 4
    NVML_ERROR_DRIVER_NOT_LOADED = 9
    NVML_TEMPERATURE_GPU = 0

    class NVMLError(Exception):
        def __init__(self, value: int) -> None:
            self.value = value
            super().__init__(f"NVML code {value}")

    def __init__(self, gpus: list[dict], init_error: int | None = None) -> None:
        self.gpus = gpus
        self.init_error = init_error
        self.inits = self.shutdowns = 0

    def _get(self, handle, key):
        if key + "_error" in self.gpus[handle]:
            raise self.NVMLError(self.gpus[handle][key + "_error"])
        return self.gpus[handle][key]

    def nvmlInit(self):
        self.inits += 1
        if self.init_error is not None:
            raise self.NVMLError(self.init_error)

    def nvmlShutdown(self):
        self.shutdowns += 1

    def nvmlSystemGetDriverVersion(self):
        return "550.54.15"

    def nvmlDeviceGetCount(self):
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlDeviceGetName(self, h):
        return self._get(h, "name")

    def nvmlDeviceGetUtilizationRates(self, h):
        return SimpleNamespace(gpu=self._get(h, "util"), memory=0)

    def nvmlDeviceGetMemoryInfo(self, h):
        used, total = self._get(h, "memory")
        return SimpleNamespace(used=used, total=total, free=total - used)

    def nvmlDeviceGetTemperature(self, h, kind):
        assert kind == self.NVML_TEMPERATURE_GPU
        return self._get(h, "temp")

    def nvmlDeviceGetPowerUsage(self, h):
        return self._get(h, "power_mw")

    def nvmlDeviceGetFanSpeed(self, h):
        return self._get(h, "fan")


def two_gpus() -> FakeNvml:
    return FakeNvml([
        {"name": "NVIDIA GeForce RTX 4090", "util": 97, "memory": (20 * 2**30, 24 * 2**30), "temp": 71,
         "power_mw": 250_000, "fan": 64},
        # A passively cooled datacenter card in a container without the right to read power.
        {"name": b"NVIDIA H200", "util": 12, "memory": (1 * 2**30, 141 * 2**30), "temp": 40,
         "power_mw_error": 4, "fan_error": 3},
    ])


def test_gpu_values_are_read_per_index_and_converted():
    nvml = two_gpus()
    report = read_gpus(nvml)
    assert report.driver_version == "550.54.15" and report.unavailable == {}
    g0, g1 = report.gpus
    assert (g0.index, g0.name, g0.utilization_percent, g0.temperature_c) == (0, "NVIDIA GeForce RTX 4090", 97, 71)
    assert (g0.memory_used_bytes, g0.memory_total_bytes) == (20 * 2**30, 24 * 2**30)
    assert g0.power_w == pytest.approx(250.0) and g0.fan_percent == 64 and g0.unavailable == {}
    assert g1.name == "NVIDIA H200"  # bytes from an old binding decoded
    assert g1.power_w is None and g1.unavailable["power_w"] == "unreadable: permission denied"
    assert g1.fan_percent is None and g1.unavailable["fan_percent"] == "not supported"
    assert g1.temperature_c == 40  # one failing value does not hide the others
    assert nvml.inits == nvml.shutdowns == 1  # a one-shot read leaves NVML as it found it
    json.dumps(report.to_json(), allow_nan=False)


def test_no_driver_is_a_normal_state_with_a_reason():
    report = read_gpus(FakeNvml([], init_error=9))
    assert report.gpus == () and report.unavailable["gpus"] == "no NVIDIA driver loaded"
    assert read_gpus(None).unavailable["gpus"].startswith("nvidia-ml-py is not installed")
    assert read_gpus(FakeNvml([])).unavailable["gpus"] == "the NVIDIA driver sees no GPU"


def test_unknown_nvml_error_keeps_its_text():
    nvml = FakeNvml([{"name": "x", "util_error": 999, "memory": (0, 1), "temp": 1, "power_mw": 1, "fan": 1}])
    (gpu,) = read_gpus(nvml).gpus
    assert gpu.utilization_percent is None and gpu.unavailable["utilization_percent"] == "NVML error: NVML code 999"


def test_telemetry_initialises_nvml_once_and_retries_a_missing_driver_after_a_minute(tmp_path):
    clock = Clock()
    nvml = FakeNvml([], init_error=9)
    t = Telemetry(root=tmp_path, psutil=None, nvml=nvml, clock=clock, wall=clock)
    assert t.read().gpus.unavailable["gpus"] == "no NVIDIA driver loaded"
    clock.t += 30
    t.read()
    assert nvml.inits == 1  # not asked again on every reading
    nvml.init_error = None
    nvml.gpus = two_gpus().gpus
    clock.t += 31
    assert len(t.read().gpus.gpus) == 2
    t.read()
    assert nvml.inits == 2 and nvml.shutdowns == 0
    t.close()
    t.close()
    assert nvml.shutdowns == 1


# ----- nonces per joule -----


def test_nonces_per_joule_is_rate_over_power():
    assert nonces_per_joule(1000.0, 20.0) == pytest.approx(50.0)
    assert nonces_per_joule(1000.0, None) is None
    assert nonces_per_joule(1000.0, 0.0) is None


def test_efficiency_per_device_from_the_last_reading(tmp_path):
    clock = Clock()
    d = zone(tmp_path, "intel-rapl:0", "package-0", 0)
    t = Telemetry(root=tmp_path, psutil=FakePsutil(), nvml=two_gpus(), clock=clock, wall=clock)
    assert t.efficiency("cpu", 100).reason == "no telemetry reading yet"
    t.read()
    assert t.efficiency("cpu", 100).reason == "needs a second reading"
    set_energy(d, 40_000_000)
    clock.t += 2.0
    t.read()
    cpu = t.efficiency("cpu", 1000.0)
    assert cpu.power_w == pytest.approx(20.0) and cpu.nonces_per_joule == pytest.approx(50.0) and cpu.reason is None
    gpu = t.efficiency("cuda:0", 5000.0)
    assert gpu.power_w == pytest.approx(250.0) and gpu.nonces_per_joule == pytest.approx(20.0)
    assert t.efficiency("gpu:0", 5000.0).nonces_per_joule == pytest.approx(20.0)
    h200 = t.efficiency("cuda:1", 5000.0)
    assert h200.nonces_per_joule is None and h200.reason == "unreadable: permission denied"
    assert t.efficiency("cuda:7", 1.0).reason == "no GPU 7"
    assert t.efficiency("tpu", 1.0).reason == "unknown device 'tpu'"
    assert set(t.efficiencies({"cpu": 1000.0, "cuda:0": 5000.0})) == {"cpu", "cuda:0"}
    with pytest.raises(ValueError):
        t.efficiency("cpu", float("nan"))
    snapshot = json.loads(json.dumps(t.last.to_json(), allow_nan=False))
    assert snapshot["host"]["cpu_power_w"] == pytest.approx(20.0) and snapshot["gpus"][0]["power_w"] == 250.0
    assert json.dumps(cpu.to_json(), allow_nan=False)


def test_telemetry_works_when_neither_package_is_installed(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "psutil", None)  # import raises ImportError
    monkeypatch.setitem(sys.modules, "pynvml", None)
    with Telemetry(root=tmp_path) as t:
        snapshot = t.read()
    assert "psutil is not installed" in snapshot.host.unavailable["cpu_percent"]
    assert snapshot.gpus.unavailable["gpus"].startswith("nvidia-ml-py is not installed")
    assert t.efficiency("cuda:0", 10.0).reason.startswith("nvidia-ml-py is not installed")


def test_device_rows_carry_every_figure_or_its_reason(tmp_path):
    clock = Clock()
    ps = FakePsutil()
    d = zone(tmp_path, "intel-rapl:0", "package-0", 0)
    t = Telemetry(root=tmp_path, psutil=ps, nvml=two_gpus(), clock=clock, wall=clock)
    assert t.device_telemetry("cpu", 1.0)["unavailable"]["power_w"] == "no telemetry reading yet"
    t.read()
    ps.times = ps.times._replace(user=ps.times.user + 25, idle=ps.times.idle + 75)
    set_energy(d, 20_000_000)
    clock.t += 1.0
    t.read()
    cpu = t.device_telemetry("cpu", 100.0)
    assert cpu["utilization_percent"] == pytest.approx(25.0) and cpu["temperature_c"] == 67.0
    assert cpu["power_w"] == pytest.approx(20.0) and cpu["nonces_per_joule"] == pytest.approx(5.0)
    assert cpu["memory_total_bytes"] == 16 * 2**30
    assert cpu["fan_percent"] is None and cpu["unavailable"] == {"fan_percent": "not reported for the CPU"}
    h200 = t.device_telemetry("cuda:1", 100.0)
    assert h200["temperature_c"] == 40 and h200["power_w"] is None and h200["nonces_per_joule"] is None
    assert h200["unavailable"] == {"power_w": "unreadable: permission denied", "fan_percent": "not supported",
                                   "nonces_per_joule": "unreadable: permission denied"}
    missing = t.device_telemetry("cuda:5", 1.0)
    assert all(missing[k] is None for k in tm.DEVICE_FIELDS) and missing["unavailable"]["power_w"] == "no GPU 5"
    json.dumps(cpu, allow_nan=False)
