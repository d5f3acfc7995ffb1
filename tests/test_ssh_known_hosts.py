"""known_hosts is parsed once per version of the file and shared by the fleet's connections."""

from __future__ import annotations

import os

import paramiko

from hardening.transport.ssh import _use_known_hosts, known_hosts_keys


def _line(host: str, key: paramiko.PKey) -> str:
    return f"{host} {key.get_name()} {key.get_base64()}\n"


def test_parsed_once_and_reparsed_when_the_file_changes(tmp_path):
    path = tmp_path / "known_hosts"
    first, second = paramiko.ECDSAKey.generate(), paramiko.ECDSAKey.generate()
    path.write_text(_line("[127.0.0.1]:2222", first))
    keys = known_hosts_keys(str(path))
    assert known_hosts_keys(str(path)) is keys  # shared, not parsed again
    assert keys.lookup("[127.0.0.1]:2222")[first.get_name()] == first

    path.write_text(_line("[127.0.0.1]:2222", second) + _line("[127.0.0.1]:2223", first))
    os.utime(path, ns=(1, 1))  # a rewrite within one mtime tick still differs in size; force both
    changed = known_hosts_keys(str(path))
    assert changed is not keys
    assert changed.lookup("[127.0.0.1]:2222")[second.get_name()] == second  # the old key is gone

    client = paramiko.SSHClient()
    _use_known_hosts(client, str(path))
    assert client.get_host_keys() is changed
    assert client.get_host_keys().lookup("[127.0.0.1]:2223")[first.get_name()] == first
