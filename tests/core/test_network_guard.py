"""The network guard: connections, datagrams, name lookups and open ports beyond loopback
are refused at once, recorded (target, module, thread) and audited; loopback still works."""

from __future__ import annotations

import _socket
import asyncio
import contextlib
import http.client
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from desktop_app.core.audit import AuditLog, verify_log
from desktop_app.core.network_guard import (
    BlockedAttempt,
    ListeningBlockedError,
    NameLookupBlockedError,
    NetworkBlockedError,
    NetworkRefusedError,
    install_network_guard,
    network_guard,
)

#: A refusal takes microseconds; a DNS query or a connection timeout takes seconds.
FAST_SECONDS = 1.0
#: A private address nothing answers on (TEST-NET ranges can be routed by some sandboxes).
REMOTE = ("10.1.2.3", 80)
SUITE_CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"


def refused(call: Callable[[], Any], error: type[BaseException]) -> BaseException:
    """Run ``call``, which must raise ``error`` quickly; return the exception."""
    start = time.perf_counter()
    with pytest.raises(error) as caught:
        call()
    assert time.perf_counter() - start < FAST_SECONDS
    return caught.value


def only_attempt(expect_network_attempts) -> BlockedAttempt:
    attempts = expect_network_attempts.attempts()
    assert len(attempts) == 1, attempts
    return attempts[0]


def audited(enclave_home: Path) -> list[dict[str, Any]]:
    entries = AuditLog(enclave_home / "audit").entries()
    return [entry["details"] for entry in entries if entry["event"] == "network_blocked"]


def test_the_guard_is_installed_once_for_the_whole_process():
    guard = network_guard()
    assert guard is not None
    assert install_network_guard() is guard


def test_a_connection_by_address_is_refused_recorded_and_audited(
    expect_network_attempts, enclave_home: Path
):
    error = refused(lambda: socket.create_connection(REMOTE, timeout=5), NetworkBlockedError)

    assert isinstance(error, ConnectionRefusedError)
    assert str(error) == (
        f"Enclave works offline and blocked a connection to 10.1.2.3:80 from module {__name__}."
    )
    attempt = only_attempt(expect_network_attempts)
    assert (attempt.target, attempt.operation, attempt.module) == (
        "10.1.2.3:80",
        "connect",
        __name__,
    )
    assert attempt.thread == threading.current_thread().name and attempt.time
    assert error.attempt == attempt
    assert audited(enclave_home) == [attempt.to_dict()]
    assert verify_log(AuditLog(enclave_home / "audit")).intact


def test_a_name_lookup_is_refused_before_any_query(expect_network_attempts, enclave_home: Path):
    error = refused(lambda: socket.getaddrinfo("example.com", 443), NameLookupBlockedError)

    assert isinstance(error, socket.gaierror)
    assert "blocked a name lookup of example.com:443" in str(error)
    attempt = only_attempt(expect_network_attempts)
    assert (attempt.target, attempt.operation) == ("example.com:443", "getaddrinfo")
    assert audited(enclave_home)[0]["target"] == "example.com:443"


@pytest.mark.parametrize(
    ("lookup", "target"),
    [
        (lambda: socket.gethostbyname("example.com"), "example.com"),
        (lambda: socket.gethostbyname_ex("example.com"), "example.com"),
        (lambda: socket.gethostbyaddr("10.1.2.3"), "10.1.2.3"),
        (lambda: socket.getnameinfo(REMOTE, 0), "10.1.2.3"),
    ],
    ids=["gethostbyname", "gethostbyname_ex", "gethostbyaddr", "getnameinfo"],
)
def test_every_kind_of_name_lookup_is_refused(expect_network_attempts, lookup, target: str):
    refused(lookup, NameLookupBlockedError)

    assert only_attempt(expect_network_attempts).target == target


def test_a_connection_to_a_host_name_is_refused_before_the_name_is_resolved(
    expect_network_attempts,
):
    # socket.connect resolves a name itself, before CPython's audit event: the guard's
    # wrapper must refuse the name first.
    with socket.socket() as sock:
        refused(lambda: sock.connect(("example.com", 80)), NetworkBlockedError)
        refused(lambda: sock.connect_ex(("example.com", 80)), NetworkBlockedError)

    assert [attempt.target for attempt in expect_network_attempts.attempts()] == [
        "example.com:80",
        "example.com:80",
    ]


