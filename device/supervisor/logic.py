"""The supervisor's state machine: when to power the Pi, when to cut it, and why.

    asleep -> powering (rail on, wait for the Pi's hello; timeout: power-cycle, bounded retries)
           -> on (watchdog kicks, longest-awake limit, brown-out watch)
           -> stopping (the Pi said it is halting: wait for its halt line, or a timeout)
           -> settling (rail off, let the rail drain) -> asleep

MicroPython-compatible subset: no dataclasses, no typing, no threads. Every decision is a pure
function of the events fed in (PIR edge, halt line, UART bytes, ADC readings) and the clock value
passed with them (`now_ms`, epoch milliseconds from the board's RTC). What the board must do comes
out of `take_actions()` as tuples: ("rail", on), ("tx", frame), ("led", blinks), ("set_rtc", utc_s).
The same class runs on the board (board.py), under CPython in tests, and in the simulator.
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):
        return __x


from . import link

FIRMWARE_VERSION = "0.1.0"

ASLEEP = const(0)
POWERING = const(1)
ON = const(2)
STOPPING = const(3)
SETTLING = const(4)
STATE_NAMES = ("asleep", "powering", "on", "stopping", "settling")

# LED blink codes (a ranger reads them at the box)
LED_PIR = const(1)  # walk-test mode: the PIR saw something
LED_WAKE = const(2)  # waking the Pi
LED_LOW_PACK = const(3)  # boot refused: the pack is under the floor
LED_NO_HELLO = const(4)  # the Pi never said hello, gave up for this wake
LED_WATCHDOG = const(5)  # the Pi stopped kicking: power-cycled

DAY_MS = const(86_400_000)

# kept across the Pi's power cycles, sent in every hello and status
COUNTER_NAMES = (  # noqa: SIM905 - one string in flash, not 20 literals
    "wakes_boot wakes_pir wakes_rtc wakes_forced wakes_watchdog pir_edges pir_while_booting "
    "pir_while_halting pir_in_hold_off boots_refused_low hello_timeouts boot_failures "
    "watchdog_resets halt_timeouts urgent_timeouts brownouts longest_awake bad_readings "
    "frames_in frames_bad "
).split()

# every attribute that holds an instant on the board's clock (moved when the clock is set)
INSTANTS_MS = (
    "deadline_ms", "on_ms", "last_kick_ms", "next_sample_ms", "last_wake_ms", "wake_ms",
    "wake_ms_pending", "pir_ms", "hold_off_until_ms", "walk_test_until_ms",
)  # fmt: skip

# Defaults; the Pi's hello may change the ones in PI_SETTABLE (within the bounds).
DEFAULTS = {
    "hello_timeout_ms": 30_000,  # stock boot takes 12 s; optimised 3.5 s
    "hello_retries": 2,  # power-cycles after a missing hello, before giving up this wake
    "settle_ms": 2_000,  # rail off before it may go on again
    "watchdog_ms": 120_000,
    "max_awake_ms": 3_600_000,
    "halt_timeout_ms": 30_000,  # after the Pi's sleep request, the longest wait for its halt line
    "urgent_timeout_ms": 20_000,  # after a shutdown request, the longest wait for the Pi's sleep
    "floor_mv": 6_600,  # 1.1 V a cell for 6 in series; the Pi's hello may change it
    "hysteresis_mv": 400,
    "low_samples": 3,  # consecutive readings under the floor before a brown-out shutdown
    "forced_wake_ms": DAY_MS,
    "walk_test_ms": 600_000,  # after the batteries go in
    "sample_ms": 1_000,  # ADC readings while the Pi is on
    "plausible_mv": (1_000, 14_000),  # outside: a broken divider or ADC, not a pack
    "plausible_c": (-60.0, 90.0),
}
PI_SETTABLE = {
    "watchdog_ms": (30_000, 3_600_000),
    "max_awake_ms": (300_000, 86_400_000),
    "floor_mv": (3_000, 20_000),
    "hysteresis_mv": (0, 3_000),
}


class Supervisor:
    def __init__(self, settings=None):
        self.cfg = dict(DEFAULTS)
        if settings:
            for key in settings:
                if key not in DEFAULTS:
                    raise ValueError("unknown supervisor setting " + repr(key))
                self.cfg[key] = settings[key]
        self.state = ASLEEP
        self.counters = {name: 0 for name in COUNTER_NAMES}
        self.decoder = link.Decoder()
        self.out = []
        self.pack_mv = None  # last plausible reading
        self.temp_c = None
        self.rest_mv = None  # the reading taken before the rail went on (no load)
        self.low_count = 0
        self.brownout = False  # latched under the floor; cleared above floor + hysteresis
        self.wake_pending = None  # reason of a wake waiting for the rail
        self.wake_ms_pending = None  # when its source fired
        self.wake_ms = None  # when the source of the Pi's present (or last) wake fired
        self.wake_reason = None  # of the Pi now up (or last up)
        self.pir_ms = None  # the last PIR edge
        self.last_wake_ms = None
        self.alarm_s = None  # RTC alarm, UTC seconds
        self.hold_off_until_ms = None  # PIR edges until then are latched, not woken on
        self.rtc_set = False
        self.walk_test_until_ms = None
        self.retries = 0
        self.deadline_ms = None  # the current state's timeout
        self.on_ms = None
        self.last_kick_ms = None
        self.next_sample_ms = None
        self.shutdown_sent = None  # reason of a shutdown request sent to the Pi
        self.pir_during_boot = 0

    # -- events --------------------------------------------------------------------------------
    def power_up(self, now_ms):
        """The batteries went in: walk-test mode, and boot the Pi once to set up."""
        self.walk_test_until_ms = now_ms + self.cfg["walk_test_ms"]
        self.last_wake_ms = now_ms
        self._request_wake("boot", now_ms)
        self._service(now_ms)

    def walk_test(self, now_ms):
        """The board's button: blink on every PIR edge for the next walk_test_ms."""
        self.walk_test_until_ms = now_ms + self.cfg["walk_test_ms"]

    def pir(self, now_ms):
        self.counters["pir_edges"] += 1
        self.pir_ms = now_ms
        if self.walk_test_until_ms is not None and now_ms < self.walk_test_until_ms:
            self.out.append(("led", LED_PIR))
        state = self.state
        if state == POWERING:
            self.counters["pir_while_booting"] += 1
            self.pir_during_boot += 1
        elif state in (STOPPING, SETTLING):
            self.counters["pir_while_halting"] += 1
            self._request_wake("pir", now_ms)  # wakes the Pi again once the rail has settled
        elif state == ASLEEP:
            if self.hold_off_until_ms is not None and now_ms < self.hold_off_until_ms:
                self.counters["pir_in_hold_off"] += 1  # latched: taken when the hold-off ends
            self._request_wake("pir", now_ms)
        self._service(now_ms)

    def halted(self, now_ms):
        """The Pi's halt line (gpio-poweroff): the kernel has stopped; the rail may go."""
        if self.state == STOPPING or self.state == ON:
            self._cut(now_ms)
        self._service(now_ms)

    def sample(self, pack_mv, temp_c, now_ms):
        """An ADC reading. Impossible values are counted and ignored."""
        lo, hi = self.cfg["plausible_mv"]
        if pack_mv is None or not lo <= pack_mv <= hi:
            self.counters["bad_readings"] += 1
        else:
            self.pack_mv = pack_mv
            if self.state == ASLEEP:
                self.rest_mv = pack_mv
            if pack_mv < self.cfg["floor_mv"]:
                self.low_count += 1
            else:
                self.low_count = 0
            if self.brownout and pack_mv >= self.cfg["floor_mv"] + self.cfg["hysteresis_mv"]:
                self.brownout = False
        tlo, thi = self.cfg["plausible_c"]
        if temp_c is not None and tlo <= temp_c <= thi:
            self.temp_c = temp_c
        elif temp_c is not None:
            self.counters["bad_readings"] += 1
        self._service(now_ms)

    def rx(self, data, now_ms):
        """Bytes from the Pi's UART."""
        before = self._bad_frames()
        for msg_type, payload in self.decoder.feed(data):
            self.counters["frames_in"] += 1
            self._message(msg_type, payload, now_ms)
        self.counters["frames_bad"] += self._bad_frames() - before
        self._service(now_ms)

    def rx_idle(self, now_ms):
        """The line went quiet: a partial frame will never complete (frames held behind it
        are still taken)."""
        before = self._bad_frames()
        for msg_type, payload in self.decoder.flush():
            self.counters["frames_in"] += 1
            self._message(msg_type, payload, now_ms)
        self.counters["frames_bad"] += self._bad_frames() - before
        self._service(now_ms)

    def tick(self, now_ms):
        """Called at `next_deadline_ms()` (or any time): timeouts and timed wakes."""
        self._service(now_ms)

    def wants_sample(self, now_ms):
        """Is an ADC reading due? At every wake while the rail is off; every sample_ms when on."""
        if self.state == ASLEEP or self.state == SETTLING:
            return True
        return self.next_sample_ms is not None and now_ms >= self.next_sample_ms

    def take_actions(self):
        out, self.out = self.out, []
        return out

    def next_deadline_ms(self):
        """When `tick` must be called next (None: nothing timed; sleep until a pin wakes us)."""
        times = [self.deadline_ms, self.next_sample_ms]
        if self.state == ASLEEP:
            if self.last_wake_ms is not None:
                times.append(self.last_wake_ms + self.cfg["forced_wake_ms"])
            if self.alarm_s is not None:
                times.append(self.alarm_s * 1000)
            if self.hold_off_until_ms is not None:
                times.append(self.hold_off_until_ms)
        due = None
        for t in times:
            if t is not None and (due is None or t < due):
                due = t
        return due

    @property
    def rail_on(self):
        return self.state in (POWERING, ON, STOPPING)

    # -- messages from the Pi --------------------------------------------------------------------
    def _message(self, msg_type, payload, now_ms):
        if msg_type == link.HELLO:
            self._hello(payload, now_ms)
        elif self.state != ON and self.state != STOPPING:
            return  # nothing but a hello counts before the Pi has said it
        elif msg_type == link.KICK:
            self.last_kick_ms = now_ms
        elif msg_type == link.STATUS_REQUEST:
            self._send(link.STATUS, self._status(now_ms))
        elif msg_type == link.TIME_SYNC:
            self._time_sync(payload, now_ms)
        elif msg_type == link.SET_ALARM:
            self.alarm_s = _int_or_none(payload.get("at_s"))
        elif msg_type == link.SLEEP:
            self._sleep_request(payload, now_ms)

    def _hello(self, payload, now_ms):
        if self.state != POWERING and self.state != ON:
            return
        for key in PI_SETTABLE:
            value = _int_or_none(payload.get(key))
            lo, hi = PI_SETTABLE[key]
            if value is not None and lo <= value <= hi:
                self.cfg[key] = value
        reply = self._status(now_ms)
        reply["fw"] = FIRMWARE_VERSION
        reply["link"] = link.LINK_VERSION
        self._send(link.HELLO, reply)
        if self.state == POWERING:
            self.state = ON
            self.on_ms = now_ms
            self.retries = 0
            self.deadline_ms = None
            self.next_sample_ms = now_ms + self.cfg["sample_ms"]
        self.last_kick_ms = now_ms

    def _status(self, now_ms):
        wake_age_ms = None if self.wake_ms is None else now_ms - self.wake_ms
        return {
            "wake": self.wake_reason,
            "wake_age_ms": wake_age_ms,
            "pir_during_boot": self.pir_during_boot,
            "pir_age_ms": None if self.pir_ms is None else now_ms - self.pir_ms,
            "rtc_s": now_ms // 1000,
            "rtc_set": self.rtc_set,
            "pack_mv": self.pack_mv,
            "rest_mv": self.rest_mv,
            "temp_c": self.temp_c,
            "brownout": self.brownout,
            "state": STATE_NAMES[self.state],
            "counters": self.counters,
        }

    def _time_sync(self, payload, now_ms):
        utc_s = _int_or_none(payload.get("utc_s"))
        if utc_s is None or utc_s < 1_600_000_000:
            self.counters["frames_bad"] += 1
            return
        delta_ms = utc_s * 1000 - now_ms
        self.out.append(("set_rtc", utc_s))
        self.rtc_set = True
        # Intervals survive the jump: every stored instant moves with the clock.
        for name in INSTANTS_MS:
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, value + delta_ms)

    def _sleep_request(self, payload, now_ms):
        self.alarm_s = _int_or_none(payload.get("wake_at_s"))
        hold_off_ms = _int_or_none(payload.get("hold_off_ms"))
        self.hold_off_until_ms = None if not hold_off_ms else now_ms + hold_off_ms
        self.state = STOPPING
        self.deadline_ms = now_ms + self.cfg["halt_timeout_ms"]
        self.next_sample_ms = None

    # -- the machine ----------------------------------------------------------------------------
    def _service(self, now_ms):
        state = self.state
        if state == ASLEEP:
            self._asleep(now_ms)
        elif state == POWERING:
            if now_ms >= self.deadline_ms:
                self.counters["hello_timeouts"] += 1
                self._cut(now_ms)
                if self.retries < self.cfg["hello_retries"]:
                    self.retries += 1
                    self._request_wake(self.wake_reason, self.wake_ms)
                else:
                    self.retries = 0
                    self.counters["boot_failures"] += 1
                    self.out.append(("led", LED_NO_HELLO))
        elif state == ON:
            self._on(now_ms)
        elif state == STOPPING:
            if now_ms >= self.deadline_ms:
                self.counters["halt_timeouts"] += 1
                self._cut(now_ms)
        elif state == SETTLING and now_ms >= self.deadline_ms:
            self.state = ASLEEP
            self.deadline_ms = None
            self._asleep(now_ms)

    def _asleep(self, now_ms):
        if self.hold_off_until_ms is not None and now_ms >= self.hold_off_until_ms:
            if self.wake_pending == "pir":
                # the event a hold-off held back starts when the hold-off ends, as on a Pi
                # that stayed up: its latency counts from then
                self.wake_ms_pending = self.hold_off_until_ms
            self.hold_off_until_ms = None
        if self.alarm_s is not None and now_ms >= self.alarm_s * 1000:
            self.alarm_s = None
            self._request_wake("rtc", now_ms)
        if self.last_wake_ms is not None and now_ms >= (
            self.last_wake_ms + self.cfg["forced_wake_ms"]
        ):
            self._request_wake("forced", now_ms)
        if self.wake_pending is None:
            return
        if self.hold_off_until_ms is not None and self.wake_pending == "pir":
            return  # latched; taken when the hold-off ends
        reason = self.wake_pending
        self.last_wake_ms = now_ms
        if self._pack_too_low():
            self.counters["boots_refused_low"] += 1
            self.out.append(("led", LED_LOW_PACK))
            self.wake_pending = None
            return
        if not self.retries:  # a retry after a missing hello is the same wake
            self.counters["wakes_" + reason] += 1
        self.wake_reason = reason
        self.wake_ms = self.wake_ms_pending
        self.wake_pending = None
        self.pir_during_boot = 0
        self.state = POWERING
        self.deadline_ms = now_ms + self.cfg["hello_timeout_ms"]
        self.out.append(("led", LED_WAKE))
        self.out.append(("rail", True))

    def _on(self, now_ms):
        cfg = self.cfg
        if self.next_sample_ms is not None and now_ms >= self.next_sample_ms:
            self.next_sample_ms = now_ms + cfg["sample_ms"]
        if now_ms - self.last_kick_ms > cfg["watchdog_ms"]:
            self.counters["watchdog_resets"] += 1
            self.out.append(("led", LED_WATCHDOG))
            self._cut(now_ms)
            self._request_wake("watchdog", now_ms)
            return
        if self.shutdown_sent is not None:
            if now_ms >= self.deadline_ms:
                self.counters["urgent_timeouts"] += 1
                self._cut(now_ms)
            return
        if self.low_count >= cfg["low_samples"]:
            self.counters["brownouts"] += 1
            self.brownout = True
            self._ask_shutdown("brownout", now_ms)
        elif now_ms - self.on_ms > cfg["max_awake_ms"]:
            self.counters["longest_awake"] += 1
            self._ask_shutdown("longest_awake", now_ms)

    def _ask_shutdown(self, reason, now_ms):
        self.shutdown_sent = reason
        self.deadline_ms = now_ms + self.cfg["urgent_timeout_ms"]
        self._send(link.SHUTDOWN, {"reason": reason, "pack_mv": self.pack_mv})

    def _pack_too_low(self):
        if self.pack_mv is None:
            return False  # never measured (a broken divider): the Pi's own guard is the last line
        floor = self.cfg["floor_mv"]
        if self.brownout:
            floor += self.cfg["hysteresis_mv"]
        if self.pack_mv < floor:
            self.brownout = True
            return True
        return False

    def _request_wake(self, reason, at_ms):
        pending = self.wake_pending
        # a PIR wake outranks a timed one: its event has a trigger time that matters
        if pending is None or (reason == "pir" and pending in ("rtc", "forced")):
            self.wake_pending = reason
            self.wake_ms_pending = at_ms

    def _cut(self, now_ms):
        if self.rail_on:
            self.out.append(("rail", False))
        self.state = SETTLING
        self.deadline_ms = now_ms + self.cfg["settle_ms"]
        self.next_sample_ms = None
        self.shutdown_sent = None
        self.low_count = 0
        self.decoder.flush()

    def _send(self, msg_type, payload):
        self.out.append(("tx", link.encode(msg_type, payload)))

    def _bad_frames(self):
        c = self.decoder.counters
        total = 0
        for key in c:
            if key != "frames_ok" and key != "skipped_bytes":
                total += c[key]
        return total


def _int_or_none(value):
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    return None
