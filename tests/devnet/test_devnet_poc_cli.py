"""`gonka devnet`'s PoC flags as a user gives them: the rounds they ask for, kept on a restart, bad values."""

from __future__ import annotations

import json

import pytest

from tests.devnet.test_devnet_cli import devnets  # noqa: F401 - the fixture

TINY = {"dim": 64, "n_layers": 2, "n_heads": 4, "n_kv_heads": 4, "vocab_size": 512, "ffn_dim_multiplier": 1.0,
        "multiple_of": 64, "norm_eps": 1e-5, "rope_theta": 10000, "seq_len": 8, "r_target": 1.4142}


def test_flags_set_the_rounds_and_a_restart_keeps_them(tmp_path, devnets):  # noqa: F811
    home = tmp_path / "dn"
    d = devnets(home, "--block-time", "0.05", "--epoch-blocks", "40", "--poc-blocks", "8", "--validation-blocks",
                "4", "--poc-params", json.dumps(TINY), "--epoch-reward", "7", "--reward-vesting-epochs", "3")
    assert any(line.startswith("epochs:         40 blocks (PoC 8, validation 4)") for line in d.out), d.out
    latest = d.http.get("/v1/epochs/latest").json()
    assert latest["epoch_params"]["epoch_length"] == 40 and latest["epoch_params"]["poc_stage_duration"] == 8
    assert latest["epoch_params"]["poc_validation_duration"] == 4
    params = d.http.get("/chain-api/productscience/inference/inference/params").json()["params"]
    assert params["bitcoin_reward_params"]["initial_epoch_reward"] == str(7 * 10**9)
    assert params["tokenomics_params"]["reward_vesting_period"] == "3"
    assert params["poc_params"]["model_params"]["vocab_size"] == "512"
    d.stop()
    again = devnets(home, "--block-time", "0.05", "--epoch-blocks", "50")
    assert any("flags are ignored" in line for line in again.out), again.out
    assert again.http.get("/v1/epochs/latest").json()["epoch_params"]["epoch_length"] == 40
    again.stop()


@pytest.mark.parametrize("args,message", [
    (["--epoch-blocks", "10"], "--epoch-blocks 10 is too short for the stages"),
    (["--poc-blocks", "x"], "--poc-blocks"),
    (["--poc-preset", "nope"], "no preset 'nope'"),
    (["--poc-params", "{"], "--poc-params must be a JSON object"),
    (["--poc-params", json.dumps({k: v for k, v in TINY.items() if k != "r_target"})], 'needs "r_target"'),
    (["--poc-params", json.dumps({**TINY, "dim": 63})], "--poc-params: params: dim 63 is not a multiple"),
    (["--poc-preset", "cpu", "--poc-params", json.dumps(TINY)], "not both"),
    (["--reward-vesting-epochs", "-1"], "--reward-vesting-epochs"),
])
def test_bad_poc_flags_give_one_clear_line(gonka, tmp_path, args, message):
    r = gonka("devnet", "--home", str(tmp_path / "dn"), "--port", "0", *args)
    assert r.code == 1
    assert r.err.count("\n") == 1 and r.err.startswith("error: ") and message in r.err, r.err
    assert not (tmp_path / "dn" / "devnet.sqlite3").exists()