def test_a_datagram_to_another_machine_is_refused(expect_network_attempts):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        refused(lambda: sock.sendto(b"query", ("8.8.8.8", 53)), NetworkBlockedError)
        refused(lambda: sock.sendto(b"query", 0, ("8.8.8.8", 53)), NetworkBlockedError)

    attempts = expect_network_attempts.attempts()
    assert [(a.target, a.operation) for a in attempts] == [("8.8.8.8:53", "sendto")] * 2


def test_http_clients_fail_fast_and_the_attempt_names_the_caller(expect_network_attempts):
    with pytest.raises(urllib.error.URLError) as caught:
        urllib.request.urlopen("http://example.com/", timeout=5)
    assert isinstance(caught.value.reason, NameLookupBlockedError)

    connection = http.client.HTTPConnection(*REMOTE, timeout=5)
    refused(lambda: connection.request("GET", "/"), NetworkBlockedError)
    connection.close()

    attempts = expect_network_attempts.attempts()
    assert [(a.target, a.module, a.package) for a in attempts] == [
        ("example.com:80", __name__, ""),
        ("10.1.2.3:80", __name__, ""),
    ]


def test_a_third_party_client_is_named_as_the_package(expect_network_attempts):
    urllib3 = pytest.importorskip("urllib3")
    pool = urllib3.PoolManager(retries=False, timeout=5)

    with pytest.raises(urllib3.exceptions.HTTPError):
        pool.request("GET", "http://10.1.2.3/")

    attempt = only_attempt(expect_network_attempts)
    assert (attempt.module, attempt.package) == (__name__, "urllib3")


def test_low_level_sockets_are_caught_by_the_audit_hook(expect_network_attempts):
    # _socket is below the socket module's Python wrappers; the runtime audit hook still
    # sees its calls.
    raw = _socket.socket()
    try:
        refused(lambda: raw.connect(REMOTE), NetworkBlockedError)
    finally:
        raw.close()
    refused(lambda: _socket.getaddrinfo("example.com", 80), NameLookupBlockedError)

    assert [a.target for a in expect_network_attempts.attempts()] == [
        "10.1.2.3:80",
        "example.com:80",
    ]


def test_listening_on_every_address_is_refused(expect_network_attempts):
    with socket.socket() as sock:
        refused(lambda: sock.bind(("0.0.0.0", 0)), ListeningBlockedError)
        refused(lambda: sock.bind(("", 8080)), ListeningBlockedError)
        # listen() on an unbound socket would bind it to every address.
        refused(sock.listen, ListeningBlockedError)
    refused(lambda: socket.create_server(("0.0.0.0", 0)), PermissionError)

    attempts = expect_network_attempts.attempts()
    assert [(a.operation, a.target) for a in attempts] == [
        ("bind", "0.0.0.0:0"),
        ("bind", "0.0.0.0:8080"),
        ("listen", "0.0.0.0:0"),
        ("bind", "0.0.0.0:0"),
    ]


def test_loopback_connections_and_servers_still_work():
    # No expect_network_attempts here: the autouse fixture fails the test on any refusal.
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("localhost", port), timeout=5) as client:
            accepted, _ = server.accept()
            with accepted:
                client.sendall(b"ping")
                assert accepted.recv(4) == b"ping"
    assert socket.getaddrinfo("localhost", 80)
    assert socket.gethostbyname("127.0.0.1") == "127.0.0.1"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.sendto(b"x", sock.getsockname())
        assert sock.recv(1) == b"x"
    left, right = socket.socketpair()
    with left, right:
        left.sendall(b"y")
        assert right.recv(1) == b"y"


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6 on this machine")
def test_ipv6_loopback_works_and_other_ipv6_addresses_are_refused(expect_network_attempts):
    try:
        server = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError as error:
        pytest.skip(f"IPv6 loopback unavailable: {error}")
    with server:
        port = server.getsockname()[1]
        with socket.create_connection(("::1", port), timeout=5):
            pass
    with socket.socket(socket.AF_INET6) as sock:
        refused(lambda: sock.connect(("2001:db8::1", 443)), NetworkBlockedError)

    assert [a.target for a in expect_network_attempts.attempts()] == ["[2001:db8::1]:443"]


def test_asyncio_loopback_works_and_remote_names_are_refused(expect_network_attempts):
    async def exchange() -> bytes:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(await reader.read(4))
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"pong")
        answer = await reader.read(4)
        writer.close()
        server.close()
        await server.wait_closed()
        with pytest.raises(NameLookupBlockedError):
            await asyncio.open_connection("example.com", 80)
        return answer

    assert asyncio.run(exchange()) == b"pong"
    assert [a.target for a in expect_network_attempts.attempts()] == ["example.com:80"]


