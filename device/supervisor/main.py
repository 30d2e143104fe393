"""The board's main.py (`make deploy-supervisor` copies it to the board's root): start the loop."""

from supervisor import board  # pyright: ignore[reportMissingImports]  # the package on the board

board.run()
