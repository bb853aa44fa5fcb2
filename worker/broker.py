"""The embedded broker: kombu's file transport, with message files that appear whole or not at all."""

import os
import uuid
from time import monotonic_ns

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: dict, **kwargs: object) -> None:
        # kombu creates the message file under its final name and then writes it, so a consumer polling the
        # folder can take the file while it is still empty: the message is lost and the worker stops on a JSON
        # error. Written under a name consumers skip and renamed into place (atomic within one folder), a
        # message is never seen half-written. Consumers take files in name order: nanoseconds, zero-padded, keep
        # messages first in, first out (kombu's milliseconds leave messages of one millisecond in random order).
        body = str_to_bytes(dumps(payload))
        name = f"{monotonic_ns():020d}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.part")
        with open(partial, "wb") as file:
            file.write(body)
        os.replace(partial, final)


class Transport(filesystem.Transport):
    Channel = Channel
