"""Gunicorn settings the Procfile's `web` command loads (`--config python:handlers.serving`).

The web command passes `--reuse-port`: each worker then listens on a socket of its own and the kernel spreads new
connections across them. Without it the workers race to accept from one socket, and long-lived keep-alive
connections (a load balancer's, Slack's) can all land on the worker that woke first, leaving the other idle while
its requests queue. The cost of SO_REUSEPORT is that a second server started on the same port would not fail: it
would quietly take half the connections. `on_starting` restores the old refusal: before any worker binds, it binds
the address the ordinary way, which fails while anything listens there.

The kernel spreads connections by a hash of their addresses, not by how many each worker holds, so fifty keep-alive
connections may well split 31 to 19 (and a worker added later gets none of those already open): the requests of the
31 then wait half as long again as the others' for a thread. So the workers keep their connection counts in memory
they share (`KeepAliveBalance`), and a worker holding more than its share answers a request with `Connection:
close`. The client opens a new connection, which the kernel places afresh, until the counts are even.

A request gunicorn itself cannot read (a malformed request line or header, a header too long) is answered, as every
other error, with a JSON body rather than gunicorn's HTML page (`write_json_error`).

Once a worker has loaded the app (`post_worker_init`), it checkpoints SQLite's log from a background thread rather
than in its commits (`conveyor.db.checkpoints`), and freezes what it made out of garbage collection (`conveyor.heap`):
either would otherwise hold every request in flight for 50-170 ms now and then.
"""

from __future__ import annotations

import json
import mmap
import threading
from typing import Any

from gunicorn import util as gunicorn_util

from conveyor.heap import freeze_startup_heap
from conveyor.ports import listened_on

NO_WORKER = -1


class KeepAliveBalance:
    """How many connections each worker holds, in anonymous shared memory mapped by the arbiter before it forks the
    workers: one slot a worker, `NO_WORKER` in a free slot. The arbiter claims and frees slots; a worker writes only
    its own. A count read a moment late does no harm: a connection closed too many is opened again, one too few is
    closed on a later request."""

    def __init__(self, slots: int = 64) -> None:
        self._memory = mmap.mmap(-1, slots * 4)  # anonymous and MAP_SHARED: forked workers see each other's writes
        self.counts = memoryview(self._memory).cast("i")
        for slot in range(slots):
            self.counts[slot] = NO_WORKER
        self._closing = 0  # in a worker: connections answered with `Connection: close` that are not gone yet
        self._lock = threading.Lock()

    def claim(self, worker: Any) -> None:
        """In the arbiter, before `worker` is forked: the first free slot is its (none when all are taken: such a
        worker stays out of the balance)."""
        slot = next((n for n, count in enumerate(self.counts) if count == NO_WORKER), None)
        worker.balance_slot = slot
        if slot is not None:
            self.counts[slot] = 0

    def free(self, worker: Any) -> None:
        """In the arbiter, once `worker` has exited."""
        slot = getattr(worker, "balance_slot", None)
        if slot is not None:
            self.counts[slot] = NO_WORKER

    def over_share(self, slot: int, held: int) -> bool:
        """Whether a worker holding `held` connections should close the one a request came on: not counting those
        it has already decided to close, it keeps more than its share (every worker's connections over the number
        of workers, rounded up; a connection being closed counts, as its client will open another). If so, the
        connection is counted as closing until `closed`."""
        with self._lock:
            self.counts[slot] = held
            workers = [count for count in self.counts if count != NO_WORKER]
            share = -(-sum(workers) // len(workers))
            if held - self._closing <= share:
                return False
            self._closing += 1
            return True

    def closed(self) -> None:
        """A connection counted as closing has had its answer: gunicorn is closing it."""
        with self._lock:
            self._closing = max(self._closing - 1, 0)


BALANCE = KeepAliveBalance()


def on_starting(server: Any) -> None:
    for address in server.cfg.address:
        if isinstance(address, tuple):  # (host, port); a unix socket path has no such sharing
            _refuse_if_taken(str(address[0]), int(address[1]))
    gunicorn_util.write_error = write_json_error  # before the workers fork: each inherits it


def write_json_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """What gunicorn answers a request it cannot read (a malformed request line or header, an oversized one): the
    JSON body of Conveyor's every other error, `{"error", "message"}`, where gunicorn writes an HTML page."""
    body = json.dumps({"error": reason.replace(" ", ""), "message": mesg or reason}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    gunicorn_util.write_nonblock(sock, head.encode("latin1") + body)


def pre_fork(server: Any, worker: Any) -> None:
    BALANCE.claim(worker)


def child_exit(server: Any, worker: Any) -> None:
    BALANCE.free(worker)


def post_worker_init(worker: Any) -> None:
    """The app is loaded: a long-running writer checkpoints SQLite's log in the background (`conveyor.db.checkpoints`),
    and what the worker made while starting leaves garbage collection (`conveyor.heap`)."""
    runtime = getattr(worker.wsgi, "extensions", {}).get("conveyor")
    if runtime is not None:
        runtime.db.checkpoint_in_background()
    freeze_startup_heap()


def pre_request(worker: Any, req: Any) -> None:
    held = getattr(worker, "nr_conns", None)  # what the threaded worker counts: the connections it holds open
    slot = getattr(worker, "balance_slot", None)
    if held is not None and slot is not None and BALANCE.over_share(slot, held):
        req.must_close = True  # gunicorn answers `Connection: close`, then closes
        req.closed_for_balance = True


def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    if getattr(req, "closed_for_balance", False):
        BALANCE.closed()


def _refuse_if_taken(host: str, port: int) -> None:
    if listened_on(host, port):
        raise SystemExit(f"cannot listen on {host}:{port}: another server is listening there")
