"""The committed generated code is exactly what scripts/gen_proto.py makes from proto/."""

import filecmp
import subprocess
import sys

from tests.conftest import REPO


def test_generated_code_is_in_sync(tmp_path):
    out = tmp_path / "proto"
    subprocess.run([sys.executable, str(REPO / "scripts" / "gen_proto.py"), str(out)], check=True, timeout=120)
    committed = REPO / "gonka_tui" / "core" / "proto"

    def files(root):
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)

    assert files(out) == files(committed)
    different = [f for f in files(out) if not filecmp.cmp(out / f, committed / f, shallow=False)]
    assert different == [], f"regenerate with scripts/gen-proto: {different}"


def test_field_numbers_match_the_chain():
    from gonka_tui.core.proto.cosmos.tx.v1beta1 import tx_pb2
    from gonka_tui.core.proto.cosmos.vesting.v1beta1 import vesting_pb2

    numbers = {f.name: f.number for f in tx_pb2.TxBody.DESCRIPTOR.fields}
    assert numbers == {"messages": 1, "memo": 2, "timeout_height": 3, "unordered": 4, "timeout_timestamp": 5,
                       "extension_options": 1023, "non_critical_extension_options": 2047}
    assert {f.name: f.number for f in vesting_pb2.ContinuousVestingAccount.DESCRIPTOR.fields} == {
        "base_vesting_account": 1, "start_time": 2}
