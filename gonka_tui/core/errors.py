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


class ChainError(GonkaError):
    """The network could not answer or refused what we asked."""


class NodeUnreachable(ChainError):
    """No node answered. `hint`, also at the end of the message, is what the client knows to suggest
    (start the local devnet); empty when it knows nothing better."""

    def __init__(self, message: str, hint: str = "") -> None:
        self.hint = hint
        super().__init__(message + hint)


class SimulationFailed(ChainError):
    """The node's simulation refused the transaction; `log` is the node's reason."""

    def __init__(self, log: str) -> None:
        self.log = log
        super().__init__(f"gas estimation failed: {log}")


class TxRejected(ChainError):
    def __init__(self, code: int, log: str, txhash: str = "", codespace: str = "sdk") -> None:
        self.code, self.log, self.txhash, self.codespace = code, log, txhash, codespace
        super().__init__(f"the network refused the transaction (code {code}): {log}{_HINTS.get(code, '')}")


_HINTS = {
    4: " — the signature did not verify: the account number, sequence or chain id differ from the network's",
    5: " — not enough spendable funds for the amount and the fee",
    11: " — out of gas: raise --gas or use --gas auto",
    13: " — the fee is below the network's minimum: raise --fees or leave it out to compute it",
    19: " — the same transaction is already waiting in the mempool",
    32: " — another transaction from this account got in first; try again",
}


def shown(text: object, limit: int = 40) -> str:
    """User input quoted for an error message: non-printable characters escaped (so bytes that were
    not UTF-8 can be printed), long input cut (a 5,000-digit value is not echoed back)."""
    text = str(text)
    return repr(text[:limit]) + ("…" if len(text) > limit else "")
