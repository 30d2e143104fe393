"""The camera through picamera2 (libcamera): stored exposure, fixed focus, main + lores streams."""

from __future__ import annotations

import io
import logging
import threading
from types import ModuleType
from typing import TYPE_CHECKING, Any

from device.errors import BackendError, CameraError, CameraTimeout
from device.hal.interfaces import CameraSettings, Frame, FrameMeta

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger("irbis.hal.pi")

_INSTALL_PICAMERA2 = (
    "install it on Raspberry Pi OS with `sudo apt install python3-picamera2` and run irbis from "
    "a venv made with `python3 -m venv --system-site-packages` so it can see it (picamera2 needs "
    "libcamera, which comes from Raspberry Pi OS packages, not PyPI)"
)
_LENS_AT_INFINITY_DIOPTRES = 0.0


def import_picamera2() -> ModuleType:
    """The picamera2 module, or a BackendError that says how to install it."""
    try:
        import picamera2
    except ImportError as exc:
        raise BackendError(
            f"the pi backend needs 'picamera2' ({exc}); {_INSTALL_PICAMERA2}"
        ) from exc
    except Exception as exc:  # installed but broken (libcamera mismatch, ...)
        raise BackendError(f"'picamera2' is installed but failed to import: {exc}") from exc
    return picamera2


class PiCamera:
    """picamera2 behind the Camera protocol; picamera2 is imported when this is built, not before.

    One Picamera2 object (the camera, acquired) lives from the first start() to close(). Every
    request is released on every path, including one that completes after its caller timed out:
    a held request is a buffer the camera cannot fill, and with the still configuration's single
    buffer the camera would stall for good.
    """

    def __init__(self, settings: CameraSettings) -> None:
        self._settings = settings
        self._module = import_picamera2()
        self._picam: Any = None
        self._started = False
        self._lores_size = settings.lores_size

    @property
    def is_started(self) -> bool:
        return self._started

    @property
    def settings(self) -> CameraSettings:
        return self._settings

    def reconfigure(self, settings: CameraSettings) -> None:
        """Take new settings (the budget's resolution, say): the main and lores streams are
        configured at every start, so a stopped camera just keeps them for its next start and
        a started one is stopped and started again with them."""
        if settings == self._settings:
            return
        restart = self._started
        if restart:
            self.stop()
        self._settings = settings
        self._lores_size = settings.lores_size
        if restart:
            self.start()

    def start(self) -> None:
        """Configure a still mode with main + YUV420 lores, stored exposure and fixed focus."""
        if self._started:
            return
        try:
            if self._picam is None:
                self._picam = self._module.Picamera2()
            picam = self._picam
            config = picam.create_still_configuration(
                main={"size": self._settings.main_size},
                lores={"size": self._settings.lores_size, "format": "YUV420"},
                controls=self._controls(picam.camera_controls),
            )
            picam.configure(config)
            actual = tuple(picam.camera_configuration()["lores"]["size"])
            picam.start()
        except Exception as exc:
            raise CameraError(f"camera did not start: {exc}") from exc
        if actual != self._settings.lores_size:
            log.warning(
                "camera adjusted the lores stream from %s to %s", self._settings.lores_size, actual
            )
        self._lores_size = (int(actual[0]), int(actual[1]))
        self._started = True

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        try:
            self._picam.stop()
        except Exception as exc:
            raise CameraError(f"camera did not stop: {exc}") from exc

    def meter(self) -> FrameMeta:
        """Metadata of the next frame exposed after this call; its image is not kept."""
        request = self._next_request()
        try:
            return _frame_meta(request.get_metadata(), ir_on=False)
        except CameraError:
            raise
        except Exception as exc:
            raise CameraError(f"cannot read frame metadata: {exc}") from exc
        finally:
            _release(request)

    def capture_frame(self, ir_on: bool) -> Frame:
        """The next frame exposed after this call: main as JPEG, lores as its Y plane."""
        request = self._next_request()
        try:
            meta = _frame_meta(request.get_metadata(), ir_on=ir_on)
            jpeg = io.BytesIO()
            request.save("main", jpeg, format="jpeg")
            lores = _y_plane(request.make_array("lores"), self._lores_size)
        except CameraError:
            raise
        except Exception as exc:
            raise CameraError(f"cannot read the captured frame: {exc}") from exc
        finally:
            _release(request)
        return Frame(encoded=jpeg.getvalue(), lores=lores, meta=meta)

    def close(self) -> None:
        """Stop and release the camera; never raises (Hardware.close must reach the IR LEDs)."""
        picam, self._picam = self._picam, None
        self._started = False
        if picam is None:
            return
        try:
            picam.stop()
            picam.close()
        except Exception:
            log.exception("camera did not close cleanly")

    def _controls(self, available: dict[str, Any]) -> dict[str, Any]:
        controls: dict[str, Any] = {
            "AeEnable": False,
            "ExposureTime": self._settings.exposure_us,
            "AnalogueGain": self._settings.analogue_gain,
        }
        if "AfMode" in available:  # only on autofocus modules (Camera Module 3); others refuse it
            from libcamera import controls as libcamera_controls

            controls["AfMode"] = libcamera_controls.AfModeEnum.Manual
            controls["LensPosition"] = _LENS_AT_INFINITY_DIOPTRES
        return controls

    def _next_request(self) -> Any:
        """A completed request whose exposure began after this call, or CameraTimeout."""
        if not self._started:
            raise CameraError("camera is not started")
        picam = self._picam
        timeout_s = self._settings.timeout_s
        reaper = _LateRequestReaper(picam)
        try:
            job = picam.capture_request(wait=False, flush=True, signal_function=reaper.on_done)
        except Exception as exc:
            raise CameraError(f"capture request failed: {exc}") from exc
        try:
            return picam.wait(job, timeout=timeout_s)
        except TimeoutError as exc:  # concurrent.futures.TimeoutError is TimeoutError since 3.11
            reaper.abandon(job)
            raise CameraTimeout(
                f"no frame within {timeout_s:g} s (capture.camera_timeout_s)"
            ) from exc
        except Exception as exc:
            raise CameraError(f"capture request failed: {exc}") from exc


