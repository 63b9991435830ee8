"""The network guard: nothing in this process reaches another machine.

Installed first thing at start (after the offline environment), the guard refuses every
outbound connection, datagram and name lookup whose target is not this machine's
loopback, and every attempt to open a port on anything but loopback. Each refusal is
kept in memory (the window's status bar counts them), written to the audit log
(``network_blocked``) and passed to listeners, then raised as an ordinary connection
error, so that libraries fail over as they would with the cable unplugged.

Two layers, one rule:

* A runtime audit hook (PEP 578) sees every ``socket.connect``, ``bind``, ``sendto``,
  ``sendmsg``, ``getaddrinfo``, ``gethostbyname(_ex)``, ``gethostbyaddr`` and
  ``getnameinfo`` that CPython's socket module performs, before the system call, and
  whichever way the function was reached. Audit hooks cannot be removed, so the guard
  holds for the whole life of the process.
* The address-taking methods of ``socket.socket`` (``connect``, ``connect_ex``,
  ``sendto``, ``sendmsg``, ``bind``) are wrapped, because CPython resolves a host name in
  such an address before it raises the audit event: the wrapper refuses the name before
  any DNS query. ``listen`` is wrapped because it raises no audit event at all.

Allowed: Unix-domain and netlink sockets (they never leave the machine), the loopback
addresses 127.0.0.0/8 and ::1, and the name ``localhost``. Forward lookups of address
literals are allowed too: the system converts them without asking a name server, and the
connection that follows is judged by its address.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import socket
import sys
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from types import FrameType
from typing import Any, NoReturn

from desktop_app.core.audit import record
from desktop_app.core.manifest import utc_now

#: The audit log event written for each refusal.
AUDIT_EVENT = "network_blocked"
#: How many attempts the guard keeps in memory (the count and the audit log keep all).
KEPT_ATTEMPTS = 1000

#: Packages that only carry a connection on; an attempt is blamed on whoever called them.
_CARRIER_PACKAGES = frozenset(
    {"socket", "_socket", "ssl", "http", "urllib", "asyncio", "selectors"}
    | {"concurrent", "threading"}
    | {"urllib3", "requests", "httpx", "httpx2", "httpcore", "httpcore2", "h11", "h2"}
    | {"anyio", "sniffio", "truststore", "aiohttp", "socks"}
)
#: Top-level modules that are Enclave itself, its tests (test_*.py) or a script's __main__.
_OWN_PACKAGES = frozenset({"desktop_app", "tests", "conftest", "__main__", "__mp_main__"})
_LOCAL_FAMILIES = frozenset(
    family
    for family in (getattr(socket, "AF_UNIX", None), getattr(socket, "AF_NETLINK", None))
    if family is not None
)
_INTERNET_FAMILIES = frozenset({socket.AF_INET, socket.AF_INET6})

Listener = Callable[["BlockedAttempt"], None]


class NetworkRefusedError(OSError):
    """Base of every refusal by the guard; ``attempt`` is the :class:`BlockedAttempt`."""

    attempt: BlockedAttempt | None = None

    def __str__(self) -> str:
        return self.strerror or super().__str__()


class NetworkBlockedError(NetworkRefusedError, ConnectionRefusedError):
    """A connection or datagram to another machine was refused."""


class NameLookupBlockedError(NetworkRefusedError, socket.gaierror):
    """A name lookup that could have asked a name server was refused."""


class ListeningBlockedError(NetworkRefusedError, PermissionError):
    """Opening a port on anything but loopback was refused."""


@dataclass(frozen=True)
class BlockedAttempt:
    """One refused attempt.

    Args:
        target: What was asked for: "host:port", a host name, or an address.
        operation: The socket function: connect, sendto, bind, listen, getaddrinfo...
        module: The first module on the call stack outside the socket and HTTP plumbing.
        time: When, in UTC (ISO 8601).
        thread: The name of the thread that tried.
        package: The outermost third-party package between Enclave and the attempt
            (e.g. "transformers" when it called huggingface_hub), or "".
    """

    target: str
    operation: str
    module: str
    time: str
    thread: str
    package: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    def describe(self) -> str:
        """One line for a person: what, from where, when."""
        via = f" (through {self.package})" if self.package and self.package != self.module else ""
        return f"{self.time}  {self.operation} {self.target} from {self.module}{via}"


_CONNECTION_OPERATIONS = frozenset({"connect", "connect_ex", "sendto", "sendmsg"})
_LOOKUP_OPERATIONS = frozenset(
    {"getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr", "getnameinfo"}
)


def _refusal(operation: str, target: str, module: str) -> NetworkRefusedError:
    if operation in _CONNECTION_OPERATIONS:
        return NetworkBlockedError(
            errno.ECONNREFUSED,
            f"Enclave works offline and blocked a connection to {target} from module {module}.",
        )
    if operation in _LOOKUP_OPERATIONS:
        return NameLookupBlockedError(
            socket.EAI_NONAME,
            f"Enclave works offline and blocked a name lookup of {target} from module {module}.",
        )
    return ListeningBlockedError(
        errno.EACCES,
        f"Enclave works offline and blocked opening a network port on {target} "
        f"from module {module}.",
    )


def _host_text(host: object) -> str | None:
    if isinstance(host, bytes | bytearray):
        return bytes(host).decode("ascii", "replace")
    return host if isinstance(host, str) else None


def _address_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_loopback(host: object) -> bool:
    """True for "localhost" and for loopback address literals; every other name is not."""
    text = _host_text(host)
    if text is None:
        return False
    text = text.strip().rstrip(".").lower()
    if text == "localhost":
        return True
    address = _address_literal(text)
    if address is None:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def _target(host: object, port: object = None) -> str:
    text = _host_text(host)
    text = repr(host) if text is None else (text or "0.0.0.0")
    if ":" in text:
        text = f"[{text}]"
    return text if port in (None, "", b"") else f"{text}:{port}"


def _refused_address(family: int, address: object) -> str | None:
    """The target to name when a socket address is not on this machine, else None."""
    if family in _LOCAL_FAMILIES:
        return None
    if family in _INTERNET_FAMILIES and isinstance(address, tuple) and address:
        port = address[1] if len(address) > 1 else None
        return None if _is_loopback(address[0]) else _target(address[0], port)
    return f"{address!r} (address family {family})"


def _refused_lookup(host: object, port: object = None) -> str | None:
    """The name to report when a forward lookup could ask a name server, else None."""
    if host is None or _is_loopback(host):
        return None
    text = _host_text(host)
    if text and _address_literal(text.strip()) is not None:
        return None  # an address literal is converted locally, without a name server
    return _target(host, port)


def _refused_reverse_lookup(address: object) -> str | None:
    host = address[0] if isinstance(address, tuple) and address else address
    return None if _is_loopback(host) else _target(host)


def _top_level(module: str) -> str:
    return module.partition(".")[0]


def _is_own(top: str) -> bool:
    return top in _OWN_PACKAGES or top.startswith("test_")


def _blame(frame: FrameType | None) -> tuple[str, str]:
    """(module, package) for the attempt whose innermost caller frame is ``frame``."""
    module = package = fallback = ""
    while frame is not None:
        name = str(frame.f_globals.get("__name__") or "")
        if name and name != __name__:
            top = _top_level(name)
            fallback = fallback or name
            if not module and top not in _CARRIER_PACKAGES:
                module = name
            if _is_own(top):
                break
            if top not in sys.stdlib_module_names:
                package = top
        frame = frame.f_back
    return module or fallback or "unknown", package


class NetworkGuard:
    """Counts, keeps and reports refused attempts. Made by :func:`install_network_guard`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()
        self._attempts: deque[BlockedAttempt] = deque(maxlen=KEPT_ATTEMPTS)
        self._count = 0
        self._audit_failures = 0
        self._listeners: list[Listener] = []

    def blocked_count(self) -> int:
        """How many attempts were refused since the process started."""
        with self._lock:
            return self._count

    def attempts(self) -> list[BlockedAttempt]:
        """The refused attempts, oldest first (the last :data:`KEPT_ATTEMPTS`)."""
        with self._lock:
            return list(self._attempts)

    def audit_failures(self) -> int:
        """How many refusals could not be written to the audit log."""
        with self._lock:
            return self._audit_failures

    def add_listener(self, callback: Listener) -> None:
        """Call ``callback(attempt)`` after each refusal, in the thread that tried.

        The callback must be quick and must not touch Qt widgets (post to the GUI thread
        instead). Its exceptions are swallowed: they never change the refusal.
        """
        with self._lock:
            if callback not in self._listeners:
                self._listeners.append(callback)

    def remove_listener(self, callback: Listener) -> None:
        """Stop calling ``callback``; unknown callbacks are ignored."""
        with self._lock:
            if callback in self._listeners:
                self._listeners.remove(callback)

    def refuse(self, operation: str, target: str, frame: FrameType | None) -> NoReturn:
        """Record the attempt (unless this thread is already recording one) and raise.

        Args:
            operation: The socket function that was refused.
            target: What it was aimed at.
            frame: The innermost frame of the caller, for blame.

        Raises:
            NetworkRefusedError: always; the subclass matches the operation.
        """
        module, package = _blame(frame)
        error = _refusal(operation, target, module)
        if not getattr(self._local, "recording", False):
            self._local.recording = True
            try:
                error.attempt = self._record(operation, target, module, package)
            finally:
                self._local.recording = False
        raise error

    def _record(self, operation: str, target: str, module: str, package: str) -> BlockedAttempt:
        attempt = BlockedAttempt(
            target=target,
            operation=operation,
            module=module,
            time=utc_now(),
            thread=threading.current_thread().name,
            package=package,
        )
        with self._lock:
            self._attempts.append(attempt)
            self._count += 1
            listeners = list(self._listeners)
        try:
            record(AUDIT_EVENT, attempt.to_dict())
        except Exception:  # noqa: BLE001 - an unwritable log must not change the refusal
            with self._lock:
                self._audit_failures += 1
        for listener in listeners:
            # A failing listener must not change the refusal.
            with contextlib.suppress(Exception):
                listener(attempt)
        return attempt

    # -- the audit hook ------------------------------------------------------------------

    def _on_audit_event(self, event: str, args: tuple[Any, ...]) -> None:
        check = _AUDIT_CHECKS.get(event)
        if check is None:
            return
        operation, target = check(args)
        if target is not None:
            self.refuse(operation, target, sys._getframe(1))


