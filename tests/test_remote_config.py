"""The remote engine's settings, and the service's network: none unless a server is
configured, then that server only (a systemd drop-in checked by systemd-analyze)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from appliance.config import Config, ConfigError, parse_config, with_overrides
from appliance.doctor import Machine, check_remote
from appliance.service_network import DROP_IN, apply, drop_in
from tests.remote_servers import free_port
from tests.test_install import install, scratch_root
from tests.test_systemd import complaints, prepared_root, verify


def test_default_is_local_and_needs_no_server():
    cfg = Config()
    assert cfg.asr.engine == "local" and cfg.remote.url == ""
    assert drop_in(cfg) is None


@pytest.mark.parametrize(
    ("text", "wrong"),
    [
        ("asr: {engine: wyoming}\n", "it is empty"),
        ("asr: {engine: wyoming}\nremote: {url: 'tcp://ha.local'}\n", "tcp://host:10300"),
        ("asr: {engine: openai}\nremote: {url: 'tcp://ha.local:10300'}\n", "https://host"),
        ("asr: {engine: openai}\nremote: {url: 'https://'}\n", "https://host"),
    ],
)
def test_a_remote_engine_without_a_usable_address_is_a_config_error(text, wrong):
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "stt-keyboard.yaml")
    assert caught.value.key == "remote.url"
    assert wrong in str(caught.value)


def test_engine_names_are_checked():
    with pytest.raises(ConfigError, match="did you mean 'wyoming'"):
        parse_config("asr: {engine: wyomin}\n")


def test_usable_addresses_parse():
    cfg = parse_config("asr: {engine: wyoming}\nremote: {url: 'tcp://192.168.1.20:10300'}\n")
    assert cfg.remote.url == "tcp://192.168.1.20:10300"
    cfg = parse_config(
        "asr: {engine: openai}\nremote: {url: 'https://gpu.home:8000/v1', "
        "api_key_file: /etc/stt-keyboard/key, ca_file: /etc/stt-keyboard/ca.pem}\n"
    )
    assert cfg.remote.ca_file.endswith("ca.pem") and cfg.remote.verify_tls


def remote(url: str, engine: str = "wyoming") -> Config:
    return with_overrides(Config(), asr={"engine": engine}, remote={"url": url})


def test_drop_in_allows_the_servers_address_only():
    text = drop_in(remote("tcp://192.168.1.20:10300"))
    assert text is not None
    lines = text.splitlines()
    assert "PrivateNetwork=no" in lines
    assert "IPAddressDeny=any" in lines
    assert "IPAddressAllow=192.168.1.20" in lines
    assert "RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6" in lines


def test_a_server_name_allows_its_addresses_and_the_resolvers(tmp_path):
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("# test\nnameserver 192.168.1.1\nnameserver fd00::1\n")
    text = drop_in(
        remote("https://gpu.home:8000/v1", "openai"),
        resolver=lambda host: ["192.168.1.50", "fd00::50"] if host == "gpu.home" else [],
        resolv_conf=resolv,
    )
    assert text is not None
    assert "IPAddressAllow=192.168.1.50 fd00::50 192.168.1.1 fd00::1" in text.splitlines()


def test_apply_writes_the_drop_in_and_local_removes_it(tmp_path):
    path = tmp_path / DROP_IN.relative_to("/")
    assert "10.0.0.7" in apply(remote("tcp://10.0.0.7:10300"), tmp_path)
    assert "IPAddressAllow=10.0.0.7" in path.read_text()
    assert "removed" in apply(Config(), tmp_path)
    assert not path.exists()


def test_the_unit_with_the_drop_in_passes_systemd_analyze_verify(tmp_path):
    root = prepared_root(tmp_path)
    apply(remote("tcp://192.168.1.20:10300"), root)
    proc = verify(root, ["stt-keyboard.service"])
    assert proc.returncode == 0, proc.stderr
    assert complaints(proc) == [], "\n".join(complaints(proc))


def test_a_broken_drop_in_is_caught_by_the_same_check(tmp_path):
    root = prepared_root(tmp_path)
    path = root / DROP_IN.relative_to("/")
    path.parent.mkdir(parents=True)
    path.write_text("[Service]\nIPAddressAllow=not-an-address\n")
    proc = verify(root, ["stt-keyboard.service"])
    assert complaints(proc), proc.stderr


def test_the_installer_applies_the_network_step(tmp_path):
    root = scratch_root(tmp_path)
    install(root)
    plan = (root / "var" / "lib" / "stt-keyboard-install" / "plan.txt").read_text()
    assert "config network --root" in plan


def test_doctor_says_the_server_is_away_and_the_service_may_not_reach_it(tmp_path):
    cfg = remote(f"tcp://127.0.0.1:{free_port()}")
    checks = {c.name: c for c in check_remote(cfg, Machine(tmp_path))}
    assert checks["wyoming server"].status == "fail"
    assert "connection refused" in checks["wyoming server"].summary
    assert "on the device" in checks["wyoming server"].summary
    assert checks["service network"].status == "warn"
    apply(cfg, tmp_path)
    checks = {c.name: c for c in check_remote(cfg, Machine(tmp_path))}
    assert checks["service network"].status == "ok"


def test_doctor_has_no_server_check_for_the_local_engine(tmp_path):
    assert check_remote(Config(), Machine(tmp_path)) == []


@pytest.mark.model
def test_local_dictation_opens_no_connection(pipeline, speech_items, monkeypatch):
    """With the defaults nothing touches the network: a dictation works with every
    connection refused, and none is tried."""
    from appliance.audio import load_audio
    from appliance.pipeline import run_blocks

    tried: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        tried.append(address)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    item = next(i for i in speech_items if i.language == "en")
    result = run_blocks(pipeline, [load_audio(item.path)])
    assert result.pieces and tried == []


def test_unit_file_itself_still_has_no_network():
    unit = (Path(__file__).resolve().parents[1] / "systemd" / "stt-keyboard.service").read_text()
    assert "PrivateNetwork=yes" in unit.splitlines()
    assert "IPAddressDeny=any" in unit.splitlines()
