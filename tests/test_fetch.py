"""Unit tests of harmony_vocab.download on small synthetic vocabs served from 127.0.0.1.

pytest-httpserver covers well-formed HTTP (200, 404, 500, redirects, wrong bytes); a raw socket
server (`RawServer`) covers what werkzeug cannot produce: connections dropped mid-body, bodies
shorter than their Content-Length, stalls past the read time-out, endless bodies.

After every failure the destination directory must be empty (no ``<name>.tiktoken``, no ``.part``
file that a later step could pick up) and the error must name every URL tried.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
import struct
import time
from pathlib import Path
from typing import Any, Callable, List, Optional, Tuple
from unittest import mock

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

import harmony_vocab.download as fetch
from harmony_vocab.errors import FetchError, VocabError
from harmony_vocab import cli
from harmony_vocab.pins import PINS, File, Pin
from support import Handler, RawServer, make_pin, response_head, trickle

NAME = "o200k_base"
PATH = f"/encodings/{NAME}.tiktoken"


def download(f: File, dest: Path, urls: List[str], *, tries: int = 1, backoff: float = 0.0,
             connect_timeout: float = 2.0, read_timeout: float = 2.0, deadline: Optional[float] = None,
             **kwargs: Any) -> Path:
    """`fetch.download` tuned as the build hook tunes it, through the module's constants (the
    deadline through its variable); the defaults make one quick try."""
    env = {} if deadline is None else {"HARMONY_VOCAB_DOWNLOAD_DEADLINE": str(deadline)}
    with mock.patch.multiple(fetch, TRIES=tries, BACKOFF=backoff, CONNECT_TIMEOUT=connect_timeout,
                             READ_TIMEOUT=read_timeout), mock.patch.dict(os.environ, env):
        return fetch.download(f, dest, urls, **kwargs)


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "dest"


def leftovers(directory: Path) -> List[str]:
    """Everything in `directory` (hidden .part files included); [] when it does not exist."""
    return sorted(os.listdir(directory)) if directory.exists() else []


def assert_failed_cleanly(exc: FetchError, dest: Path, urls: List[str]) -> None:
    assert leftovers(dest) == [], f"files left behind after a failed download: {leftovers(dest)}"
    message = str(exc)
    for url in urls:
        assert url in message, f"{url} not named in the error:\n{message}"
    tried = [a.place for a in exc.attempts]
    # every URL appears, in the order given
    assert sorted(set(tried), key=tried.index) == urls
    assert not any(a.ok for a in exc.attempts)


# ---------------------------------------------------------------- well-formed HTTP

def test_200_with_the_right_bytes(httpserver: HTTPServer, vocab: Tuple[Pin, bytes], dest: Path) -> None:
    pin, data = vocab
    httpserver.expect_request(PATH).respond_with_data(data, content_type="application/octet-stream")
    seen: List[Tuple[int, int]] = []

    path = download(pin.files[0], dest, [httpserver.url_for(PATH)], progress=lambda n, t: seen.append((n, t)))

    assert path == dest / pin.file
    assert path.read_bytes() == data
    assert leftovers(dest) == [pin.file]  # no .part file beside it
    assert seen and seen[-1] == (pin.size, pin.size)
    assert len(httpserver.log) == 1
    assert httpserver.log[0][0].headers.get("User-Agent") == "harmony-vocab"


def test_replaces_a_stale_file_only_with_a_verified_one(
    httpserver: HTTPServer, vocab: Tuple[Pin, bytes], dest: Path
) -> None:
    pin, data = vocab
    dest.mkdir()
    (dest / pin.file).write_bytes(b"stale")
    httpserver.expect_request(PATH).respond_with_data(data)
    download(pin.files[0], dest, [httpserver.url_for(PATH)])
    assert (dest / pin.file).read_bytes() == data


def test_404_fails_without_retrying(httpserver: HTTPServer, vocab: Tuple[Pin, bytes], dest: Path) -> None:
    pin, _ = vocab
    httpserver.expect_request(PATH).respond_with_data("no such file", status=404)
    url = httpserver.url_for(PATH)

    with pytest.raises(FetchError) as info:
        download(pin.files[0], dest, [url], tries=3, backoff=0)

    assert_failed_cleanly(info.value, dest, [url])
    assert [a.outcome for a in info.value.attempts] == ["HTTP 404 NOT FOUND"]
    assert len(httpserver.log) == 1, "a 404 must not be retried"


def test_500_then_200_retry_succeeds(httpserver: HTTPServer, vocab: Tuple[Pin, bytes], dest: Path) -> None:
    pin, data = vocab
    httpserver.expect_oneshot_request(PATH).respond_with_data("busy", status=500)
    httpserver.expect_request(PATH).respond_with_data(data)

    path = download(pin.files[0], dest, [httpserver.url_for(PATH)], tries=3, backoff=0)

    assert path.read_bytes() == data
    assert [r.status_code for _, r in httpserver.log] == [500, 200]
    assert leftovers(dest) == [pin.file]


def test_500_every_time_gives_up_after_the_bounded_tries(
    httpserver: HTTPServer, vocab: Tuple[Pin, bytes], dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pin, _ = vocab
    httpserver.expect_request(PATH).respond_with_data("busy", status=503)
    sleeps: List[float] = []
    monkeypatch.setattr(fetch.time, "sleep", sleeps.append)
    url = httpserver.url_for(PATH)

    with pytest.raises(FetchError) as info:
        download(pin.files[0], dest, [url], tries=3, backoff=0.25)

    assert_failed_cleanly(info.value, dest, [url])
    assert len(httpserver.log) == 3
    assert sleeps == [0.25, 0.5], "exponential back-off between tries, none after the last"
    assert [a.outcome for a in info.value.attempts] == [
        f"HTTP 503 SERVICE UNAVAILABLE (try {i} of 3)" for i in (1, 2, 3)
    ]


def test_module_constants_are_read_at_call_time(
    httpserver: HTTPServer, vocab: Tuple[Pin, bytes], dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build hook tunes downloads through download.TRIES/BACKOFF: they must not be frozen as
    default values when the module is imported."""
    pin, _ = vocab
    httpserver.expect_request(PATH).respond_with_data("busy", status=500)
    monkeypatch.setattr(fetch, "TRIES", 2)
    monkeypatch.setattr(fetch, "BACKOFF", 0)
    with pytest.raises(FetchError):
        fetch.download(pin.files[0], dest, [httpserver.url_for(PATH)])
    assert len(httpserver.log) == 2


