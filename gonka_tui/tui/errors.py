"""Worker errors become one modal (Worker.StateChanged does not bubble to the app)."""

from __future__ import annotations

from textual.worker import Worker, WorkerState


class ErrorsAsModals:
    """Mix into a Screen (or the App) whose @work(exit_on_error=False) workers may fail."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.app.show_error(event.worker.error)
