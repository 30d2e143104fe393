"""The reference board (a Raspberry Pi Pico class rp2 board): pins, ADC, UART, RTC and sleep.

Everything that touches hardware is here; the decisions are in logic.py. Interrupt handlers only
set flags; `service()` reads them, takes a reading, feeds the logic and carries out what it
says. On the board `main.py` calls `run()`; the simulator builds a `Board` on a fake `machine`
and calls `service()` on virtual time.

Wiring (BCM numbers on the Pi side):
    GP0/GP1  UART0 TX/RX  <-> the Pi's RXD/TXD (GPIO15/14), 115200 8N1
    GP2      PIR output (also wired to the Pi's PIR pin), rising edge = motion
    GP3      the Pi's halt line (dtoverlay=gpio-poweroff: high once the kernel has halted)
    GP4      the Pi's power rail (load-switch enable), high = on
    GP5      walk-test button to ground (pull-up)
    GP6      enables the pack divider (470k/100k) only while sampling, to save its 16 uA
    GP26     ADC0: the pack through the divider
    GP25     the LED
"""

import time

import machine

from . import logic

UART_BAUD = 115_200
PIN_TX, PIN_RX, PIN_PIR, PIN_HALT, PIN_RAIL, PIN_BUTTON, PIN_DIVIDER, PIN_ADC, PIN_LED = (
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    26,
    25,
)
DIVIDER_RATIO = 5.7  # (470k + 100k) / 100k
ADC_FULL_SCALE_MV = 3300
TEMP_ADC = 4  # the RP2040's own sensor
RX_IDLE_MS = 100  # a partial frame this old will never complete
POLL_MS = 20  # while the Pi is up the UART is polled (the Pi draws 50+ mA then anyway)
LONGEST_SLEEP_MS = 3_600_000
BLINK_ON_MS, BLINK_OFF_MS = 40, 160


class Board:
    def __init__(self, settings=None):
        pin = machine.Pin
        self.logic = logic.Supervisor(settings)
        self.uart = machine.UART(0, baudrate=UART_BAUD, tx=pin(PIN_TX), rx=pin(PIN_RX))
        self.rail = pin(PIN_RAIL, pin.OUT, value=0)
        self.led = pin(PIN_LED, pin.OUT, value=0)
        self.divider = pin(PIN_DIVIDER, pin.OUT, value=0)
        self.pir = pin(PIN_PIR, pin.IN, pin.PULL_DOWN)
        self.halt = pin(PIN_HALT, pin.IN, pin.PULL_DOWN)
        self.button = pin(PIN_BUTTON, pin.IN, pin.PULL_UP)
        self.adc_pack = machine.ADC(PIN_ADC)
        self.adc_temp = machine.ADC(TEMP_ADC)
        self.rtc = machine.RTC()
        self.flags = {"pir": False, "halt": False, "button": False}
        self.last_rx_ms = None
        self.pir.irq(trigger=pin.IRQ_RISING, handler=self._on_pir)
        self.halt.irq(trigger=pin.IRQ_RISING, handler=self._on_halt)
        self.button.irq(trigger=pin.IRQ_FALLING, handler=self._on_button)

    # -- interrupts: flags only ------------------------------------------------------------------
    def _on_pir(self, _pin):
        self.flags["pir"] = True

    def _on_halt(self, _pin):
        self.flags["halt"] = True

    def _on_button(self, _pin):
        self.flags["button"] = True

    # -- readings --------------------------------------------------------------------------------
    def now_ms(self):
        return time.time_ns() // 1_000_000

    def read_pack_mv(self):
        self.divider.value(1)
        total = 0
        for _ in range(4):
            total += self.adc_pack.read_u16()
        self.divider.value(0)
        return int(total / 4 * ADC_FULL_SCALE_MV / 65535 * DIVIDER_RATIO)

    def read_temp_c(self):
        volts = self.adc_temp.read_u16() * 3.3 / 65535
        return round(27 - (volts - 0.706) / 0.001721, 1)  # RP2040 datasheet, 4.9.5

    def power_up(self):
        """The batteries went in: a first reading, then the logic's start."""
        now = self.now_ms()
        self.logic.sample(self.read_pack_mv(), self.read_temp_c(), now)
        self.logic.power_up(now)
        self.apply(self.logic.take_actions())

    # -- one pass ---------------------------------------------------------------------------------
    def service(self):
        """Readings, pin events, UART bytes and timeouts into the logic; its actions out."""
        sup = self.logic
        now = self.now_ms()
        if sup.wants_sample(now):
            sup.sample(self.read_pack_mv(), self.read_temp_c(), now)
        flags = self.flags
        if flags["button"]:
            flags["button"] = False
            sup.walk_test(now)
        if flags["pir"]:
            flags["pir"] = False
            sup.pir(now)
        if flags["halt"]:
            flags["halt"] = False
            sup.halted(now)
        if self.uart.any():
            data = self.uart.read()
            if data:
                self.last_rx_ms = now
                sup.rx(data, now)
        elif self.last_rx_ms is not None and now - self.last_rx_ms > RX_IDLE_MS:
            self.last_rx_ms = None
            sup.rx_idle(now)
        sup.tick(now)
        self.apply(sup.take_actions())

    def apply(self, actions):
        for action in actions:
            kind = action[0]
            if kind == "rail":
                self.rail.value(1 if action[1] else 0)
            elif kind == "tx":
                self.uart.write(action[1])
            elif kind == "led":
                self.blink(action[1])
            elif kind == "set_rtc":
                self.set_rtc(action[1])

    def blink(self, times):
        for _ in range(times):
            self.led.value(1)
            time.sleep_ms(BLINK_ON_MS)
            self.led.value(0)
            time.sleep_ms(BLINK_OFF_MS)

    def set_rtc(self, utc_s):
        t = time.gmtime(utc_s)
        # RTC.datetime wants (year, month, day, weekday, hours, minutes, seconds, subseconds)
        self.rtc.datetime((t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0))

    def sleep(self):
        """Until the next deadline: polling the UART while the Pi is up, else a light sleep that a
        pin interrupt ends."""
        sup = self.logic
        now = self.now_ms()
        due = sup.next_deadline_ms()
        wait_ms = LONGEST_SLEEP_MS if due is None else max(0, due - now)
        if sup.rail_on or self.last_rx_ms is not None:
            time.sleep_ms(min(POLL_MS, wait_ms))
        elif not (self.flags["pir"] or self.flags["halt"] or self.flags["button"]):
            machine.lightsleep(min(wait_ms, LONGEST_SLEEP_MS))


def run(settings=None):
    """The supervisor's main loop (main.py on the board calls this)."""
    board = Board(settings)
    board.power_up()
    while True:
        board.service()
        board.sleep()