class _LateRequestReaper:
    """Releases the request of a capture job that completes after its caller stopped waiting."""

    def __init__(self, picam: Any) -> None:
        self._picam = picam
        self._lock = threading.Lock()
        self._abandoned = False
        self._settled = False  # the job's request was taken for release, or there is none

    def on_done(self, job: Any) -> None:
        """picamera2's signal_function: runs on its event loop thread when the job finishes."""
        with self._lock:
            if not self._abandoned or self._settled:
                return
            self._settled = True
            _, request = self._result_now(job)
        if request is not None:
            log.warning("released a camera request that arrived after its capture timed out")
            _release(request)

    def abandon(self, job: Any) -> None:
        """Cancel the job; release its request now if it already has one, else when it comes."""
        cancel = getattr(self._picam, "cancel_all_and_flush", None)
        if cancel is not None:
            try:
                cancel()
            except Exception:
                log.exception("could not cancel the timed-out capture job")
        with self._lock:
            self._abandoned = True
            finished, request = self._result_now(job)
            if not finished:
                return  # still pending: on_done releases its request if it ever completes
            self._settled = True
        if request is not None:
            _release(request)

    def _result_now(self, job: Any) -> tuple[bool, Any]:
        """(finished, its request or None), without waiting."""
        try:
            return True, self._picam.wait(job, timeout=0)
        except TimeoutError:
            return False, None
        except Exception:  # cancelled (CancelledError) or the job raised: it holds no request
            return True, None


def _release(request: Any) -> None:
    try:
        request.release()
    except Exception:
        log.exception("camera request release failed")


def _frame_meta(metadata: dict[str, Any], ir_on: bool) -> FrameMeta:
    """FrameMeta from libcamera metadata. SensorTimestamp (ns, the monotonic clock) marks the
    start of readout, so the exposure began ExposureTime earlier (as picamera2's flush reckons)."""
    try:
        exposure_us = int(metadata["ExposureTime"])
        start_ns = int(metadata["SensorTimestamp"]) - exposure_us * 1000
        return FrameMeta(
            monotonic_s=start_ns / 1e9,
            exposure_us=exposure_us,
            analogue_gain=float(metadata["AnalogueGain"]),
            lux=float(metadata["Lux"]),
            ir_on=ir_on,
        )
    except KeyError as exc:
        raise CameraError(f"frame metadata lacks {exc.args[0]!r}") from exc


def _y_plane(yuv420: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The luminance of a picamera2 YUV420 array: shape (height * 3 // 2, stride), Y on top."""
    import numpy as np

    width, height = size
    if yuv420.ndim != 2 or yuv420.shape[0] < height * 3 // 2 or yuv420.shape[1] < width:
        raise CameraError(f"lores array of shape {yuv420.shape} is not YUV420 of {width}x{height}")
    return np.array(yuv420[:height, :width], dtype=np.uint8, copy=True)
