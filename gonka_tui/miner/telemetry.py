"""What the rig is doing: CPU load and memory (psutil), CPU package power from Linux powercap (RAPL),
per-GPU utilisation, memory, temperature, power and fan (NVML), and the figure the network rewards,
nonces per joule.

Nothing here is required: a value that cannot be read is None and its key in the reading's
`unavailable` dict says why ("psutil is not installed", "unreadable: permission denied", "not supported").
A host without a GPU, without powercap, or where energy counters are root-only is a normal host.

Rates (CPU %, CPU W) are deltas between two readings, so the first reading has none; nothing here
sleeps. `Telemetry` keeps the previous reading; `read_host(previous)` and `read_gpus()` are the pure
pieces. The filesystem root, psutil, pynvml and the clocks are parameters so tests can fake them.
"""

from __future__ import annotations

import math
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

POWERCAP = "sys/class/powercap"
# A top-level zone ("intel-rapl:0", "intel-rapl-mmio:0"); "intel-rapl:0:0" are its sub-zones (core, uncore,
# dram), already counted in the package: summing them too would count the same joules twice.
_TOP_ZONE = re.compile(r"^[a-z][a-z0-9-]*:\d+$")
# The MMIO interface reports the same package as the MSR one; prefer the MSR zone when both exist.
_MMIO = "-mmio"
_NVML_RETRY_S = 60.0  # a host without a driver is asked again this often, not on every reading

_MISSING = object()
# What a device row shows; the names of the agent's status (gonka_tui.miner.status.TELEMETRY_FIELDS).
DEVICE_FIELDS = ("utilization_percent", "temperature_c", "power_w", "fan_percent", "memory_used_bytes",
                 "memory_total_bytes", "nonces_per_joule")


def _import_psutil():
    try:
        import psutil
    except ImportError:
        return None
    return psutil


def _import_nvml():
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml


