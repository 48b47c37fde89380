"""Settings: the environment beats the profile file, and choosing https picks the HTTPS keys."""

from __future__ import annotations

from common.settings import load_settings

PROFILE = (
    "PYSPARK_JOBS_MYSQL_PASSWORD=mysql-from-profile\n"
    "PYSPARK_JOBS_TRINO_HTTPS_PASSWORD=trino-from-profile\n"
    "PYSPARK_JOBS_TRINO_CA_BUNDLE=/profile/trino.pem\n"
)


def _settings(tmp_path, **env: str):
    profile = tmp_path / "credentials.env"
    profile.write_text(PROFILE)
    return load_settings({"PYSPARK_JOBS_HOME": str(tmp_path), "PYSPARK_JOBS_PROFILE": str(profile),
                          **{f"PYSPARK_JOBS_{k}": v for k, v in env.items()}})


def test_plain_http_leaves_the_https_password_alone(tmp_path):
    trino = _settings(tmp_path).trino
    assert (trino.http_scheme, trino.port, trino.password) == ("http", 18080, "")


def test_https_takes_the_https_port_and_password(tmp_path):
    trino = _settings(tmp_path, TRINO_HTTP_SCHEME="https").trino
    assert (trino.port, trino.password, trino.ca_bundle) == (18443, "trino-from-profile", "/profile/trino.pem")


def test_the_environment_beats_the_profile(tmp_path):
    trino = _settings(tmp_path, TRINO_HTTP_SCHEME="https", TRINO_PORT="443", TRINO_PASSWORD="from-env").trino
    assert (trino.port, trino.password) == (443, "from-env")
    https_keys = _settings(tmp_path, TRINO_HTTP_SCHEME="https", TRINO_HTTPS_PORT="8443", TRINO_PORT="443").trino
    assert https_keys.port == 8443


def test_a_plain_password_over_http_still_reaches_the_reader_and_is_refused_there(tmp_path):
    """TRINO_PASSWORD is not dropped silently with http: TrinoReader refuses it (test_trino.py)."""
    assert _settings(tmp_path, TRINO_PASSWORD="set-by-mistake").trino.password == "set-by-mistake"


def test_the_lake_root_defaults_to_var_and_qa_lives_beside_it(tmp_path):
    settings = _settings(tmp_path)
    assert settings.lake_root == (tmp_path / "var" / "lake").resolve().as_uri()
    assert settings.qa_root == settings.lake_root + "/_qa"


def test_a_lake_root_that_is_not_s3_or_file_names_the_setting(tmp_path):
    import pytest

    from common.errors import ConfigError

    for root in ("hdfs:///warehouse", "/data/lake", "s3://"):
        with pytest.raises(ConfigError, match=r"PYSPARK_JOBS_LAKE_ROOT=.* is not a lake root: use an s3://bucket/prefix"):
            _settings(tmp_path, LAKE_ROOT=root)


def test_mysql_tls_mode_is_checked_and_reaches_the_url(tmp_path):
    import pytest

    from common.errors import ConfigError

    assert "sslMode=REQUIRED" in _settings(tmp_path, MYSQL_SSL_MODE="required").mysql_source().jdbc_url
    with pytest.raises(ConfigError, match=r"PYSPARK_JOBS_MYSQL_SSL_MODE='ON': use one of DISABLED"):
        _settings(tmp_path, MYSQL_SSL_MODE="on").mysql_source()


def test_trino_reads_every_lake_table_through_lake_where_the_lake_is_on_s3(tmp_path):
    assert _settings(tmp_path, LAKE_ROOT="s3://bucket/prod").trino.table_map == "*.*=lake.*.*"
    assert _settings(tmp_path, LAKE_ROOT="s3a://bucket/prod").trino.table_map == "*.*=lake.*.*"
    # a lake on disk is out of Trino's reach: TPC-H from its generator
    assert _settings(tmp_path).trino.table_map == "tpch.*=tpch.tiny.*"
    assert _settings(tmp_path, LAKE_ROOT="s3://b/p", TRINO_TABLES="*.*=hive.*.*").trino.table_map == "*.*=hive.*.*"
