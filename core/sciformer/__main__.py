"""`python -m sciformer` runs the command line (also under torchrun)."""

from sciformer.cli.main import main

main()
