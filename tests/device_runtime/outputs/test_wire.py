"""Frames from the device to its outputs process: never a wait on the sender's side, nothing reordered."""

from __future__ import annotations

import socket
import threading

from device_runtime.outputs.wire import FrameReader, Sender


def test_frames_larger_than_the_socket_holds_arrive_whole_and_in_order_without_the_sender_waiting() -> None:
    ours, theirs = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    sender = Sender(ours)
    snapshot = bytes(range(256)) * 2048  # 512 KiB: a few times what the socket takes at once
    results: list[bool] = []
    camera = threading.Thread(target=lambda: results.extend(sender.send(("submit", n, snapshot)) for n in range(10)))
    camera.start()
    camera.join(30)
    assert not camera.is_alive(), "the sender waited for a reader (none reads yet)"
    assert results == [True] * 10
    assert sender.waiting() > 0, "what the socket did not take waits in memory"
    received = []
    reader = FrameReader(theirs)
    while len(received) < 10:
        received.append(reader.read())
    assert [n for _, n, _ in received] == list(range(10))
    assert all(blob == snapshot for _, _, blob in received)
    sender.close()
    ours.close()
    theirs.close()


def test_beyond_its_limit_the_sender_refuses_whole_frames_and_later_ones_follow_in_order() -> None:
    ours, theirs = socket.socketpair()
    sender = Sender(ours, limit=1024 * 1024)
    block = b"x" * (256 * 1024)
    results = [sender.send(("block", n, block)) for n in range(40)]
    assert results[:4] == [True] * 4 and not all(results), "some frames were refused, none waited"
    taken = [n for n, ok in enumerate(results) if ok]
    reader = FrameReader(theirs)
    got = [reader.read()[1] for _ in taken]
    assert got == taken
    assert sender.send(("after", 99, b"")), "once drained, frames are taken again"
    assert reader.read()[:2] == ("after", 99)
    sender.close()
    ours.close()
    theirs.close()


def test_a_reader_sees_the_end_when_the_other_side_goes_and_a_sender_then_refuses() -> None:
    ours, theirs = socket.socketpair()
    reader = FrameReader(theirs)
    ended = threading.Event()
    threading.Thread(target=lambda: (reader.read() is None) and ended.set(), daemon=True).start()
    ours.close()
    assert ended.wait(5)
    sender = Sender(theirs)
    assert sender.send(("submit", 1)) is False
    assert sender.broken
    sender.close()
    theirs.close()
