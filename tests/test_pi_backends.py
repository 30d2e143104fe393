"""The `pi` backend off a Pi: gpiozero's real MockFactory for the pins, a fake picamera2 module
(shaped like the real one) for the camera, temp dirs for /sys and the card. No sleeps, no clock."""

from __future__ import annotations

import concurrent.futures
import io
import os
import select
import sys
import threading
import time
import types
from collections.abc import Callable
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from gpiozero import DigitalInputDevice
from gpiozero.pins.mock import MockFactory, MockPWMPin
from PIL import Image

from device.clock import Clock, RealClock
from device.config import defaults
from device.errors import BackendError, CameraError, CameraTimeout, CardError, HardwareError
from device.hal.interfaces import (
    Camera,
    CameraSettings,
    Card,
    Illuminator,
    MotionSensor,
    PowerMonitor,
    SupervisorLink,
)
from device.hal.pi import open_hardware
from device.hal.pi.camera import PiCamera
from device.hal.pi.card import SdCard
from device.hal.pi.ir import IR_PWM_FREQUENCY_HZ, IrIlluminator
from device.hal.pi.link import NoSupervisor
from device.hal.pi.pir import PirSensor
from device.hal.pi.power import PiPowerMonitor
from device.supervisor import link
from device.supervisor.logic import Supervisor

PIR_PIN = 17
IR_PIN = 27


class FrozenClock(Clock):
    """A clock that never moves: the backend must not need one."""

    def monotonic_s(self) -> float:
        return 0.0

    def now_utc(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC)

    def run_until(self, ready, deadline_s=None) -> bool:
        return ready()


@pytest.fixture
def factory():
    f = MockFactory(pin_class=MockPWMPin)  # the IR LEDs are PWM-dimmed
    yield f
    f.reset()


@pytest.fixture
def config():
    return defaults().with_values(mode="always-on")


# -- a fake picamera2, shaped like the real one ---------------------------------------------------


class AfModeEnum(IntEnum):
    Manual = 0
    Auto = 1
    Continuous = 2


