"""The Pi's serial port to the supervisor: raw 115200 8N1 through termios (no extra package),
read on a thread that only hands bytes to the link (which posts events, never acts)."""

from __future__ import annotations

import os
import select
import termios
import threading
import tty
from collections.abc import Callable
from pathlib import Path

from device.errors import BackendError

BAUD = termios.B115200
READ_CHUNK = 256
POLL_S = 0.2  # the reader notices close() this fast


class SerialPort:
    """A link Transport over a tty (`/dev/serial0` on the Pi: enable_uart=1, no serial console)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self, receiver: Callable[[bytes], None]) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError as exc:
            raise BackendError(
                f"cannot open the supervisor's UART {self.path} ({exc.strerror}): enable it with "
                "enable_uart=1 in config.txt and turn off the serial console (raspi-config)"
            ) from exc
        try:
            tty.setraw(fd)
            attrs = termios.tcgetattr(fd)
            attrs[4] = attrs[5] = BAUD  # ispeed, ospeed
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
            termios.tcflush(fd, termios.TCIOFLUSH)
        except termios.error as exc:
            os.close(fd)
            raise BackendError(f"{self.path} is not a serial port ({exc})") from exc
        self._fd = fd
        self._thread = threading.Thread(
            target=self._read_loop, args=(fd, receiver), name="irbis-uart", daemon=True
        )
        self._thread.start()

    def _read_loop(self, fd: int, receiver: Callable[[bytes], None]) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([fd], [], [], POLL_S)
            if not ready:
                continue
            try:
                data = os.read(fd, READ_CHUNK)
            except BlockingIOError:
                continue
            except OSError:
                return  # the port went away (closed under us): the link counts the silence
            if data:
                receiver(data)

    def write(self, data: bytes) -> None:
        fd = self._fd
        if fd is None:
            return
        view = memoryview(data)
        while view:
            try:
                written = os.write(fd, view)
            except BlockingIOError:
                select.select([], [fd], [], POLL_S)
                continue
            view = view[written:]

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2 * POLL_S + 1)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