def _family(sock: object) -> int:
    return int(getattr(sock, "family", -1))


_AUDIT_CHECKS: dict[str, Callable[[tuple[Any, ...]], tuple[str, str | None]]] = {
    "socket.connect": lambda a: ("connect", _refused_address(_family(a[0]), a[1])),
    "socket.bind": lambda a: ("bind", _refused_address(_family(a[0]), a[1])),
    "socket.sendto": lambda a: ("sendto", _refused_address(_family(a[0]), a[1])),
    "socket.sendmsg": lambda a: (
        "sendmsg",
        None if a[1] is None else _refused_address(_family(a[0]), a[1]),
    ),
    "socket.getaddrinfo": lambda a: ("getaddrinfo", _refused_lookup(a[0], a[1])),
    "socket.gethostbyname": lambda a: ("gethostbyname", _refused_lookup(a[0])),
    "socket.gethostbyaddr": lambda a: ("gethostbyaddr", _refused_reverse_lookup(a[0])),
    "socket.getnameinfo": lambda a: ("getnameinfo", _refused_reverse_lookup(a[0])),
}


# -- the socket.socket wrappers -------------------------------------------------------------


def _wrap_address_method(name: str, address_position: int) -> Callable[..., Any]:
    """Wrap ``socket.socket.<name>`` so a non-local address is refused before CPython
    parses it (parsing a host name asks the resolver, before any audit event)."""
    original = getattr(socket.socket, name)
    # sendto(data, address) and sendto(data, flags, address): the address comes last.
    least_arguments = 2 if address_position < 0 else address_position + 1

    def guarded(self: socket.socket, *args: Any) -> Any:
        guard = _installed
        if guard is not None and len(args) >= least_arguments:
            address = args[address_position]
            target = None if address is None else _refused_address(_family(self), address)
            if target is not None:
                guard.refuse(name, target, sys._getframe(1))
        return original(self, *args)

    guarded.__name__ = guarded.__qualname__ = name
    guarded.__doc__ = original.__doc__
    return guarded


