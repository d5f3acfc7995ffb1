"""ansible-core's own start-up YAML, cached as JSON: same values, no parse on a hit, never trusted blindly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from hardening import ansible_cache

ANSIBLE_CONFIG = Path(__import__("ansible.config", fromlist=["x"]).__file__).parent


@pytest.mark.parametrize(
    ("name", "loader"), [("ansible_builtin_runtime.yml", yaml.CBaseLoader), ("base.yml", yaml.CSafeLoader)]
)
def test_cached_values_are_what_pyyaml_gives_for_ansibles_real_files(tmp_path, name, loader):
    data = (ANSIBLE_CONFIG / name).read_bytes()
    calls = []

    def parse(raw: bytes):
        calls.append(1)
        return yaml.load(raw, Loader=loader)

    load = ansible_cache.cached(parse, name, tmp_path)
    first, second = load(data), load(data)
    assert first == second == yaml.load(data, Loader=loader)
    assert len(calls) == 1, "the second load must come from the cache"
    assert [p.suffix for p in tmp_path.iterdir()] == [".json"]
    assert oct(tmp_path.stat().st_mode & 0o777) == "0o700" or tmp_path.stat().st_mode & 0o022 == 0


def test_changed_text_is_a_miss(tmp_path):
    load = ansible_cache.cached(lambda raw: yaml.safe_load(raw), "t", tmp_path)
    assert load(b"a: 1\n") == {"a": 1}
    assert load(b"a: 2\n") == {"a": 2}
    assert len(list(tmp_path.iterdir())) == 2


def test_values_json_would_change_are_not_cached(tmp_path):
    load = ansible_cache.cached(lambda raw: yaml.safe_load(raw), "t", tmp_path)
    assert load(b"1: one\nwhen: 2024-01-02\n") == yaml.safe_load(b"1: one\nwhen: 2024-01-02\n")
    assert list(tmp_path.iterdir()) == []


def test_a_corrupt_or_foreign_cache_file_is_parsed_again(tmp_path):
    seen = []
    load = ansible_cache.cached(lambda raw: seen.append(1) or yaml.safe_load(raw), "t", tmp_path)
    load(b"a: 1\n")
    (cached,) = tmp_path.iterdir()
    cached.write_text("{not json")
    assert load(b"a: 1\n") == {"a": 1}
    assert json.loads(cached.read_text()) == {"a": 1}, "the corrupt file is replaced"
    cached.unlink()
    os.symlink(tmp_path / "elsewhere.json", cached)
    (tmp_path / "elsewhere.json").write_text('{"a": "planted"}')
    assert load(b"a: 1\n") == {"a": 1}, "a symlink is never followed"
    assert len(seen) == 3


def test_a_directory_others_can_write_is_never_written(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    load = ansible_cache.cached(lambda raw: yaml.safe_load(raw), "t", shared)
    assert load(b"a: 1\n") == {"a": 1}
    assert list(shared.iterdir()) == []


def test_no_home_means_no_cache():
    assert ansible_cache.cache_dir({}) is None
    assert ansible_cache.cache_dir({"XDG_CACHE_HOME": "relative"}) is None
    assert ansible_cache.cache_dir({"HOME": "/home/u"}) == Path("/home/u/.cache/harden/ansible-yaml")


def test_the_inventory_child_reads_the_same_hosts_with_and_without_the_cache(tmp_path):
    """Through ansible-core itself: a fresh process per run, the cache cold, warm, and off."""
    inv = tmp_path / "inv.ini"
    inv.write_text("[web]\nw1 ansible_host=192.0.2.1 ansible_user=ops\n[web:vars]\nansible_become=true\n")
    code = textwrap.dedent(
        f"""
        import json, sys
        from pathlib import Path
        import hardening.inventory as inv
        inv._ansible_settings()
        hosts = inv._read_hosts(Path({str(inv)!r}), None, None)
        print(json.dumps([hosts, "ansible.constants" in sys.modules]))
        """
    )
    outs = []
    for xdg in (str(tmp_path / "cache"), str(tmp_path / "cache"), "off"):
        env = {**os.environ, "XDG_CACHE_HOME": xdg}
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
        assert run.returncode == 0, run.stderr
        outs.append(run.stdout)
    assert outs[0] == outs[1] == outs[2]
    assert len(list((tmp_path / "cache" / "harden" / "ansible-yaml").glob("*.json"))) == 2
