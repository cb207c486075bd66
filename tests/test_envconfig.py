"""Temporal Cloud through the SDK's environment configuration: the
example profiles in docs/temporal-cloud.toml load through ``client.temporal.
connect_options()`` (what the worker, the link handler and starter.py use) with the
target, namespace, API key and TLS settings they name, and TEMPORAL_* variables override
a profile. No network: only the options Client.connect would get."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import TLSConfig

from client.temporal import connect_options

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "temporal-cloud.toml"
CLOUD = "shop-access.a1b2c.tmprl.cloud:7233"


@pytest.fixture(autouse=True)
def no_temporal_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("TEMPORAL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))  # no user-level temporal.toml


def use_profile(monkeypatch: pytest.MonkeyPatch, path: Path, profile: str) -> dict[str, Any]:
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(path))
    monkeypatch.setenv("TEMPORAL_PROFILE", profile)
    return connect_options()


def test_the_api_key_profile_connects_to_cloud_with_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    options = use_profile(monkeypatch, EXAMPLE, "cloud-api-key")
    assert options["target_host"] == CLOUD
    assert options["namespace"] == "shop-access.a1b2c"
    assert options["api_key"] == "replace-with-your-api-key"
    assert options["tls"] is True
    assert options["data_converter"] is pydantic_data_converter


def test_the_api_key_comes_from_the_environment_over_the_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEMPORAL_API_KEY", "from-the-secret-store")
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "shop-access-staging.a1b2c")
    options = use_profile(monkeypatch, EXAMPLE, "cloud-api-key")
    assert options["api_key"] == "from-the-secret-store"
    assert options["namespace"] == "shop-access-staging.a1b2c"
    assert options["target_host"] == CLOUD


def test_the_mtls_profile_presents_the_client_certificate(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    cert.write_bytes(b"-----BEGIN CERTIFICATE-----\nexample\n")
    key.write_bytes(b"-----BEGIN PRIVATE KEY-----\nexample\n")
    profile = tmp_path / "temporal.toml"
    profile.write_text(
        EXAMPLE.read_text()
        .replace("/etc/shop-access/temporal-client.pem", str(cert))
        .replace("/etc/shop-access/temporal-client.key", str(key))
    )
    options = use_profile(monkeypatch, profile, "cloud-mtls")
    assert options["target_host"] == CLOUD
    assert options["namespace"] == "shop-access.a1b2c"
    assert "api_key" not in options
    tls = options["tls"]
    assert isinstance(tls, TLSConfig)
    assert tls.client_cert == cert.read_bytes()
    assert tls.client_private_key == key.read_bytes()


def test_without_configuration_the_local_dev_server_is_the_default() -> None:
    options = connect_options()
    assert options["target_host"] == "127.0.0.1:7233"
    assert options.get("tls") in (None, False)


def test_a_profile_that_does_not_exist_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(Exception, match="nowhere"):
        use_profile(monkeypatch, EXAMPLE, "nowhere")
