"""The Gonka network's fixed names and the local devnet's defaults, defined once.

The core, the devnet and the CLI import these; the app name 'gonka' (home directories, keyring
service) is another concept and lives in config.
"""

from __future__ import annotations

# The only on-chain denom: 1 GNK = 10^9 ngonka.
BASE_DENOM = "ngonka"
# Bech32 human-readable prefix of account addresses (gonka1...).
ADDRESS_HRP = "gonka"

# What `gonka devnet` uses when no --chain-id, --host or --port is given, and where the
# built-in devnet profile looks for it.
DEVNET_CHAIN_ID = "gonka-devnet"
DEVNET_HOST = "127.0.0.1"
DEVNET_PORT = 26600
DEVNET_URL = f"http://{DEVNET_HOST}:{DEVNET_PORT}"
# The chain's calculations.DefaultMaxTokens: what a signed inference request without max_tokens reserves (escrow).
DEFAULT_MAX_TOKENS = 5000