class FakeRequest:
    """A CompletedRequest: YUV420 lores laid out as picamera2 gives it, (h * 3 // 2, stride)."""

    def __init__(self, camera: FakePicamera2, metadata: dict[str, Any]) -> None:
        self.camera = camera
        self.metadata = metadata
        self.released = 0
        w, h = camera.camera_config["lores"]["size"]
        stride = camera.camera_config["lores"]["stride"]
        self.y_plane = (np.arange(w * h, dtype=np.uint32) % 251).astype(np.uint8).reshape(h, w)
        yuv = np.full((h * 3 // 2, stride), 128, dtype=np.uint8)  # U/V rows
        yuv[:h, :] = 255  # row padding past the width
        yuv[:h, :w] = self.y_plane
        self.yuv = yuv

    def make_array(self, name: str) -> np.ndarray:
        if name != "lores":
            raise RuntimeError(f"test fake only makes lores arrays, asked for {name!r}")
        return self.yuv.copy()

    def save(self, name: str, file_output: Any, format: str | None = None, exif_data=None) -> None:
        if self.camera.save_error is not None:
            raise self.camera.save_error
        if name != "main" or (format or "").lower() not in ("jpg", "jpeg"):
            raise RuntimeError(f"cannot save {name!r} as {format!r}")
        w, h = self.camera.camera_config["main"]["size"]
        Image.new("RGB", (w, h), (30, 90, 60)).save(file_output, format="JPEG")

    def get_metadata(self) -> dict[str, Any]:
        return dict(self.metadata)

    def release(self) -> None:
        self.released += 1


class FakeJob:
    def __init__(self, signal_function) -> None:
        self.signal_function = signal_function
        self.done = False
        self.cancelled = False
        self.result: FakeRequest | None = None

    def complete(self, request: FakeRequest) -> None:
        """What picamera2's event loop does when a frame satisfies the job."""
        self.done, self.result = True, request
        if self.signal_function is not None:
            self.signal_function(self)


class FakePicamera2:
    """Picamera2's surface as the backend uses it; frames arrive when the test says so."""

    instances: ClassVar[list[FakePicamera2]] = []
    # called as each capture request is made, while its exposure is due (tests sample pins)
    on_capture_request: ClassVar[Callable[[], None] | None] = None
    controls_available: ClassVar[dict[str, tuple]] = {
        "AeEnable": (False, True, True),
        "ExposureTime": (1, 66666, 20000),
        "AnalogueGain": (1.0, 16.0, 1.0),
    }

    def __init__(self, camera_num: int = 0) -> None:
        self.camera_controls = dict(self.controls_available)
        self.camera_config: dict[str, Any] | None = None
        self.started = False
        self.closed = False
        self.jobs: list[FakeJob] = []
        self.capture_calls: list[dict[str, Any]] = []
        self.wait_timeouts: list[float | None] = []
        self.cancelled_all = 0
        self.auto_complete = True  # a frame is ready by the time the caller waits
        self.save_error: Exception | None = None
        self.metadata = {
            "SensorTimestamp": 5_000_000_000_000,
            "ExposureTime": 20000,
            "AnalogueGain": 2.0,
            "Lux": 3.5,
            "DigitalGain": 1.0,
        }
        self.requests: list[FakeRequest] = []
        FakePicamera2.instances.append(self)

    def create_still_configuration(
        self, main=None, lores=None, raw=None, buffer_count=1, controls=None, queue=True, **kw
    ) -> dict[str, Any]:
        main = {"format": "BGR888", "size": (4608, 2592), "preserve_ar": True} | (main or {})
        if lores is not None:
            lores = {"format": "YUV420", "size": main["size"], "preserve_ar": False} | lores
        return {
            "use_case": "still",
            "buffer_count": buffer_count,
            "queue": queue,
            "main": main,
            "lores": lores,
            "raw": raw,
            "controls": dict(controls or {}),
        }

    def configure(self, config: dict[str, Any]) -> None:
        for name in config["controls"]:
            if name not in self.camera_controls:
                raise RuntimeError(f"Control {name} is not advertised by libcamera")
        config = {k: (dict(v) if isinstance(v, dict) else v) for k, v in config.items()}
        w, _ = config["lores"]["size"]
        config["lores"]["stride"] = (w + 63) // 64 * 64 + 64  # padded, as the ISP does
        self.camera_config = config

    def camera_configuration(self) -> dict[str, Any]:
        return self.camera_config

    def start(self) -> None:
        if self.camera_config is None:
            raise RuntimeError("Camera has not been configured")
        self.started = True

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed = True

    def capture_request(self, wait=None, signal_function=None, flush=None):
        self.capture_calls.append({"wait": wait, "flush": flush})
        hook = FakePicamera2.on_capture_request
        if hook is not None:
            hook()
        job = FakeJob(signal_function)
        self.jobs.append(job)
        if wait is not False:
            raise AssertionError("the backend must not block inside capture_request")
        if self.auto_complete:
            job.complete(self.new_request())
        return job

    def new_request(self) -> FakeRequest:
        request = FakeRequest(self, self.metadata)
        self.requests.append(request)
        return request

    def wait(self, job: FakeJob, timeout: float | None = None) -> FakeRequest:
        self.wait_timeouts.append(timeout)
        if job.cancelled:
            raise concurrent.futures.CancelledError()
        if not job.done:
            raise TimeoutError()  # what Future.result raises when the timeout passes
        return job.result

    def cancel_all_and_flush(self) -> None:
        self.cancelled_all += 1
        for job in self.jobs:
            if not job.done:
                job.cancelled = True


@pytest.fixture
def fake_picamera2(mocker):
    FakePicamera2.instances = []
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2
    libcamera = types.ModuleType("libcamera")
    libcamera.controls = types.SimpleNamespace(AfModeEnum=AfModeEnum)
    mocker.patch.dict(sys.modules, {"picamera2": module, "libcamera": libcamera})
    return module


def started_camera(config) -> tuple[PiCamera, FakePicamera2]:
    camera = PiCamera(CameraSettings.from_config(config))
    camera.start()
    return camera, FakePicamera2.instances[-1]


# -- PIR -----------------------------------------------------------------------------------------


def test_pir_edges_call_the_callbacks_in_order(factory):
    pir = PirSensor(PIR_PIN, factory)
    events: list[str] = []
    pir.set_callbacks(lambda: events.append("motion"), lambda: events.append("still"))
    pin = factory.pin(PIR_PIN)
    assert events == [] and not pir.is_active

    pin.drive_high()
    assert pir.is_active
    pin.drive_low()
    pin.drive_high()
    assert events == ["motion", "still", "motion"]
    pir.close()


def test_pir_pin_is_an_input_with_pull_down(factory):
    pir = PirSensor(PIR_PIN, factory)
    pin = factory.pin(PIR_PIN)
    assert pin.function == "input"
    assert pin.pull == "down"  # the PIR module drives the line
    pir.close()


def test_pir_already_high_reports_exactly_one_motion(factory):
    pir = PirSensor(PIR_PIN, factory)
    pin = factory.pin(PIR_PIN)
    pin.drive_high()  # the trigger that woke the trap, before anyone listened
    events: list[str] = []

    pir.set_callbacks(lambda: events.append("motion"), lambda: events.append("still"))
    assert events == ["motion"]
    pin.drive_high()  # no edge: still one
    assert events == ["motion"]
    pin.drive_low()
    assert events == ["motion", "still"]
    pir.close()


def test_pir_low_at_start_reports_nothing_and_no_orphan_no_motion(factory):
    pir = PirSensor(PIR_PIN, factory)
    events: list[str] = []
    pir.set_callbacks(lambda: events.append("motion"), lambda: events.append("still"))
    factory.pin(PIR_PIN).drive_low()
    assert events == []
    pir.close()


def test_pir_close_stops_callbacks_and_frees_the_pin(factory):
    pir = PirSensor(PIR_PIN, factory)
    events: list[str] = []
    pir.set_callbacks(lambda: events.append("motion"), lambda: events.append("still"))
    pir.close()
    factory.pin(PIR_PIN).drive_high()
    assert events == []
    DigitalInputDevice(PIR_PIN, pin_factory=factory).close()  # the pin is free again


def test_pir_pin_in_use_is_a_hardware_error_naming_the_key(factory):
    holder = DigitalInputDevice(PIR_PIN, pin_factory=factory)
    with pytest.raises(HardwareError, match=r"pins\.pir"):
        PirSensor(PIR_PIN, factory)
    holder.close()


# -- IR LEDs -------------------------------------------------------------------------------------


def test_ir_pin_follows_on_and_off(factory):
    ir = IrIlluminator(IR_PIN, factory)
    pin = factory.pin(IR_PIN)
    assert pin.function == "output"
    assert pin.state == 0 and not ir.is_on
    assert pin.frequency == IR_PWM_FREQUENCY_HZ

    ir.on()
    assert pin.state == 1.0 and ir.is_on  # power 1.0: fully on
    ir.off()
    assert pin.state == 0 and not ir.is_on
    assert [s.state for s in pin.states] == [0, 1.0, 0]
    ir.close()


def test_ir_on_is_a_duty_of_its_power_share(factory):
    ir = IrIlluminator(IR_PIN, factory, power_share=0.5)
    pin = factory.pin(IR_PIN)
    ir.on()
    assert pin.state == 0.5 and ir.is_on
    ir.power_share = 0.25  # while on: at once
    assert pin.state == 0.25
    ir.off()
    ir.power_share = 0.75  # while off: stays off, used at the next on
    assert pin.state == 0
    ir.on()
    assert pin.state == 0.75
    assert [s.state for s in pin.states] == [0, 0.5, 0.25, 0, 0.75]
    with pytest.raises(ValueError, match=r"0\.1-1"):
        ir.power_share = 0.05
    assert ir.power_share == 0.75 and pin.state == 0.75
    ir.close()


def test_ir_on_a_pin_without_pwm_is_a_hardware_error_naming_the_key():
    plain = MockFactory()  # MockPin: no PWM
    with pytest.raises(HardwareError, match=r"pins\.ir.*PWM"):
        IrIlluminator(IR_PIN, plain)
    plain.reset()


def test_ir_close_switches_the_leds_off_and_releases_the_pin(factory):
    ir = IrIlluminator(IR_PIN, factory)
    pin = factory.pin(IR_PIN)
    ir.on()
    ir.close()
    assert pin.states[-1].state == 0
    assert pin.function == "input"
    ir.close()  # twice is harmless


# -- camera --------------------------------------------------------------------------------------


def test_camera_asks_for_main_lores_and_stored_exposure(fake_picamera2, config):
    config = config.with_values(
        capture__main_width=1920,
        capture__main_height=1080,
        capture__lores_width=320,
        capture__lores_height=240,
        capture__exposure_us=12000,
        capture__analogue_gain=4.0,
    )
    camera, picam = started_camera(config)
    asked = picam.camera_config
    assert asked["main"]["size"] == (1920, 1080)
    assert asked["lores"]["size"] == (320, 240)
    assert asked["lores"]["format"] == "YUV420"
    assert asked["controls"] == {"AeEnable": False, "ExposureTime": 12000, "AnalogueGain": 4.0}
    assert picam.started and camera.is_started


def test_camera_with_autofocus_is_fixed_at_infinity(fake_picamera2, config, mocker):
    autofocus = {"AfMode": (0, 2, 0), "LensPosition": (0.0, 32.0, 1.0)}
    mocker.patch.object(
        FakePicamera2, "controls_available", FakePicamera2.controls_available | autofocus
    )
    _, picam = started_camera(config)
    controls = picam.camera_config["controls"]
    assert controls["AfMode"] == AfModeEnum.Manual
    assert controls["LensPosition"] == 0.0  # dioptres: infinity


def test_captured_frame_has_jpeg_y_plane_and_metadata(fake_picamera2, config):
    camera, picam = started_camera(config)
    frame = camera.capture_frame(ir_on=True)
    request = picam.requests[-1]

    assert frame.image_jpeg.startswith(b"\xff\xd8")
    assert Image.open(io.BytesIO(frame.image_jpeg)).format == "JPEG"
    assert frame.lores.dtype == np.uint8
    assert frame.lores.shape == (config["capture.lores_height"], config["capture.lores_width"])
    assert np.array_equal(frame.lores, request.y_plane)
    assert frame.lores.flags.owndata  # a copy, not a view into the camera's array
    # exposure start = SensorTimestamp (readout start) - ExposureTime
    assert frame.meta.monotonic_s == pytest.approx(5000.0 - 0.020)
    assert frame.meta.exposure_us == 20000
    assert frame.meta.analogue_gain == 2.0
    assert frame.meta.lux == 3.5
    assert frame.meta.ir_on is True
    assert request.released == 1
    assert picam.capture_calls == [{"wait": False, "flush": True}]  # exposed after the call
    assert picam.wait_timeouts == [config["capture.camera_timeout_s"]]


def test_request_is_released_when_save_raises(fake_picamera2, config):
    camera, picam = started_camera(config)
    picam.save_error = OSError(5, "encoder fell over")
    with pytest.raises(CameraError) as info:
        camera.capture_frame(ir_on=False)
    assert info.value.__cause__ is picam.save_error
    assert picam.requests[-1].released == 1


def test_capture_that_never_completes_times_out_and_cancels(fake_picamera2, config):
    camera, picam = started_camera(config.with_values(capture__camera_timeout_s=0.25))
    picam.auto_complete = False
    with pytest.raises(CameraTimeout, match="camera_timeout_s"):
        camera.capture_frame(ir_on=False)
    assert picam.wait_timeouts[0] == 0.25
    assert picam.cancelled_all == 1
    assert isinstance(CameraTimeout("x"), TimeoutError)


def test_request_arriving_after_the_timeout_is_released(fake_picamera2, config):
    camera, picam = started_camera(config)
    picam.auto_complete = False
    picam.cancel_all_and_flush = lambda: None  # too late to cancel: the frame is on its way
    with pytest.raises(CameraTimeout):
        camera.capture_frame(ir_on=False)
    late = picam.new_request()
    picam.jobs[-1].complete(late)  # the event loop finishes the abandoned job
    assert late.released == 1


def test_meter_returns_metadata_and_keeps_no_image(fake_picamera2, config):
    camera, picam = started_camera(config)
    picam.metadata = picam.metadata | {"Lux": 0.4, "ExposureTime": 30000}
    meta = camera.meter()
    assert meta.lux == 0.4 and meta.exposure_us == 30000 and meta.ir_on is False
    assert picam.requests[-1].released == 1
    assert picam.capture_calls[-1]["flush"] is True


def test_metadata_without_lux_is_a_camera_error(fake_picamera2, config):
    camera, picam = started_camera(config)
    del picam.metadata["Lux"]
    with pytest.raises(CameraError, match="Lux"):
        camera.capture_frame(ir_on=False)
    assert picam.requests[-1].released == 1


def test_capture_before_start_is_a_camera_error(fake_picamera2, config):
    camera = PiCamera(CameraSettings.from_config(config))
    with pytest.raises(CameraError, match="not started"):
        camera.capture_frame(ir_on=False)


def test_camera_that_fails_to_open_is_a_camera_error(fake_picamera2, config, mocker):
    mocker.patch.object(
        FakePicamera2, "__init__", side_effect=RuntimeError("Camera __init__ sequence did not")
    )
    camera = PiCamera(CameraSettings.from_config(config))
    with pytest.raises(CameraError) as info:
        camera.start()
    assert isinstance(info.value.__cause__, RuntimeError)
    assert not camera.is_started


def test_stop_and_close(fake_picamera2, config):
    camera, picam = started_camera(config)
    camera.stop()
    assert not picam.started and not camera.is_started
    camera.start()  # the same camera object, configured again
    assert FakePicamera2.instances == [picam] and picam.started
    camera.close()
    assert picam.closed and not camera.is_started


def test_new_settings_are_used_from_the_next_start(fake_picamera2, config):
    camera = PiCamera(CameraSettings.from_config(config))
    half = CameraSettings.from_config(
        config.with_values(capture__main_width=1152, capture__main_height=648)
    )
    camera.reconfigure(half)
    assert not camera.is_started and camera.settings == half  # a stopped camera stays stopped
    camera.start()
    picam = FakePicamera2.instances[-1]
    assert picam.camera_config["main"]["size"] == (1152, 648)
    frame = camera.capture_frame(ir_on=False)
    assert Image.open(io.BytesIO(frame.image_jpeg)).size == (1152, 648)


def test_a_started_camera_restarts_with_new_settings(fake_picamera2, config):
    camera, picam = started_camera(config)
    assert picam.camera_config["main"]["size"] == (2304, 1296)
    restarts: list[tuple[int, int]] = []
    real_start = picam.start
    picam.start = lambda: (restarts.append(picam.camera_config["main"]["size"]), real_start())
    camera.reconfigure(CameraSettings.from_config(config.with_values(capture__main_width=1152)))
    assert camera.is_started and picam.started
    assert restarts == [(1152, 1296)]  # stopped, configured at the new size, started again
    camera.reconfigure(camera.settings)  # the same settings: no restart
    assert restarts == [(1152, 1296)]
    assert Image.open(io.BytesIO(camera.capture_frame(False).image_jpeg)).size == (1152, 1296)


def test_no_picamera2_is_a_backend_error_naming_it(mocker, config):
    mocker.patch.dict(sys.modules, {"picamera2": None})
    with pytest.raises(BackendError, match="picamera2") as info:
        PiCamera(CameraSettings.from_config(config))
    assert "apt install python3-picamera2" in str(info.value)
    assert "--system-site-packages" in str(info.value)


# -- card ----------------------------------------------------------------------------------------


def fake_sys_for(path: Path, sys_root: Path, disk: str, files: dict[str, str]) -> None:
    """A /sys where `path`'s device is partition 1 of `disk`, the card holding `files`."""
    st = os.stat(path)
    card_dir = sys_root / "devices/platform/emmc2bus/mmc_host/mmc0/mmc0:aaaa"
    disk_dir = card_dir / "block" / disk
    part_dir = disk_dir / f"{disk}p1"
    part_dir.mkdir(parents=True)
    (part_dir / "partition").write_text("1\n")
    (disk_dir / "device").symlink_to(card_dir)
    for name, text in files.items():
        (card_dir / name).write_text(text)
    (sys_root / "dev/block").mkdir(parents=True)
    (sys_root / "dev/block" / f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}").symlink_to(part_dir)
    (sys_root / "block").mkdir()
    (sys_root / "block" / disk).symlink_to(disk_dir)


def test_card_identity_is_the_sd_cid(tmp_path):
    mount, sys_root = tmp_path / "card", tmp_path / "sys"
    mount.mkdir()
    cid = "035344534331323880a1b2c3d4013b00"
    fake_sys_for(mount, sys_root, "mmcblk0", {"cid": cid + "\n", "serial": "0xa1b2c3d4\n"})
    assert SdCard(mount, sys_root=sys_root).identity() == f"cid:{cid}"


def test_card_identity_falls_back_to_the_sd_serial(tmp_path):
    mount, sys_root = tmp_path / "card", tmp_path / "sys"
    mount.mkdir()
    fake_sys_for(mount, sys_root, "mmcblk0", {"serial": "0xA1B2C3D4\n"})
    assert SdCard(mount, sys_root=sys_root).identity() == "serial:a1b2c3d4"


def test_card_not_on_mmc_is_identified_by_filesystem_id(tmp_path, mocker):
    mount, sys_root = tmp_path / "card", tmp_path / "sys"
    mount.mkdir()
    fake_sys_for(mount, sys_root, "sda", {"serial": "usb-reader\n"})  # a USB reader: not an SD id
    card = SdCard(mount, sys_root=sys_root)
    mocker.patch("os.statvfs", return_value=types.SimpleNamespace(f_fsid=0xBEEF))
    assert card.identity() == "fsid:beef"


def test_card_without_fsid_is_identified_by_its_device_number(tmp_path, mocker):
    mocker.patch("os.statvfs", return_value=types.SimpleNamespace(f_fsid=0))
    st = os.stat(tmp_path)
    card = SdCard(tmp_path, sys_root=tmp_path / "no-sys")
    assert card.identity() == f"dev:{os.major(st.st_dev)}:{os.minor(st.st_dev)}"


def test_card_space_comes_from_statvfs(tmp_path, mocker):
    card = SdCard(tmp_path, sys_root=tmp_path / "no-sys")
    assert 0 < card.free_bytes() <= card.capacity_bytes()  # the real filesystem
    mocker.patch(
        "os.statvfs",
        return_value=types.SimpleNamespace(f_frsize=4096, f_bavail=1000, f_blocks=7_800_000),
    )
    assert card.free_bytes() == 4_096_000
    assert card.capacity_bytes() == 31_948_800_000
    assert card.mount_path == tmp_path


def test_vanished_card_is_a_card_error(tmp_path):
    card = SdCard(tmp_path / "not-mounted")
    with pytest.raises(CardError, match="not-mounted") as info:
        card.free_bytes()
    assert info.value.errno == 2 and isinstance(info.value, OSError)
    with pytest.raises(CardError):
        card.identity()


# -- power and link ------------------------------------------------------------------------------


def test_power_temperature_from_the_thermal_zone(tmp_path):
    zone = tmp_path / "class/thermal/thermal_zone0"
    zone.mkdir(parents=True)
    (zone / "temp").write_text("-12345\n")
    reading = PiPowerMonitor(sys_root=tmp_path).read()
    assert reading.temperature_c == pytest.approx(-12.345)
    assert reading.pack_v is None and reading.pack_current_ma is None


def test_power_without_a_thermal_zone_reads_none(tmp_path):
    assert PiPowerMonitor(sys_root=tmp_path).read().temperature_c is None
    zone = tmp_path / "class/thermal/thermal_zone0"
    zone.mkdir(parents=True)
    (zone / "temp").write_text("garbage")
    assert PiPowerMonitor(sys_root=tmp_path).read().temperature_c is None


def test_no_supervisor_link():
    link = NoSupervisor()
    assert link.connected is False
    assert link.wake_reason() == "boot"
    link.kick_watchdog()
    with pytest.raises(HardwareError, match="no supervisor"):
        link.request_shutdown(datetime(2026, 1, 2, tzinfo=UTC), "night")


# -- open_hardware -------------------------------------------------------------------------------


def test_open_hardware_builds_the_pi_backend(fake_picamera2, factory, config):
    hw = open_hardware(config, FrozenClock(), pin_factory=factory)
    assert hw.backend == "pi"
    assert isinstance(hw.motion, MotionSensor)
    assert isinstance(hw.camera, Camera)
    assert isinstance(hw.illuminator, Illuminator)
    assert isinstance(hw.card, Card)
    assert isinstance(hw.power, PowerMonitor)
    assert isinstance(hw.link, SupervisorLink)
    assert hw.card.mount_path == Path(config["storage.card_path"])
    assert hw.extras["pin_factory"] is factory

    hw.illuminator.on()
    assert factory.pin(config["pins.ir"]).state == 1.0
    events: list[str] = []
    hw.motion.set_callbacks(lambda: events.append("motion"), lambda: None)
    factory.pin(config["pins.pir"]).drive_high()
    assert events == ["motion"]

    hw.close()
    assert factory.pin(config["pins.ir"]).state == 0
    assert factory.pin(config["pins.pir"]).function == "input"


class SupervisorOnAPty:
    """The real supervisor logic at the far end of a pseudo-terminal, on a thread: what the Pi's
    UART talks to in gated mode."""

    def __init__(self, answer: bool = True) -> None:
        self.master, slave = os.openpty()
        self.path = os.ttyname(slave)
        self._slave = slave
        self.sup = Supervisor()
        self.now_ms = 1_790_000_000_000
        self.sup.sample(8_900, -12.0, self.now_ms)
        self.sup.power_up(self.now_ms)
        self.sup.take_actions()
        self.answer = answer
        self.received: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        decoder = link.Decoder()
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            data = os.read(self.master, 1024)
            self.received += [t for t, _ in decoder.feed(data)]
            if not self.answer:
                continue
            self.sup.rx(data, self.now_ms)
            for action in self.sup.take_actions():
                if action[0] == "tx":
                    os.write(self.master, action[1])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        os.close(self.master)
        os.close(self._slave)


def test_gated_mode_says_hello_over_the_uart_and_reads_the_pack(fake_picamera2, factory, config):
    board = SupervisorOnAPty()
    cfg = config.with_values(mode="gated", gated__uart=board.path, gated__hello_timeout_s=5.0)
    hw = open_hardware(cfg, RealClock(), pin_factory=factory)
    try:
        assert hw.link.connected and hw.link.wake_reason() == "boot"
        status = hw.link.refresh_status(timeout_s=5.0)
        assert status is not None and status["pack_mv"] == 8_900
        assert hw.power.read().pack_v == pytest.approx(8.9)
        assert board.sup.cfg["floor_mv"] == round(cfg["power.floor_v"] * 1000)  # from the hello
        hw.link.kick_watchdog()
        hw.link.request_shutdown(None, "test", hold_off_s=10.0)
        deadline = time.monotonic() + 5
        while link.SLEEP not in board.received and time.monotonic() < deadline:
            time.sleep(0.01)
        # the supervisor's clock was never set: the Pi sets it right after the hello
        assert board.received[:3] == [link.HELLO, link.TIME_SYNC, link.STATUS_REQUEST]
        assert board.sup.rtc_set
        assert link.KICK in board.received and link.SLEEP in board.received
        assert board.sup.hold_off_until_ms == board.now_ms + 10_000
    finally:
        hw.link.close()
        hw.close()
        board.close()


def test_a_supervisor_that_never_answers_leaves_the_link_disconnected(
    fake_picamera2, factory, config
):
    board = SupervisorOnAPty(answer=False)
    cfg = config.with_values(mode="gated", gated__uart=board.path, gated__hello_timeout_s=0.5)
    hw = open_hardware(cfg, RealClock(), pin_factory=factory)
    try:
        assert hw.link.connected is False and hw.link.wake_reason() == "boot"
        assert hw.link.counts["hello_timeouts"] == 1
        assert board.received == [link.HELLO]
    finally:
        hw.link.close()
        hw.close()
        board.close()


def test_the_pi_takes_its_time_from_the_supervisors_rtc_when_it_was_set(mocker):
    from device.hal.pi import adopt_supervisor_time

    settime = mocker.patch("device.hal.pi.time.clock_settime")
    client = mocker.Mock()
    client.hello_at_utc = datetime(2026, 12, 1, tzinfo=UTC)
    client.hello = {"rtc_set": True, "rtc_s": int(client.hello_at_utc.timestamp()) + 3600}
    assert adopt_supervisor_time(client) == pytest.approx(3600)
    assert settime.call_count == 1
    client.hello["rtc_s"] -= 3599  # within the tolerance: left alone
    assert adopt_supervisor_time(client) == 0.0
    client.hello = {"rtc_set": False, "rtc_s": 0}  # never set: the Pi sets it, not the reverse
    assert adopt_supervisor_time(client) == 0.0
    settime.side_effect = PermissionError("no CAP_SYS_TIME")
    client.hello = {"rtc_set": True, "rtc_s": 1}
    assert adopt_supervisor_time(client) == 0.0  # logged, not raised
    assert settime.call_count == 2


def test_a_missing_uart_is_a_backend_error_naming_it(fake_picamera2, factory, config, tmp_path):
    cfg = config.with_values(mode="gated", gated__uart=str(tmp_path / "ttyNOPE"))
    with pytest.raises(BackendError, match="ttyNOPE") as info:
        open_hardware(cfg, RealClock(), pin_factory=factory)
    assert "enable_uart" in str(info.value)


def test_no_picamera2_fails_before_any_pin_is_claimed(mocker, factory, config):
    mocker.patch.dict(sys.modules, {"picamera2": None})
    with pytest.raises(BackendError, match="picamera2"):
        open_hardware(config, FrozenClock(), pin_factory=factory)
    assert factory.pins == {}


def test_no_lgpio_is_a_backend_error_naming_it(fake_picamera2, mocker, config):
    mocker.patch.dict(sys.modules, {"lgpio": None, "gpiozero.pins.lgpio": None})
    with pytest.raises(BackendError, match="lgpio") as info:
        open_hardware(config, FrozenClock())
    assert "irbis[pi]" in str(info.value) and "python3-lgpio" in str(info.value)


def test_declared_entry_point_opens_pi_and_reports_missing_lgpio(fake_picamera2, mocker, config):
    """The registry calls `factory(config, clock)` on the `irbis.backends` entry point named pi.

    Read from pyproject.toml rather than the installed metadata, which can be stale in a venv.
    """
    import tomllib
    from importlib.metadata import EntryPoint

    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    target = pyproject["project"]["entry-points"]["irbis.backends"]["pi"]
    factory = EntryPoint(name="pi", value=target, group="irbis.backends").load()
    assert factory is open_hardware

    mocker.patch.dict(sys.modules, {"lgpio": None, "gpiozero.pins.lgpio": None})
    with pytest.raises(BackendError, match="lgpio"):
        factory(config, FrozenClock())


def test_ir_pin_in_use_releases_the_pir(fake_picamera2, factory, config):
    holder = DigitalInputDevice(config["pins.ir"], pin_factory=factory)
    with pytest.raises(HardwareError, match=r"pins\.ir"):
        open_hardware(config, FrozenClock(), pin_factory=factory)
    DigitalInputDevice(config["pins.pir"], pin_factory=factory).close()  # PIR pin was released
    holder.close()


# -- the one start path on the Pi backend ----------------------------------------------------


def at_the_last_budget_level(config, tmp_path: Path):
    """A config whose budget cannot last to its target end on half the reference pack, so the
    controller takes every rung: 1 frame, half the resolution, half the IR power, ... (the
    reduced active hours are the whole day: the test must not depend on the hour it runs)."""
    card, data = tmp_path / "card", tmp_path / "data"
    card.mkdir(parents=True)
    data.mkdir(parents=True)
    return config.with_values(
        power__budget=True,
        power__target_end="2099-12-31",
        power__cells_parallel=1,
        power__reduced_active_hours=["00:00-24:00"],
        triage__enabled=False,  # keep the one frame whatever it shows
        storage__card_path=str(card),
        storage__data_path=str(data),
    )


def test_the_budget_level_reaches_the_pi_camera_and_ir_leds(
    fake_picamera2, factory, config, tmp_path, monkeypatch
):
    from device.boot import boot_trap
    from device.power.energy_model import Timings
    from tests.fakes import FakeCard

    cfg = at_the_last_budget_level(config, tmp_path)
    hw = open_hardware(cfg, FrozenClock(), pin_factory=factory)
    hw.card = FakeCard(tmp_path / "card")  # a tmp folder is no mount point
    ir_pin, pir_pin = factory.pin(cfg["pins.ir"]), factory.pin(cfg["pins.pir"])
    duties: list[float] = []
    monkeypatch.setattr(FakePicamera2, "on_capture_request", lambda: duties.append(ir_pin.state))

    booted = boot_trap(cfg, FrozenClock(), hw)
    run = booted.run_config
    decision = booted.power.decision
    assert decision is not None and {"resolution:1152x648", "ir:0.5"} <= set(decision.steps)
    assert (run["capture.main_width"], run["capture.ir_power"]) == (1152, 0.5)
    booked: list[float] = []
    monkeypatch.setattr(booted.power.gauge, "book", booked.append)
    booted.trap.start()
    pir_pin.drive_high()  # a night-time animal (the fake camera meters 3.5 lux: IR)
    booted.trap.run()
    assert ir_pin.frequency == IR_PWM_FREQUENCY_HZ
    hw.close()

    [jpeg] = sorted((tmp_path / "card").rglob("*.jpg"))
    assert Image.open(jpeg).size == (1152, 648)  # the file, not the config
    assert FakePicamera2.instances[-1].camera_config["main"]["size"] == (1152, 648)
    assert duties == [0, 0.5]  # metering in the dark, then the frame's exposure at half duty
    # the gauge books the IR the LEDs drew: the frame's time at half the full current
    ir_mas = Timings().frame_s * booted.power.currents.ir_ma * 0.5
    assert booked[-1] == pytest.approx(ir_mas)


def test_python_m_device_and_the_simulator_boot_through_the_one_start_path(
    fake_picamera2, factory, config, tmp_path, monkeypatch
):
    """`python -m device` on the Pi backend (its picamera2 and pins faked) and a simulated
    deployment both build their trap with device.boot.boot_trap, and both run the budget's level
    on their hardware."""
    import logging
    import signal

    import device.boot
    import sim.runner
    from device.hal.registry import register_backend
    from device.main import run as device_main
    from sim import scenario as scenario_mod
    from tests.fakes import FakeCard

    cfg = at_the_last_budget_level(config, tmp_path / "pi")
    booted_on: list[tuple[str, tuple[int, int], float]] = []
    real_boot_trap = device.boot.boot_trap

    def spy(config, clock, hardware, observe_burst=None):
        booted = real_boot_trap(config, clock, hardware, observe_burst)
        booted_on.append(
            (hardware.backend, hardware.camera.settings.main_size, hardware.illuminator.power_share)
        )
        return booted

    monkeypatch.setattr(device.boot, "boot_trap", spy)
    monkeypatch.setattr(sim.runner, "boot_trap", spy)

    def pi_with_fakes(config, clock):
        hw = open_hardware(config, clock, pin_factory=factory)
        hw.card = FakeCard(Path(config["storage.card_path"]))
        factory.pin(config["pins.pir"]).drive_high()  # the trap wakes to an animal in front
        return hw

    register_backend("pi-with-fakes", pi_with_fakes)
    toml = tmp_path / "trap.toml"
    toml.write_text(
        'backend = "pi-with-fakes"\nmode = "always-on"\n[triage]\nenabled = false\n'
        '[power]\nbudget = true\ntarget_end = "2099-12-31"\ncells_parallel = 1\n'
        'reduced_active_hours = ["00:00-24:00"]\n'
        f'[storage]\ncard_path = "{cfg["storage.card_path"]}"\n'
        f'data_path = "{cfg["storage.data_path"]}"\n'
    )
    frames = iter(range(100))

    def stop_after_the_first_frame() -> None:
        if next(frames) == 1:  # request 0 meters, 1 is the frame: then a SIGTERM, as systemd
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(FakePicamera2, "on_capture_request", stop_after_the_first_frame)
    irbis_log = logging.getLogger("irbis")
    log_state = (list(irbis_log.handlers), irbis_log.level, irbis_log.propagate)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        assert device_main(["--config", str(toml)]) == 0
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        irbis_log.handlers[:] = log_state[0]
        irbis_log.setLevel(log_state[1])
        irbis_log.propagate = log_state[2]
    [jpeg] = sorted(Path(cfg["storage.card_path"]).rglob("*.jpg"))
    assert Image.open(jpeg).size == (1152, 648)

    scenario = scenario_mod.load("altai-winter-90d")
    sim_trap = scenario.trap.with_values(
        power__budget=True, power__target_end="2099-12-31", power__cells_parallel=1
    )
    from dataclasses import replace

    sim.runner.simulate(replace(scenario, trap=sim_trap), seed=1, out=tmp_path / "sim", days=0.05)
    assert booted_on[0] == ("pi", (1152, 648), 0.5)
    assert len(booted_on) >= 2 and {b[0] for b in booted_on[1:]} == {"sim"}
    assert all(b[1:] == ((1152, 648), 0.5) for b in booted_on[1:])