def _wrap_listen() -> Callable[..., Any]:
    original = socket.socket.listen

    def listen(self: socket.socket, *args: Any) -> Any:
        guard = _installed
        if guard is not None and _family(self) in _INTERNET_FAMILIES:
            # An unbound socket listens on every address, which getsockname shows.
            host, port = self.getsockname()[:2]
            if not _is_loopback(host):
                guard.refuse("listen", _target(host, port), sys._getframe(1))
        return original(self, *args)

    listen.__doc__ = original.__doc__
    return listen


_installed: NetworkGuard | None = None
_install_lock = threading.Lock()


def install_network_guard(on_blocked: Listener | None = None) -> NetworkGuard:
    """Install the guard for the rest of the process (once; later calls return it).

    Args:
        on_blocked: Called with each :class:`BlockedAttempt` (see
            :meth:`NetworkGuard.add_listener`). Every attempt is written to the audit log
            whether or not a listener is given.

    Returns:
        The process's guard.
    """
    global _installed
    with _install_lock:
        if _installed is None:
            guard = NetworkGuard()
            for name, position in (
                ("connect", 0),
                ("connect_ex", 0),
                ("bind", 0),
                ("sendto", -1),
                ("sendmsg", 3),
            ):
                setattr(socket.socket, name, _wrap_address_method(name, position))
            socket.socket.listen = _wrap_listen()  # type: ignore[method-assign]
            _installed = guard
            sys.addaudithook(guard._on_audit_event)
        guard = _installed
    if on_blocked is not None:
        guard.add_listener(on_blocked)
    return guard


def network_guard() -> NetworkGuard | None:
    """The installed guard, or None before :func:`install_network_guard`."""
    return _installed
