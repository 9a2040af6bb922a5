"""The in-sandbox half of egress, of test services and of serving: TCP listeners on the sandbox's
own loopback that relay every connection, byte for byte, to a host-side server over a bound unix
socket, and the reverse for a served command's one port.

A sandbox has a network namespace of its own with nothing but loopback, so the only ways out are
these relays, and the only things at the other ends are the allowlisting proxy (`egress.py`) and
the forwarders of the policy's test services (`portforward.py`), each tied to one host:port. The
only way in is a listening socket the host passes down for `serve` (`serving.py`), relayed to the
one port the served command listens on. The module uses the standard library only because it
runs under the sandbox's bare Python with no packages on the path; the host side imports `relay`
from it too.
"""

from __future__ import annotations

import os
import selectors
import socket
import threading
from typing import cast

CHUNK = 65536


def relay(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways between two connected sockets until both sides have finished.

    An end-of-stream on one side is passed on as a half-close to the other, so request/response
    protocols that close their sending side early still get their answer."""
    peers = {a: b, b: a}
    with selectors.DefaultSelector() as selector:
        for sock in peers:
            selector.register(sock, selectors.EVENT_READ)
        while peers:
            for key, _ in selector.select():
                source = cast(socket.socket, key.fileobj)
                target = peers.get(source)
                if target is None or _pump(source, target):
                    continue
                selector.unregister(source)
                del peers[source]
                if not _half_close(target):
                    peers.clear()


def _pump(source: socket.socket, target: socket.socket) -> bool:
    """Move one chunk; False once `source` has nothing more to give (or either side broke)."""
    try:
        data = source.recv(CHUNK)
        if data:
            target.sendall(data)
            return True
    except OSError:
        pass
    return False


def _half_close(sock: socket.socket) -> bool:
    try:
        sock.shutdown(socket.SHUT_WR)
        return True
    except OSError:
        return False


def _serve_one(client: socket.socket, target: str | int) -> None:
    try:
        with client, _connect(target) as upstream:
            relay(client, upstream)
    except OSError:
        pass  # the proxy went away or the client hung up; nothing to report inside


def _connect(target: str | int) -> socket.socket:
    """A connection to a host-side server's unix socket (a path), or to a port on the sandbox's
    own loopback (a served command's, for the host's connections)."""
    if isinstance(target, int):
        return socket.create_connection(("127.0.0.1", target))
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(target)
    except OSError:
        upstream.close()
        raise
    return upstream


def serve(listener: socket.socket, target: str | int) -> None:
    """Accept forever, relaying each connection to `target` (see `_connect`) on a thread of its
    own."""
    while True:
        client, _ = listener.accept()
        threading.Thread(target=_serve_one, args=(client, target), daemon=True).start()


def listen(port: int) -> socket.socket:
    """A listening socket on the sandbox's loopback (bound before the command starts, so the
    command never races the relay)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    return listener


def start_detached(routes: list[tuple[int, str]],
                   inbound: tuple[tuple[int, int], ...] = ()) -> None:
    """Start the relay, one grandchild process serving every (port, unix socket) route and every
    inbound (listening descriptor, port) pair, and return once each port is listening.

    An inbound descriptor is a listening socket the host made on its own loopback and passed
    down: what connects to it is relayed to that port on the sandbox's loopback, where a served
    command listens, and nowhere else. The double fork hands the relay to the sandbox's init, so
    the command never sees an extra child it might wait for; the relay keeps none of the
    caller's other descriptors, so it cannot hold the command's output pipes open, and the
    caller closes its copies of the listeners, so the command never holds one. The relay dies
    with the sandbox's pid namespace."""
    listeners: list[tuple[socket.socket, str | int]] = [
        (listen(port), socket_path) for port, socket_path in routes]
    listeners += [(socket.socket(fileno=fd), port) for fd, port in inbound]
    child = os.fork()
    if child == 0:
        if os.fork() == 0:
            _become_relay(listeners)
        os._exit(0)
    os.waitpid(child, 0)
    for listener, _ in listeners:
        listener.close()


def _become_relay(listeners: list[tuple[socket.socket, str | int]]) -> None:
    try:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        low = 3
        for keep in sorted(listener.fileno() for listener, _ in listeners):
            os.closerange(low, keep)
            low = keep + 1
        os.closerange(low, 65536)
        *others, (last, last_target) = listeners
        for listener, target in others:
            threading.Thread(target=serve, args=(listener, target), daemon=True).start()
        serve(last, last_target)
    finally:
        os._exit(0)


if __name__ == "__main__":
    import sys

    serve(listen(int(sys.argv[1])), sys.argv[2])
