"""What one miner agent looks like in the app (the Miner screen, and each tab of Rigs): its state, the
round and its countdown, throughput drawn over a short and a long window, one row per device, the
work and the earnings, and its log with a filter and a pause. Dense and calm, as memray's live view:
the figures change in place; a lost agent keeps its last figures, dimmed, under a line that says
since when and what to do. Under 81 columns it stacks and shows fewer columns."""

from __future__ import annotations

import time
from collections import deque

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, RichLog, Sparkline, Static

from gonka_tui.core.address import short_address
from gonka_tui.core.units import format_gnk
from gonka_tui.miner.status import AgentStatus, DeviceStatus, LogLine
from gonka_tui.tui.miner_feed import AgentLink

NARROW_BELOW = 81  # columns: under this the view stacks
LOG_LINES = 1000  # kept for the filter; the agent sends its most recent lines each read

PHASE_NAMES = {
    "PoCGenerate": "PoC round",
    "PoCGenerateWindDown": "round winding down",
    "PoCValidate": "validation",
    "PoCValidateWindDown": "validation winding down",
    "Inference": "between rounds",
}
STATE_STYLES = {"waiting": "$warning", "mining": "$success", "paused": "$accent", "stopped": "$text-muted",
                "error": "$error"}
DEVICE_STYLES = {"generating": "green", "ready": "", "starting": "yellow", "restarting": "yellow",
                 "failed": "red", "stopped": "dim"}
LEVEL_STYLES = {"warning": "yellow", "error": "bold red"}
# (key, heading, narrow heading, shown when narrow)
DEVICE_COLUMNS = (
    ("name", "Device", "Device", True),
    ("state", "State", "State", True),
    ("rate", "Nonces/s", "N/s", True),
    ("util", "Util", "Util", True),
    ("temp", "Temp", "Temp", True),
    ("power", "Power", "Power", True),
    ("fan", "Fan", "Fan", False),
    ("memory", "Memory", "Memory", False),
    ("efficiency", "Nonces/J", "N/J", True),
    ("restarts", "Restarts", "Rst", False),
)
FIELD_LABELS = {"utilization_percent": "utilisation", "temperature_c": "temperature", "power_w": "power",
                "fan_percent": "fan", "memory_used_bytes": "memory", "memory_total_bytes": "memory",
                "nonces_per_joule": "nonces/J"}


# ----- formatting -----

