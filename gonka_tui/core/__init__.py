"""The headless core shared by the CLI, the TUI, the miner and the devnet.

Nothing under this package may import Textual (tests/unit/test_core_imports.py checks it).
"""
