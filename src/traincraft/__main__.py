"""``python -m traincraft`` runs the command line."""

from traincraft.cli import main

if __name__ == "__main__":
    main()
