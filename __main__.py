"""quintet: declares the reference topology of the selected stack (see stacks/program.py)."""

from stacks.program import main

main()
