"""``python -m airoute.emulators``: the four emulators, with ready-made credentials and a sample route."""

from airoute.emulators.kit import main

main()
