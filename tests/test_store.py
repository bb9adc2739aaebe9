"""Model store: mirror, cache, download over loopback HTTP, checksums, and the error messages."""

from __future__ import annotations

import hashlib
import http.server
import logging
import os
import threading
from pathlib import Path

import pytest

from vcm.errors import VcmError
from vcm.store import (
    MODELS, YOLO_FASTEST, ModelFile, ModelSpec, ModelStore, file_sha256, pin_path, read_pin,
)

ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
ABC_PREFIX = ABC_SHA256[:8]  # "ba7816bf", as torchvision and OpenMMLab publish it
ABD_SHA256 = "a52d159f262b2c6ddb724a61840befc36eb30c88877a4030b65cbe86298449c9"  # of b"abd"


def toy_models(
    url: str = "http://127.0.0.1:9/toy/weights.bin", sha256: str | None = ABC_SHA256
) -> dict[str, ModelSpec]:
    return {"toy": ModelSpec("toy", (ModelFile("weights.bin", url, sha256),))}


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_sha256_of_known_bytes(tmp_path):
    assert file_sha256(write(tmp_path / "abc", b"abc")) == ABC_SHA256


def test_sha256_is_memoised_on_path_size_and_mtime(tmp_path):
    path = write(tmp_path / "abc", b"abc")
    status = path.stat()
    assert file_sha256(path) == ABC_SHA256
    path.write_bytes(b"abd")  # same size; restore the old mtime: the memo answers
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert file_sha256(path) == ABC_SHA256
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))
    assert file_sha256(path) != ABC_SHA256


def test_mirror_file_is_used_in_place(tmp_path):
    mirrored = write(tmp_path / "mirror" / "models" / "toy" / "weights.bin", b"abc")
    store = ModelStore(
        cache_dir=tmp_path / "cache", mirror_dir=tmp_path / "mirror", offline=True,
        models=toy_models(),
    )
    assert store.fetch("toy", "weights.bin") == mirrored
    assert not (tmp_path / "cache").exists()


