"""Constants shared by the command line, the runtime and training; pure Python, so importing it is free."""

# Image files gpdface reads: translate's inputs, exemplars, pair folders and face banks alike.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})

# Video files translate reads (through PyAV) and writes.
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v"})

# ITU-R 601 luma weights of R, G, B: the grey PIL's convert("L") makes, and the one every comparison uses.
LUMA = (0.299, 0.587, 0.114)
