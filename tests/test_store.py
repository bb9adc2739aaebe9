"""Model store: mirror, cache, download over loopback HTTP, checksums, and the error messages."""

from __future__ import annotations

import http.server
import os
import threading
from pathlib import Path

import pytest

from vcm.errors import VcmError
from vcm.store import MODELS, YOLO_FASTEST, ModelFile, ModelSpec, ModelStore, file_sha256

ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def toy_models(url: str = "http://127.0.0.1:9/toy/weights.bin") -> dict[str, ModelSpec]:
    return {"toy": ModelSpec("toy", (ModelFile("weights.bin", url, ABC_SHA256),))}


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


def download_store(tmp_path: Path, url: str) -> ModelStore:
    return ModelStore(
        cache_dir=tmp_path / "cache", mirror_dir=tmp_path / "mirror", offline=False,
        models=toy_models(url), progress=False,
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
