"""The miner: the kernel worker now; the agent next."""
