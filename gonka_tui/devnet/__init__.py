"""`gonka devnet`: a local Gonka-compatible network in one process.

It serves, on one port like a real node behind its proxy, the CometBFT JSON-RPC subset
(`/chain-rpc/`), the Cosmos REST subset (`/chain-api/`), the node API subset (`/v1/`) and a
faucet, and verifies transactions the way a Cosmos SDK v0.50 node does (see `ante.py`).

Modules: `codes` (SDK error codes and logs), `accounts` (account records, vesting math),
`ledger` (committed and check state in memory), `ante` (the chain rules for CheckTx/DeliverTx/
Simulate, and the gas model), `events`, `blocks` (headers, hashes, times), `store` (SQLite),
`search` (the tx_search query language), `chain` (mempool, block production, queries),
`genesis` (fresh state and node key), `shapes` (JSON shapes shared by the APIs), `abci`
(abci_query paths), `rpc`, `rest`, `node_api`, `limits` (body and mempool caps), `server`
(Starlette app, block timer, uvicorn), `testkit` (keys, signed sends and waiting, for tests).

PoC rounds: `epochs` (stage formulas, the PoC config fixed at genesis), `poc_state` (PoC records with
check/scratch overlays, persisted per block), `poc_rules` (the x/inference messages' checks and
effects), `poc_engine` (the end-of-block stages: rounds, validation, weights, settlement, burning,
vesting), `poc_validator` (recomputation in a spawned worker process, off the block loop), `poc_api`
(epochs, participants, params, performance summaries, streamvesting queries).
"""