def _finite(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


# ----------------------------------------------------------------------------------------------
# Powercap (RAPL): CPU package energy


@dataclass(frozen=True)
class ZoneEnergy:
    """One package zone's counter at one moment."""

    path: str  # the zone directory, relative to the root ("sys/class/powercap/intel-rapl:0")
    name: str  # "package-0"
    energy_uj: int
    max_energy_range_uj: int | None  # None: unreadable (a wrap-around then cannot be measured)


def _read_sysfs(path: Path) -> str:
    # A sysfs attribute is one short line; reading a bounded amount keeps a hostile tree from costing memory.
    with open(path, "rb") as f:
        return f.read(256).decode("ascii", "replace").strip()


def _reason(error: OSError) -> str:
    if isinstance(error, PermissionError):
        return "unreadable: permission denied (energy counters are often root-only)"
    return f"unreadable: {error.strerror or error}"


def read_powercap(root: Path | str = "/") -> tuple[list[ZoneEnergy], str | None]:
    """The CPU package zones under `root`/sys/class/powercap and their counters, or ([], why not)."""
    base = Path(root) / POWERCAP
    if not base.is_dir():
        return [], "not available: no powercap interface (/sys/class/powercap is missing)"
    zones: dict[str, tuple[bool, Path]] = {}  # name → (is mmio, directory)
    for zone in sorted(base.iterdir()):
        if not _TOP_ZONE.match(zone.name) or not (zone / "energy_uj").exists():
            continue
        try:
            name = _read_sysfs(zone / "name")
        except OSError:
            continue
        if not name.startswith("package"):  # psys (whole platform) and others are not the CPU package
            continue
        mmio = _MMIO in zone.name.split(":")[0]
        if name not in zones or (zones[name][0] and not mmio):
            zones[name] = (mmio, zone)
    if not zones:
        return [], "not available: no CPU package zone under /sys/class/powercap"
    readings: list[ZoneEnergy] = []
    for name, (_, zone) in sorted(zones.items()):
        try:
            energy = int(_read_sysfs(zone / "energy_uj"))
        except OSError as e:
            return [], _reason(e)
        except ValueError:
            return [], f"unreadable: {zone.name}/energy_uj is not a number"
        try:
            max_range = int(_read_sysfs(zone / "max_energy_range_uj"))
        except (OSError, ValueError):
            max_range = None
        readings.append(ZoneEnergy(str(zone.relative_to(root)), name, energy, max_range))
    return readings, None


def energy_delta_uj(before: ZoneEnergy, after: ZoneEnergy) -> int | None:
    """Microjoules spent between two readings of one zone, across a wrap-around; None if not measurable."""
    delta = after.energy_uj - before.energy_uj
    if delta >= 0:
        return delta
    # The counter ran past its range and restarted from 0 (every few minutes on a busy server).
    max_range = after.max_energy_range_uj or before.max_energy_range_uj
    if not max_range or before.energy_uj > max_range:
        return None
    return max_range - before.energy_uj + after.energy_uj


# ----------------------------------------------------------------------------------------------
# The host


@dataclass(frozen=True)
class HostReading:
    time: float  # wall clock (s since the epoch)
    cpu_percent: float | None  # all cores together, 0–100, since the previous reading
    cpu_count: int | None
    cpu_temperature_c: float | None  # the package sensor (coretemp, k10temp)
    load_average: tuple[float, float, float] | None  # 1, 5, 15 minutes
    memory_used_bytes: int | None
    memory_total_bytes: int | None
    memory_percent: float | None
    cpu_energy_uj: int | None  # the package counters' sum at this moment (each zone wraps on its own)
    cpu_power_w: float | None  # package power since the previous reading
    unavailable: dict[str, str] = field(default_factory=dict)
    # What the next reading's deltas start from.
    monotonic: float = field(default=0.0, repr=False, compare=False)
    cpu_times: tuple[float, float] | None = field(default=None, repr=False, compare=False)  # (busy, total)
    zones: tuple[ZoneEnergy, ...] = field(default=(), repr=False, compare=False)

    def to_json(self) -> dict:
        return {
            "time": self.time,
            "cpu_percent": _round(self.cpu_percent, 1),
            "cpu_count": self.cpu_count,
            "cpu_temperature_c": self.cpu_temperature_c,
            "load_average": list(self.load_average) if self.load_average else None,
            "memory_used_bytes": self.memory_used_bytes,
            "memory_total_bytes": self.memory_total_bytes,
            "memory_percent": _round(self.memory_percent, 1),
            "cpu_energy_uj": self.cpu_energy_uj,
            "cpu_power_w": _round(self.cpu_power_w),
            "unavailable": dict(self.unavailable),
        }


def _busy_total(times) -> tuple[float, float]:
    fields = times._asdict() if hasattr(times, "_asdict") else dict(times)
    total = sum(float(v) for v in fields.values())
    # On Linux guest time is already inside user/nice: counting it again would inflate the total.
    total -= float(fields.get("guest", 0.0)) + float(fields.get("guest_nice", 0.0))
    idle = float(fields.get("idle", 0.0)) + float(fields.get("iowait", 0.0))
    return total - idle, total


def read_host(previous: HostReading | None = None, *, root: Path | str = "/", psutil: Any = _MISSING,
              clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> HostReading:
    """CPU, load, memory and package energy now; CPU % and W relative to `previous` (None on the first)."""
    ps = _import_psutil() if psutil is _MISSING else psutil
    now, stamp = clock(), wall()
    unavailable: dict[str, str] = {}

    cpu_percent = cpu_count = cpu_temp = None
    cpu_times = mem_used = mem_total = mem_percent = None
    if ps is None:
        why = "psutil is not installed (pip install psutil)"
        for key in ("cpu_percent", "cpu_temperature_c", "memory_used_bytes", "memory_total_bytes", "memory_percent"):
            unavailable[key] = why
        cpu_count = os.cpu_count()
    else:
        try:
            cpu_times = _busy_total(ps.cpu_times())
        except Exception as e:  # psutil raises its own errors on unusual kernels
            unavailable["cpu_percent"] = f"unreadable: {e}"
        if cpu_times is not None:
            prev = previous.cpu_times if previous else None
            if prev is None:
                unavailable["cpu_percent"] = "needs a second reading"
            else:
                d_total = cpu_times[1] - prev[1]
                if d_total > 0:
                    cpu_percent = min(100.0, max(0.0, 100.0 * (cpu_times[0] - prev[0]) / d_total))
                else:
                    unavailable["cpu_percent"] = "too soon after the previous reading"
        try:
            cpu_count = ps.cpu_count() or os.cpu_count()
        except Exception:
            cpu_count = os.cpu_count()
        cpu_temp, why = _cpu_temperature(ps)
        if why:
            unavailable["cpu_temperature_c"] = why
        try:
            vm = ps.virtual_memory()
            mem_used, mem_total, mem_percent = int(vm.total - vm.available), int(vm.total), float(vm.percent)
        except Exception as e:
            for key in ("memory_used_bytes", "memory_total_bytes", "memory_percent"):
                unavailable[key] = f"unreadable: {e}"

    try:
        load = tuple(float(x) for x in os.getloadavg())
    except (AttributeError, OSError):  # not on Windows
        load = None
        unavailable["load_average"] = "not available on this system"

    zones, why = read_powercap(root)
    energy = power = None
    if why:
        unavailable["cpu_energy_uj"] = unavailable["cpu_power_w"] = why
    else:
        energy = sum(z.energy_uj for z in zones)
        power, why = _power(previous, zones, now)
        if why:
            unavailable["cpu_power_w"] = why

    return HostReading(stamp, cpu_percent, cpu_count, cpu_temp, load, mem_used, mem_total, mem_percent, energy, power,
                       unavailable, now, cpu_times, tuple(zones))


# Package sensors by driver, best first: Intel's package, AMD's die (Tdie) then control (Tctl) temperature.
_CPU_SENSORS = (("coretemp", ("Package id 0",)), ("k10temp", ("Tdie", "Tctl")), ("zenpower", ("Tdie", "Tctl")),
                ("cpu_thermal", ("",)), ("acpitz", ("",)))


def _cpu_temperature(ps) -> tuple[float | None, str | None]:
    read = getattr(ps, "sensors_temperatures", None)
    if read is None:
        return None, "not available on this system"
    try:
        sensors = read() or {}
    except Exception as e:  # psutil raises on unusual hwmon trees
        return None, f"unreadable: {e}"
    for driver, labels in _CPU_SENSORS:
        entries = sensors.get(driver) or []
        for label in labels:
            for entry in entries:
                if not label or getattr(entry, "label", "") == label:
                    value = _finite(getattr(entry, "current", None))
                    if value is not None:
                        return value, None
    return None, "no CPU temperature sensor"


def _power(previous: HostReading | None, zones: list[ZoneEnergy], now: float) -> tuple[float | None, str | None]:
    if previous is None or not previous.zones:
        return None, "needs a second reading"
    elapsed = now - previous.monotonic
    if elapsed <= 0:
        return None, "too soon after the previous reading"
    before = {z.path: z for z in previous.zones}
    total = 0
    for zone in zones:
        if zone.path not in before:
            return None, "the package zones changed since the previous reading"
        delta = energy_delta_uj(before[zone.path], zone)
        if delta is None:
            return None, "the energy counter wrapped and its range is unreadable"
        total += delta
    return total / 1e6 / elapsed, None


# ----------------------------------------------------------------------------------------------
# GPUs (NVML)


@dataclass(frozen=True)
class GpuReading:
    index: int
    name: str | None
    utilization_percent: float | None
    memory_used_bytes: int | None
    memory_total_bytes: int | None
    temperature_c: float | None
    power_w: float | None
    fan_percent: float | None
    unavailable: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "index": self.index, "name": self.name, "utilization_percent": self.utilization_percent,
            "memory_used_bytes": self.memory_used_bytes, "memory_total_bytes": self.memory_total_bytes,
            "temperature_c": self.temperature_c, "power_w": _round(self.power_w), "fan_percent": self.fan_percent,
            "unavailable": dict(self.unavailable),
        }


@dataclass(frozen=True)
class GpuReport:
    """Every GPU NVML sees; `unavailable["gpus"]` says why there are none when NVML could not be used."""

    gpus: tuple[GpuReading, ...]
    driver_version: str | None = None
    unavailable: dict[str, str] = field(default_factory=dict)

    def gpu(self, index: int) -> GpuReading | None:
        return next((g for g in self.gpus if g.index == index), None)

    def to_json(self) -> dict:
        return {"gpus": [g.to_json() for g in self.gpus], "driver_version": self.driver_version,
                "unavailable": dict(self.unavailable)}


def _nvml_reason(nvml, error: Exception) -> str:
    code = getattr(error, "value", None)
    known = {
        getattr(nvml, "NVML_ERROR_NOT_SUPPORTED", 3): "not supported",
        getattr(nvml, "NVML_ERROR_NO_PERMISSION", 4): "unreadable: permission denied",
        getattr(nvml, "NVML_ERROR_DRIVER_NOT_LOADED", 9): "no NVIDIA driver loaded",
        getattr(nvml, "NVML_ERROR_LIBRARY_NOT_FOUND", 12): "no NVIDIA driver (libnvidia-ml not found)",
        getattr(nvml, "NVML_ERROR_GPU_IS_LOST", 15): "the GPU fell off the bus",
    }
    if code in known:
        return known[code]
    text = str(error).strip()
    return f"NVML error: {text}" if text else f"NVML error {code}"


def _nvml_error_class(nvml) -> type[BaseException]:
    cls = getattr(nvml, "NVMLError", None)
    return cls if isinstance(cls, type) and issubclass(cls, BaseException) else Exception


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _read_gpu(nvml, index: int) -> GpuReading:
    err = _nvml_error_class(nvml)
    unavailable: dict[str, str] = {}
    try:
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
    except err as e:
        why = _nvml_reason(nvml, e)
        keys = ("name", "utilization_percent", "memory_used_bytes", "memory_total_bytes", "temperature_c",
                "power_w", "fan_percent")
        return GpuReading(index, None, None, None, None, None, None, None, {k: why for k in keys})

    def get(keys: tuple[str, ...], read: Callable[[], Any]):
        try:
            return read()
        except err as e:
            why = _nvml_reason(nvml, e)
        except (TypeError, ValueError, AttributeError) as e:  # a malformed answer from a driver
            why = f"unreadable: {e}"
        for key in keys:
            unavailable[key] = why
        return None

    name = get(("name",), lambda: _text(nvml.nvmlDeviceGetName(handle)))
    util = get(("utilization_percent",), lambda: _finite(nvml.nvmlDeviceGetUtilizationRates(handle).gpu))
    mem = get(("memory_used_bytes", "memory_total_bytes"), lambda: nvml.nvmlDeviceGetMemoryInfo(handle))
    temp_kind = getattr(nvml, "NVML_TEMPERATURE_GPU", 0)
    temp = get(("temperature_c",), lambda: _finite(nvml.nvmlDeviceGetTemperature(handle, temp_kind)))
    power_mw = get(("power_w",), lambda: _finite(nvml.nvmlDeviceGetPowerUsage(handle)))
    fan = get(("fan_percent",), lambda: _finite(nvml.nvmlDeviceGetFanSpeed(handle)))
    used = total = None
    if mem is not None:
        used, total = int(mem.used), int(mem.total)
    return GpuReading(index, name, util, used, total, temp, None if power_mw is None else power_mw / 1000.0,
                      fan, unavailable)


def read_gpus(nvml: Any = _MISSING, *, initialized: bool = False) -> GpuReport:
    """Every GPU's values now. Initialises NVML and shuts it down again unless `initialized` (see Telemetry)."""
    module = _import_nvml() if nvml is _MISSING else nvml
    if module is None:
        return GpuReport((), None, {"gpus": "nvidia-ml-py is not installed (pip install nvidia-ml-py)"})
    err = _nvml_error_class(module)
    if not initialized:
        try:
            module.nvmlInit()
        except err as e:
            return GpuReport((), None, {"gpus": _nvml_reason(module, e)})
    try:
        return _read_all(module, err)
    finally:
        if not initialized:
            try:
                module.nvmlShutdown()
            except err:
                pass


def _read_all(nvml, err) -> GpuReport:
    unavailable: dict[str, str] = {}
    try:
        driver = _text(nvml.nvmlSystemGetDriverVersion())
    except err as e:
        driver = None
        unavailable["driver_version"] = _nvml_reason(nvml, e)
    try:
        count = int(nvml.nvmlDeviceGetCount())
    except err as e:
        unavailable["gpus"] = _nvml_reason(nvml, e)
        return GpuReport((), driver, unavailable)
    if count == 0:
        unavailable["gpus"] = "the NVIDIA driver sees no GPU"
    return GpuReport(tuple(_read_gpu(nvml, i) for i in range(count)), driver, unavailable)


# ----------------------------------------------------------------------------------------------
# Efficiency and the stateful reader


@dataclass(frozen=True)
class Efficiency:
    """Nonces per joule of one device: its nonces/s over its power in W."""

    device: str
    nonces_per_second: float
    power_w: float | None
    nonces_per_joule: float | None
    reason: str | None = None  # why nonces_per_joule is None

    def to_json(self) -> dict:
        return {"device": self.device, "nonces_per_second": self.nonces_per_second, "power_w": _round(self.power_w),
                "nonces_per_joule": _round(self.nonces_per_joule, 6), "reason": self.reason}


def nonces_per_joule(nonces_per_second: float, power_w: float | None) -> float | None:
    """nonces/s ÷ W (= nonces/J); None when the power is unknown or not positive."""
    if power_w is None or not math.isfinite(power_w) or power_w <= 0:
        return None
    return nonces_per_second / power_w


def _gpu_index(device: str) -> int | None:
    """The GPU index of a device name: "cuda:1", "gpu:1", "cuda" (= 0); None for anything else."""
    kind, _, number = device.partition(":")
    if kind not in ("cuda", "gpu"):
        return None
    if not number:
        return 0
    return int(number) if number.isdigit() else None


@dataclass(frozen=True)
class TelemetrySnapshot:
    host: HostReading
    gpus: GpuReport

    @property
    def time(self) -> float:
        return self.host.time

    def to_json(self) -> dict:
        return {"time": self.time, "host": self.host.to_json(), **self.gpus.to_json()}


class Telemetry:
    """Reads the host and the GPUs, keeping what the next reading's deltas need.

    NVML is initialised once and kept (initialising it can take a second without persistence mode);
    when it fails (no driver) it is tried again after a minute, not on every reading. Call close().
    """

    def __init__(self, *, root: Path | str = "/", psutil: Any = _MISSING, nvml: Any = _MISSING,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        self._root = root
        self._psutil = _import_psutil() if psutil is _MISSING else psutil
        self._nvml = _import_nvml() if nvml is _MISSING else nvml
        self._clock, self._wall = clock, wall
        self._nvml_ready = False
        self._nvml_failure: tuple[float, str] | None = None  # (when, why)
        self.last: TelemetrySnapshot | None = None

    def read(self) -> TelemetrySnapshot:
        previous = self.last.host if self.last else None
        host = read_host(previous, root=self._root, psutil=self._psutil, clock=self._clock, wall=self._wall)
        self.last = TelemetrySnapshot(host, self._read_gpus())
        return self.last

    def _read_gpus(self) -> GpuReport:
        nvml = self._nvml
        if nvml is None:
            return read_gpus(None)
        if not self._nvml_ready:
            now = self._clock()
            if self._nvml_failure and now - self._nvml_failure[0] < _NVML_RETRY_S:
                return GpuReport((), None, {"gpus": self._nvml_failure[1]})
            try:
                nvml.nvmlInit()
            except _nvml_error_class(nvml) as e:
                self._nvml_failure = (now, _nvml_reason(nvml, e))
                return GpuReport((), None, {"gpus": self._nvml_failure[1]})
            self._nvml_ready, self._nvml_failure = True, None
        return read_gpus(nvml, initialized=True)

    def efficiency(self, device: str, nonces_per_second: float) -> Efficiency:
        """Nonces/J of `device` ("cpu", "cuda:N" or "gpu:N") at `nonces_per_second`, from the last reading.

        The CPU's power is the whole package (everything the CPU runs, not only the kernel): it is what the
        wall socket pays for the CPU, the honest denominator.
        """
        nps = _finite(nonces_per_second)
        if nps is None or nps < 0:
            raise ValueError(f"nonces per second must be a finite number ≥ 0, got {nonces_per_second!r}")
        if self.last is None:
            return Efficiency(device, nps, None, None, "no telemetry reading yet")
        if device == "cpu":
            power = self.last.host.cpu_power_w
            why = self.last.host.unavailable.get("cpu_power_w")
        elif (index := _gpu_index(device)) is not None:
            gpu = self.last.gpus.gpu(index)
            if gpu is None:
                power = None
                why = self.last.gpus.unavailable.get("gpus") or f"no GPU {index}"
            else:
                power, why = gpu.power_w, gpu.unavailable.get("power_w")
        else:
            return Efficiency(device, nps, None, None, f"unknown device {device!r}")
        value = nonces_per_joule(nps, power)
        if value is None and why is None:
            why = "power reads as zero"
        return Efficiency(device, nps, power, value, None if value is not None else why)

    def device_telemetry(self, device: str, nonces_per_second: float) -> dict:
        """The figures one device row shows (DEVICE_FIELDS and `unavailable` with a reason for each None),
        from the last reading. For the CPU: the package's utilisation, temperature and power, the host's memory."""
        eff = self.efficiency(device, nonces_per_second)
        values: dict[str, Any] = dict.fromkeys(DEVICE_FIELDS)
        unavailable: dict[str, str] = {}
        if self.last is None:
            source, reasons = {}, dict.fromkeys(DEVICE_FIELDS, "no telemetry reading yet")
        elif device == "cpu":
            host = self.last.host
            source = {"utilization_percent": host.cpu_percent, "temperature_c": host.cpu_temperature_c,
                      "power_w": host.cpu_power_w, "fan_percent": None, "memory_used_bytes": host.memory_used_bytes,
                      "memory_total_bytes": host.memory_total_bytes}
            names = {"utilization_percent": "cpu_percent", "temperature_c": "cpu_temperature_c",
                     "power_w": "cpu_power_w"}
            reasons = {k: host.unavailable.get(names.get(k, k), "") for k in source}
            reasons["fan_percent"] = "not reported for the CPU"
        elif (index := _gpu_index(device)) is not None and (gpu := self.last.gpus.gpu(index)) is not None:
            source = {k: getattr(gpu, k) for k in DEVICE_FIELDS if k != "nonces_per_joule"}
            reasons = dict(gpu.unavailable)
        else:
            source, reasons = {}, dict.fromkeys(DEVICE_FIELDS, eff.reason or "unknown device")
        for key in DEVICE_FIELDS:
            if key == "nonces_per_joule":
                value, why = _round(eff.nonces_per_joule, 6), eff.reason
            else:
                value, why = source.get(key), reasons.get(key)
            values[key] = value
            if value is None:
                unavailable[key] = why or "unknown"
        return {**values, "unavailable": unavailable}

    def efficiencies(self, rates: Mapping[str, float]) -> dict[str, Efficiency]:
        return {device: self.efficiency(device, nps) for device, nps in rates.items()}

    def close(self) -> None:
        if self._nvml_ready and self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except _nvml_error_class(self._nvml):
                pass
            self._nvml_ready = False

    def __enter__(self) -> Telemetry:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