def test_wrong_bytes_of_the_right_size(httpserver: HTTPServer, vocab: Tuple[Pin, bytes], dest: Path) -> None:
    pin, data = vocab
    tampered = data[:100] + (b"A" if data[100:101] != b"A" else b"B") + data[101:]
    assert len(tampered) == pin.size
    httpserver.expect_request(PATH).respond_with_data(tampered)
    url = httpserver.url_for(PATH)

    with pytest.raises(FetchError) as info:
        download(pin.files[0], dest, [url], tries=3, backoff=0)

    assert_failed_cleanly(info.value, dest, [url])
    message = str(info.value)
    assert pin.sha256 in message and hashlib.sha256(tampered).hexdigest() in message
    assert len(httpserver.log) == 1, "a hash mismatch is not retried from the same URL"


def test_redirect_to_the_real_file(httpserver: HTTPServer, vocab: Tuple[Pin, bytes], dest: Path) -> None:
    pin, data = vocab
    httpserver.expect_request(PATH).respond_with_response(
        Response(status=302, headers={"Location": httpserver.url_for("/blob/real")})
    )
    httpserver.expect_request("/blob/real").respond_with_data(data)

    path = download(pin.files[0], dest, [httpserver.url_for(PATH)])

    assert path.read_bytes() == data
    assert [r.path for r, _ in httpserver.log] == [PATH, "/blob/real"]


def test_redirect_to_a_missing_file_fails_cleanly(
    httpserver: HTTPServer, vocab: Tuple[Pin, bytes], dest: Path
) -> None:
    pin, _ = vocab
    httpserver.expect_request(PATH).respond_with_response(
        Response(status=302, headers={"Location": httpserver.url_for("/gone")})
    )
    httpserver.expect_request("/gone").respond_with_data("gone", status=404)
    url = httpserver.url_for(PATH)
    with pytest.raises(FetchError) as info:
        download(pin.files[0], dest, [url])
    assert_failed_cleanly(info.value, dest, [url])