def try_to_fetch() -> None:
    """A module-level function run in another thread, as a library's worker would."""
    with contextlib.suppress(NetworkRefusedError):
        socket.create_connection(("updates.example.com", 443), timeout=5)


def test_an_attempt_in_another_thread_is_recorded_with_that_thread(
    expect_network_attempts, enclave_home: Path
):
    worker = threading.Thread(target=try_to_fetch, name="update-checker")
    worker.start()
    worker.join(10)

    attempt = only_attempt(expect_network_attempts)
    assert (attempt.thread, attempt.module) == ("update-checker", __name__)
    assert attempt.target == "updates.example.com:443"
    assert audited(enclave_home)[0]["thread"] == "update-checker"


def test_attempts_from_many_threads_are_all_counted_and_audited_in_one_chain(
    expect_network_attempts, enclave_home: Path
):
    def attempt_five(index: int) -> None:
        for step in range(5):
            with contextlib.suppress(NameLookupBlockedError):
                socket.getaddrinfo(f"host{index}-{step}.example", 80)

    workers = [threading.Thread(target=attempt_five, args=(index,)) for index in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)

    assert expect_network_attempts.count() == 40
    assert len(audited(enclave_home)) == 40
    assert verify_log(AuditLog(enclave_home / "audit")).intact


def test_an_unwritable_audit_log_does_not_change_the_refusal(
    expect_network_attempts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    guard = network_guard()
    assert guard is not None
    not_a_folder = tmp_path / "workspace-is-a-file"
    not_a_folder.write_text("", encoding="utf-8")
    monkeypatch.setenv("ENCLAVE_HOME", str(not_a_folder))
    failures = guard.audit_failures()

    refused(lambda: socket.create_connection(REMOTE, timeout=5), NetworkBlockedError)

    assert only_attempt(expect_network_attempts).target == "10.1.2.3:80"
    assert guard.audit_failures() == failures + 1


def test_listeners_hear_each_attempt_and_cannot_change_the_refusal(expect_network_attempts):
    guard = network_guard()
    assert guard is not None
    heard: list[BlockedAttempt] = []

    def listener(attempt: BlockedAttempt) -> None:
        heard.append(attempt)
        # A listener that itself tries the network is refused, without recursion.
        with contextlib.suppress(NameLookupBlockedError):
            socket.getaddrinfo("listener.example", 80)
        raise RuntimeError("a broken listener")

    guard.add_listener(listener)
    try:
        refused(lambda: socket.getaddrinfo("example.org", 80), NameLookupBlockedError)
    finally:
        guard.remove_listener(listener)
    refused(lambda: socket.getaddrinfo("example.net", 80), NameLookupBlockedError)

    assert [attempt.target for attempt in heard] == ["example.org:80"]
    assert [a.target for a in expect_network_attempts.attempts()] == [
        "example.org:80",
        "example.net:80",
    ]


def test_attempts_are_a_copy():
    guard = network_guard()
    assert guard is not None
    attempts = guard.attempts()
    attempts.append(BlockedAttempt("x", "connect", "m", "t", "th"))
    assert len(guard.attempts()) == len(attempts) - 1


STRICT_MODE_TESTS = """
import socket

def test_that_reaches_out():
    try:
        socket.getaddrinfo("telemetry.example.com", 443)
    except OSError:
        pass  # swallowed, as libraries do: the suite must still notice

def test_that_reaches_out_on_purpose(expect_network_attempts):
    try:
        socket.getaddrinfo("example.com", 443)
    except OSError:
        pass
    assert expect_network_attempts.count() == 1

def test_that_stays_home():
    assert socket.getaddrinfo("localhost", 80)
"""


def test_the_suite_fails_a_test_that_tries_the_network(tmp_path: Path):
    # The suite's own conftest, in a project of its own, so its verdict can be read.
    (tmp_path / "conftest.py").write_text(SUITE_CONFTEST.read_text(encoding="utf-8"))
    (tmp_path / "test_strict.py").write_text(STRICT_MODE_TESTS, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:faulthandler"]
        + ["--rootdir", str(tmp_path), "-c", str(tmp_path / "pytest.ini"), str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "3 passed, 1 error" in output, output
    assert "ERROR at teardown of test_that_reaches_out " in output, output
    assert "getaddrinfo telemetry.example.com:443 from test_strict" in output, output
    assert "example.com:443 from" not in output.replace("telemetry.example.com:443 from", ""), (
        output
    )
