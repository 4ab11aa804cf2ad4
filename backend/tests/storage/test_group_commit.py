"""storage/group_commit.py: ops queued while a group commits share the next commit; each op gets its own
answer; a failed commit fails its own group only; a forked child starts afresh."""

import os
import threading
import time

import pytest

from anon_hosting.errors import InsufficientStorage
from anon_hosting.storage.group_commit import GroupCommit


class Committer:
    """A ``commit`` whose ops are labels (the real one, LocalStorage's, is tested in test_local.py): it
    records each group and answers "done <label>", or a KeyError for "refuse"; the first group waits for
    ``release`` (so that others queue meanwhile), and a group that holds "fail" raises as a full disk would."""

    def __init__(self):
        self.groups: list[list] = []
        self.entered, self.release = threading.Event(), threading.Event()

    def __call__(self, ops) -> None:
        self.groups.append([op.fn for op in ops])
        if len(self.groups) == 1:
            self.entered.set()
            assert self.release.wait(10)
        if any(op.fn == "fail" for op in ops):
            raise InsufficientStorage()
        for op in ops:
            if op.fn == "refuse":
                op.error = KeyError(op.fn)
            else:
                op.result = f"done {op.fn}"


def run_all(group: GroupCommit, committer: Committer, fns: list) -> tuple[dict, list]:
    """Run each of ``fns`` in a thread of its own: the first leads and is held in its commit, the
    others queue meanwhile, in this order."""
    answers, threads = {}, []

    def one(fn) -> None:
        try:
            answers[fn] = group.run(fn)
        except Exception as exc:  # noqa: BLE001 - compared by the test
            answers[fn] = exc

    for i, fn in enumerate(fns):
        threads.append(threading.Thread(target=one, args=(fn,)))
        threads[-1].start()
        if i == 0:
            assert committer.entered.wait(10)
        deadline = time.monotonic() + 10
        while len(group._queue) < i:
            assert time.monotonic() < deadline
            time.sleep(0.001)
    return answers, threads


def finish(committer: Committer, threads) -> None:
    committer.release.set()
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()


def test_an_op_alone_is_committed_alone():
    committer = Committer()
    committer.release.set()
    assert GroupCommit(committer).run("a") == "done a"
    assert committer.groups == [["a"]]


def test_ops_queued_during_a_commit_share_the_next_one_each_with_its_own_answer():
    committer = Committer()
    group = GroupCommit(committer)
    answers, threads = run_all(group, committer, ["first", "b", "refuse", "c"])
    finish(committer, threads)
    assert committer.groups == [["first"], ["b", "refuse", "c"]]
    assert answers["first"] == "done first" and answers["b"] == "done b" and answers["c"] == "done c"
    assert isinstance(answers["refuse"], KeyError)
    assert group.run("d") == "done d" and committer.groups[-1] == ["d"]  # the lead was given back


def test_a_failed_commit_fails_its_own_group_only_each_thread_with_its_own_error():
    committer = Committer()
    group = GroupCommit(committer)
    answers, threads = run_all(group, committer, ["first", "b", "fail", "c"])
    finish(committer, threads)
    errors = [answers[fn] for fn in ("b", "fail", "c")]
    assert answers["first"] == "done first"
    assert all(isinstance(e, InsufficientStorage) for e in errors)
    assert len({id(e) for e in errors}) == 3  # raising sets __traceback__: threads must not share one
    assert len({id(e.__cause__ or e) for e in errors}) == 1  # copies of the one error, chained to it
    assert group.run("after") == "done after"


def test_a_forked_child_starts_with_an_empty_queue_and_no_leader():
    committer = Committer()
    group = GroupCommit(committer)
    answers, threads = run_all(group, committer, ["first", "queued"])  # a leader mid-commit, an op waiting
    pid = os.fork()
    if pid == 0:  # the child: neither thread exists here; its own op must not wait for them
        try:
            committer.release.set()  # only this process's copy
            os._exit(0 if group.run("child") == "done child" else 1)
        finally:
            os._exit(2)
    deadline = time.monotonic() + 10
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    if done[0] == 0:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the child waited for its parent's leader")
    assert os.waitstatus_to_exitcode(done[1]) == 0
    finish(committer, threads)
    assert answers == {"first": "done first", "queued": "done queued"}
