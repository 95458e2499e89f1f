"""Configuration: defaults, file, environment, and clear refusals."""

import pytest

from server import config


def test_defaults_are_usable():
    cfg = config.load(env={})
    assert cfg.server.port == 8888
    assert cfg.database.uri == ""
    assert cfg.retention.position_history_days == 30
    assert cfg.security.login_max_failures == 5


def test_environment_overrides_file(tmp_path):
    path = tmp_path / "jingdi.toml"
    path.write_text('[server]\nport = 9000\n[map]\ncrs = "wgs84"\n')
    cfg = config.load(path, env={"JINGDI_SERVER_PORT": "9100"})
    assert cfg.server.port == 9100
    assert cfg.map.crs == "wgs84"


def test_environment_values_are_typed():
    cfg = config.load(
        env={
            "JINGDI_SERVER_XHEADERS": "yes",
            "JINGDI_SERVER_ALLOWED_ORIGINS": "https://a.example, https://b.example",
            "JINGDI_REALTIME_PING_INTERVAL_S": "2.5",
        }
    )
    assert cfg.server.xheaders is True
    assert cfg.server.allowed_origins == ["https://a.example", "https://b.example"]
    assert cfg.realtime.ping_interval_s == 2.5


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"JINGDI_SERVER_PORT": "eighty"}, "[server] port must be a whole number"),
        ({"JINGDI_SERVER_PORTT": "1"}, "unknown setting in environment"),
        ({"JINGDI_MAP_CRS": "bd09"}, "[map] crs must be one of wgs84, gcj02"),
        ({"JINGDI_SERVER_XHEADERS": "maybe"}, "must be true or false"),
        ({"JINGDI_SERVER_PORT": "70000"}, "between 0 and 65535"),
        ({"JINGDI_SECURITY_LOGIN_MAX_FAILURES": "0"}, "greater than zero"),
    ],
)
def test_bad_environment_values_are_named(env, fragment):
    with pytest.raises(config.ConfigError) as caught:
        config.load(env=env)
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[nope]\nx = 1\n", "unknown section [nope]"),
        ("[server]\nprot = 1\n", "unknown setting [server] prot"),
        ("[server]\nport = '8888'\n", "must be a whole number"),
        ("[server]\nport = 1.5\n", "must be a whole number"),
        ("[server\n", "not valid TOML"),
    ],
)
def test_bad_files_are_named(tmp_path, text, fragment):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(config.ConfigError) as caught:
        config.load(path, env={})
    assert fragment in str(caught.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(config.ConfigError) as caught:
        config.load(tmp_path / "absent.toml", env={})
    assert "does not exist" in str(caught.value)


def test_markdown_reference_lists_every_setting():
    table = config.markdown_table()
    for section, items in config.SCHEMA.items():
        for key in items:
            assert f"`JINGDI_{section}_{key}`".upper() in table


def test_the_example_file_is_valid_and_lists_the_defaults():
    example = config.load(config.ROOT / "config" / "jingdi.example.toml", env={})
    assert example.as_dict() == config.load(env={}).as_dict()


def test_the_readme_table_is_current():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "config_docs", config.ROOT / "scripts" / "config_docs.py"
    )
    docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(docs)
    readme = (config.ROOT / "README.md").read_text()
    assert docs.readme_with_table(readme) == readme
    example = (config.ROOT / "config" / "jingdi.example.toml").read_text()
    assert docs.example_toml() == example
