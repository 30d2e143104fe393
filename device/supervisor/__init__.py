"""The power supervisor: MicroPython for the Pico-class board that gates the Pi's power.

Everything here must run under MicroPython (rp2 port) as well as CPython: link.py is imported by
both ends of the UART link. tests/test_supervisor_toolchain.py compiles every module with the real
mpy-cross, imports each under the real MicroPython, and pyright checks them against the rp2 stubs
(`make lint`).
"""
