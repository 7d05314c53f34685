"""Running the stack on a laptop: the moto emulator, in-process handlers and the demo story."""
