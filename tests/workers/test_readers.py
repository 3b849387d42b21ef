"""Model-stream readers: kept for the next stream, and never making a stream wait behind another."""

from __future__ import annotations

import threading

from workers.executor.readers import Readers


def test_streams_read_one_after_another_reuse_one_reader() -> None:
    readers = Readers()
    names: list[str] = []
    for _ in range(20):
        readers.run(lambda: names.append(threading.current_thread().name))
        assert readers.wait_idle(1, 10)
    assert readers.started == 1 and names == ["model-stream"] * 20


def test_streams_read_at_once_each_get_a_reader_and_a_failed_job_keeps_its_reader() -> None:
    readers = Readers()
    all_in = threading.Barrier(8 + 1, timeout=10)  # passes only when 8 jobs run at the same time
    for _ in range(8):
        readers.run(all_in.wait)
    all_in.wait()
    assert readers.wait_idle(8, 10) and readers.started == 8

    def failing() -> None:
        raise RuntimeError("a stream's job failed")

    ran = threading.Event()
    readers.run(failing)
    readers.run(ran.set)
    assert ran.wait(10) and readers.wait_idle(8, 10)
    assert readers.started == 8  # idle readers took both jobs, and the one whose job failed is idle again