def rate(value: float) -> str:
    """Nonces per second (or per joule), as many digits as mean something."""
    if value == 0:
        return "0"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def duration(seconds: float) -> str:
    """'45 s', '12 min 05 s', '3 h 02 min', '2 d 4 h'."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def countdown(seconds: float) -> str:
    """'1:23', '1:02:03'."""
    s = max(0, round(seconds))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def clock_time(unix: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(unix))


def gib(n: int) -> str:
    return f"{n / 2**30:.1f}"


def gnk(ngonka: str) -> str:
    return format_gnk(int(ngonka))


def n_a() -> Text:
    return Text("n/a", style="dim", justify="right")


def device_cells(d: DeviceStatus, keys: list[str]) -> list[Text]:
    def number(value: float | None, fmt: str) -> Text:
        return n_a() if value is None else Text(fmt.format(value), justify="right")

    if d.memory_used_bytes is None:
        memory = n_a()
    elif d.memory_total_bytes:
        memory = Text(f"{gib(d.memory_used_bytes)}/{gib(d.memory_total_bytes)} GiB", justify="right")
    else:
        memory = Text(f"{gib(d.memory_used_bytes)} GiB", justify="right")
    cells = {
        "name": Text(d.name, style="bold"),
        "state": Text(d.state, style=DEVICE_STYLES.get(d.state, "")),
        "rate": Text(rate(d.nonces_per_second), justify="right"),
        "util": number(d.utilization_percent, "{:.0f}%"),
        "temp": number(d.temperature_c, "{:.0f} °C"),
        "power": number(d.power_w, "{:.0f} W"),
        "fan": number(d.fan_percent, "{:.0f}%"),
        "memory": memory,
        "efficiency": n_a() if d.nonces_per_joule is None else Text(rate(d.nonces_per_joule), justify="right"),
        "restarts": Text(str(d.restarts), justify="right", style="yellow" if d.restarts else ""),
    }
    return [cells[k] for k in keys]


def unavailable_note(devices: tuple[DeviceStatus, ...]) -> str:
    """Why each n/a is n/a: 'cpu: temperature, fan — no sensor; power — powercap is root-only'."""
    parts = []
    for d in devices:
        reasons: dict[str, list[str]] = {}
        for name, why in d.unavailable.items():
            label = FIELD_LABELS.get(name, name)
            if label not in reasons.setdefault(why, []):
                reasons[why].append(label)
        missing = [FIELD_LABELS[name] for name in FIELD_LABELS if getattr(d, name) is None
                   and not any(FIELD_LABELS[name] in labels for labels in reasons.values())]
        missing = list(dict.fromkeys(m for m in missing if m != "memory" or d.memory_used_bytes is None))
        if missing:
            reasons.setdefault("not reported", []).extend(missing)
        if reasons:
            text = "; ".join(f"{', '.join(labels)} — {why}" for why, labels in reasons.items())
            parts.append(f"{d.name}: {text}")
    return " · ".join(parts)


def state_line(s: AgentStatus, account: str, narrow: bool = False) -> str:
    style = STATE_STYLES.get(s.state, "")
    line = f"[{style} b]● {s.state.upper()}[/]  {escape(account)}"
    phase = PHASE_NAMES.get(s.phase, s.phase)
    line += f"   epoch [b]{s.epoch:,}[/b] · {phase}"
    if s.phase_ends_in_seconds is not None:
        line += f" · [b]{countdown(s.phase_ends_in_seconds)}[/b] left"
    if not narrow:
        if s.phase == "Inference" and s.next_poc_start:
            line += f" (next round at block {s.next_poc_start:,})"
        line += f" · height {s.block_height:,}"
    if s.state == "error" and s.error:
        line += f"\n[red]{escape(s.error)}[/red]"
    return line


def work_text(s: AgentStatus, narrow: bool) -> str:
    rejected = f"[red]{s.batches_rejected:,} rejected[/red]" if s.batches_rejected else "0 rejected"
    queued = f"[yellow]{s.batches_queued:,} queued[/yellow]" if s.batches_queued else "0 queued"
    restarts = f"[yellow]{s.restarts} restart{'s' if s.restarts != 1 else ''}[/yellow]" if s.restarts \
        else "no restarts"
    failures = [f"{d.name}: {d.last_failure}" for d in s.devices if d.last_failure]
    estimate = f"≈ {gnk(s.estimate_per_day_ngonka)}/day"
    if narrow:
        lines = [
            f"[b]Batches[/b] {s.batches_accepted:,} accepted · {rejected} · {queued}",
            f"[b]Weight[/b] {s.weight:,} · [b]earned[/b] {gnk(s.earned_ngonka)} · {estimate}",
            f"[b]Uptime[/b] {duration(s.uptime_seconds)} · {restarts}"
            + (f" · [red]last failure {escape(failures[-1])}[/red]" if failures else ""),
        ]
    else:
        lines = [
            f"[b]Batches[/b]  {s.batches_accepted:,} accepted · {rejected} · {queued}",
            f"[b]Nonces[/b]   {s.nonces_submitted:,} submitted",
            f"[b]Weight[/b]   {s.weight:,}",
            f"[b]Earned[/b]   {gnk(s.earned_ngonka)}",
            f"[b]Estimate[/b] {estimate} at the last epoch's reward",
            f"[b]Uptime[/b]   {duration(s.uptime_seconds)} · {restarts}",
        ]
        lines += [f"[red]Last failure {escape(f)}[/red]" for f in failures[-2:]]
    return "\n".join(lines)


def throughput_labels(s: AgentStatus, narrow: bool) -> tuple[str, str]:
    t = s.throughput
    share = f" ({t.s10 / t.max:.0%} of max {rate(t.max)})" if t.max > 0 else ""
    short = f"[b]current {rate(t.s10)} nonces/s[/b]{share}"
    long = f"15 min [b]{rate(t.m15)}[/b] nonces/s · 60 s {rate(t.s60)}"
    if not narrow:
        short += "  [dim]· last 2 min[/dim]"
        long += "  [dim]· last hours[/dim]"
    return short, long


def _plain(content) -> str:
    if isinstance(content, str):
        try:
            return Text.from_markup(content).plain
        except Exception:  # not markup after all
            return content
    return str(content)


def _may_reflow(old, new, width: int) -> bool:
    from rich.cells import cell_len

    before, after = _plain(old).split("\n"), _plain(new).split("\n")
    return len(before) != len(after) or width <= 0 or any(cell_len(line) > width for line in before + after)


class MinerView(Vertical):
    """The view of one agent; `show(link)` each time the app's link changes."""

    def __init__(self, local: bool, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="miner-view")
        self.local = local  # this home's agent (the hints say how to start it) or a rig's
        self.link: AgentLink = AgentLink()
        self.log_paused = False
        self._lines: deque[LogLine] = deque(maxlen=LOG_LINES)
        self._held = 0  # lines that came while the log was paused
        self._narrow: bool | None = None
        self._device_keys: list[str] = []
        self._device_rows: list[str] | None = None  # the devices the table has rows for
        self._device_cells: dict[str, list[str]] = {}  # what each row shows
        self._shown: dict[str, object] = {}  # what each Static shows (see _set)

    def compose(self) -> ComposeResult:
        yield Static("", id="mv-notice", classes="mv-notice")
        with Vertical(id="mv-live"):
            yield Static("", id="mv-state")
            with Horizontal(id="mv-top"):
                with Vertical(id="mv-throughput"):
                    yield Static("", id="mv-rate-short", classes="mv-label")
                    yield Sparkline([], id="mv-short")
                    yield Static("", id="mv-rate-long", classes="mv-label")
                    yield Sparkline([], id="mv-long")
                yield Static("", id="mv-work")
            yield DataTable(id="mv-devices", cursor_type="none", show_cursor=False, zebra_stripes=False)
            yield Static("", id="mv-device-note", classes="muted")
            with Horizontal(id="mv-log-bar"):
                yield Input(placeholder="filter the log (/)", id="mv-filter", compact=True)
                yield Static("", id="mv-log-state")
            yield RichLog(id="mv-log", max_lines=LOG_LINES, wrap=False, markup=False, auto_scroll=True)

    def on_mount(self) -> None:
        self.show(self.link)

    def on_resize(self) -> None:
        if self._narrow is not None and (self.app.size.width < NARROW_BELOW) != self._narrow:
            self.show(self.link)

    # ----- showing a link -----

    @property
    def narrow(self) -> bool:
        return self.app.size.width < NARROW_BELOW

    def show(self, link: AgentLink) -> None:
        self.link = link
        narrow = self.narrow
        if narrow != self._narrow:
            self._narrow = narrow
            self.set_class(narrow, "-narrow")
            self._device_keys = []  # the columns change
            self._shown.clear()
        status = link.status
        live = self.query_one("#mv-live")
        notice = self.query_one("#mv-notice", Static)
        not_running = link.connection == "none" and (status is None or status.state == "stopped")
        if status is None or not_running:
            live.display = False
            notice.update(self._empty_text(link, not_running))
            notice.set_class(False, "-lost")
            notice.display = True
            self.set_class(False, "-disconnected")
            return
        lost = link.connection in ("offline", "none")
        if lost != self.has_class("-disconnected") and not self.log_paused:
            # The notice takes rows from the log pane: keep its newest lines in sight.
            self.call_after_refresh(self.query_one("#mv-log", RichLog).scroll_end, animate=False)
        self.set_class(lost, "-disconnected")
        notice.display = lost
        notice.set_class(lost, "-lost")
        if lost:
            notice.update(self._lost_text(link))
        live.display = True
        self._show_status(status, narrow)

    def _hint(self) -> str:
        if self.local:
            return "Press [b]s[/b] to start mining, or run [b]gonka miner run --key NAME[/b] in a terminal."
        return ("Check that the agent runs on that machine and that its URL and token are right "
                "(the token is in <home>/miner/token there). It is asked again every few seconds.")

    def _empty_text(self, link: AgentLink, not_running: bool) -> str:
        if not_running:
            if link.status is not None:  # it stopped (as asked)
                return f"[b]The miner stopped.[/b]\n\n{self._hint()}"
            return (f"[b]No miner is running for this home.[/b]\n\n{self._hint()}\n\n"
                    "[dim]The agent proves compute in each PoC round of the network with this machine's CPU "
                    "and GPUs, and earns GNK by the weight it proves.[/dim]")
        if link.connection == "offline":
            since = f" since {clock_time(link.since)}" if link.since else ""
            return (f"[b]Cannot reach the agent{since}.[/b]\n{escape(link.problem)}\n\n{self._hint()}")
        where = f" at {escape(link.url)}" if link.url else ""
        return f"[dim]Asking the miner agent{where}…[/dim]"

    def _lost_text(self, link: AgentLink) -> str:
        since = f" since {clock_time(link.since)}" if link.since else ""
        if link.connection == "none":
            why = "the agent's process is gone"
        else:
            why = escape(link.problem) or "the agent does not answer"
        what = ("Start it again with [b]s[/b] (or `gonka miner run`)" if self.local and link.connection == "none"
                else "It is asked again every few seconds")
        return f"[b]⚠ Disconnected{since}[/b]: {why}. {what}; the figures below are the last known."

    def _set(self, selector: str, content) -> None:
        """Update a Static only when what it shows changed: each update lays the widget out again, and
        most of a status (once a second) is what it was a second before."""
        shown = self._shown.get(selector)
        key = content.markup if isinstance(content, Text) else content
        if shown != key:
            self._shown[selector] = key
            widget = self.query_one(selector, Static)
            # A new layout only when the text may take other rows: the same rows, none wider than the
            # widget, is a repaint (a layout of the whole screen each second was most of the app's CPU).
            widget.update(content, layout=shown is None or _may_reflow(shown, key, widget.content_size.width))

    def _show_status(self, s: AgentStatus, narrow: bool) -> None:
        self._set("#mv-state", state_line(s, self._account(s.account, narrow), narrow))
        short, long = throughput_labels(s, narrow)
        self._set("#mv-rate-short", short)
        self._set("#mv-rate-long", long)
        for selector, series in (("#mv-short", s.series_short), ("#mv-long", s.series_long)):
            data = list(series) or [0.0]
            spark = self.query_one(selector, Sparkline)
            if spark.data != data:
                spark.data = data
        self._set("#mv-work", work_text(s, narrow))
        self._show_devices(s, narrow)
        self._take_log(s.log)

    def _account(self, address: str, narrow: bool) -> str:
        """The account's name here, where it is one of ours, and its address."""
        accounts = getattr(self.app, "accounts", None)
        records = accounts.records if accounts is not None else ()
        name = next((r.name for r in records if r.address == address), None)
        shown = short_address(address, 6) if narrow or name else address
        return f"{name} · {shown}" if name else shown

    def _show_devices(self, s: AgentStatus, narrow: bool) -> None:
        table = self.query_one("#mv-devices", DataTable)
        keys = [k for k, _, _, in_narrow in DEVICE_COLUMNS if in_narrow or not narrow]
        if keys != self._device_keys:
            self._device_keys = keys
            table.clear(columns=True)
            self._device_rows = None
            for key, heading, short, _ in DEVICE_COLUMNS:
                if key in keys:
                    label = short if narrow else heading
                    table.add_column(Text(label, justify="left" if key in ("name", "state") else "right"), key=key)
        rows = [(d.name, device_cells(d, keys)) for d in s.devices]
        if [name for name, _ in rows] != self._device_rows:  # other devices: the rows anew
            self._device_rows = [name for name, _ in rows]
            self._device_cells = {}
            table.clear()
            for name, cells in rows:
                table.add_row(*cells, key=name)
                self._device_cells[name] = [str(c) for c in cells]
            table.styles.height = len(s.devices) + 1 if s.devices else 1
        else:  # the same devices: only the cells that changed
            for name, cells in rows:
                before = self._device_cells.get(name, [])
                for i, (key, cell) in enumerate(zip(keys, cells)):
                    if i >= len(before) or before[i] != str(cell):
                        table.update_cell(name, key, cell, update_width=True)  # "ready" → "generating"
                self._device_cells[name] = [str(c) for c in cells]
        note = self.query_one("#mv-device-note", Static)
        text = unavailable_note(s.devices)
        if not s.devices:
            text = "no device is running a kernel yet"
        self._set("#mv-device-note", Text(f"n/a: {text}" if s.devices and text else text))
        note.display = bool(text)

    # ----- the log -----

    def _take_log(self, lines: tuple[LogLine, ...]) -> None:
        """Add the lines not seen yet (the agent sends its most recent ones each time)."""
        new = list(lines)
        if self._lines:
            last = self._lines[-1]
            for i in range(len(new) - 1, -1, -1):
                if new[i] == last:
                    new = new[i + 1:]
                    break
            else:
                new = [line for line in new if line.time >= last.time and line not in self._lines]
        if not new:
            self._show_log_state()
            return
        self._lines.extend(new)
        if self.log_paused:
            self._held += len(new)
        else:
            pane = self.query_one("#mv-log", RichLog)
            for line in new:
                if self._matches(line):
                    pane.write(self._line_text(line))
        self._show_log_state()

    @property
    def log_filter(self) -> str:
        return self.query_one("#mv-filter", Input).value.strip().lower()

    def _matches(self, line: LogLine) -> bool:
        query = self.log_filter
        return not query or query in line.text.lower() or query == line.level

    @staticmethod
    def _line_text(line: LogLine) -> Text:
        text = Text(clock_time(line.time) + " ", style="dim")
        text.append(line.text, style=LEVEL_STYLES.get(line.level, ""))
        return text

    def _redraw_log(self) -> None:
        pane = self.query_one("#mv-log", RichLog)
        pane.clear()
        for line in self._lines:
            if self._matches(line):
                pane.write(self._line_text(line))
        self._show_log_state()

    def shown_log_lines(self) -> list[str]:
        """The lines the pane shows now, oldest first (for tests and copy)."""
        return [line.text for line in self._lines if self._matches(line)] if not self._held else \
            [line.text for line in list(self._lines)[: len(self._lines) - self._held] if self._matches(line)]

    def _show_log_state(self) -> None:
        parts = []
        if self.log_paused:
            parts.append(f"[b $warning]log paused[/] · {self._held} new" if self._held else "[b $warning]log paused[/]")
        if self.log_filter:
            shown = sum(1 for line in self._lines if self._matches(line))
            parts.append(f"{shown} of {len(self._lines)} lines match")
        elif not self.log_paused:
            parts.append(f"[dim]{len(self._lines)} lines · l pauses[/dim]")
        self._set("#mv-log-state", " · ".join(parts))

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "mv-filter":
            event.stop()
            if self.log_paused:  # what the pane shows stays as it was, filtered anew
                self._redraw_held()
            else:
                self._redraw_log()

    def _redraw_held(self) -> None:
        pane = self.query_one("#mv-log", RichLog)
        pane.clear()
        for line in list(self._lines)[: len(self._lines) - self._held]:
            if self._matches(line):
                pane.write(self._line_text(line))
        self._show_log_state()

    def toggle_log_pause(self) -> bool:
        """Pause (new lines wait) or follow again (they are shown); returns whether it is paused now."""
        self.log_paused = not self.log_paused
        if not self.log_paused and self._held:
            self._held = 0
            self._redraw_log()
        self._show_log_state()
        return self.log_paused

    def focus_filter(self) -> None:
        self.query_one("#mv-filter", Input).focus()
