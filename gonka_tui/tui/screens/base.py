"""What every full screen of the app shares: header, tab strip, footer, bindings from its actions,
F1 help text, worker errors as modals, and the narrow/wide layout switch."""

from __future__ import annotations

from typing import ClassVar, Generic, TypeVar

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header

from gonka_tui.tui.actions import ActionSpec, bindings
from gonka_tui.tui.errors import ErrorsAsModals
from gonka_tui.tui.widgets.nav import NavBar

WIDE = 110  # from this width tables show full addresses and their extra columns
NARROW = 100  # below this width the header says less

ResultT = TypeVar("ResultT")


class GonkaScreen(ErrorsAsModals, Screen[ResultT], Generic[ResultT]):
    MODE: ClassVar[str] = ""  # its mode in the registry: shows the tab strip with it current ("" for none)
    ACTIONS: ClassVar[tuple[ActionSpec, ...]] = ()  # its keys (bindings), F1 help rows and palette commands
    HELP: ClassVar[str] = ""  # what F1 says the screen does
    FEEDS: ClassVar[frozenset[str]] = frozenset()  # feeds whose lost source it reports (offline modal)

    def __init_subclass__(cls, **kwargs) -> None:
        if "ACTIONS" in cls.__dict__ and "BINDINGS" not in cls.__dict__:
            cls.BINDINGS = bindings(cls.ACTIONS)  # before Textual merges the bindings of the class
        super().__init_subclass__(**kwargs)

    def __init__(self) -> None:
        super().__init__()
        self._wide: bool | None = None  # the width class last laid out for; None before the first layout

    def compose(self) -> ComposeResult:
        yield Header()
        if self.MODE:
            yield NavBar(self.MODE)
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        """What lies between the tab strip and the footer."""
        yield from ()

    # ----- the app brings the user here -----

    def prefill(self, from_name: str | None = None, to: str | None = None) -> None:
        """The app opened this screen for an account (and a recipient): screens that take them say how."""

    # ----- narrow / wide -----

    @property
    def laid_out(self) -> bool:
        """Whether the screen was laid out before (a resume, not the first show)."""
        return self._wide is not None

    @property
    def wide(self) -> bool:
        """Laid out for a wide terminal, the last time it was laid out."""
        return bool(self._wide)

    def wide_layout(self) -> bool:
        """Lay out for the current width: call when (re)building what depends on it. The terminal's
        width (a screen fills it): the screen's own size is 0 until its first layout, and a table
        filled before then would be filled narrow."""
        self._wide = self.app.size.width >= WIDE
        return self._wide

    def on_resize(self) -> None:
        wide = self.app.size.width >= WIDE
        if wide != self._wide:
            self.on_width_class_changed(wide)

    def on_width_class_changed(self, wide: bool) -> None:
        """The width crossed WIDE: lay out again (by default only remember it)."""
        self._wide = wide