def test_content_length_above_the_pin_is_refused(
    httpserver: HTTPServer, vocab: Tuple[Pin, bytes], dest: Path
) -> None:
    pin, data = vocab
    httpserver.expect_request(PATH).respond_with_data(data + b"x" * 10)
    url = httpserver.url_for(PATH)
    with pytest.raises(FetchError) as info:
        download(pin.files[0], dest, [url], tries=3, backoff=0)
    assert_failed_cleanly(info.value, dest, [url])
    assert f"more than the pinned {pin.size}" in str(info.value)
    assert len(httpserver.log) == 1


def test_falls_through_to_the_next_url(httpserver: HTTPServer, vocab: Tuple[Pin, bytes], dest: Path) -> None:
    pin, data = vocab
    httpserver.expect_request("/mirror/" + pin.file).respond_with_data("", status=404)
    httpserver.expect_request(PATH).respond_with_data(data)
    urls = [httpserver.url_for("/mirror/" + pin.file), httpserver.url_for(PATH)]
    path = download(pin.files[0], dest, urls)
    assert path.read_bytes() == data
    assert [r.path for r, _ in httpserver.log] == ["/mirror/" + pin.file, PATH]


def test_every_url_failing_names_each_one_in_order(
    httpserver: HTTPServer, vocab: Tuple[Pin, bytes], dest: Path
) -> None:
    pin, data = vocab
    closed = socket.create_server(("127.0.0.1", 0))
    refused_url = f"http://127.0.0.1:{closed.getsockname()[1]}{PATH}"
    closed.close()
    httpserver.expect_request("/a/" + pin.file).respond_with_data("", status=404)
    httpserver.expect_request("/b/" + pin.file).respond_with_data(data[:-1] + b"?")
    urls = [httpserver.url_for("/a/" + pin.file), refused_url, httpserver.url_for("/b/" + pin.file)]

    with pytest.raises(FetchError) as info:
        download(pin.files[0], dest, urls, tries=2, backoff=0, connect_timeout=2, read_timeout=2)

    assert_failed_cleanly(info.value, dest, urls)
    outcomes = [(a.place, a.outcome) for a in info.value.attempts]
    assert outcomes[0] == (urls[0], "HTTP 404 NOT FOUND"), "final: no misleading 'try 1 of 2'"
    assert [p for p, _ in outcomes[1:3]] == [refused_url, refused_url]  # refused: retried
    assert "refused" in outcomes[1][1].lower()
    assert outcomes[3][0] == urls[2] and "sha256 mismatch" in outcomes[3][1]
    assert len(outcomes) == 4


