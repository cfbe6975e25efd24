"""Errors whose message is meant for the user: one clear line, no secret inside."""


class GonkaError(Exception):
    """Base of every error the CLI prints as one line and the TUI shows in a modal."""


class InputError(GonkaError, ValueError):
    """The user (or a file, or the network) gave us something malformed."""


class KeystoreError(GonkaError):
    """The keystore could not do what was asked; nothing was changed."""


class WrongPassphrase(KeystoreError):
    def __init__(self) -> None:
        super().__init__("wrong passphrase")


class ConfigError(GonkaError):
    """config.toml is malformed; the message names the file and line."""


def shown(text: object, limit: int = 40) -> str:
    """User input quoted for an error message: non-printable characters escaped (so bytes that were
    not UTF-8 can be printed), long input cut (a 5,000-digit value is not echoed back)."""
    text = str(text)
    return repr(text[:limit]) + ("…" if len(text) > limit else "")
