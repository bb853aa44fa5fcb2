"""The embedded (file) broker hands out whole messages only, even to a consumer polling while one is written."""

from pathlib import Path
from queue import Empty

import pytest
from kombu import Connection

from worker import broker


@pytest.fixture
def channel(tmp_path: Path):
    folder = str(tmp_path)
    with Connection("filesystem://", transport=broker.Transport,
                    transport_options={"data_folder_in": folder, "data_folder_out": folder}) as connection:
        yield connection.channel()


def test_a_consumer_polling_while_a_message_is_written_sees_nothing_until_it_is_whole(
    channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    polled = []
    write = broker.os.replace

    def poll_then_publish(partial: str, final: str) -> None:  # the moment the bytes are on disk, not yet published
        try:
            polled.append(channel._get("sample"))
        except Empty:
            polled.append(None)
        write(partial, final)

    monkeypatch.setattr(broker.os, "replace", poll_then_publish)
    channel._put("sample", {"body": "job-1"})
    assert polled == [None]
    assert channel._get("sample") == {"body": "job-1"}


def test_messages_come_out_in_order_and_per_queue(channel) -> None:
    for body in ("a", "b"):
        channel._put("sample", {"body": body})
    channel._put("train", {"body": "t"})
    assert [channel._get("sample")["body"] for _ in range(2)] == ["a", "b"]
    assert channel._get("train") == {"body": "t"}
    with pytest.raises(Empty):
        channel._get("sample")
