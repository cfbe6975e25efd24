import pytest

from gonka_tui.config import DEFAULT_CONFIG_TEXT, DEVNET_URL, ensure_config, load_config, resolve_home
from gonka_tui.core.errors import ConfigError


def write(home, text):
    h = resolve_home(home)
    h.config_file.write_text(text)
    return h


def test_defaults_without_a_file(home):
    cfg = load_config(resolve_home(home))
    assert cfg.default_network == "devnet"
    assert cfg.network().nodes == (DEVNET_URL,)
    assert cfg.network("mainnet").chain_id == "gonka-mainnet"
    assert "http://node1.gonka.ai:8000" in cfg.network("mainnet").nodes
    assert cfg.auto_lock_minutes == 10 and cfg.remember_unlock is False


def test_written_default_config_loads_and_is_private(home):
    h = resolve_home(home)
    ensure_config(h)
    assert h.config_file.read_text() == DEFAULT_CONFIG_TEXT
    assert h.config_file.stat().st_mode & 0o077 == 0
    assert load_config(h).default_network == "devnet"


def test_user_profiles_and_overrides(home):
    h = write(home, """
default_network = "mine"
default_key = "alice"
auto_lock_minutes = 0
[networks.mine]
chain_id = "gonka-mainnet"
nodes = ["http://127.0.0.1:9000/", "https://example.invalid"]
[networks.devnet]
nodes = ["http://127.0.0.1:26601"]
[keys]
"wallet.create" = "n"
""")
    cfg = load_config(h)
    assert cfg.network().nodes == ("http://127.0.0.1:9000", "https://example.invalid")
    assert cfg.network("devnet").chain_id is None  # the devnet node says which chain it is (--chain-id)
    assert cfg.network("devnet").nodes == ("http://127.0.0.1:26601",)
    assert cfg.default_key == "alice" and cfg.auto_lock_minutes == 0
    assert cfg.keys == {"wallet.create": "n"}


def test_malformed_toml_names_file_and_line(home):
    h = write(home, 'default_network = "devnet"\nauto_lock_minutes = = 3\n')
    with pytest.raises(ConfigError) as exc:
        load_config(h)
    assert str(h.config_file) in str(exc.value) and "line 2" in str(exc.value)


@pytest.mark.parametrize("text,line,words", [
    ('theme = "x"\nauto_lock_minutes = -1\n', 2, "auto_lock_minutes"),
    ('\n\ndefault_network = "nowhere"\n', 3, "not a known network"),
    ('colour = "red"\n', 1, "unknown setting 'colour'"),
    ('remember_unlock = "yes"\n', 1, "true or false"),
    ('[networks.x]\nchain_id = "c"\nnodes = ["ftp://x"]\n', 3, "not an http(s) URL"),
    ('[networks.x]\nchain_id = "c"\nnodes = []\n', 3, "non-empty list"),
])
def test_bad_values_name_the_line(home, text, line, words):
    h = write(home, text)
    with pytest.raises(ConfigError) as exc:
        load_config(h)
    assert f"line {line}" in str(exc.value) and words in str(exc.value)


def test_unknown_network_is_an_error(home):
    with pytest.raises(ConfigError, match="unknown network 'x'"):
        load_config(resolve_home(home)).network("x")


def test_home_search_order(tmp_path, monkeypatch):
    monkeypatch.setenv("GONKA_HOME", str(tmp_path / "env"))
    assert resolve_home(tmp_path / "arg").data_dir == tmp_path / "arg"
    assert resolve_home().data_dir == tmp_path / "env"
    assert resolve_home().keystore_dir == tmp_path / "env" / "keystore"
    monkeypatch.delenv("GONKA_HOME")
    h = resolve_home()
    assert h.config_file == tmp_path / "xdg-config" / "gonka" / "config.toml"
    assert h.data_dir == tmp_path / "xdg-data" / "gonka"


def test_error_in_a_later_section_points_at_that_section(home):
    h = write(home, '[networks.a]\nchain_id = "c"\nnodes = ["http://x"]\n\n[networks.b]\nchain_id = "c"\nnodes = ["gopher://x"]\n')
    with pytest.raises(ConfigError, match="line 7"):
        load_config(h)


def test_public_nodes_are_polled_gently(home):
    cfg = load_config(resolve_home(home))
    assert cfg.network("devnet").local and cfg.network("devnet").refresh_seconds == 15
    assert not cfg.network("mainnet").local and cfg.network("mainnet").refresh_seconds == 60