def test_store_reads_its_settings_from_the_environment(tmp_path, monkeypatch):
    mirrored = write(tmp_path / "mirror" / "models" / "toy" / "weights.bin", b"abc")
    monkeypatch.setenv("VCM_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.setenv("VCM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("VCM_OFFLINE", "1")
    store = ModelStore.from_environment()
    store.models = toy_models()
    assert (store.mirror_dir, store.cache_dir, store.offline) == (
        tmp_path / "mirror", tmp_path / "cache", True,
    )
    assert store.fetch("toy", "weights.bin") == mirrored


def test_mirror_checksum_mismatch_is_an_error(tmp_path):
    write(tmp_path / "mirror" / "models" / "toy" / "weights.bin", b"abd")
    store = ModelStore(
        cache_dir=tmp_path / "cache", mirror_dir=tmp_path / "mirror", offline=True,
        models=toy_models(),
    )
    with pytest.raises(VcmError, match="sha256 mismatch in the mirror"):
        store.fetch("toy", "weights.bin")


def test_cache_hit_without_mirror(tmp_path, monkeypatch):
    monkeypatch.delenv("VCM_MIRROR", raising=False)
    cached = write(tmp_path / "cache" / "models" / "toy" / "weights.bin", b"abc")
    store = ModelStore(cache_dir=tmp_path / "cache", offline=True, models=toy_models())
    assert store.mirror_dir is None
    assert store.fetch("toy", "weights.bin") == cached


def test_corrupt_cache_entry_is_removed_and_reported_offline(tmp_path):
    cached = write(tmp_path / "cache" / "models" / "toy" / "weights.bin", b"xyz")
    store = ModelStore(
        cache_dir=tmp_path / "cache", mirror_dir=tmp_path / "mirror", offline=True,
        models=toy_models(),
    )
    with pytest.raises(VcmError, match="VCM_OFFLINE"):
        store.fetch("toy", "weights.bin")
    assert not cached.exists()


def test_missing_everywhere_says_where_to_put_it(tmp_path):
    url = "https://example.org/toy/weights.bin"
    store = ModelStore(
        cache_dir=tmp_path / "cache", mirror_dir=tmp_path / "mirror", offline=True,
        models=toy_models(url),
    )
    with pytest.raises(VcmError) as caught:
        store.fetch("toy", "weights.bin")
    message = str(caught.value)
    assert str(tmp_path / "cache" / "models" / "toy" / "weights.bin") in message
    assert str(tmp_path / "mirror" / "models" / "toy" / "weights.bin") in message
    assert url in message
    assert ABC_SHA256 in message
    assert "VCM_OFFLINE" in message


def test_missing_without_mirror_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("VCM_MIRROR", raising=False)
    store = ModelStore(cache_dir=tmp_path / "cache", offline=True, models=toy_models())
    with pytest.raises(VcmError, match=r"\$VCM_MIRROR/models/toy/weights.bin"):
        store.fetch("toy", "weights.bin")


def test_unknown_model_and_file(tmp_path):
    store = ModelStore(cache_dir=tmp_path, offline=True, models=toy_models())
    with pytest.raises(VcmError, match="unknown model 'nope'; known models: toy"):
        store.fetch("nope", "weights.bin")
    with pytest.raises(VcmError, match="model 'toy' has no file 'x.cfg'; its files are: weights"):
        store.fetch("toy", "x.cfg")


def test_yolo_fastest_catalogue_matches_the_mirror(mirror):
    assert MODELS["yolo-fastest"] is YOLO_FASTEST
    assert list(YOLO_FASTEST.files) == [
        "yolo-fastest-1.1_body.cfg", "yolo-fastest-1.1_body.weights",
        "yolo-fastest-1.1.cfg", "yolo-fastest-1.1.weights",
        "yolo-fastest-1.1-xl.cfg", "yolo-fastest-1.1-xl.weights",
    ]
    for model_file in YOLO_FASTEST.files.values():
        assert model_file.url.startswith(
            "https://raw.githubusercontent.com/dog-qiuqiu/Yolo-Fastest/"
            "96a2900d163196c396e73f3fdab04ca4dd9a2f70/ModelZoo/"
        )
        assert model_file.url.endswith("/" + model_file.filename)
        assert file_sha256(mirror / "models" / "yolo-fastest" / model_file.filename) == (
            model_file.sha256
        )


def test_fetch_from_the_shared_mirror(mirror, tmp_path):
    store = ModelStore(cache_dir=tmp_path / "cache", mirror_dir=mirror, offline=True)
    path = store.fetch("yolo-fastest", "yolo-fastest-1.1_body.cfg")
    assert path == mirror / "models" / "yolo-fastest" / "yolo-fastest-1.1_body.cfg"


def test_checksum_kinds():
    url = "https://example.org/weights.bin"
    assert ModelFile("weights.bin", url, ABC_SHA256).checksum_kind == "sha256"
    assert ModelFile("weights.bin", url, ABC_PREFIX).checksum_kind == "sha256 prefix"
    assert ModelFile("weights.bin", url, ABC_SHA256[:63]).checksum_kind == "sha256 prefix"
    assert ModelFile("weights.bin", url, None).checksum_kind == "none (pinned on first download)"


@pytest.mark.parametrize(
    "sha256",
    [
        ABC_SHA256[:7],  # shorter than any published prefix
        ABC_SHA256 + "0",  # 65 digits
        ABC_PREFIX.upper(),
        "ba7816bg",  # not hex
        "",
        " " + ABC_PREFIX,
        ABC_PREFIX.encode(),  # bytes, not text
    ],
)
def test_invalid_checksum_is_a_value_error(sha256):
    with pytest.raises(ValueError, match="model file 'weights.bin': sha256 .* is not a checksum"):
        ModelFile("weights.bin", "https://example.org/weights.bin", sha256)


def test_mirror_file_matching_a_prefix_is_used_and_a_mismatch_is_an_error(tmp_path):
    mirrored = write(tmp_path / "mirror" / "models" / "toy" / "weights.bin", b"abc")
    store = ModelStore(
        cache_dir=tmp_path / "cache", mirror_dir=tmp_path / "mirror", offline=True,
        models=toy_models(sha256=ABC_PREFIX),
    )
    assert store.fetch("toy", "weights.bin") == mirrored
    mirrored.write_bytes(b"abdd")  # another size, so the sha256 memo cannot answer
    with pytest.raises(
        VcmError,
        match=f"weights.bin: sha256 mismatch in the mirror .*published prefix {ABC_PREFIX}",
    ):
        store.fetch("toy", "weights.bin")


def test_mirror_file_without_checksum_is_used_in_place_with_its_digest_logged(tmp_path, caplog):
    mirrored = write(tmp_path / "mirror" / "models" / "toy" / "weights.bin", b"abd")
    store = ModelStore(
        cache_dir=tmp_path / "cache", mirror_dir=tmp_path / "mirror", offline=True,
        models=toy_models(sha256=None),
    )
    with caplog.at_level(logging.WARNING, logger="vcm.store"):
        assert store.fetch("toy", "weights.bin") == mirrored
    assert f"{mirrored}: no published checksum" in caplog.text
    assert ABD_SHA256 in caplog.text
    assert not (tmp_path / "cache").exists()
    assert not pin_path(mirrored).exists()  # the mirror is only read


def test_hand_placed_cache_file_without_checksum_is_pinned_on_first_use(tmp_path, caplog):
    cached = write(tmp_path / "cache" / "models" / "toy" / "weights.bin", b"abd")
    store = ModelStore(
        cache_dir=tmp_path / "cache", offline=True, models=toy_models(sha256=None),
    )
    with caplog.at_level(logging.WARNING, logger="vcm.store"):
        assert store.fetch("toy", "weights.bin") == cached
    assert "no published checksum and no pin" in caplog.text
    assert ABD_SHA256 in caplog.text
    assert (tmp_path / "cache" / "models" / "toy" / "weights.bin.sha256").read_text() == (
        f"{ABD_SHA256}  weights.bin\n"
    )
    assert read_pin(cached) == ABD_SHA256
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vcm.store"):
        assert store.fetch("toy", "weights.bin") == cached  # now checked against the pin
    assert caplog.text == ""


def test_missing_file_without_checksum_says_so(tmp_path):
    store = ModelStore(
        cache_dir=tmp_path / "cache", mirror_dir=tmp_path / "mirror", offline=True,
        models=toy_models(sha256=None),
    )
    with pytest.raises(VcmError, match="no published checksum; its sha256 is pinned"):
        store.fetch("toy", "weights.bin")


def test_dataset_lookup(tmp_path, monkeypatch):
    (tmp_path / "mirror" / "datasets" / "PETS").mkdir(parents=True)
    store = ModelStore(cache_dir=tmp_path / "cache", mirror_dir=tmp_path / "mirror")
    assert store.dataset("PETS") == tmp_path / "mirror" / "datasets" / "PETS"
    with pytest.raises(VcmError, match="expected the folder .*datasets/MOT17"):
        store.dataset("MOT17")
    monkeypatch.delenv("VCM_MIRROR", raising=False)
    with pytest.raises(VcmError, match="set VCM_MIRROR"):
        ModelStore(cache_dir=tmp_path / "cache").dataset("PETS")


# Downloads, served from a loopback HTTP server in a thread.

class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/abc":
            self._reply(b"abc")
        elif self.path == "/abd":
            self._reply(b"abd")
        elif self.path == "/short":
            self._reply(b"ab", length=3)  # announce 3 bytes, send 2, hang up
        else:
            self.send_error(404)

    def _reply(self, body: bytes, length: int | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server(monkeypatch):
    """Base URL of an HTTP server on 127.0.0.1 (an ephemeral port)."""
    # A proxy from the environment must not see loopback requests.
    for variable in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def download_store(tmp_path: Path, url: str, sha256: str | None = ABC_SHA256) -> ModelStore:
    return ModelStore(
        cache_dir=tmp_path / "cache", mirror_dir=tmp_path / "mirror", offline=False,
        models=toy_models(url, sha256), progress=False,
    )


def cache_folder_entries(tmp_path: Path) -> list[str]:
    folder = tmp_path / "cache" / "models" / "toy"
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def test_download_lands_in_the_cache(tmp_path, server):
    store = download_store(tmp_path, f"{server}/abc")
    path = store.fetch("toy", "weights.bin")
    assert path == tmp_path / "cache" / "models" / "toy" / "weights.bin"
    assert path.read_bytes() == b"abc"
    assert cache_folder_entries(tmp_path) == ["weights.bin"]
    store.offline = True
    assert store.fetch("toy", "weights.bin") == path


def test_download_checksum_mismatch_caches_nothing(tmp_path, server):
    store = download_store(tmp_path, f"{server}/abd")
    with pytest.raises(VcmError, match="expected " + ABC_SHA256):
        store.fetch("toy", "weights.bin")
    assert cache_folder_entries(tmp_path) == []


def test_interrupted_download_caches_nothing(tmp_path, server):
    store = download_store(tmp_path, f"{server}/short")
    with pytest.raises(VcmError, match="download failed .*after 2 of 3 bytes"):
        store.fetch("toy", "weights.bin")
    assert cache_folder_entries(tmp_path) == []


def test_http_error_says_where_to_put_the_file(tmp_path, server):
    url = f"{server}/missing"
    store = download_store(tmp_path, url)
    with pytest.raises(VcmError) as caught:
        store.fetch("toy", "weights.bin")
    message = str(caught.value)
    assert "HTTP Error 404" in message
    assert url in message
    assert str(tmp_path / "cache" / "models" / "toy" / "weights.bin") in message
    assert cache_folder_entries(tmp_path) == []


def test_download_matching_a_published_prefix_is_cached(tmp_path, server):
    store = download_store(tmp_path, f"{server}/abc", sha256=ABC_PREFIX)
    path = store.fetch("toy", "weights.bin")
    assert path.read_bytes() == b"abc"
    assert cache_folder_entries(tmp_path) == ["weights.bin"]  # a published prefix needs no pin
    store.offline = True
    assert store.fetch("toy", "weights.bin") == path


def test_download_mismatching_a_published_prefix_caches_nothing(tmp_path, server):
    url = f"{server}/abd"
    store = download_store(tmp_path, url, sha256=ABC_PREFIX)
    with pytest.raises(VcmError) as caught:
        store.fetch("toy", "weights.bin")
    assert str(caught.value) == (
        f"{url}: downloaded file has sha256 {ABD_SHA256}, expected a digest starting with "
        f"the published prefix {ABC_PREFIX}; nothing was cached"
    )
    assert cache_folder_entries(tmp_path) == []


def test_download_without_checksum_pins_its_sha256(tmp_path, server):
    store = download_store(tmp_path, f"{server}/abc", sha256=None)
    path = store.fetch("toy", "weights.bin")
    assert path.read_bytes() == b"abc"
    assert cache_folder_entries(tmp_path) == ["weights.bin", "weights.bin.sha256"]
    assert pin_path(path).read_text() == f"{ABC_SHA256}  weights.bin\n"
    store.offline = True
    assert store.fetch("toy", "weights.bin") == path


def test_tampered_cache_file_is_caught_by_its_pin_and_downloaded_again(tmp_path, server, caplog):
    store = download_store(tmp_path, f"{server}/abc", sha256=None)
    path = store.fetch("toy", "weights.bin")
    path.write_bytes(b"abdd")  # another size, so the sha256 memo cannot answer
    tampered_sha256 = hashlib.sha256(b"abdd").hexdigest()
    with caplog.at_level(logging.WARNING, logger="vcm.store"):
        assert store.fetch("toy", "weights.bin") == path
    assert f"sha256 {tampered_sha256} does not match its pin" in caplog.text
    assert path.read_bytes() == b"abc"
    assert read_pin(path) == ABC_SHA256


def test_tampered_cache_file_offline_removes_it_and_its_pin(tmp_path):
    cached = write(tmp_path / "cache" / "models" / "toy" / "weights.bin", b"abd")
    write(pin_path(cached), f"{ABC_SHA256}  weights.bin\n".encode())
    store = ModelStore(
        cache_dir=tmp_path / "cache", mirror_dir=tmp_path / "mirror", offline=True,
        models=toy_models(sha256=None),
    )
    with pytest.raises(VcmError, match="VCM_OFFLINE"):
        store.fetch("toy", "weights.bin")
    assert cache_folder_entries(tmp_path) == []


def test_pin_without_its_data_file_is_replaced_by_the_download(tmp_path, server):
    # What a run stopped between writing the pin and renaming the data file leaves.
    stale_pin = write(
        tmp_path / "cache" / "models" / "toy" / "weights.bin.sha256",
        f"{ABD_SHA256}  weights.bin\n".encode(),
    )
    store = download_store(tmp_path, f"{server}/abc", sha256=None)
    path = store.fetch("toy", "weights.bin")
    assert path.read_bytes() == b"abc"
    assert stale_pin.read_text() == f"{ABC_SHA256}  weights.bin\n"


def test_unreadable_pin_is_removed_with_its_file_and_downloaded_again(tmp_path, server):
    cached = write(tmp_path / "cache" / "models" / "toy" / "weights.bin", b"abc")
    write(pin_path(cached), b"not a digest\n")
    with pytest.raises(VcmError, match="weights.bin.sha256: not a sha256 pin"):
        read_pin(cached)
    store = download_store(tmp_path, f"{server}/abc", sha256=None)
    assert store.fetch("toy", "weights.bin") == cached
    assert read_pin(cached) == ABC_SHA256


def test_failed_download_without_checksum_caches_nothing(tmp_path, server):
    store = download_store(tmp_path, f"{server}/short", sha256=None)
    with pytest.raises(VcmError, match="download failed .*after 2 of 3 bytes"):
        store.fetch("toy", "weights.bin")
    assert cache_folder_entries(tmp_path) == []