def test_download_urls_put_the_mirror_first(vocab: Tuple[Pin, bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    pin, _ = vocab
    assert fetch.download_urls(pin.files[0], "http://127.0.0.1:9/vocab/") == [
        "http://127.0.0.1:9/vocab/" + pin.file, *pin.urls
    ]
    monkeypatch.setenv("HARMONY_VOCAB_BASE_URL", "http://127.0.0.1:9/env")
    assert fetch.download_urls(pin.files[0])[0] == "http://127.0.0.1:9/env/" + pin.file
    assert fetch.download_urls(pin.files[0], "") == list(pin.urls)
    with pytest.raises(FetchError, match="HARMONY_VOCAB_BASE_URL"):
        fetch.download_urls(pin.files[0], "127.0.0.1/vocab")


# ---------------------------------------------------------------- misbehaving servers (raw sockets)

def test_connection_dropped_mid_body(
    raw_server: Callable[[Handler], RawServer], vocab: Tuple[Pin, bytes], dest: Path
) -> None:
    pin, data = vocab

    def handler(conn: socket.socket, server: RawServer) -> None:
        conn.sendall(response_head(len(data)) + data[: len(data) // 2])
        time.sleep(0.05)
        # abort with a RST instead of an orderly close
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    server = raw_server(handler)
    with pytest.raises(FetchError) as info:
        download(pin.files[0], dest, [server.url(PATH)], tries=2, backoff=0, connect_timeout=2, read_timeout=2)

    assert_failed_cleanly(info.value, dest, [server.url(PATH)])
    assert server.connections == 2, "a dropped connection is retried"
    assert len(info.value.attempts) == 2


def test_body_shorter_than_content_length(
    raw_server: Callable[[Handler], RawServer], vocab: Tuple[Pin, bytes], dest: Path
) -> None:
    pin, data = vocab

    def handler(conn: socket.socket, server: RawServer) -> None:
        conn.sendall(response_head(len(data)) + data[:-10])  # then an orderly close

    server = raw_server(handler)
    with pytest.raises(FetchError) as info:
        download(pin.files[0], dest, [server.url(PATH)], tries=2, backoff=0, connect_timeout=2, read_timeout=2)

    assert_failed_cleanly(info.value, dest, [server.url(PATH)])
    assert server.connections == 2
    assert all("mid-body" in a.outcome or "ended after" in a.outcome for a in info.value.attempts), (
        info.value.attempts
    )


def test_body_without_length_ending_early(
    raw_server: Callable[[Handler], RawServer], vocab: Tuple[Pin, bytes], dest: Path
) -> None:
    """No Content-Length, body delimited by the close: the size check must catch the short body."""
    pin, data = vocab

    def handler(conn: socket.socket, server: RawServer) -> None:
        conn.sendall(response_head(None) + data[:-10])

    server = raw_server(handler)
    with pytest.raises(FetchError) as info:
        download(pin.files[0], dest, [server.url(PATH)])
    assert_failed_cleanly(info.value, dest, [server.url(PATH)])
    assert f"ended after {pin.size - 10} of {pin.size} bytes" in str(info.value)


@pytest.mark.parametrize("stall", ["before-headers", "mid-body"])
def test_slow_server_past_the_read_timeout(
    raw_server: Callable[[Handler], RawServer], vocab: Tuple[Pin, bytes], dest: Path, stall: str
) -> None:
    pin, data = vocab

    def handler(conn: socket.socket, server: RawServer) -> None:
        if stall == "mid-body":
            conn.sendall(response_head(len(data)) + data[:100])
        server.stop.wait(10)  # far past the read time-out; released at teardown
        conn.sendall(data[100:] if stall == "mid-body" else response_head(len(data)) + data)

    server = raw_server(handler)
    # Had the read time-out not fired, the server would have sent the whole file (after its
    # stall) and the download would have succeeded.
    with pytest.raises(FetchError) as info:
        download(pin.files[0], dest, [server.url(PATH)], tries=2, backoff=0, connect_timeout=2, read_timeout=0.5)

    assert_failed_cleanly(info.value, dest, [server.url(PATH)])
    assert server.connections == 2, "a time-out is retried"
    assert all("read timed out after 0.5s" in a.outcome for a in info.value.attempts), info.value.attempts


def _endless(mode: str, total: int) -> Handler:
    """A server that would send `total` bytes of body, counting what it manages to send."""

    def handler(conn: socket.socket, server: RawServer) -> None:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 16)
        if mode == "chunked":
            conn.sendall(response_head(None, "Transfer-Encoding: chunked\r\n"))
        else:
            conn.sendall(response_head(total if mode == "content-length" else None))
        piece = b"QUFB 0\n" * (1 << 13)  # 56 KiB
        while server.sent < total and not server.stop.is_set():
            if mode == "chunked":
                conn.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
            else:
                conn.sendall(piece)
            server.sent += len(piece)

    return handler


@pytest.mark.parametrize("mode", ["chunked", "close-delimited"])
def test_body_larger_than_the_pin_is_stopped_at_the_cap(
    raw_server: Callable[[Handler], RawServer], vocab: Tuple[Pin, bytes], dest: Path, mode: str
) -> None:
    pin, _ = vocab
    total = 256 << 20  # 256 MiB that must never be read to the end
    server = raw_server(_endless(mode, total))

    with pytest.raises(FetchError) as info:
        download(pin.files[0], dest, [server.url(PATH)], tries=3, backoff=0, connect_timeout=2, read_timeout=2)

    assert_failed_cleanly(info.value, dest, [server.url(PATH)])
    assert server.connections == 1, "an oversized body is not retried"
    (attempt,) = info.value.attempts
    assert f"larger than the pinned {pin.size} bytes" in attempt.outcome
    stopped_at = int(re.search(r"stopped at (\d+)", attempt.outcome).group(1))  # type: ignore[union-attr]
    assert pin.size < stopped_at <= pin.size + (1 << 16), "read one chunk past the cap at most"
    # the client hung up: the server's sends fail soon after, far from the end of the body
    assert server.finished.wait(5), "the client kept the connection open"
    assert server.sent < 32 << 20, f"the server managed to send {server.sent} bytes"


def test_announced_oversize_is_refused_before_reading(
    raw_server: Callable[[Handler], RawServer], vocab: Tuple[Pin, bytes], dest: Path
) -> None:
    pin, _ = vocab
    total = 256 << 20
    server = raw_server(_endless("content-length", total))
    with pytest.raises(FetchError) as info:
        download(pin.files[0], dest, [server.url(PATH)], tries=3, backoff=0, connect_timeout=2, read_timeout=2)
    assert_failed_cleanly(info.value, dest, [server.url(PATH)])
    assert f"announces {total} bytes, more than the pinned {pin.size}: refused" in str(info.value)
    assert server.connections == 1
    assert server.finished.wait(5), "the client kept the connection open"
    assert server.sent < 32 << 20


def test_interrupted_download_leaves_nothing(
    httpserver: HTTPServer, vocab: Tuple[Pin, bytes], dest: Path
) -> None:
    """Even an exception that is not a download error (Ctrl-C in a progress callback) cleans up."""
    pin, data = vocab
    httpserver.expect_request(PATH).respond_with_data(data)

    def interrupt(received: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download(pin.files[0], dest, [httpserver.url_for(PATH)], progress=interrupt)
    assert leftovers(dest) == []


# ---------------------------------------------------------------- the deadline per file

@pytest.mark.parametrize("urllib3_shutdown", [True, False], ids=["HTTPResponse.shutdown", "without it"])
def test_a_trickling_server_is_cut_off_at_the_deadline(
    raw_server: Callable[[Handler], RawServer], httpserver: HTTPServer, vocab: Tuple[Pin, bytes], dest: Path,
    monkeypatch: pytest.MonkeyPatch, urllib3_shutdown: bool
) -> None:
    """The right bytes at 320 B/s: every read returns within the read time-out, so only the
    deadline stops it; the connection is cut mid-read (the server could not send the rest), the
    next URL is not tried, and nothing is left behind. The same where urllib3 cannot shut the
    response down itself (older than 2.3, or TLS through an https:// proxy)."""
    if not urllib3_shutdown:
        import urllib3.response

        monkeypatch.delattr(urllib3.response.HTTPResponse, "shutdown", raising=False)
    pin, data = vocab
    server = raw_server(trickle(data, head=100, step=16, pause=0.05))
    httpserver.expect_request(PATH).respond_with_data(data)
    urls = [server.url(PATH), httpserver.url_for(PATH)]

    with pytest.raises(FetchError) as info:
        download(pin.files[0], dest, urls, tries=3, backoff=0, connect_timeout=2, read_timeout=2, deadline=0.5)

    assert_failed_cleanly(info.value, dest, urls)
    first, second = info.value.attempts
    assert re.fullmatch(
        rf"stopped after \d+ of {pin.size} bytes: the download deadline of 0.5s "
        r"\(HARMONY_VOCAB_DOWNLOAD_DEADLINE\) had passed", first.outcome), first.outcome
    assert second.outcome == "not tried: the download deadline of 0.5s (HARMONY_VOCAB_DOWNLOAD_DEADLINE) had passed"
    assert server.connections == 1 and len(httpserver.log) == 0
    assert server.finished.wait(5), "the client kept the connection open"
    assert server.sent < pin.size, "the download ran to the end of the body"


def test_the_deadline_comes_from_the_environment(
    raw_server: Callable[[Handler], RawServer], vocab: Tuple[Pin, bytes], dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pin, data = vocab
    server = raw_server(trickle(data, head=100, step=16, pause=0.05))
    monkeypatch.setenv("HARMONY_VOCAB_DOWNLOAD_DEADLINE", "0.4")
    with pytest.raises(FetchError) as info:
        download(pin.files[0], dest, [server.url(PATH)], tries=2)
    assert_failed_cleanly(info.value, dest, [server.url(PATH)])
    assert "the download deadline of 0.4s (HARMONY_VOCAB_DOWNLOAD_DEADLINE) had passed" in str(info.value)
    assert server.connections == 1, "no retry once the deadline has passed"
    # the same server, fast enough for the deadline: the download goes through
    monkeypatch.setenv("HARMONY_VOCAB_DOWNLOAD_DEADLINE", "30")
    fast = raw_server(trickle(data, head=len(data)))
    assert download(pin.files[0], dest, [fast.url(PATH)]).read_bytes() == data


@pytest.mark.parametrize("value", ["soon", "0", "-5", "nan", "inf", "1e999"])
def test_a_bad_deadline_setting_is_named(
    value: str, httpserver: HTTPServer, vocab: Tuple[Pin, bytes], dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pin, _ = vocab
    monkeypatch.setenv("HARMONY_VOCAB_DOWNLOAD_DEADLINE", value)
    with pytest.raises(VocabError) as info:
        download(pin.files[0], dest, [httpserver.url_for(PATH)])
    message = str(info.value)  # one line naming the setting, its value and what is expected
    assert f"HARMONY_VOCAB_DOWNLOAD_DEADLINE={value!r}" in message and "positive number" in message
    assert "\n" not in message
    assert len(httpserver.log) == 0 and leftovers(dest) == []


# ---------------------------------------------------------------- credentials in URLs

def test_credentials_are_sent_but_never_shown(
    httpserver: HTTPServer, vocab: Tuple[Pin, bytes], dest: Path
) -> None:
    pin, data = vocab
    basic = "Basic " + base64.b64encode(b"user:s3cr@t").decode()
    httpserver.expect_request("/ok/" + pin.file, headers={"Authorization": basic}).respond_with_data(data)
    httpserver.expect_request("/gone/" + pin.file).respond_with_data("", status=404)
    port = httpserver.port
    ok = f"http://user:s3cr@t@127.0.0.1:{port}/ok/{pin.file}"
    gone = f"http://user:s3cr@t@127.0.0.1:{port}/gone/{pin.file}"

    assert download(pin.files[0], dest, [ok]).read_bytes() == data  # the credentials were used
    with pytest.raises(FetchError) as info:
        download(pin.files[0], dest / "2", [gone])
    message = str(info.value)
    assert "s3cr" not in message and "user:" not in message
    assert f"http://***@127.0.0.1:{port}/gone/{pin.file}: HTTP 404 NOT FOUND" in message
    assert [a.place for a in info.value.attempts] == [f"http://***@127.0.0.1:{port}/gone/{pin.file}"]


@pytest.mark.parametrize("value", ["user:s3cret@mirror.example/vocab", "ftp://user:s3cret@mirror.example/vocab"])
def test_a_bad_mirror_url_is_named_without_its_password(value: str, vocab: Tuple[Pin, bytes]) -> None:
    pin, _ = vocab
    with pytest.raises(FetchError) as info:
        fetch.download_urls(pin.files[0], value)
    message = str(info.value)
    assert "s3cret" not in message and message.startswith("HARMONY_VOCAB_BASE_URL='")
    assert "***@mirror.example/vocab' is not an http(s) URL" in message


def test_a_refused_offline_download_says_so_with_every_url(
    httpserver: HTTPServer, vocab: Tuple[Pin, bytes], dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pin, _ = vocab
    monkeypatch.setenv("HARMONY_VOCAB_OFFLINE", "1")
    urls = [httpserver.url_for(PATH), *pin.urls]
    with pytest.raises(FetchError) as info:
        download(pin.files[0], dest, urls)
    assert str(info.value) == f"not downloading {pin.file}: not allowed: HARMONY_VOCAB_OFFLINE=1 forbids every download"
    assert [(a.place, a.outcome) for a in info.value.attempts] == [(", ".join(urls), fetch.OFFLINE_REFUSAL)]
    assert len(httpserver.log) == 0 and leftovers(dest) == []


# ---------------------------------------------------------------- the `fetch` command (issue 17)

@pytest.fixture
def served(vocab: Tuple[Pin, bytes], httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
           connections: List[object]) -> Tuple[Pin, bytes]:
    """o200k_base pinned to the synthetic vocab, its one canonical URL on 127.0.0.1 (an HTTP error
    unless a test serves it): nothing leaves the machine. One try per URL; our cache in tmp_path."""
    pin, data = vocab
    local = make_pin(NAME, data, urls=[httpserver.url_for(f"/canonical/{pin.file}")])
    monkeypatch.setitem(PINS, NAME, local)
    monkeypatch.setenv("HARMONY_VOCAB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(fetch, "TRIES", 1)
    return local, data


def fetch_cli(capsys: pytest.CaptureFixture) -> Tuple[int, str, str]:
    code = cli.main(["fetch", "--name", NAME])
    out, err = capsys.readouterr()
    return code, out, err


def test_an_uppercase_scheme_mirror_is_accepted(
    capsys: pytest.CaptureFixture, served: Tuple[Pin, bytes], httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path
) -> None:
    """Schemes are case-insensitive (RFC 3986): ``HTTP://host/`` is a mirror, used first."""
    pin, data = served
    httpserver.expect_request(f"/mirror/{pin.file}").respond_with_data(data)
    monkeypatch.setenv("HARMONY_VOCAB_BASE_URL", f"HTTP://127.0.0.1:{httpserver.port}/mirror/")
    code, out, err = fetch_cli(capsys)
    assert (code, out, err) == (0, f"{tmp_path / 'cache' / pin.file}\n", "")
    assert (tmp_path / "cache" / pin.file).read_bytes() == data
    assert [r.path for r, _ in httpserver.log] == [f"/mirror/{pin.file}"]


def test_a_mirror_host_label_of_64_characters_is_one_attempt_line_not_a_traceback(
    capsys: pytest.CaptureFixture, served: Tuple[Pin, bytes], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pin, _ = served
    mirror = f"http://{'a' * 64}.example/m/"
    monkeypatch.setenv("HARMONY_VOCAB_BASE_URL", mirror)
    code, out, err = fetch_cli(capsys)
    assert (code, out) == (1, "")
    assert "Traceback" not in err
    lines = err.splitlines()
    assert lines[0].startswith(f"harmony-vocab: error: could not download a verified {pin.file}")
    (line,) = [line for line in lines if f"{mirror}{pin.file}" in line]
    assert line.startswith(f"  1. [download] {mirror}{pin.file}: ")
    assert len(lines) == 3  # the error, the mirror's line, the canonical URL's line (404)
    with pytest.raises(FetchError):  # the library raises its own error, not urllib3's
        download(pin.files[0], tmp_path / "dest", [f"{mirror}{pin.file}"])


PASSWORD = "Xq7#Zk9/Wm4?Rt5 Yp8"  # a raw '#', '/', '?' and space, as a user types it
PIECES = ("Xq7", "Zk9", "Wm4", "Rt5", "Yp8")


@pytest.mark.parametrize("where", ["mirror", "proxy"])
def test_credentials_with_raw_delimiters_never_appear_in_fetch_output(
    capsys: pytest.CaptureFixture, served: Tuple[Pin, bytes], httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch,
    where: str
) -> None:
    """A password that is not percent-encoded, in the mirror URL or in HTTPS_PROXY's user:password
    (which requests quotes in its own message): no piece of it, nor the user, is printed."""
    if where == "mirror":
        monkeypatch.setenv("HARMONY_VOCAB_BASE_URL", f"http://hvuser9:{PASSWORD}@127.0.0.1:{httpserver.port}/m/")
    else:  # the mirror is not exempt from the proxy (NO_PROXY lists 127.0.0.1 only)
        monkeypatch.setenv("HARMONY_VOCAB_BASE_URL", "https://mirror.invalid/m/")
        monkeypatch.setenv("HTTPS_PROXY", f"http://hvuser9:{PASSWORD}@127.0.0.1:9/")
    code, out, err = fetch_cli(capsys)
    assert (code, out) == (1, "")
    assert "Traceback" not in err and "[download]" in err
    for secret in ("hvuser9", PASSWORD, *PIECES):
        assert secret not in err, (secret, err)
