"""errors.describe: one line for any exception, whatever its message."""

from __future__ import annotations

from napari_batchseg.errors import describe


def test_describe_is_the_type_and_the_first_line():
    assert describe(ValueError("bad value\nsecond line\nthird")) == "ValueError: bad value"
    assert describe(KeyError()) == "KeyError"
    assert describe(OSError("  \n")) == "OSError"


def test_about_names_the_file_once(tmp_path, capsys):
    """A review: the readers' errors begin with the file's name only; ``batchseg info`` printed
    'ERROR /x/bad.tif: bad.tif: truncated or corrupt TIFF…'."""
    from napari_batchseg.cli import main
    from napari_batchseg.errors import about

    assert about("/x/bad.tif", "bad.tif: truncated") == "/x/bad.tif: truncated"
    assert about("/x/bad.tif", "/x/bad.tif: gone") == "/x/bad.tif: gone"
    assert about("/x/bad.tif", "no such plane") == "/x/bad.tif: no such plane"
    from napari_batchseg.errors import whole_path

    assert whole_path("/x/bad.tif", "bad.tif: truncated") == "/x/bad.tif: truncated"
    assert whole_path("/x/bad.tif", "/out/bad_vSM.ome.tif: disk full") == "/out/bad_vSM.ome.tif: disk full"
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"II*\x00" + b"\x00" * 20)  # a TIFF header and nothing else
    assert main(["info", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"ERROR {bad}: ") and err.count("bad.tif") == 1, err


def test_nd2_errors_are_one_line():
    """The ND2 reader's own summary of the nd2 package's errors goes through describe (one line)."""
    from napari_batchseg.io.nd2 import _explain

    assert _explain(ValueError("bad header\nat offset 12\n...")) == "ValueError: bad header"
    assert _explain(ValueError("x" * 500)).endswith("...") and len(_explain(ValueError("x" * 500))) == 203
    assert "chunk map" in _explain(OSError("ChunkMap missing"))


def test_a_failed_download_says_what_a_user_can_act_on():
    """A review: every requests error (a refused certificate, a proxy's) read "no connection"."""
    import requests

    from napari_batchseg.segmenters._weights import failed_download

    offline = requests.exceptions.ConnectionError(
        "HTTPSConnectionPool(host='x.org', port=443): Max retries exceeded with url: /w (Caused by "
        "NameResolutionError(\"<urllib3.connection.HTTPSConnection object at 0x7f>: Failed to resolve\"))")
    assert failed_download(offline).startswith("download failed: no connection to the server")
    cert = requests.exceptions.SSLError(
        "HTTPSConnectionPool(...): Max retries exceeded (Caused by SSLError(SSLCertVerificationError(1, "
        "'[SSL: CERTIFICATE_VERIFY_FAILED] ...')))")
    assert "certificate could not be verified" in failed_download(cert)
    assert "proxy" in failed_download(requests.exceptions.ProxyError("Cannot connect to proxy."))
    assert "no data for" in failed_download(requests.exceptions.ReadTimeout("read timed out"))
    assert failed_download(ConnectionResetError("reset by peer")) == (
        "download failed: ConnectionResetError: reset by peer")
