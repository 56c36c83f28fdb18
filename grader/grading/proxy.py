"""The `student` fixture's objects: proxies that forward every use of student code to the sandbox.

`student.fold_conv_bn(conv, bn)` pickles the arguments to the sandbox, runs the call there and
decodes the result as plain data; anything that is not plain data comes back as a :class:`Remote`
handle whose calls, attribute reads and uses as an argument also run in the sandbox. Every failure of
student code becomes one of two exceptions: :class:`StudentError` (the code raised; input-dependent,
so Hypothesis shrinks it) or :class:`StudentFault` (timeout, exit, crash, memory, import failure,
missing name; it stops the test at once).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import io
import json
import os
import pickle
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from grader.course.spec import Limits
from grader.errors import SandboxRefused, StudentError, StudentFault
from grader.grading import call_stream, protections
from grader.grading.failing_input import Call
from grader.grading.sandbox_client import SandboxGone, SandboxProcess, Zygote, describe_exit
from grader.safetext import bounded, one_line
from grader.sandbox import wire
from grader.sandbox.protocol import CallMethod, ExitCode, Op, ReplyKind, Request, ends_batch
from grader.sandbox.purity import argument_images, changed_arguments
from grader.sandbox.rebuild import QUALIFIED_NAMES, RebuildError, rebuild

_OUTPUT_NAME = "student-output.txt"
_CALLS_KEPT = 8  # the last calls into student code, kept to describe the input of a failing test
FAILING_CALLS = 4  # at most this many of them describe a failure
RECEIVED_MESSAGE_CHARS = 4000  # an exception's message as the sandbox reports it (the sandbox's own cap)
RECEIVED_TRACEBACK_CHARS = 8000
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CallBudget:
    """Limits of one call that are not the problem's per-call ones (grader.grading.training's calls).

    `note` ends the message when the call runs out of time or CPU (say what the budget is and where
    it comes from); `reply_bytes` bounds what the sandbox may send back.
    """

    wall_seconds: float
    cpu_seconds: float
    reply_bytes: int
    note: str = ""


def disabled_protections() -> tuple[str, ...]:
    """Protections the instructor switched off: GRADER_SANDBOX_DISABLE=landlock,seccomp (for debugging)."""
    text = os.environ.get("GRADER_SANDBOX_DISABLE", "")
    return tuple(name.strip() for name in text.split(",") if name.strip())


# Names Hypothesis's engine looks up on a test's arguments (the `student` module among them) while it
# runs a test and prints a failing example; a replayed or streamed test never asks for them.
ENGINE_PROBES = (
    "execute_example",
    "setup_example",
    "teardown_example",
    "hypothesis_internal_is_this_a_mock_check",
    "_repr_pretty_",
)


class StudentSession:
    """One job's connection to the student's module: a sandbox, restarted after a fault."""

    def __init__(
        self,
        *,
        zygote: Zygote,
        student_dir: str,
        module: str,
        workdir: str,
        limits: Limits,
        forbidden_calls: tuple[str, ...] = (),
        required_names: tuple[str, ...] = (),
        hidden: tuple[str, ...] = (),
        require: tuple[str, ...] = (),
    ) -> None:
        self.zygote = zygote
        self.student_dir = student_dir
        self.module_name = module
        self.workdir = workdir
        self.limits = limits
        self.forbidden_calls = forbidden_calls
        self.required_names = frozenset(required_names)
        self.hidden = hidden
        self.require = require
        self.protections: dict[str, Any] = {}  # established from outside the sandbox (grader.grading.protections)
        self.tripped: list[str] = []  # forbidden functions the student's code called
        self._forbidden_fault: StudentFault | None = None
        self.sandbox_cpu_seconds = 0.0
        self.training_cpu_seconds = 0.0  # the most CPU time one budgeted call (grader.grading.training) used
        self.sandbox_memory: tuple[int, str] = (0, "")  # the largest peak of its sandboxes, and who counted it
        self.output_path = os.path.join(workdir, _OUTPUT_NAME)
        self.deadline = time.monotonic() + limits.job_timeout
        self.generation = 0
        self._process: SandboxProcess | None = None
        self._names: frozenset[str] = frozenset()
        self._import_fault: StudentFault | None = None
        self._test_fault: StudentFault | None = None
        self._released: list[int] = []
        # Which run of a test a call belongs to (a Hypothesis example); set by the grading plugin.
        self.call_scope: Callable[[], object] | None = None
        self._calls: deque[tuple[object, str, tuple[Any, ...], dict[str, Any]]] = deque(maxlen=_CALLS_KEPT)
        # Module-level callables (functions, classes) by name, for the sandbox they came from: a test
        # that calls `student.f(x)` a hundred times then pays one round trip a call, not two.
        self.callables: dict[str, Remote] = {}
        # A test's call stream (grader.grading.call_stream): being kept, or answering the body's first requests.
        self._capture: call_stream.Capture | None = None
        self.followed: call_stream.CallStream | None = None  # the stream the last run_stream that passed followed
        self.parted_at = 0  # the exchange where the last run_stream that diverged met a reply no stream has
        # After a run_stream that passed on a failing test's stream from its start: the output's size where
        # that stream's test last started again (None when it never did).
        self.restart_output: int | None = None
        # Every exchange of the running test, as the sandbox ran them, to keep with its result (`start_transcript`).
        self._transcript: call_stream.Capture | None = None
        self._prefetched: call_stream.Prefetched | None = None
        self._prefetch_broken = False
        # Everything the trusted side has learnt from this job's sandboxes, in order (grader.grading.call_stream):
        # a test passes on a recorded stream only in a job whose history up to the test is the recording's.
        # SHA-256: every reply's bytes go through it, and it runs on the CPU's SHA extensions where they
        # exist (about 3x BLAKE2b on the machines measured, for conv1d_backprop's 2,000,000-element replies).
        self._history = hashlib.sha256()
        self.lookups: dict[str, bool] = {}  # names of the module the tests looked up, and whether it has them
        open(self.output_path, "wb").close()

    # -- lifetime -------------------------------------------------------------------------------

    def module(self) -> StudentModule:
        """The student's module, imported in a sandbox (raises StudentFault if it does not import)."""
        self._ensure_started()
        return StudentModule(self)

    @property
    def import_failure(self) -> str | None:
        """Why the module could not be imported, if it could not."""
        return None if self._import_fault is None else str(self._import_fault)

    @property
    def import_fault(self) -> StudentFault | None:
        """The fault that every use of the module raises once it could not be imported (with its traceback)."""
        return self._import_fault

    def begin_test(self, *, again: bool = False) -> None:
        """A test starts, or (`again`) starts over under Hypothesis after its replay failed.

        Starting over after a forbidden call, the replay's calls are kept: that fault stands for the
        rest of the job, so the run under Hypothesis makes no call, and the calls that met it are the
        ones a failing input describes, as with lockstep off.
        """
        self._test_fault = None
        if not (again and self._forbidden_fault is not None):
            self._calls.clear()
        if again:
            if self._transcript is not None:
                self._transcript.restarted_at = len(self._transcript.exchanges)
        else:
            self._transcript = None
        self._capture = None
        self._prefetched = None
        self._prefetch_broken = False

    def last_calls(self, most: int = FAILING_CALLS) -> list[Call]:
        """The last calls into student code, oldest first, all from the same run of the test as the last one.

        A failing Hypothesis test ends with the replay of its smallest failing example, so these are
        the calls that gave the failure, not calls left over from an earlier example.
        """
        if not self._calls:
            return []
        scope = self._calls[-1][0]
        same = [Call(label, args, kwargs) for s, label, args, kwargs in self._calls if s is scope]
        return same[-most:]

    def close(self) -> None:
        if self._process is not None:
            self._process.close()
            self.sandbox_cpu_seconds += self._process.cpu_seconds
            self.sandbox_memory = max(self.sandbox_memory, self._process.memory)
            self._process = None

    def end_job(self) -> None:
        """Drop what the job's calls hold (their arguments, replies already given): the job is over.

        The last job's pytest session outlives it until the next job's takes its place: something
        still holds its test module's functions, whose globals name the module's loader, which holds
        pytest's config, and through it the session, this plugin and this object (one session,
        measured after 2, 3 and 6 jobs of conv1d_backprop). The arguments kept for failure messages,
        up to 16 MB a tensor on conv1d_backprop's long tests, would stay with it.
        """
        self._calls.clear()
        self._prefetched = None
        self._capture = None
        self._transcript = None

    def output_size(self) -> int:
        return os.path.getsize(self.output_path)

    def read_output(self, start: int, limit: int, skip: tuple[int, int] | None = None) -> str:
        """Captured stdout/stderr from byte `start` on, capped at `limit` bytes with a note.

        `skip` is a range of bytes left out (what a replay of the test printed before the test ran
        again under Hypothesis: grader.grading.lockstep), so that the text is the same either way.
        """
        with open(self.output_path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            ranges = [(start, size)] if skip is None else [(start, skip[0]), (skip[1], size)]
            data, total = b"", 0
            for begin, end in ranges:
                if end <= begin:
                    continue
                total += end - begin
                if len(data) <= limit:
                    f.seek(begin)
                    data += f.read(min(end - begin, limit + 1 - len(data)))
            rest = total - limit
        text = data[:limit].decode("utf-8", "replace")
        # Warnings name the student's file by its path in this job's temporary folder: say it as the
        # student knows it, so that the same files give the same output.
        for folder in {self.student_dir, os.path.realpath(self.student_dir)}:
            text = text.replace(folder + os.sep, "")
        if rest > 0:
            text += f"\n[... output truncated: {rest} more bytes]"
        return text

    def _ensure_started(self) -> None:
        if self._import_fault is not None:
            raise self._import_fault
        if self._process is not None:
            return
        if time.monotonic() >= self.deadline:  # the student's code used the job's time: no new sandbox for it
            raise self._fault(self._out_of_time())
        self._process = self.zygote.spawn(
            {
                "student_dir": self.student_dir,
                "workdir": self.workdir,
                "output_path": self.output_path,
                "forbidden_calls": list(self.forbidden_calls),
                "hidden": list(self.hidden),
                "require": list(self.require),
                "disable": list(disabled_protections()),
                "limits": self.limits.sandbox_limits().to_wire(),
            }
        )
        self.generation += 1
        self._released.clear()
        for kept in (self._capture, self._transcript):
            if kept is not None:  # a stream spans one sandbox: the handles it names are gone
                kept.failed = True
        self._observe_protections()
        try:
            reply = self._request(
                {"op": Op.IMPORT, "module": self.module_name},
                [],
                "the import",
                timeout=self.limits.import_timeout,
            )
        except StudentError as exc:
            self._import_fault = StudentFault(
                f"{self.module_name}.py could not be imported: {exc}", exc.student_traceback
            )
            raise self._import_fault from None
        except StudentFault as exc:
            self._import_fault = StudentFault(
                f"{self.module_name}.py could not be imported: {exc}", exc.student_traceback
            )
            raise self._import_fault from None
        names = reply.get("names") if isinstance(reply, dict) else None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            self.close()
            self._import_fault = StudentFault(
                f"{self.module_name}.py could not be imported: the import broke the grader's protocol (a malformed reply)"
            )
            raise self._import_fault
        self._names = frozenset(names)

    def _observe_protections(self) -> None:
        """Which protections the new sandbox has, established before any student code runs in it.

        The sandbox is asked first (its answer then comes from the grader's code alone), and the
        kernel's view of the process is read from /proc. A protection the job requires that is not
        in force refuses the job, whatever the sandbox said.
        """
        assert self._process is not None
        try:
            with protections.canary_file() as canary:
                reply, _, _ = self._exchange(
                    {"op": Op.HELLO, "canary": canary}, [], "starting the sandbox", timeout=self.limits.import_timeout
                )
        except StudentFault as exc:  # no student code has run: the machine's fault, not the student's
            self._test_fault = None
            raise SandboxRefused(f"the sandbox did not start: {exc}") from None
        if reply.get("kind") == ReplyKind.REFUSED:
            self.close()
            raise SandboxRefused(f"the sandbox refused to run student code: {reply.get('message')}")
        self.protections = protections.observed(
            self._process.pid,
            workdir=self.workdir,
            reported=reply.get("protections"),
            canary_readable=reply.get("canary_readable") is not False,
        )
        missing = [name for name in self.require if self.protections.get(name) is None]
        if missing:
            self.close()
            raise SandboxRefused(
                f"the sandbox refused to run student code: the required protection {missing[0]!r} is not in force "
                "(as the kernel shows the sandbox process)"
            )

    # -- requests ---------------------------------------------------------------------------------

    def getattr(self, handle: int, generation: int | None, name: str, what: str) -> Any:
        """Read an attribute; `generation` None means the module itself, valid in any sandbox."""
        self._check_usable(generation)
        return self._request({"op": Op.GETATTR, "id": handle, "name": name}, [], what)

    def call(
        self,
        handle: int,
        generation: int,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        what: str,
        *,
        method: CallMethod | None = None,
        check_args: bool = False,
        budget: CallBudget | None = None,
    ) -> Any:
        """Run a call in the sandbox; with a `budget`, under its time, CPU and reply-size limits instead of the call's."""
        self._check_usable(generation)
        if method is None:  # a call the test wrote (not len(), [] or iteration over a student object)
            self._calls.append((self.call_scope() if self.call_scope else None, what, args, kwargs))
        payload = io.BytesIO()
        _ArgPickler(payload, self).dump((args, kwargs))
        header: Request = {"op": Op.CALL, "id": handle, "check_args": check_args}
        if method:
            header["method"] = method
        if budget is None:
            return self._request(header, [payload.getvalue()], what, want_reply=check_args)
        cpu_before = self.cpu_seconds_used()
        reply, out_blobs, limit = self._exchange(
            header,
            [payload.getvalue()],
            what,
            timeout=budget.wall_seconds,
            reply_limit=budget.reply_bytes,
            timeout_note=budget.note,
        )
        cpu_after = self.cpu_seconds_used()
        if cpu_before is not None and cpu_after is not None:
            self.training_cpu_seconds = max(self.training_cpu_seconds, cpu_after - cpu_before)
        if cpu_before is not None and cpu_after is not None and cpu_after - cpu_before > budget.cpu_seconds:
            raise self._fault(
                StudentFault(
                    f"{what} ran out of its budget: it used more than {budget.cpu_seconds:g} s of CPU time{budget.note}"
                )
            )
        return self._interpret(reply, out_blobs, what, limit, want_reply=check_args, timeout_note=budget.note)

    def cpu_seconds_used(self) -> float | None:
        """The sandbox process's CPU time so far (all its threads), as the kernel counts it; None if unreadable.

        Read from /proc on this side, so that a budget never rests on the sandbox's own account.
        """
        if self._process is None:
            return None
        try:
            with open(f"/proc/{self._process.pid}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
            return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime and stime (fields 14 and 15)
        except (OSError, ValueError, IndexError):
            return None

    def release(self, handle: int, generation: int) -> None:
        if generation == self.generation:
            self._released.append(handle)

    def keep_module_attribute(self, name: str, value: Any) -> Any:
        """An attribute of the student's module as read; a function or class is kept for the next use."""
        if isinstance(value, Remote):
            object.__setattr__(value, "_label", name)
            if object.__getattribute__(value, "_ref").callable:
                self.callables[name] = value
        return value

    # -- call streams (grader.grading.call_stream) -------------------------------------------------

    def start_capture(self, history: bytes) -> None:
        """Keep this test's requests and replies from here on, to grade later jobs of the test by.

        `history`: the job's history before the test (StudentSession.history), taken before any stream
        was sent (the replies a stream got are in the history by then, and the body is answered with them).
        """
        self._capture = call_stream.Capture(self.generation, history, dict(self.lookups))

    def finish_capture(self) -> call_stream.CallStream | None:
        """The test's call stream, if it can be repeated (grader.grading.call_stream); capture stops."""
        capture, self._capture = self._capture, None
        if capture is None or capture.generation != self.generation or self._prefetched is not None:
            return None
        if self._process is None or self._test_fault is not None or self._forbidden_fault is not None:
            return None  # the sandbox failed on the way: a job that skipped the calls would not have closed its own
        return capture.finish(self._module_handles(), self.lookups)

    def start_transcript(self, history: bytes, sent: Sequence[call_stream.Exchange] = ()) -> None:
        """Keep every exchange of the test from here on, as the sandbox runs them, to keep with its result.

        `history` is the job's history when the test started, and `sent` what run_stream sent since.

        A test's whole run, from its start, is a deterministic function of the trusted side's state
        when it starts and its replies, as a passing body's is: whatever was sent (streams, a replay,
        a run under Hypothesis, a test started again on the same sandbox), the sandbox ran these
        requests in this order. A later job whose history is `history` and whose sandbox gives the
        same replies to them gets the same result (grader.grading.call_stream): a failure, or a pass
        that left no passing body's stream.
        """
        transcript = self._transcript = call_stream.Capture(self.generation, history, dict(self.lookups))
        for done in sent:
            transcript.add(
                done.header,
                done.blobs,
                done.reply,
                done.reply_blobs,
                (done.blobs_digest, done.reply_digest),
                done.header_text,
                uses=done.uses,
            )

    def finish_transcript(self, *, keep: bool = True) -> call_stream.CallStream | None:
        """The test's exchanges from its start, if they can be sent again (as `finish_capture`'s) and are to be
        kept (`keep`); it stops."""
        capture, self._transcript = self._transcript, None
        if not keep or capture is None or capture.generation != self.generation:
            return None
        if self._process is None or self._test_fault is not None or self._forbidden_fault is not None:
            return None
        return capture.finish(self._module_handles(), self.lookups)

    def _module_handles(self) -> dict[int, str]:
        return {
            object.__getattribute__(r, "_ref").id: name
            for name, r in self.callables.items()
            if object.__getattribute__(r, "_generation") == self.generation
        }

    def run_stream(
        self, streams: Sequence[call_stream.CallStream], *, transcript: bool = False
    ) -> tuple[str, list[call_stream.Exchange]]:
        """Send a recorded test's requests, in batches, and compare each reply with the recorded ones.

        `streams` are the test's kept streams (grader.grading.call_stream): those recorded from this
        job's history, naming objects this job holds, are followed together as a tree of replies, the
        requests sent being those of the first one still agreeing with every reply so far. Returns
        ("passed", ...) when one stream's every request was sent and every reply was its own;
        ("diverged", exchanged) once no stream agrees, with every request the sandbox has run and its
        reply (`prefetch` hands them to the test's body: the one that differed, and the rest of its
        batch); ("faulted", []) when the sandbox failed (the fault is set, as in a replay);
        ("restarted", []) when, after a reply that differed, the same batch ran into a failure or a
        forbidden call that the test's body might never have made: the sandbox is closed unread, and
        the test starts again on a new one, as after a fault; ("unusable", []) when no stream can be
        used in this job, before anything is sent. After ("passed", ...) `followed` is the stream followed;
        after ("diverged", ...) `parted_at` is the index of the first reply no stream has.

        With `transcript` (a test's first streams, sent at its start), a test that goes on after
        ("diverged", ...) or ("unusable", []) keeps its exchanges from its start (`start_transcript`).
        """
        try:
            self._check_usable(None)
        except (StudentFault, StudentError):
            return "unusable", []
        history = self.history()  # something before this test went otherwise than in a recording: not that one
        outcome, exchanged = self._run_stream(streams, history)
        if transcript and outcome in ("diverged", "unusable"):
            self.start_transcript(history, exchanged)
        return outcome, exchanged

    def _run_stream(
        self, streams: Sequence[call_stream.CallStream], history: bytes
    ) -> tuple[str, list[call_stream.Exchange]]:
        held = self._module_handles()
        candidates = [
            s for s in streams if s.history == history and all(held.get(hid) == name for hid, name in s.bound.items())
        ]
        if not candidates:
            return "unusable", []
        exchanged: list[call_stream.Exchange] = []
        sizes = call_stream.batch_sizes()
        # Where a failing test's stream started again, the output's size is taken: a batch ends there.
        restarts = sorted({s.restarted_at for s in candidates if s.restarted_at is not None})
        outputs: dict[int, int] = {0: self.output_size()} if 0 in restarts else {}
        while len(exchanged) < len(candidates[0].exchanges):
            size = next(sizes)
            ahead = [at - len(exchanged) for at in restarts if at > len(exchanged)]
            batch = call_stream.next_batch(candidates[0].exchanges, len(exchanged), min([size, *ahead]))
            diverged = False
            while batch and not diverged:
                sent = self._send_recorded(batch)
                if sent is None:
                    return "faulted", []
                for recorded, (reply, out_blobs, digest) in zip(batch, sent):
                    at = len(exchanged)
                    got = [bytes(b) for b in out_blobs]
                    exchanged.append(
                        call_stream.Exchange(
                            recorded.header,
                            recorded.blobs,
                            reply,
                            got,
                            reply_digest=digest,
                            reply_size=sum(len(b) for b in got),
                            header_text=recorded.header_text,
                            blobs_digest=recorded.blobs_digest,
                            uses=recorded.uses,
                        )
                    )
                    if diverged:
                        if ends_batch(reply):
                            self.close()
                            return "restarted", []
                        continue
                    candidates = [s for s in candidates if call_stream.agrees(s, at, exchanged[at])]
                    diverged = not candidates  # nothing kept or released: the body gets these replies
                    if diverged:
                        self.parted_at = at
                if len(sent) < len(batch) and not diverged:
                    # A reply ended the batch early and matched: the rest of the batch is sent on, as the first
                    # stream still agreeing has it (the streams may part at that reply, a failure in one).
                    batch = call_stream.next_batch(candidates[0].exchanges, len(exchanged), len(batch) - len(sent))
                else:
                    batch = []
            if diverged:
                return "diverged", exchanged
            if len(exchanged) in restarts:
                outputs[len(exchanged)] = self.output_size()
        # Passed: what the body would have kept (the module's functions it read) is kept; the rest released.
        stream = self.followed = candidates[0]
        self.restart_output = None if stream.restarted_at is None else outputs[stream.restarted_at]
        for done in exchanged:
            name = call_stream.module_attribute(done)
            if name is not None:
                value = self._interpret(
                    done.reply, [bytearray(b) for b in done.reply_blobs], name, 0.0, want_reply=False
                )
                self.keep_module_attribute(name, value)
        for recorded in stream.exchanges:
            self._released.extend(recorded.release_after)
        self.lookups.update(stream.lookups)  # what the body looked up, as if it had run
        return "passed", exchanged

    def _send_recorded(
        self, batch: list[call_stream.Exchange]
    ) -> list[tuple[dict[str, Any], list[bytearray], bytes]] | None:
        """Send recorded requests as one batch; their replies (up to one that ends it), each with the digest
        of its out-of-band bytes, or None on a fault (set)."""
        assert self._process is not None
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self._fault(self._out_of_time())
            return None
        limit = min(self.limits.call_timeout, remaining)
        requests: list[tuple[Request, list[bytes]]] = []
        for recorded in batch:
            header = cast(Request, dict(recorded.header))
            header["timeout"] = limit
            requests.append((header, recorded.blobs))
        if self._released:
            requests[0][0]["release"], self._released = self._released, []
        try:
            replies = self._process.request_batch(requests, timeout=limit + 2.0, until=self.deadline + 2.0)
        except (SandboxGone, wire.ProtocolError) as exc:
            self._sandbox_lost(exc, "a recorded call", limit)
            return None
        answered = []
        transcript = self._transcript
        for recorded, (reply, out_blobs) in zip(batch, replies):
            digest = call_stream.blobs_digest(out_blobs)
            self._note(recorded.header_text, recorded.blobs_digest, reply, digest)
            if transcript is not None:
                transcript.add(
                    recorded.header,
                    recorded.blobs,
                    reply,
                    out_blobs,
                    (recorded.blobs_digest, digest),
                    recorded.header_text,
                    uses=recorded.uses,
                )
            answered.append((reply, out_blobs, digest))
        return answered

    def prefetch(self, exchanged: list[call_stream.Exchange]) -> None:
        """Answer the test body's first requests with these replies the sandbox already gave to them."""
        self._prefetched = call_stream.Prefetched(exchanged)
        self._prefetch_broken = False

    def end_prefetch(self) -> bool:
        """Stop answering from prefetched replies; whether the body asked for exactly those it was given."""
        clean = not self._prefetch_broken and (self._prefetched is None or self._prefetched.used_up())
        if (
            not clean
            and self._prefetched is not None
            and any(
                not done.reply.get("ok") and done.reply.get("kind") not in (ReplyKind.RAISED, ReplyKind.UNSENDABLE)
                for done in self._prefetched.left()
            )
        ):
            self.close()  # a call the body never made timed out or failed in the sandbox: not a sandbox to go on with
        self._prefetched = None
        self._prefetch_broken = False
        return clean

    def _check_usable(self, generation: int | None) -> None:
        if self._forbidden_fault is not None:
            raise self._forbidden_fault
        if self._test_fault is not None:
            raise self._test_fault
        self._ensure_started()
        if generation is not None and generation != self.generation:
            raise StudentFault("an object returned by the student's code was lost when its sandbox was restarted")

    def _request(
        self,
        header: Request,
        blobs: list[bytes],
        what: str,
        *,
        timeout: float | None = None,
        want_reply: bool = False,
    ) -> Any:
        """One request and its reply, as a value (and, with `want_reply`, the arguments' images after the call)."""
        reply, out_blobs, limit = self._exchange(header, blobs, what, timeout=timeout)
        return self._interpret(reply, out_blobs, what, limit, want_reply=want_reply)

    def _exchange(
        self,
        header: Request,
        blobs: list[bytes],
        what: str,
        *,
        timeout: float | None = None,
        reply_limit: int | None = None,
        timeout_note: str = "",
    ) -> tuple[dict[str, Any], list[bytearray], float]:
        """Send one request and wait, within the call's and the job's time, for the reply.

        `reply_limit` bounds the reply's size in bytes; `timeout_note` ends the message of a timeout.
        """
        if self._prefetch_broken:
            raise call_stream.PrefetchDiverged("the test's calls no longer follow what the sandbox already ran")
        if self._prefetched is not None:
            try:
                ready = self._prefetched.take(dict(header), blobs)
            except call_stream.PrefetchDiverged:
                self._prefetch_broken = True
                raise
            if ready is not None:
                if self._transcript is not None:  # it has the exchange from when it was sent
                    self._transcript.pending_refs.clear()
                if self._capture is not None:  # a body that passes on these replies makes another stream of the test
                    self._capture.add(
                        ready.header,
                        ready.blobs,
                        ready.reply,
                        ready.reply_blobs,
                        (ready.blobs_digest, ready.reply_digest),
                    )
                return ready.reply, [bytearray(b) for b in ready.reply_blobs], self.limits.call_timeout
            self._prefetched = None
        assert self._process is not None
        capture, transcript = self._capture, self._transcript
        for kept in (capture, transcript):
            if kept is not None and (timeout is not None or reply_limit is not None):
                kept.failed = True  # a budgeted call (its CPU time decides) or the import: never repeated from a stream
        capturing = (capture is not None and not capture.failed) or (transcript is not None and not transcript.failed)
        key = call_stream.request_key(dict(header)) if capturing else None
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise self._fault(self._out_of_time())
        limit = min(timeout or self.limits.call_timeout, remaining)
        header["timeout"] = limit
        if self._released:
            header["release"], self._released = self._released, []
        try:
            reply, out_blobs = self._process.request(header, blobs, timeout=limit + 2.0, reply_limit=reply_limit)
        except (SandboxGone, wire.ProtocolError) as exc:
            raise self._sandbox_lost(exc, what, limit, reply_limit=reply_limit, timeout_note=timeout_note) from None
        noted = header.get("op") not in (Op.HELLO, Op.IMPORT)  # the job's own paths; the names, as they are used
        if noted or key is not None:
            digests = (call_stream.blobs_digest(blobs), call_stream.blobs_digest(out_blobs))  # hashed once, for both
            text = call_stream.encoded(key if key is not None else call_stream.request_key(dict(header)))
            if noted:
                self._note(text, digests[0], reply, digests[1])
            if key is not None:
                for kept in (capture, transcript):
                    if kept is not None:
                        kept.add(key, blobs, reply, out_blobs, digests, text)
        return reply, out_blobs, limit

    def _sandbox_lost(
        self,
        exc: SandboxGone | wire.ProtocolError,
        what: str,
        limit: float,
        *,
        reply_limit: int | None = None,
        timeout_note: str = "",
    ) -> StudentFault:
        """The student's fault for a request the sandbox never answered as a message (it is closed): set, and returned."""
        self.close()
        if isinstance(exc, wire.ReplyTooLarge):
            if reply_limit is None:  # the channel's own limit: a frame no honest reply reaches
                return self._fault(StudentFault(f"{what} broke the grader's protocol ({exc})"))
            return self._fault(
                StudentFault(
                    f"{what} sent back more than the {_mib(reply_limit)} the grader accepts for this "
                    "call (were the arguments' tensors replaced by larger ones?)"
                )
            )
        if isinstance(exc, wire.ProtocolError):
            return self._fault(StudentFault(f"{what} broke the grader's protocol ({exc})"))
        if exc.timed_out:
            return self._fault(StudentFault(f"{what} timed out after {limit:g} s{timeout_note}"))
        status = exc.status or {}
        if status.get("oom"):  # the zygote read it from the sandbox's memory cgroup
            message = f"{what} {self._memory_exceeded()}"
        elif status.get("signal") == 9:
            message = f"{what} was killed (probably by exceeding the memory limit of {self.limits.memory_mb} MiB)"
        elif status.get("code") == ExitCode.SANDBOX_BROKEN:  # the sandbox's own code failed after the student's had run
            message = (
                f"{what} broke the sandbox: its own code stopped working after the student's code ran "
                "(was a built-in such as isinstance or open replaced?)"
            )
        elif "code" in status:
            message = f"{what} exited before returning (exit status {status['code']})"
        else:
            message = f"{what} crashed: the process {describe_exit(exc.status)}"
        return self._fault(StudentFault(message))

    def _note(self, request: bytes, sent: bytes, reply: dict[str, Any], got: bytes) -> None:
        """Add to the job's history one exchange (grader.grading.call_stream): the request's header, encoded
        (`call_stream.encoded`), the digest of its data, the reply, and the digest of the reply's data."""
        for part in (request, sent, call_stream.encoded(reply), got):
            self._history.update(len(part).to_bytes(8, "little"))
            self._history.update(part)

    def history(self) -> bytes:
        """A digest of the job's history so far: every request and reply, and the names looked up.

        The names Hypothesis's engine looks up on a test's arguments (`ENGINE_PROBES`) count by whether
        the module has them, looked up or not: a job that ran a test under Hypothesis (the first to pass
        it, which records it) and one that replayed it learnt the same from the sandbox, and a failing
        run kept by the first is then repeated from the second on (grader.grading.lockstep).
        """
        h = self._history.copy()
        h.update(json.dumps(sorted((n, f) for n, f in self.lookups.items() if n not in ENGINE_PROBES)).encode())
        h.update(json.dumps([name in self._names for name in ENGINE_PROBES]).encode())
        return h.digest()

    def _interpret(
        self,
        reply: dict[str, Any],
        out_blobs: list[bytearray],
        what: str,
        limit: float,
        *,
        want_reply: bool,
        timeout_note: str = "",
    ) -> Any:
        """A reply as a value or as the student's failure; whatever cannot be read is the student's failure."""
        tripped = reply.get("tripped")
        if tripped:
            names = [one_line(n, 200) for n in tripped[:20]] if isinstance(tripped, list) else ["a forbidden function"]
            self.tripped.extend(n for n in names if n not in self.tripped)
            self._forbidden_fault = StudentFault(f"{what} called {', '.join(names)}, which this problem forbids")
            raise self._forbidden_fault
        if reply.get("ok"):
            try:
                value = wire.decode_value(reply.get("value"), out_blobs)
                modules = wire.decode_value(reply["modules"], out_blobs) if "modules" in reply else []
                after = wire.decode_value(reply["after"], out_blobs) if want_reply and "after" in reply else None
            except wire.WireError as exc:
                self.close()
                raise self._fault(StudentFault(f"{what} sent back something that is not plain data ({exc})")) from None
            except Exception as exc:  # noqa: BLE001 - whatever the sandbox sent, reading it fails only this student
                self.close()
                raise self._fault(
                    StudentFault(
                        f"{what} sent back something the grader cannot read ({type(exc).__name__}: {_short(exc)})"
                    )
                ) from None
            value = self._wrap(value, modules, what)
            return (value, after) if want_reply else value
        # Whatever the sandbox says is the student's text: bounded and encodable here, where it arrives
        # (the sandbox caps it too, but a forged reply skips the sandbox's own code).
        kind = reply.get("kind")
        tb = bounded(reply.get("traceback", ""), RECEIVED_TRACEBACK_CHARS)
        said = bounded(reply.get("message", kind), RECEIVED_MESSAGE_CHARS)
        if kind == ReplyKind.RAISED:
            raise StudentError(f"{what} raised {one_line(reply.get('type'), 200)}: {said}", tb)
        if kind == ReplyKind.REFUSED:  # a genuine refusal answers the first request, before any student code ran
            self.close()
            raise self._fault(StudentFault(f"{what} broke the grader's protocol (a refusal after the sandbox started)"))
        if kind == ReplyKind.UNSENDABLE:
            raise StudentError(f"{what} returned a value that cannot be sent back: {said}")
        self.close()
        if kind == ReplyKind.TIMEOUT:
            raise self._fault(StudentFault(f"{what} timed out after {limit:g} s{timeout_note}", tb))
        if kind == ReplyKind.MEMORY:
            raise self._fault(StudentFault(f"{what} {self._memory_exceeded()}", tb))
        if kind == ReplyKind.EXITED:
            raise self._fault(StudentFault(f"{what} exited before returning ({one_line(said, 200)})"))
        raise self._fault(StudentFault(f"{what} failed: {said}"))

    def _out_of_time(self) -> StudentFault:
        return StudentFault(f"the time limit for this problem ({self.limits.job_timeout:g} s) was reached")

    def _memory_exceeded(self) -> str:
        return f"exceeded the memory limit of {self.limits.memory_mb} MiB (shared memory counted)"

    def _fault(self, fault: StudentFault) -> StudentFault:
        self._test_fault = fault
        return fault

    def _wrap(self, value: Any, modules: Any, what: str) -> Any:
        """Handles become Remote objects; standard modules are rebuilt here from their descriptions."""
        built: dict[int, Any] = {}

        def wrap(v: Any) -> Any:
            if isinstance(v, wire.HandleRef):
                if v.id < 0:
                    index = -1 - v.id
                    if index not in built:
                        if not isinstance(modules, list) or index >= len(modules):
                            raise RebuildError(f"a {v.type_name} was sent without its description")
                        built[index] = rebuild(modules[index])
                    return built[index]
                if v.type_name in QUALIFIED_NAMES:
                    raise RebuildError(f"an object that claims to be a {v.type_name} was not sent as one")
                return Remote(self, v, self.generation)
            if isinstance(v, list):
                return [wrap(x) for x in v]
            if isinstance(v, tuple):
                return tuple(wrap(x) for x in v)
            if isinstance(v, dict):
                return {k: wrap(x) for k, x in v.items()}
            return v

        try:
            return wrap(value)
        except RebuildError as exc:
            raise StudentError(f"{what} returned a module the grader cannot rebuild: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - the description is the student's: so is any failure to build it
            raise StudentError(
                f"{what} returned a module the grader cannot rebuild ({type(exc).__name__}: {_short(exc)})"
            ) from None


class _ArgPickler(pickle.Pickler):
    """Pickles call arguments; a Remote becomes a reference to the object in the sandbox."""

    def __init__(self, f: io.BytesIO, session: StudentSession) -> None:
        super().__init__(f, protocol=pickle.HIGHEST_PROTOCOL)
        self.session = session

    def reducer_override(self, obj: Any) -> Any:
        return wire.reduce_plain_tensor(obj)

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, Remote):
            if object.__getattribute__(obj, "_session") is not self.session:
                raise TypeError("a student object cannot be passed to another student's code")
            hid = object.__getattribute__(obj, "_ref").id
            for kept in (self.session._capture, self.session._transcript):
                if kept is not None:
                    kept.pending_refs.append(hid)
            return ("handle", hid)
        return None


class StudentModule:
    """The student's module as the tests see it: `student.name` reads or calls into the sandbox."""

    def __init__(self, session: StudentSession) -> None:
        self._session = session

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        session = self._session
        session.lookups[name] = name in session._names
        if name not in session._names:
            if name in session.required_names:
                raise StudentFault(f"{session.module_name}.py does not define {name}")
            raise AttributeError(name)
        cached = session.callables.get(name)
        if cached is not None:
            session._check_usable(None)  # restarts a sandbox that is gone, which makes a new generation
            if object.__getattribute__(cached, "_generation") == session.generation:
                return cached
        return session.keep_module_attribute(name, session.getattr(0, None, name, f"{session.module_name}.{name}"))

    def __repr__(self) -> str:
        return f"<student module {self._session.module_name}>"


class Remote:
    """An object that lives in the sandbox (a module, a function, a closure, ...)."""

    __slots__ = ("_session", "_ref", "_generation", "_label", "__weakref__")

    def __init__(self, session: StudentSession, ref: wire.HandleRef, generation: int) -> None:
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_generation", generation)
        object.__setattr__(self, "_label", ref.type_name.rsplit(".", 1)[-1] + " object")

    def _call(self, args: tuple[Any, ...], kwargs: dict[str, Any], **options: Any) -> Any:
        return self._session.call(self._ref.id, self._generation, args, kwargs, self._label, **options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(args, kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        value = self._session.getattr(self._ref.id, self._generation, name, f"{self._label}.{name}")
        if isinstance(value, Remote):
            object.__setattr__(value, "_label", f"{self._label}.{name}")
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("objects from student code are read-only on the grading side")

    def __len__(self) -> int:
        n = self._call((), {}, method=CallMethod.LEN)
        if type(n) is not int:
            raise StudentError(f"len() of {self._label} is not an int")
        return n

    def __getitem__(self, key: Any) -> Any:
        return self._call((key,), {}, method=CallMethod.GETITEM)

    def __iter__(self) -> Any:
        return iter(self._call((), {}, method=CallMethod.ITER))

    def __repr__(self) -> str:
        return f"<student {self._ref.type_name} object>"

    def __reduce__(self) -> Any:
        raise TypeError("objects from student code cannot be pickled")

    def __del__(self) -> None:
        try:
            self._session.release(self._ref.id, self._generation)
        except Exception:
            pass


REMOTE_NOTE = " (kept in the sandbox: not a standard torch.nn module)"


def remote_type(obj: Any) -> str:
    """The qualified type name of what student code returned ('torch.nn.modules.conv.Conv2d').

    Standard modules arrive rebuilt on the trusted side, so their type is a fact. An object that stayed
    in the sandbox has only the type the sandbox claims for it, which is marked as such
    ('bn_fold.MyConv (kept in the sandbox: ...)') and so never passes for a standard type.
    """
    if isinstance(obj, Remote):
        return claimed_type(obj) + REMOTE_NOTE
    typ = type(obj)
    return f"{typ.__module__}.{typ.__qualname__}"


def claimed_type(obj: Remote) -> str:
    """The type name the sandbox gave for an object that stayed there (for messages only)."""
    return str(object.__getattribute__(obj, "_ref").type_name)


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB" if n >= 1 << 20 else f"{n} bytes"


def _short(exc: BaseException, most: int = 300) -> str:
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - an exception whose str() fails still needs a message
        text = "?"
    return text if len(text) <= most else text[:most] + "..."


# The kinds of grader call (`call_pure`, `call_training`) that plain code is running inside, innermost
# last: a stand-in for the student's module in the same process (the kit's recorder) reads it to tell
# what a test asks of each answer, instead of replacing these functions.
_PLAIN_CALLS: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("grader_plain_calls", default=())


def plain_calls() -> tuple[str, ...]:
    """The grader calls ("pure", "training") that plain code now running was made through, outermost first."""
    return _PLAIN_CALLS.get()


@contextlib.contextmanager
def plain_call(kind: str) -> Iterator[None]:
    """Mark plain code run inside a grader call of `kind` (see `plain_calls`)."""
    token = _PLAIN_CALLS.set((*_PLAIN_CALLS.get(), kind))
    try:
        yield
    finally:
        _PLAIN_CALLS.reset(token)


def call_pure(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a student function and fail the test if the call modified any of its arguments.

    The verdict is made here, on the trusted side: it compares the arguments it sent with their state
    after the call, which the sandbox sends back as data (grader.sandbox.purity).
    """
    __tracebackhide__ = True
    if isinstance(fn, Remote):
        # The trusted side's arguments cannot change during the call (the sandbox got copies): their
        # images need no copy, and the sandbox sends the images of its copies as they are afterwards.
        before = argument_images(args, kwargs, copy=False)
        value, after = fn._call(args, kwargs, check_args=True)
        label = object.__getattribute__(fn, "_label")
    elif callable(fn):  # plain code, as when a problem's tests run against its reference directly
        before = argument_images(args, kwargs)
        with plain_call("pure"):
            value = fn(*args, **kwargs)
        after = argument_images(args, kwargs, copy=False)
        label = getattr(fn, "__name__", "the function")
    else:
        raise TypeError(f"call_pure takes a function, not {type(fn).__name__}")
    try:
        mutated = changed_arguments(before, after, kwargs)
    except ValueError:
        raise AssertionError(
            f"{label}: the grader could not confirm that it left its arguments unchanged "
            "(no readable account of them came back from its sandbox)"
        ) from None
    if mutated:
        raise AssertionError(
            f"{label} modified its {', '.join(mutated)} in place; it must leave its arguments unchanged"
        )
    return value
