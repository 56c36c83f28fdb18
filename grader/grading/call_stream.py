"""A test's requests to the sandbox and their replies, kept from a passing run to grade later jobs by.

Lockstep (grader.grading.lockstep) replays a test's recorded examples through the test's own body.
When a job has passed a test that way in a worker process, what that body sent to its sandbox and
what came back is a *call stream* of the test: every request (its header and pickled arguments, which
the trusted side made) and every reply, byte for byte (a reply's tensor data kept as its SHA-256
digest and length, `Exchange`). Each job that passes the body with other replies (another correct
solution that rounds otherwise) or from another history keeps another, up to `MAX_STREAMS_PER_TEST`.
A later job of the same test sends the same requests, in the same order, to its own sandbox, in
batches (one message carries many calls, and their replies come back together: `batches`), and
compares each reply with the recorded ones. The test's streams are followed together, as a tree:
the requests sent are those of the first stream that agrees with every reply so far (`agrees`), and
one that disagrees drops out.

- Every reply is one stream's: the test passes without running its body. The body is a deterministic
  function of its examples (replayed), its per-example random state (seeded), the trusted side's
  state when it starts and the replies. The state is the same too: a stream is used only in a job
  whose *history* (every request and reply before the test, fixtures' included, and which names of
  the module were looked up and found) is the recording job's (`StudentSession.history`). With the
  same replies the body would make the same requests and reach the same verdict, so the inputs, the
  oracle and the comparison are done once per worker for each way of passing, not once per student.
- No stream agrees with a reply (a correct solution that rounds differently, a wrong one, a fault): the
  sandbox has run the calls the body would have made up to that one, and the rest of that one's
  batch. The test's body then runs as a replay does, and its first requests are answered from what
  the sandbox already replied (`Prefetched`), so no call runs twice; from there on it talks to the
  sandbox as always. A body that asks for anything else than what was sent, or stops before it has
  asked for all of it (a failing example), stops the replay (`PrefetchDiverged`), and the test runs
  under Hypothesis as after any failed replay. A batch stops at a reply that fails or made a
  forbidden call (grader.sandbox.protocol.ends_batch); if that reply came after one that differed,
  the body might never have made that call, so the sandbox is closed unread and the test runs under
  Hypothesis on a new one, as after a fault. Batches start small and grow (`batches`), so that a
  failing student's sandbox runs few calls past the first that differs.

A *failing* run under Hypothesis is kept the same way, with the test's result (`CallStream.verdict`;
grader.grading.lockstep.failure_streams): the run, its shrinking included, is a deterministic function
of the trusted side's state when it starts and the replies (the profile is derandomized, has no
database and no deadline, and bounds shrinking by a count). A later job whose history up to that run
is the recording's, and whose sandbox gives every reply of one such stream, fails with that result
(its own output and duration put in) without running Hypothesis. Where a reply differs, the run under
Hypothesis starts from the calls already sent, their replies handed to it in order (`Prefetched`), if
the differing reply was its batch's last; else it starts over. A failing run is kept only under the
same conditions as a passing body, and with its sandbox alive at the end (a timeout or an exit closes
it, which a job that skipped the calls would not do), and only for a student's failure (not a
grader error). A reply that ends a batch early (a failure) and matches sends on the rest of the batch
as the first stream still agreeing has it: streams of one test often part at such a reply.

A test that did not pass on a stream also keeps its exchanges *from its start*, as the sandbox ran them
(StudentSession.start_transcript): what its first streams sent, a replay's calls, a run under Hypothesis
after the test started again (`CallStream.restarted_at`: how many exchanges came before that), with the
test's result as `verdict`. Its passing and failing streams are followed together at a later job's test
start; where the sandbox gives every reply of such a stream, the job gets that result there, with no
replay, no run under Hypothesis and (grader.grading.plugin.GradingPlugin.grade_ahead) no pytest session,
and with its own output, from which what it printed before `restarted_at` is left out as the recorded
run left it out (a batch ends there, and the output's size is taken). It is kept for every failure, and
for a pass that left no passing body's stream (a test that passed under Hypothesis after its replay
stopped; a stream past the bounds); a first run, which records its examples, leaves that to the replays.
A failing run under Hypothesis is kept by itself only where its test's run from its start is not.

A stream is kept only from a body that passed with nothing the stream cannot repeat: no call with a
budget (a training call, whose CPU time decides), no forbidden call, no sandbox restarted, no object
from before the test other than the module's own functions and classes, at most `MAX_STREAM_BYTES`,
and nothing left behind for a later test, which a job that skipped the body would lack: no curve
recorded, and the test module's globals as they were (each name's object, and the items of a dict,
list or set it holds; grader.grading.plugin.module_state). What a body changes elsewhere (an
object's attributes, a file, another module) is not seen: a bank's tests must not pass answers to
each other that way. Streams stay in the worker process that recorded them.
`GRADER_CALL_STREAMS=0` turns them off (grader.grading.lockstep.streams_enabled).
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_STREAM_BYTES = 32 << 20  # one test's requests (replies are kept as digests); a larger stream is not kept
MAX_STREAMS_BYTES = 256 << 20  # all the streams one worker process keeps; past it, no more are kept
MAX_STREAMS_PER_TEST = 8  # the ways of passing a test (other bits, other histories) kept as streams
MAX_FAILURES_BYTES = 128 << 20  # all the failing runs' streams one worker process keeps (beside MAX_STREAMS_BYTES)
MAX_FAILURES_PER_TEST = 32  # the failing runs (and the tests' runs from their start) kept as streams
EXCHANGE_BYTES = 400  # what a kept exchange holds besides its request's bytes (its headers, the reply's digest), about
FIRST_BATCH = 4  # a stream's first batch of calls; each next one twice as many, up to MAX_BATCH
MAX_BATCH = 64
BATCH_BYTES = 4 << 20  # a batch's requests and recorded replies, about (a batch holds at least one call)


class PrefetchDiverged(BaseException):
    """The test's body asked the sandbox for something else than the call stream had sent.

    A BaseException, so that a test's own `except Exception` cannot swallow it: the sandbox has run a
    call the body did not make, and only a run under Hypothesis decides the test from here.
    """


@dataclass
class Exchange:
    """One request as sent (without its timeout and releases, which differ per job) and its reply.

    A recorded stream's exchanges keep their reply's out-of-band bytes (tensors' data) only as
    `reply_digest` and `reply_size`: a later job's reply is compared with it, never used, and holding
    the bytes would double what a stream of large tensors keeps. They also keep what a job's history
    takes from the request (`header_text`, `blobs_digest`), so that a streamed job never encodes or
    hashes again what the trusted side sends. An exchange a sandbox has just answered
    (`StudentSession.run_stream`'s) holds its `reply_blobs`.
    """

    header: dict[str, Any]
    blobs: list[bytes]
    reply: dict[str, Any]
    reply_blobs: list[bytes]
    release_after: list[int] = field(default_factory=list)  # handles to release once this reply is checked
    reply_digest: bytes = b""
    reply_size: int = 0
    header_text: bytes = b""
    blobs_digest: bytes = b""
    uses: list[int] = field(default_factory=list)  # a recorded request's: the sandbox objects (handles) it names


def blobs_digest(blobs: Sequence[bytes | bytearray]) -> bytes:
    """A SHA-256 digest of a message's out-of-band bytes, each blob's length included.

    SHA-256, not BLAKE2: where the processor has SHA instructions (most x86 and ARM chips of the last
    years) OpenSSL's is about twice as fast, and a stream's replies can be tens of megabytes a job.
    """
    h = hashlib.sha256()
    for blob in blobs:
        h.update(len(blob).to_bytes(8, "little"))
        h.update(blob)
    return h.digest()


def encoded(part: dict[str, Any]) -> bytes:
    """A request's header or a reply, as a job's history takes it (StudentSession.history)."""
    return json.dumps(part, sort_keys=True, default=str).encode()


def same_reply(recorded: Exchange, reply: dict[str, Any], size: int, digest: bytes) -> bool:
    """Whether a reply (its header, and its out-of-band bytes' total size and digest) is the recorded one."""
    return reply == recorded.reply and size == recorded.reply_size and digest == recorded.reply_digest


@dataclass
class CallStream:
    exchanges: list[Exchange]
    bound: dict[int, str]  # handles from before the test that it uses: id -> the module attribute's name
    history: bytes  # the recording job's history before the test (StudentSession.history)
    lookups: dict[str, bool]  # the module's names its body looked up first (and whether the module has them)
    verdict: Any = None  # a failing run's stream: the test's result, without its output and duration
    # A failing test's stream from its start (StudentSession.start_transcript): the number of exchanges
    # after which it last started again; what the student printed before that is left out of its output.
    restarted_at: int | None = None


@dataclass
class Capture:
    """Collects a passing body's call stream; `failed` once anything makes it unrepeatable."""

    generation: int
    history: bytes
    lookups_before: dict[str, bool]
    exchanges: list[Exchange] = field(default_factory=list)
    refs: list[list[int]] = field(default_factory=list)  # per exchange: the handles its request uses
    pending_refs: list[int] = field(default_factory=list)  # handles pickled into the request being made
    failed: bool = False
    size: int = 0
    restarted_at: int | None = None

    def add(
        self,
        header: dict[str, Any],
        blobs: list[bytes],
        reply: dict[str, Any],
        reply_blobs: list[Any],
        digests: tuple[bytes, bytes] | None = None,
        header_text: bytes | None = None,
        uses: list[int] | None = None,
    ) -> None:
        """Keep one exchange; `digests` are `blobs_digest` of `blobs` and of `reply_blobs`, `header_text`
        the request's `encoded` header, and `uses` the handles it names (a recorded request's), where known."""
        if self.failed:
            self.pending_refs.clear()
            return
        if reply.get("tripped"):
            self.failed = True
            return
        # The request's bytes are kept; the reply's, as a digest.
        self.size += sum(len(b) for b in blobs) + EXCHANGE_BYTES
        if self.size > MAX_STREAM_BYTES:
            self.failed = True
            self.exchanges.clear()
            return
        if uses is None:
            uses = list(self.pending_refs)
            target = header.get("id")
            if isinstance(target, int):
                uses.append(target)
        self.pending_refs.clear()
        key = request_key(header)
        sent, got = digests or (blobs_digest(blobs), blobs_digest(reply_blobs))
        self.exchanges.append(
            Exchange(
                key,
                [bytes(b) for b in blobs],
                reply,
                [],
                reply_digest=got,
                reply_size=sum(len(b) for b in reply_blobs),
                header_text=header_text if header_text is not None else encoded(key),
                blobs_digest=sent,
                uses=uses,
            )
        )
        self.refs.append(uses)

    def finish(self, module_handles: dict[int, str], lookups: dict[str, bool]) -> CallStream | None:
        """The stream, with when to release each handle it was given; None if it cannot be repeated."""
        if self.failed or not self.exchanges:
            return None
        introduced: set[int] = set()
        bound: dict[int, str] = {}
        last_use: dict[int, int] = {}
        given: dict[int, int] = {}  # handle -> how many replies named it in their value (one release each)
        for index, (exchange, uses) in enumerate(zip(self.exchanges, self.refs)):
            for hid in uses:
                if hid == 0:  # the module itself: the same in every sandbox
                    continue
                if hid not in introduced:
                    name = module_handles.get(hid)
                    if name is None:  # an object from before the test that is not a module attribute
                        return None
                    bound[hid] = name
                last_use[hid] = index
            kept = module_attribute(exchange)  # a module's function or class: the session keeps it, never released
            for hid in handles_in(exchange.reply.get("value")):
                introduced.add(hid)
                if kept is None:
                    given[hid] = given.get(hid, 0) + 1
                last_use[hid] = index
        for hid, count in given.items():
            self.exchanges[last_use[hid]].release_after.extend([hid] * count)
        new = {name: found for name, found in lookups.items() if name not in self.lookups_before}
        return CallStream(self.exchanges, bound, self.history, new, restarted_at=self.restarted_at)


def batches(exchanges: list[Exchange]) -> Iterator[list[Exchange]]:
    """A stream's exchanges in the batches they are sent in, in order (`FIRST_BATCH`, `MAX_BATCH`, `BATCH_BYTES`)."""
    at = 0
    for size in batch_sizes():
        if at >= len(exchanges):
            return
        batch = next_batch(exchanges, at, size)
        yield batch
        at += len(batch)


def batch_sizes() -> Iterator[int]:
    """How many calls each next batch of a stream holds at most: `FIRST_BATCH`, twice as many each time, up to `MAX_BATCH`."""
    size = FIRST_BATCH
    while True:
        yield size
        size = min(2 * size, MAX_BATCH)


def next_batch(exchanges: list[Exchange], at: int, size: int) -> list[Exchange]:
    """The batch sent from exchange `at` on: `size` exchanges, fewer past about `BATCH_BYTES`, at least one."""
    batch: list[Exchange] = []
    total = 0
    for exchange in exchanges[at : at + size]:
        cost = sum(len(b) for b in exchange.blobs) + exchange.reply_size
        if batch and total + cost > BATCH_BYTES:
            break
        batch.append(exchange)
        total += cost
    return batch


def agrees(stream: CallStream, at: int, done: Exchange) -> bool:
    """Whether a stream's exchange `at` is this one, sent and answered (`done`: as `run_stream` made it).

    The request (its header, and its bytes' digest) is compared unless it is the very one sent; the
    reply as `same_reply` compares it.
    """
    if at >= len(stream.exchanges):
        return False
    recorded = stream.exchanges[at]
    if recorded.header is not done.header and (
        recorded.header != done.header or recorded.blobs_digest != done.blobs_digest
    ):
        return False
    return same_reply(recorded, done.reply, done.reply_size, done.reply_digest)


def module_attribute(exchange: Exchange) -> str | None:
    """The name, if this exchange read a callable attribute of the student's module (which the session keeps)."""
    header, value = exchange.header, exchange.reply.get("value")
    if header.get("op") != "getattr" or header.get("id") != 0 or not exchange.reply.get("ok"):
        return None
    if not isinstance(value, dict) or value.get("t") != "handle" or not value.get("callable"):
        return None
    name = header.get("name")
    return name if isinstance(name, str) else None


def request_key(header: dict[str, Any]) -> dict[str, Any]:
    """A request's header without what differs from job to job for the same call: its time limit and releases."""
    return {k: v for k, v in header.items() if k not in ("timeout", "release")}


def handles_in(tree: Any) -> list[int]:
    """The ids of the sandbox objects an encoded value names (each occurrence), as the trusted side wraps them."""
    found: list[int] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("t") == "handle":
                hid = node.get("id")
                if isinstance(hid, int) and hid > 0:
                    found.append(hid)
                continue
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


class Prefetched:
    """Replies the sandbox already gave, handed to the test's body for the same requests, in order."""

    def __init__(self, exchanged: list[Exchange]) -> None:
        self._left = deque(exchanged)

    def take(self, header: dict[str, Any], blobs: list[bytes]) -> Exchange | None:
        """The reply to this request if it is the next one sent; None once all are used; else PrefetchDiverged."""
        if not self._left:
            return None
        nxt = self._left[0]
        if request_key(header) != nxt.header or [bytes(b) for b in blobs] != nxt.blobs:
            raise PrefetchDiverged("the test asked the sandbox for another call than the one already sent")
        return self._left.popleft()

    def used_up(self) -> bool:
        return not self._left

    def left(self) -> list[Exchange]:
        """The replies not handed to the body (the one it asked for instead included, once it diverged)."""
        return list(self._left)
