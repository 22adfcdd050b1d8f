"""Image file suffixes the vision readers accept, apart from Pillow so that listing them imports nothing."""

SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp")
